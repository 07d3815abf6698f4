"""Disentangled self-attention (content + c2p + p2c) and its output block: the math both twins share. How the
relative scores and the attention itself are computed is each framework's kernels.py (``relative_scores``,
``attend``).

Shape legend: b batch, s sequence, h heads, d head dim, a attention span, e hidden size.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch import nn

from deberta_core import DebertaConfig

from .embeddings import DebertaLayerNorm
from .kernels import RelativePositions, attend, relative_scores, span
from .utils import is_traced


class DisentangledSelfAttention(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.head_dim
        self.all_head_size = config.hidden_size
        # One fused projection; its output rows are interleaved per head: (q, k, v) of head 0, then head 1, ...
        self.in_proj = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(config.hidden_size))  # twin: weights-in-build
        self.v_bias = nn.Parameter(torch.zeros(config.hidden_size))  # twin: weights-in-build
        self.pos_att_type = config.pos_att_types
        self.relative_attention = config.relative_attention
        self.scale_factor = config.attention_scale_factor
        if config.relative_attention:
            self.max_relative_positions = config.max_relative_span
            self.pos_dropout = nn.Dropout(config.hidden_dropout_prob)
            if "c2p" in self.pos_att_type:
                self.pos_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=False)
            if "p2c" in self.pos_att_type:
                self.pos_q_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)
        self.freeze_tables = False  # set by the model's freeze_relative_tables(): see relative_tables
        self._frozen_tables = None  # (pos_key_layer, pos_query_layer) of the whole table, projected while frozen

    def transpose_for_scores(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[:-1] + (self.num_attention_heads, -1))  # [b, s, h, d']
        return x.transpose(1, 2)  # [b, h, s, d']

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: Optional[torch.Tensor],
        relative_positions: Optional[RelativePositions] = None,
        rel_embeddings: Optional[torch.Tensor] = None,
        output_attentions: bool = False,
        query_states: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """hidden_states [b, s, e]; attention_mask bool [b, 1, s, s] (True = may attend), or None when nothing is
        masked (eager calls without attention maps only). With ``query_states``
        [b, s, e] (the enhanced mask decoder's query stream), queries come from them, keys and values from
        hidden_states; everything after the projections is the ordinary path (same length, same positions). The
        scaling divides in place: the biased sum is fresh and neither op saves it for backward."""
        qkv = self.transpose_for_scores(self.in_proj(hidden_states))  # [b, h, s, 3d]
        query_layer, key_layer, value_layer = qkv.chunk(3, dim=-1)  # [b, h, s, d] each
        if query_states is not None:
            # The whole fused projection, of which the queries are kept: a wrapper (LoRA, ...) may have changed
            # the projection, and slicing its weights would miss the wrapper's part.
            query_layer = self.transpose_for_scores(self.in_proj(query_states)).chunk(3, dim=-1)[0]  # [b, h, s, d]
        # Biases in the projection's dtype (under torch autocast they would otherwise promote q and v to fp32).
        query_layer = query_layer + self.q_bias.view(self.num_attention_heads, 1, -1).to(qkv.dtype)  # [h, 1, d]
        value_layer = value_layer + self.v_bias.view(self.num_attention_heads, 1, -1).to(qkv.dtype)
        scale = math.sqrt(self.attention_head_size * self.scale_factor)
        query_layer = query_layer.div_(scale)

        rel_att = None
        if self.relative_attention and relative_positions is not None and rel_embeddings is not None:
            rel_att = self.disentangled_att_bias(query_layer, key_layer, relative_positions, rel_embeddings)

        context_layer, attention_probs = attend(query_layer, key_layer, value_layer, rel_att, attention_mask,
                                                self.dropout, self.training, output_attentions)  # [b, s, e]
        return context_layer, attention_probs

    def disentangled_att_bias(
        self,
        query_layer: torch.Tensor,
        key_layer: torch.Tensor,
        relative_positions: RelativePositions,
        rel_embeddings: torch.Tensor,
    ) -> torch.Tensor:
        """c2p + p2c terms [b, h, s, s] for scaled queries and keys [b, h, s, d] (kernels.relative_scores)."""
        pos_key_layer, pos_query_layer = self.relative_tables(rel_embeddings, span(relative_positions))
        return relative_scores(query_layer, key_layer, pos_key_layer, pos_query_layer, relative_positions,
                               self.pos_att_type)

    def relative_tables(
        self, rel_embeddings: torch.Tensor, att_span: int
    ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """The projected relative-position rows of the window for span ``att_span``, each [1, h, 2a, d]: pos_key_layer
        with its rows reversed (c2p reads its columns backwards, see deberta_core.relative_position) and
        pos_query_layer scaled (p2c); None for a term the config does not use.

        Projected through ``pos_proj`` / ``pos_q_proj`` on every call, as the Keras twin does, so every change to a
        weight or to the projection modules (an optimizer step of any kind, a write through ``.data`` or NumPy, an
        adapter switched, a hook or a parametrization added or removed) is seen. Torch only: after the model's
        ``freeze_relative_tables()``, eval calls that no gradient can reach read a whole table projected once
        (frozen_relative_tables): an explicit promise by the user that the weights no longer change.
        """
        start = self.max_relative_positions - att_span
        if self.reads_frozen_tables(rel_embeddings):  # twin: frozen-tables
            device = rel_embeddings.device.type  # frozen tables keep the weights' dtype; autocast calls cast the window
            dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
            tables = self.frozen_relative_tables(rel_embeddings)
            return tuple(None if t is None else t[:, :, start : start + 2 * att_span].to(dtype) for t in tables)
        window = self.pos_dropout(rel_embeddings[start : start + 2 * att_span])  # [2a, e]
        return self.project_relative(window)

    def reads_frozen_tables(self, rel_embeddings: torch.Tensor) -> bool:
        """Whether this call reads the frozen tables: the model froze them, it is in eval mode, and no gradient can
        reach the tables (autograd off, or no weight they come from requires one: ``rel_embeddings`` and every
        parameter of the projections, an adapter's too)."""
        if not self.freeze_tables or self.training:
            return False
        if not torch.is_grad_enabled():
            return True
        weights = [rel_embeddings]
        if "c2p" in self.pos_att_type:
            weights += self.pos_proj.parameters()
        if "p2c" in self.pos_att_type:
            weights += self.pos_q_proj.parameters()
        return not any(weight.requires_grad for weight in weights)

    def frozen_relative_tables(self, rel_embeddings: torch.Tensor) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """The whole table projected through the modules (hooks and adapters as they are now), without autocast, and
        kept until the model is unfrozen, changes mode (train() / eval()), moves (``.to()``) or loads a state dict;
        the next frozen call then projects it again. A call being traced reads kept tables but keeps none, so a
        graph never stores a table of its own. Concurrent calls may project it at once: each gets a whole table and
        one of them is kept (one assignment), so no call reads a half-made or other-precision table."""
        tables = self._frozen_tables
        if tables is None:
            device = rel_embeddings.device.type
            with torch.inference_mode(False), torch.no_grad(), torch.autocast(device, enabled=False):
                tables = self.project_relative(rel_embeddings)  # ordinary tensors, usable outside inference mode
            if not is_traced():
                self._frozen_tables = tables
        return tables

    def set_frozen(self, frozen: bool) -> None:
        """Freeze (or unfreeze) the relative tables: see relative_tables. Either way the kept tables are dropped, so
        freezing again projects the current weights."""
        self.freeze_tables = frozen
        self._frozen_tables = None

    def project_relative(self, rel_embeddings: torch.Tensor) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """pos_key_layer (rows reversed) and scaled pos_query_layer [1, h, 2a, d] of relative-embedding rows [2a, e]."""
        rel_embeddings = rel_embeddings.unsqueeze(0)  # [1, 2a, e]
        pos_key_layer = pos_query_layer = None
        if "c2p" in self.pos_att_type:
            pos_key_layer = self.transpose_for_scores(self.pos_proj(rel_embeddings.flip(1)))  # [1, h, 2a, d]
        if "p2c" in self.pos_att_type:
            pos_query_layer = self.transpose_for_scores(self.pos_q_proj(rel_embeddings))  # [1, h, 2a, d]
            pos_query_layer = pos_query_layer / math.sqrt(pos_query_layer.shape[-1] * self.scale_factor)
        return pos_key_layer, pos_query_layer

    def train(self, mode: bool = True) -> "DisentangledSelfAttention":
        self._frozen_tables = None  # a mode change re-freezes: the next frozen call projects the current weights
        return super().train(mode)

    def _apply(self, fn, recurse: bool = True):
        self._frozen_tables = None  # .to() / .half() / .cuda() ...: new weights, and the old tables would linger
        return super()._apply(fn, recurse)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._frozen_tables = None  # load_state_dict: new weights (the projections' own are loaded by their modules)
        super()._load_from_state_dict(*args, **kwargs)


class DebertaSelfOutput(nn.Module):
    """Dense back to hidden_size, dropout, residual add and LayerNorm (also the feed-forward's DebertaOutput)."""

    def __init__(self, config: DebertaConfig, input_size: Optional[int] = None) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size if input_size is None else input_size, config.hidden_size)
        self.LayerNorm = DebertaLayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        hidden_states = self.dense(hidden_states)
        hidden_states = self.dropout(hidden_states)
        hidden_states = self.LayerNorm(hidden_states + input_tensor)
        return hidden_states


class DebertaAttention(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.self = DisentangledSelfAttention(config)
        self.output = DebertaSelfOutput(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        relative_positions: Optional[RelativePositions] = None,
        rel_embeddings: Optional[torch.Tensor] = None,
        output_attentions: bool = False,
        query_states: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        self_output, attention_probs = self.self(
            hidden_states, attention_mask, relative_positions, rel_embeddings, output_attentions, query_states
        )
        residual = hidden_states if query_states is None else query_states  # the query stream carries the residual
        attention_output = self.output(self_output, residual)
        return attention_output, attention_probs
