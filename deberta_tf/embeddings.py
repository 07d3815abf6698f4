"""DebertaLayerNorm and DebertaEmbeddings (word + absolute position + token type, optional projection)."""

from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf

from deberta_core import DebertaConfig

from .utils import Embedding, initializer, shape_list


class DebertaLayerNorm(keras.layers.LayerNormalization):
    """LayerNorm computed in float32 whatever the input dtype (bf16/fp16 safe), cast back to it.

    Same variables (``gamma``, ``beta``) and the same math as the reference's LayerNormalization.
    """

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = tf.cast(hidden_states, tf.float32)
        mean, variance = tf.nn.moments(hidden_states, axes=[-1], keepdims=True)
        normed = (hidden_states - mean) * tf.math.rsqrt(variance + self.epsilon)
        normed = normed * tf.cast(self.gamma, tf.float32) + tf.cast(self.beta, tf.float32)
        return tf.cast(normed, input_dtype)


class DebertaEmbeddings(keras.layers.Layer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embedding_size = config.embedding_size
        self.position_biased_input = config.position_biased_input
        self.word_embeddings = Embedding(config.vocab_size, config.embedding_size, weight_name="weight",
                                         embeddings_initializer=initializer(config), name="word_embeddings",
                                         dtype=self.dtype_policy)
        if config.has_position_table:  # the input's positions, or the enhanced mask decoder's query stream
            self.position_embeddings = Embedding(config.max_position_embeddings, config.embedding_size,
                                                 embeddings_initializer=initializer(config),
                                                 name="position_embeddings", dtype=self.dtype_policy)
        else:
            self.position_embeddings = None
        if config.type_vocab_size > 0:
            self.token_type_embeddings = Embedding(config.type_vocab_size, config.embedding_size,
                                                   embeddings_initializer=initializer(config),
                                                   name="token_type_embeddings", dtype=self.dtype_policy)
        else:
            self.token_type_embeddings = None
        if config.embedding_size != config.hidden_size:
            self.embed_proj = keras.layers.Dense(config.hidden_size, use_bias=False,
                                                 kernel_initializer=initializer(config), name="embed_proj",
                                                 dtype=self.dtype_policy)
        else:
            self.embed_proj = None
        self.LayerNorm = DebertaLayerNorm(epsilon=config.layer_norm_eps, name="LayerNorm", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, name="dropout", dtype=self.dtype_policy)

    def build(self, input_shape=None) -> None:
        # The sublayers build on their first call. Keras only: without position_biased_input, only the enhanced
        # mask decoder reads the position table, outside this layer's call (torch creates every parameter in
        # __init__), so it is built here, by a call, in this layer's name scope (the variable path names it).
        if self.position_embeddings is not None and not self.position_biased_input:  # twin: weights-in-build
            self.position_embeddings(tf.zeros((1, 1), dtype=tf.int32))
        self.built = True

    # ``mask`` is the padding mask, not a Keras mask: accept it without Keras' masking machinery.
    supports_masking = True

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def call(
        self,
        input_ids: Optional[tf.Tensor] = None,
        token_type_ids: Optional[tf.Tensor] = None,
        position_ids: Optional[tf.Tensor] = None,
        mask: Optional[tf.Tensor] = None,
        inputs_embeds: Optional[tf.Tensor] = None,
        training: bool = False,
    ) -> tf.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # [b, s, E]
        embeddings = inputs_embeds
        if self.position_biased_input:
            embeddings = embeddings + self.absolute_positions(inputs_embeds, position_ids)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = tf.zeros(shape_list(inputs_embeds)[:2], dtype=tf.int32)
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        if self.embed_proj is not None:
            embeddings = self.embed_proj(embeddings)  # [b, s, E] -> [b, s, e]
        embeddings = self.LayerNorm(embeddings)
        if mask is not None:
            embeddings = embeddings * tf.cast(token_mask(mask), embeddings.dtype)[:, :, None]  # [b, s, 1]
        embeddings = self.dropout(embeddings, training=training)
        return embeddings

    def absolute_positions(self, inputs_embeds: tf.Tensor, position_ids: Optional[tf.Tensor] = None) -> tf.Tensor:
        """The raw absolute position embeddings [b or 1, s, E] of ``position_ids`` (default 0 .. s-1) for inputs
        [b, s, *]: the input's position term, and the enhanced mask decoder's query stream."""
        seq_length = shape_list(inputs_embeds)[1]
        if position_ids is None:
            position_ids = tf.range(seq_length)[None, :]  # [1, s]
        return self.position_embeddings(position_ids)


def token_mask(mask: tf.Tensor) -> tf.Tensor:
    """The per-token mask [b, s] from a 2-D padding mask, or from a 3-D/4-D mask as the reference squeezes it."""
    if mask.shape.rank == 4:
        mask = tf.squeeze(mask, axis=[1, 2])  # [b, 1, 1, s] -> [b, s]
    if mask.shape.rank == 3:
        mask = tf.squeeze(mask, axis=1) if mask.shape[1] == 1 else tf.linalg.diag_part(mask)  # [b, s]
    return mask
