"""Disentangled self-attention (content + c2p + p2c), its output block, and the relative-position indices.

Shape legend: b batch, s sequence, h heads, d head dim, a attention span, e hidden size.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple, Union

import keras
import tensorflow as tf

from deberta_core import DebertaConfig

from .embeddings import DebertaLayerNorm
from .utils import initializer, shape_list


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


class DisentangledSelfAttention(keras.layers.Layer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.head_dim
        self.all_head_size = config.hidden_size
        # One fused projection; its output rows are interleaved per head: (q, k, v) of head 0, then head 1, ...
        self.in_proj = keras.layers.Dense(3 * config.hidden_size, use_bias=False, kernel_initializer=initializer(config),
                                          name="in_proj", dtype=self.dtype_policy)
        self.pos_att_type = config.pos_att_types
        self.relative_attention = config.relative_attention
        self.scale_factor = config.attention_scale_factor
        if config.relative_attention:
            self.max_relative_positions = config.max_relative_span
            self.pos_dropout = keras.layers.Dropout(config.hidden_dropout_prob, name="pos_dropout", dtype=self.dtype_policy)
            if "c2p" in self.pos_att_type:
                self.pos_proj = keras.layers.Dense(config.hidden_size, use_bias=False, kernel_initializer=initializer(config),
                                                   name="pos_proj", dtype=self.dtype_policy)
            if "p2c" in self.pos_att_type:
                self.pos_q_proj = keras.layers.Dense(config.hidden_size, kernel_initializer=initializer(config),
                                                     name="pos_q_proj", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.attention_probs_dropout_prob, name="dropout", dtype=self.dtype_policy)

    def build(self, input_shape=None) -> None:
        self.q_bias = self.add_weight(shape=(self.all_head_size,), initializer="zeros", name="q_bias")
        self.v_bias = self.add_weight(shape=(self.all_head_size,), initializer="zeros", name="v_bias")
        self.built = True

    def transpose_for_scores(self, x: tf.Tensor) -> tf.Tensor:
        head_width = x.shape[-1] // self.num_attention_heads  # static, so traced shapes keep d
        x = tf.reshape(x, shape_list(x)[:-1] + [self.num_attention_heads, head_width])  # [b, s, h, d']
        return tf.transpose(x, [0, 2, 1, 3])  # [b, h, s, d']

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor,
        relative_positions: Optional[RelativePositions] = None,
        rel_embeddings: Optional[tf.Tensor] = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
        """hidden_states [b, s, e]; attention_mask bool [b, 1, s, s] (True = may attend)."""
        qkv = self.transpose_for_scores(self.in_proj(hidden_states))  # [b, h, s, 3d]
        query_layer, key_layer, value_layer = tf.split(qkv, 3, axis=-1)  # [b, h, s, d] each
        query_layer = query_layer + tf.reshape(self.q_bias, [self.num_attention_heads, 1, -1])  # [h, 1, d]
        value_layer = value_layer + tf.reshape(self.v_bias, [self.num_attention_heads, 1, -1])
        scale = math.sqrt(self.attention_head_size * self.scale_factor)
        query_layer = query_layer / tf.cast(scale, query_layer.dtype)

        rel_att = None
        if self.relative_attention and relative_positions is not None and rel_embeddings is not None:
            rel_att = self.disentangled_att_bias(query_layer, key_layer, relative_positions, rel_embeddings, training)

        # One exact path (no fused kernel in TF): masked keys get probability 0, fully masked query rows
        # all-zero attention. Scores and softmax in float32 whatever the compute dtype.
        attention_scores = tf.matmul(query_layer, key_layer, transpose_b=True)  # [b, h, s, s]
        if rel_att is not None:
            attention_scores = attention_scores + rel_att
        attention_scores = tf.where(attention_mask, tf.cast(attention_scores, tf.float32), tf.float32.min)
        attention_probs = tf.where(attention_mask, tf.nn.softmax(attention_scores, axis=-1), 0.0)
        attention_probs = tf.cast(attention_probs, value_layer.dtype)
        context_layer = tf.matmul(self.dropout(attention_probs, training=training), value_layer)  # [b, h, s, d]
        context_layer = tf.transpose(context_layer, [0, 2, 1, 3])  # [b, s, h, d]
        context_layer = tf.reshape(context_layer, shape_list(context_layer)[:2] + [self.all_head_size])  # [b, s, e]
        return context_layer, (attention_probs if output_attentions else None)

    def disentangled_att_bias(
        self,
        query_layer: tf.Tensor,
        key_layer: tf.Tensor,
        relative_positions: RelativePositions,
        rel_embeddings: tf.Tensor,
        training: bool = False,
    ) -> tf.Tensor:
        """c2p + p2c terms [b, h, s, s] for scaled queries and keys [b, h, s, d].

        (Torch's twin runs each product as a per-head GEMM over all b * s rows into shared buffers, a few heads at
        a time when clamped; TensorFlow's batched matmul broadcasts the positional table without copying it.)
        """
        seq_len = shape_list(query_layer)[2]
        att_span = tf.get_static_value(relative_positions.att_span)  # a Python int when the length is static
        att_span = relative_positions.att_span if att_span is None else int(att_span)
        pos_key_layer, pos_query_layer = self.relative_tables(rel_embeddings, att_span, training)
        c2p_att = p2c_att = None
        if "c2p" in self.pos_att_type:
            c2p_att = relative_term(query_layer, pos_key_layer, seq_len - 1)
        if "p2c" in self.pos_att_type:
            p2c_att = relative_term(key_layer, pos_query_layer, seq_len)
            p2c_att = tf.transpose(p2c_att, [0, 1, 3, 2])  # [b, h, s, s]: query i, key j
        if c2p_att is not None and p2c_att is not None:
            score = c2p_att + p2c_att
        else:
            score = c2p_att if p2c_att is None else p2c_att
        return score  # [b, h, s, s]

    def relative_tables(
        self, rel_embeddings: tf.Tensor, att_span: Union[int, tf.Tensor], training: bool = False
    ) -> Tuple[Optional[tf.Tensor], Optional[tf.Tensor]]:
        """The projected relative-position rows of the window for span ``att_span``, each [1, h, 2a, d]: pos_key_layer
        with its rows reversed (c2p reads its columns backwards, see deberta_core.relative_position) and
        pos_query_layer scaled (p2c); None for a term the config does not use.

        Projected on every call: torch's twin keeps them across eval calls, keyed by the weights' version counters;
        Keras variables have none, and a traced function must read the variables it is given each time.
        """
        start = self.max_relative_positions - att_span
        window = self.pos_dropout(rel_embeddings[start : start + 2 * att_span], training=training)  # [2a, e]
        return self.project_relative(window)

    def project_relative(self, rel_embeddings: tf.Tensor) -> Tuple[Optional[tf.Tensor], Optional[tf.Tensor]]:
        """pos_key_layer (rows reversed) and scaled pos_query_layer [1, h, 2a, d] of relative-embedding rows [2a, e]."""
        rel_embeddings = rel_embeddings[None]  # [1, 2a, e]
        pos_key_layer = pos_query_layer = None
        if "c2p" in self.pos_att_type:
            pos_key_layer = self.transpose_for_scores(self.pos_proj(tf.reverse(rel_embeddings, [1])))  # [1, h, 2a, d]
        if "p2c" in self.pos_att_type:
            pos_query_layer = self.transpose_for_scores(self.pos_q_proj(rel_embeddings))  # [1, h, 2a, d]
            pos_query_layer = pos_query_layer / tf.cast(
                math.sqrt(pos_query_layer.shape[-1] * self.scale_factor), pos_query_layer.dtype
            )
        return pos_key_layer, pos_query_layer


class DebertaSelfOutput(keras.layers.Layer):
    """Dense back to hidden_size, dropout, residual add and LayerNorm (also the feed-forward's DebertaOutput)."""

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(config.hidden_size, kernel_initializer=initializer(config), name="dense",
                                        dtype=self.dtype_policy)
        self.LayerNorm = DebertaLayerNorm(epsilon=config.layer_norm_eps, name="LayerNorm", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, name="dropout", dtype=self.dtype_policy)

    def build(self, input_shape=None) -> None:
        self.built = True  # the sublayers build on their first call

    def call(self, hidden_states: tf.Tensor, input_tensor: tf.Tensor, training: bool = False) -> tf.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.dropout(hidden_states, training=training)
        hidden_states = self.LayerNorm(hidden_states + input_tensor)
        return hidden_states


class DebertaAttention(keras.layers.Layer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.self = DisentangledSelfAttention(config, name="self", dtype=self.dtype_policy)
        # torch's ``self.output``: Keras reserves ``output`` (and its saving skips it), so the attribute has the
        # reference TF twin's name; the layer name, hence the weight names, is ``output``.
        self.dense_output = DebertaSelfOutput(config, name="output", dtype=self.dtype_policy)

    def build(self, input_shape=None) -> None:
        self.built = True  # the sublayers build on their first call

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor,
        relative_positions: Optional[RelativePositions] = None,
        rel_embeddings: Optional[tf.Tensor] = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
        self_output, attention_probs = self.self(
            hidden_states, attention_mask, relative_positions=relative_positions, rel_embeddings=rel_embeddings,
            output_attentions=output_attentions, training=training,
        )
        attention_output = self.dense_output(self_output, hidden_states, training=training)
        return attention_output, attention_probs
