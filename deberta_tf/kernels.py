"""The Keras twin's attention kernels: how the two contracts of attention.py are computed in TensorFlow.

- ``relative_scores``: the c2p + p2c terms [b, h, s, s] (deberta_core.relative_position: a relative shift of one
  product per term, widened for clamping), each a batched matmul that broadcasts the positional table.
- ``attend``: softmax attention with the relative scores as a bias, masked keys probability 0 and fully masked
  query rows all-zero, in one exact path (TensorFlow has no fused kernel for an additive bias); scores and
  softmax in float32 whatever the compute dtype.

One-sided (the torch twin's kernels.py computes the same contracts its own way); the twin check does not compare
it with deberta_torch/kernels.py. Shape legend: b batch, s sequence, h heads, d head dim, a attention span,
e hidden size.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Tuple, Union

import keras
import tensorflow as tf

from .utils import shape_list


class RelativePositions(NamedTuple):
    """What every layer needs to add the relative-position terms for one sequence length.

    Built once per forward by the encoder (it depends only on the length), shared by all layers. No index tensor:
    the c2p / p2c terms are relative shifts (strided slices) of their [b, h, s, 2a] products, see
    deberta_core.relative_position.relative_shift. (Torch's twin also carries a buffer workspace for eager
    inference; TensorFlow allocates from its own pool, and XLA plans the buffers itself.)
    """

    att_span: tf.Tensor  # scalar int32 (Keras passes only tensors between layers)


def build_relative_positions(seq_len: Union[int, tf.Tensor], max_relative_positions: int) -> RelativePositions:
    return RelativePositions(tf.minimum(seq_len, max_relative_positions))


def extend_span(table: tf.Tensor, seq_len: Union[int, tf.Tensor]) -> tf.Tensor:
    """[..., s, 2a] -> [..., s, 2s]: the first / last column repeated s - a times on its side, so the shift reads
    the clamped positions (a < s) as plain ones (deberta_core.relative_position.extend_span). Unchanged if a == s
    is known when tracing; a dynamic length concatenates empty pads."""
    shape = shape_list(table)
    pad = seq_len - shape[-1] // 2
    if isinstance(pad, int) and pad == 0:
        return table
    left = tf.broadcast_to(table[..., :1], shape[:-1] + [pad])  # [..., s, s - a]
    right = tf.broadcast_to(table[..., -1:], shape[:-1] + [pad])
    return tf.concat([left, table, right], axis=-1)  # [..., s, 2s]


def relative_shift(table: tf.Tensor, offset: Union[int, tf.Tensor]) -> tf.Tensor:
    """out[..., r, c] = table[..., r, offset + c - r] for a [..., s, 2s] table: reshapes and slices, no index
    (deberta_core.relative_position.relative_shift)."""
    shape = shape_list(table)
    seq_len, width = shape[-2], shape[-1]
    flat = tf.reshape(table, shape[:-2] + [seq_len * width])[
        ..., offset : offset + seq_len * (width - 1)]  # [..., s * (2s - 1)]
    return tf.reshape(flat, shape[:-2] + [seq_len, width - 1])[..., :seq_len]  # [..., s, s]


def relative_term(rows: tf.Tensor, table: tf.Tensor, offset: Union[int, tf.Tensor]) -> tf.Tensor:
    """relative_shift(extend_span(rows @ table^T)) [b, h, s, s] for rows [b, h, s, d] and a projected table
    [1, h, 2a, d]: the c2p term (queries, reversed pos_key_layer, offset s - 1) or the p2c term transposed (keys,
    pos_query_layer, offset s)."""
    seq_len = shape_list(rows)[2]
    product = tf.matmul(rows, table, transpose_b=True)  # [b, h, s, 2a]
    return relative_shift(extend_span(product, seq_len), offset)  # [b, h, s, s]


def span(relative_positions: RelativePositions) -> Union[int, tf.Tensor]:
    """The attention span a of ``relative_positions``: a Python int when the length is static (so slices and
    shapes stay static), else the scalar tensor."""
    att_span = tf.get_static_value(relative_positions.att_span)
    return relative_positions.att_span if att_span is None else int(att_span)


def relative_scores(query_layer: tf.Tensor, key_layer: tf.Tensor, pos_key_layer: Optional[tf.Tensor],
                    pos_query_layer: Optional[tf.Tensor], relative_positions: RelativePositions,
                    pos_att_type: Sequence[str]) -> tf.Tensor:
    """c2p + p2c terms [b, h, s, s] for scaled queries and keys [b, h, s, d] and the projected tables [1, h, 2a, d]
    (None for a term the config does not use)."""
    seq_len = shape_list(query_layer)[2]
    c2p_att = p2c_att = None
    if "c2p" in pos_att_type:
        c2p_att = relative_term(query_layer, pos_key_layer, seq_len - 1)
    if "p2c" in pos_att_type:
        p2c_att = relative_term(key_layer, pos_query_layer, seq_len)
        p2c_att = tf.transpose(p2c_att, [0, 1, 3, 2])  # [b, h, s, s]: query i, key j
    if c2p_att is not None and p2c_att is not None:
        return c2p_att + p2c_att
    return c2p_att if p2c_att is None else p2c_att  # [b, h, s, s]


def attend(query_layer: tf.Tensor, key_layer: tf.Tensor, value_layer: tf.Tensor, rel_att: Optional[tf.Tensor],
           attention_mask: tf.Tensor, dropout: keras.layers.Dropout, training: bool,
           output_attentions: bool) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
    """Softmax attention of scaled queries, keys and values [b, h, s, d] with ``rel_att`` [b, h, s, s] (or None)
    added to the scores, under ``attention_mask`` bool [b, 1, s, s] (True = may attend). Returns the context
    [b, s, e] and, with ``output_attentions``, the probabilities [b, h, s, s] (else None)."""
    attention_scores = tf.matmul(query_layer, key_layer, transpose_b=True)  # [b, h, s, s]
    if rel_att is not None:
        attention_scores = attention_scores + rel_att
    attention_scores = tf.where(attention_mask, tf.cast(attention_scores, tf.float32), tf.float32.min)
    attention_probs = tf.where(attention_mask, tf.nn.softmax(attention_scores, axis=-1), 0.0)
    attention_probs = tf.cast(attention_probs, value_layer.dtype)
    context_layer = tf.matmul(dropout(attention_probs, training=training), value_layer)  # [b, h, s, d]
    context_layer = tf.transpose(context_layer, [0, 2, 1, 3])  # [b, s, h, d]
    shape = shape_list(context_layer)
    context_layer = tf.reshape(context_layer, shape[:2] + [shape[2] * shape[3]])  # [b, s, e]
    return context_layer, (attention_probs if output_attentions else None)
