"""DebertaLayer (attention + feed-forward) and DebertaEncoder (the stack, with rel_embeddings)."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from deberta_core import DebertaConfig, ModelOutput

from .activations import get_activation
from .attention import DebertaAttention, DebertaSelfOutput
from .kernels import RelativePositions, build_relative_positions
from .utils import checkpoint, is_traced


class DebertaIntermediate(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = get_activation(config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.intermediate_act_fn(hidden_states)
        return hidden_states


class DebertaOutput(DebertaSelfOutput):
    """The feed-forward block's output: intermediate_size -> hidden_size, dropout, residual LayerNorm."""

    def __init__(self, config: DebertaConfig) -> None:
        super().__init__(config, input_size=config.intermediate_size)


class DebertaLayer(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.attention = DebertaAttention(config)
        self.intermediate = DebertaIntermediate(config)
        self.output = DebertaOutput(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        relative_positions: Optional[RelativePositions] = None,
        rel_embeddings: Optional[torch.Tensor] = None,
        output_attentions: bool = False,
        query_states: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        attention_output, attention_probs = self.attention(
            hidden_states, attention_mask, relative_positions, rel_embeddings, output_attentions, query_states
        )
        intermediate_output = self.intermediate(attention_output)
        layer_output = self.output(intermediate_output, attention_output)
        return layer_output, attention_probs


class DebertaEncoder(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([DebertaLayer(config) for _ in range(config.num_hidden_layers)])
        self.relative_attention = config.relative_attention
        if config.relative_attention:
            self.max_relative_positions = config.max_relative_span
            self.rel_embeddings = nn.Embedding(2 * config.max_relative_span, config.hidden_size)  # twin: weights-in-build
        self.gradient_checkpointing = False
        self.checkpoint_every_n_layers = 1
        # torch.utils.checkpoint options (set by the model's gradient_checkpointing_enable).
        self.checkpoint_kwargs = {"use_reentrant": False}  # twin: torch-training-tools
        self.checkpoint_offload = False  # twin: torch-training-tools

    def get_rel_embedding(self) -> Optional[torch.Tensor]:
        return self.rel_embeddings.weight if self.relative_attention else None

    @staticmethod
    def get_attention_mask(attention_mask: torch.Tensor) -> torch.Tensor:
        """Boolean [b, 1, s, s] mask: query i may attend key j. From a 2-D padding mask it is the outer product,
        so a padded query row is fully masked (and gets all-zero attention)."""
        attention_mask = attention_mask.bool()
        if attention_mask.dim() <= 2:
            attention_mask = attention_mask[:, None, :, None] & attention_mask[:, None, None, :]  # [b, 1, s, s]
        elif attention_mask.dim() == 3:
            attention_mask = attention_mask.unsqueeze(1)  # [b, s, s] -> [b, 1, s, s]
        return attention_mask

    @staticmethod
    def drop_full_mask(attention_mask: torch.Tensor, output_attentions: bool) -> Optional[torch.Tensor]:
        """The mask the layers get: None when nothing is masked in an eager call that returns no attention maps,
        so each layer's fused kernel skips its mask passes (checked here once per forward, not in every layer);
        traced graphs keep it (utils.is_traced)."""
        if output_attentions or is_traced():
            return attention_mask
        return None if bool(attention_mask.all()) else attention_mask

    def get_rel_pos(self, hidden_states: torch.Tensor) -> Optional[RelativePositions]:
        if not self.relative_attention:
            return None
        # Torch only: eager calls share one set of attention buffers across the layers (see scratch()).
        eager = not is_traced()  # twin: eager-fast-paths
        return build_relative_positions(hidden_states.shape[1], self.max_relative_positions, {} if eager else None)

    def layer_inputs(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor, output_attentions: bool
    ) -> Tuple[Optional[torch.Tensor], Optional[RelativePositions], Optional[torch.Tensor]]:
        """What every layer of one forward (and the enhanced mask decoder) takes besides its hidden states: the
        [b, 1, s, s] mask, the relative positions and the relative embeddings."""
        attention_mask = self.get_attention_mask(attention_mask)
        attention_mask = self.drop_full_mask(attention_mask, output_attentions)  # twin: eager-fast-paths
        return attention_mask, self.get_rel_pos(hidden_states), self.get_rel_embedding()

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> ModelOutput:
        attention_mask, relative_positions, rel_embeddings = self.layer_inputs(hidden_states, attention_mask,
                                                                               output_attentions)
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for index, layer_module in enumerate(self.layer):
            if self.gradient_checkpointing and self.training and index % self.checkpoint_every_n_layers == 0:
                hidden_states, attention_probs = checkpoint(
                    layer_module, hidden_states, attention_mask, relative_positions, rel_embeddings,
                    output_attentions, offload=self.checkpoint_offload, **self.checkpoint_kwargs,
                )
            else:
                hidden_states, attention_probs = layer_module(
                    hidden_states, attention_mask, relative_positions, rel_embeddings, output_attentions
                )
            if output_hidden_states:
                all_hidden_states = all_hidden_states + (hidden_states,)
            if output_attentions:
                all_attentions = all_attentions + (attention_probs,)
        return ModelOutput(last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions)

    def enhanced_mask_decoder(
        self, hidden_states: torch.Tensor, query_states: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """The enhanced mask decoder's two passes of the last layer (its weights shared): queries from the query
        stream (first ``query_states``, then the previous pass's output), keys and values from ``hidden_states``
        (the second-to-last layer's output), the encoder's mask and relative positions. Returns the second
        pass's output [b, s, e]."""
        attention_mask, relative_positions, rel_embeddings = self.layer_inputs(hidden_states, attention_mask, False)
        for _ in range(2):
            query_states, attention_probs = self.layer[-1](
                hidden_states, attention_mask, relative_positions, rel_embeddings, False, query_states
            )
        return query_states
