"""DebertaLayer (attention + feed-forward) and DebertaEncoder (the stack, with rel_embeddings)."""

from __future__ import annotations

import functools
from typing import Optional, Tuple

import keras
import tensorflow as tf

from deberta_core import DebertaConfig, ModelOutput

from .activations import get_activation
from .attention import DebertaAttention, DebertaSelfOutput
from .kernels import RelativePositions, build_relative_positions
from .utils import SublayerContainer, call_layer, checkpoint, initializer, seed_generators, shape_list


class DebertaIntermediate(SublayerContainer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(config.intermediate_size, kernel_initializer=initializer(config), name="dense",
                                        dtype=self.dtype_policy)
        self.intermediate_act_fn = get_activation(config.hidden_act)


    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.intermediate_act_fn(hidden_states)
        return hidden_states


class DebertaOutput(DebertaSelfOutput):
    """The feed-forward block's output: intermediate_size -> hidden_size, dropout, residual LayerNorm (Dense
    infers its input width, so it needs no constructor of its own)."""


class DebertaLayer(SublayerContainer):
    """Attention then feed-forward. The feed-forward's output block is held as ``bert_output`` (torch's
    ``self.output``, see DebertaAttention), the reference TF twin's attribute name."""

    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.attention = DebertaAttention(config, name="attention", dtype=self.dtype_policy)
        self.intermediate = DebertaIntermediate(config, name="intermediate", dtype=self.dtype_policy)
        self.bert_output = DebertaOutput(config, name="output", dtype=self.dtype_policy)


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
        attention_output, attention_probs = self.attention(
            hidden_states, attention_mask, relative_positions=relative_positions, rel_embeddings=rel_embeddings,
            output_attentions=output_attentions, query_states=query_states, training=training,
        )
        intermediate_output = self.intermediate(attention_output)
        layer_output = self.bert_output(intermediate_output, attention_output, training=training)
        return layer_output, attention_probs


class DebertaEncoder(keras.layers.Layer):
    def __init__(self, config: DebertaConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layer = [DebertaLayer(config, name=f"layer_._{i}", dtype=self.dtype_policy)
                      for i in range(config.num_hidden_layers)]
        self.relative_attention = config.relative_attention
        if config.relative_attention:
            self.max_relative_positions = config.max_relative_span
            self.rel_embeddings_shape = (2 * config.max_relative_span, config.hidden_size)  # twin: weights-in-build
            self.rel_embeddings_initializer = initializer(config)  # twin: weights-in-build
        self.gradient_checkpointing = False
        self.checkpoint_every_n_layers = 1

    def build(self, input_shape=None) -> None:
        if self.relative_attention:  # twin: weights-in-build
            # The reference's name: a variable of the encoder, not an Embedding layer.
            self.rel_embeddings = self.add_weight(shape=self.rel_embeddings_shape, name="rel_embeddings.weight",
                                                  initializer=self.rel_embeddings_initializer)
        self.built = True

    def get_rel_embedding(self) -> Optional[tf.Tensor]:
        return tf.convert_to_tensor(self.rel_embeddings) if self.relative_attention else None

    @staticmethod
    def get_attention_mask(attention_mask: tf.Tensor) -> tf.Tensor:
        """Boolean [b, 1, s, s] mask: query i may attend key j. From a 2-D padding mask it is the outer product,
        so a padded query row is fully masked (and gets all-zero attention)."""
        attention_mask = tf.cast(attention_mask, tf.bool)
        if attention_mask.shape.rank <= 2:
            attention_mask = attention_mask[:, None, :, None] & attention_mask[:, None, None, :]  # [b, 1, s, s]
        elif attention_mask.shape.rank == 3:
            attention_mask = attention_mask[:, None]  # [b, s, s] -> [b, 1, s, s]
        return attention_mask

    def get_rel_pos(self, hidden_states: tf.Tensor) -> Optional[RelativePositions]:
        if not self.relative_attention:
            return None
        return build_relative_positions(shape_list(hidden_states)[1], self.max_relative_positions)

    def layer_inputs(
        self, hidden_states: tf.Tensor, attention_mask: tf.Tensor, output_attentions: bool
    ) -> Tuple[tf.Tensor, Optional[RelativePositions], Optional[tf.Tensor]]:
        """What every layer of one forward (and the enhanced mask decoder) takes besides its hidden states: the
        [b, 1, s, s] mask, the relative positions and the relative embeddings."""
        attention_mask = self.get_attention_mask(attention_mask)
        return attention_mask, self.get_rel_pos(hidden_states), self.get_rel_embedding()

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        training: bool = False,
    ) -> ModelOutput:
        attention_mask, relative_positions, rel_embeddings = self.layer_inputs(hidden_states, attention_mask,
                                                                               output_attentions)
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for index, layer_module in enumerate(self.layer):
            if self.gradient_checkpointing and training and index % self.checkpoint_every_n_layers == 0:
                hidden_states, attention_probs = checkpoint(
                    functools.partial(call_layer, layer_module, training=training),
                    hidden_states, attention_mask, relative_positions, rel_embeddings, output_attentions,
                    seed_generators=seed_generators(layer_module),
                )
            else:
                hidden_states, attention_probs = layer_module(
                    hidden_states, attention_mask, relative_positions=relative_positions, rel_embeddings=rel_embeddings,
                    output_attentions=output_attentions, training=training,
                )
            if output_hidden_states:
                all_hidden_states = all_hidden_states + (hidden_states,)
            if output_attentions:
                all_attentions = all_attentions + (attention_probs,)
        return ModelOutput(last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions)

    def enhanced_mask_decoder(
        self, hidden_states: tf.Tensor, query_states: tf.Tensor, attention_mask: tf.Tensor, training: bool = False
    ) -> tf.Tensor:
        """The enhanced mask decoder's two passes of the last layer (its weights shared): queries from the query
        stream (first ``query_states``, then the previous pass's output), keys and values from ``hidden_states``
        (the second-to-last layer's output), the encoder's mask and relative positions. Returns the second
        pass's output [b, s, e]."""
        attention_mask, relative_positions, rel_embeddings = self.layer_inputs(hidden_states, attention_mask, False)
        for _ in range(2):
            query_states, attention_probs = self.layer[-1](
                hidden_states, attention_mask, relative_positions=relative_positions, rel_embeddings=rel_embeddings,
                output_attentions=False, query_states=query_states, training=training,
            )
        return query_states
