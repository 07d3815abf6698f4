"""Disentangled self-attention (content + c2p + p2c) and its output block: the math both twins share. How the
relative scores and the attention itself are computed is each framework's kernels.py (``relative_scores``,
``attend``).

Shape legend: b batch, s sequence, h heads, d head dim, a attention span, e hidden size.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import keras
import tensorflow as tf

from deberta_core import DebertaConfig

from .embeddings import DebertaLayerNorm
from .kernels import RelativePositions, attend, relative_scores, span
from .utils import SublayerContainer, initializer, shape_list


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
        self.q_bias = self.add_weight(shape=(self.all_head_size,), initializer="zeros", name="q_bias")  # twin: weights-in-build
        self.v_bias = self.add_weight(shape=(self.all_head_size,), initializer="zeros", name="v_bias")  # twin: weights-in-build
        self.built = True

    def transpose_for_scores(self, x: tf.Tensor) -> tf.Tensor:
        head_width = x.shape[-1] // self.num_attention_heads  # static, so traced shapes keep d  # twin: static-shapes
        x = tf.reshape(x, shape_list(x)[:-1] + [self.num_attention_heads, head_width])  # [b, s, h, d']
        return tf.transpose(x, [0, 2, 1, 3])  # [b, h, s, d']

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor,
        relative_positions: Optional[RelativePositions] = None,
        rel_embeddings: Optional[tf.Tensor] = None,
        output_attentions: bool = False,
        query_states: Optional[tf.Tensor] = None,
        training: bool = False,
    ) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
        """hidden_states [b, s, e]; attention_mask bool [b, 1, s, s] (True = may attend). With ``query_states``
        [b, s, e] (the enhanced mask decoder's query stream), queries come from them, keys and values from
        hidden_states; everything after the projections is the ordinary path (same length, same positions)."""
        qkv = self.transpose_for_scores(self.in_proj(hidden_states))  # [b, h, s, 3d]
        query_layer, key_layer, value_layer = tf.split(qkv, 3, axis=-1)  # [b, h, s, d] each
        if query_states is not None:
            # The whole fused projection, of which the queries are kept: a wrapper (LoRA, ...) may have changed
            # the projection, and slicing its weights would miss the wrapper's part.
            query_layer = tf.split(self.transpose_for_scores(self.in_proj(query_states)), 3, axis=-1)[0]  # [b, h, s, d]
        # Biases in the projection's dtype (under torch autocast they would otherwise promote q and v to fp32).
        query_layer = query_layer + tf.reshape(self.q_bias, [self.num_attention_heads, 1, -1])  # [h, 1, d]
        value_layer = value_layer + tf.reshape(self.v_bias, [self.num_attention_heads, 1, -1])
        scale = math.sqrt(self.attention_head_size * self.scale_factor)
        query_layer = query_layer / tf.cast(scale, query_layer.dtype)

        rel_att = None
        if self.relative_attention and relative_positions is not None and rel_embeddings is not None:
            rel_att = self.disentangled_att_bias(query_layer, key_layer, relative_positions, rel_embeddings, training)

        context_layer, attention_probs = attend(query_layer, key_layer, value_layer, rel_att, attention_mask,
                                                self.dropout, training, output_attentions)  # [b, s, e]
        return context_layer, attention_probs

    def disentangled_att_bias(
        self,
        query_layer: tf.Tensor,
        key_layer: tf.Tensor,
        relative_positions: RelativePositions,
        rel_embeddings: tf.Tensor,
        training: bool = False,
    ) -> tf.Tensor:
        """c2p + p2c terms [b, h, s, s] for scaled queries and keys [b, h, s, d] (kernels.relative_scores)."""
        pos_key_layer, pos_query_layer = self.relative_tables(rel_embeddings, span(relative_positions), training)
        return relative_scores(query_layer, key_layer, pos_key_layer, pos_query_layer, relative_positions,
                               self.pos_att_type)

    def relative_tables(
        self, rel_embeddings: tf.Tensor, att_span: Union[int, tf.Tensor], training: bool = False
    ) -> Tuple[Optional[tf.Tensor], Optional[tf.Tensor]]:
        """The projected relative-position rows of the window for span ``att_span``, each [1, h, 2a, d]: pos_key_layer
        with its rows reversed (c2p reads its columns backwards, see deberta_core.relative_position) and
        pos_query_layer scaled (p2c); None for a term the config does not use.

        Projected on every call, as the torch twin does by default (its freeze_relative_tables() serving switch
        has no Keras counterpart: a traced function reads the variables it is given, and XLA folds the projection).
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


class DebertaSelfOutput(SublayerContainer):
    """Dense back to hidden_size, dropout, residual add and LayerNorm (also the feed-forward's DebertaOutput)."""

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(config.hidden_size, kernel_initializer=initializer(config), name="dense",
                                        dtype=self.dtype_policy)
        self.LayerNorm = DebertaLayerNorm(epsilon=config.layer_norm_eps, name="LayerNorm", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, name="dropout", dtype=self.dtype_policy)


    def call(self, hidden_states: tf.Tensor, input_tensor: tf.Tensor, training: bool = False) -> tf.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.dropout(hidden_states, training=training)
        hidden_states = self.LayerNorm(hidden_states + input_tensor)
        return hidden_states


class DebertaAttention(SublayerContainer):
    """Self-attention and its output block. The output sublayer is held as ``dense_output`` (torch's
    ``self.output``): Keras reserves ``output`` (and its saving skips it), so the attribute has the reference TF
    twin's name; the layer name, hence the weight names, is ``output``."""

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.self = DisentangledSelfAttention(config, name="self", dtype=self.dtype_policy)
        self.dense_output = DebertaSelfOutput(config, name="output", dtype=self.dtype_policy)


    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor,
        relative_positions: Optional[RelativePositions] = None,
        rel_embeddings: Optional[tf.Tensor] = None,
        output_attentions: bool = False,
        query_states: Optional[tf.Tensor] = None,
        training: bool = False,
    ) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
        self_output, attention_probs = self.self(
            hidden_states, attention_mask, relative_positions=relative_positions, rel_embeddings=rel_embeddings,
            output_attentions=output_attentions, query_states=query_states, training=training,
        )
        residual = hidden_states if query_states is None else query_states  # the query stream carries the residual
        attention_output = self.dense_output(self_output, residual, training=training)
        return attention_output, attention_probs
