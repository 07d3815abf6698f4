"""Disentangled self-attention (content + c2p + p2c), its output block, and the relative-position indices.

Shape legend: b batch, s sequence, h heads, d head dim, a attention span, e hidden size.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from deberta_core import DebertaConfig

from .embeddings import DebertaLayerNorm


class RelativePositions(NamedTuple):
    """What every layer needs to add the relative-position terms for one sequence length.

    Built once per forward by the encoder (it depends only on the length), shared by all layers.
    ``rel_index[i, j] = clip(i - j + a, 0, 2a - 1)`` (deberta_core.relative_position.c2p_index); the c2p term
    reads row i, the p2c term row j, of the [b, h, s, 2a] products, by advanced indexing with the [s, 1] /
    [1, s] position vectors, so no index tensor is ever expanded to [b, h, s, s] (and torch.export keeps the
    sequence dimension dynamic, which a flattened [.., s * 2a] gather does not allow).
    """

    att_span: int
    rel_index: torch.Tensor  # [s, s]
    rows: torch.Tensor  # [s, 1]
    cols: torch.Tensor  # [1, s]


def build_relative_positions(seq_len: int, max_relative_positions: int, device: torch.device) -> RelativePositions:
    att_span = min(seq_len, max_relative_positions)
    positions = torch.arange(seq_len, device=device)
    relative_pos = positions[:, None] - positions[None, :]  # [s, s]: i - j
    rel_index = torch.clamp(relative_pos + att_span, 0, 2 * att_span - 1)  # [s, s]
    return RelativePositions(att_span, rel_index, positions[:, None], positions[None, :])


class DisentangledSelfAttention(nn.Module):
    def __init__(self, config: DebertaConfig) -> None:
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.head_dim
        self.all_head_size = config.hidden_size
        # One fused projection; its output rows are interleaved per head: (q, k, v) of head 0, then head 1, ...
        self.in_proj = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(config.hidden_size))
        self.v_bias = nn.Parameter(torch.zeros(config.hidden_size))
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

    def transpose_for_scores(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[:-1] + (self.num_attention_heads, -1))  # [b, s, h, d']
        return x.transpose(1, 2)  # [b, h, s, d']

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        relative_positions: Optional[RelativePositions] = None,
        rel_embeddings: Optional[torch.Tensor] = None,
        output_attentions: bool = False,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """hidden_states [b, s, e]; attention_mask bool [b, 1, s, s] (True = may attend)."""
        qkv = self.transpose_for_scores(self.in_proj(hidden_states))  # [b, h, s, 3d]
        query_layer, key_layer, value_layer = qkv.chunk(3, dim=-1)  # [b, h, s, d] each
        # Biases follow the projection's dtype (under autocast they would otherwise promote q and v to fp32).
        query_layer = query_layer + self.q_bias.view(self.num_attention_heads, 1, -1).to(qkv.dtype)  # [h, 1, d]
        value_layer = value_layer + self.v_bias.view(self.num_attention_heads, 1, -1).to(qkv.dtype)
        scale = math.sqrt(self.attention_head_size * self.scale_factor)
        query_layer = query_layer / scale

        rel_att = None
        if self.relative_attention and relative_positions is not None and rel_embeddings is not None:
            rel_att = self.disentangled_att_bias(query_layer, key_layer, relative_positions, rel_embeddings)

        if output_attentions:
            # Exact eager path: masked keys get probability 0, fully masked query rows all-zero attention.
            attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))  # [b, h, s, s]
            if rel_att is not None:
                attention_scores = attention_scores + rel_att
            attention_scores = attention_scores.float().masked_fill(~attention_mask, torch.finfo(torch.float32).min)
            attention_probs = F.softmax(attention_scores, dim=-1).masked_fill(~attention_mask, 0.0)
            attention_probs = attention_probs.to(value_layer.dtype)
            context_layer = torch.matmul(self.dropout(attention_probs), value_layer)  # [b, h, s, d]
        else:
            # Fused kernel with the disentangled bias as an additive mask. Fully masked query rows come out of
            # the softmax uniform; zeroing their context gives exactly what the eager path computes.
            bias = torch.zeros((), dtype=query_layer.dtype, device=query_layer.device) if rel_att is None else rel_att
            bias = bias.to(query_layer.dtype)
            bias = bias.masked_fill(~attention_mask, torch.finfo(bias.dtype).min)  # [b, h|1, s, s]
            context_layer = F.scaled_dot_product_attention(
                query_layer, key_layer, value_layer, attn_mask=bias,
                dropout_p=self.dropout.p if self.training else 0.0, scale=1.0,
            )  # [b, h, s, d]
            attention_probs = None
            context_layer = context_layer * attention_mask.any(dim=-1, keepdim=True).to(context_layer.dtype)
        # An explicit contiguous copy: the fused kernel may hand back [b, s, h, d] memory, and exporters that
        # decompose it must not be left with a view recorded against the other layout.
        context_layer = context_layer.transpose(1, 2).clone(memory_format=torch.contiguous_format)  # [b, s, h, d]
        context_layer = context_layer.flatten(2)  # [b, s, e]
        return context_layer, attention_probs

    def disentangled_att_bias(
        self,
        query_layer: torch.Tensor,
        key_layer: torch.Tensor,
        relative_positions: RelativePositions,
        rel_embeddings: torch.Tensor,
    ) -> torch.Tensor:
        """c2p + p2c terms [b, h, s, s] for scaled queries and keys [b, h, s, d]."""
        batch, heads, seq_len, _ = query_layer.shape
        att_span = relative_positions.att_span
        rel_embeddings = rel_embeddings[self.max_relative_positions - att_span : self.max_relative_positions + att_span]
        rel_embeddings = self.pos_dropout(rel_embeddings).unsqueeze(0)  # [1, 2a, e]
        score = None
        if "c2p" in self.pos_att_type:
            pos_key_layer = self.transpose_for_scores(self.pos_proj(rel_embeddings))  # [1, h, 2a, d]
            c2p_att = torch.matmul(query_layer, pos_key_layer.transpose(-1, -2))  # [b, h, s, 2a]
            score = c2p_att[:, :, relative_positions.rows, relative_positions.rel_index]  # [b, h, s, s]
        if "p2c" in self.pos_att_type:
            pos_query_layer = self.transpose_for_scores(self.pos_q_proj(rel_embeddings))  # [1, h, 2a, d]
            pos_query_layer = pos_query_layer / math.sqrt(pos_query_layer.shape[-1] * self.scale_factor)
            p2c_att = torch.matmul(key_layer, pos_query_layer.transpose(-1, -2))  # [b, h, s, 2a]
            p2c_att = p2c_att[:, :, relative_positions.cols, relative_positions.rel_index]  # [b, h, s, s]
            score = p2c_att if score is None else score + p2c_att
        return score


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
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        self_output, attention_probs = self.self(
            hidden_states, attention_mask, relative_positions, rel_embeddings, output_attentions
        )
        attention_output = self.output(self_output, hidden_states)
        return attention_output, attention_probs
