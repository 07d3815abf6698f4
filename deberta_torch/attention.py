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
from .utils import is_traced, is_transformed


# Eager inference widens the clamped c2p / p2c products (to [heads, b, s, 2s]) a few heads at a time, within this.
WIDE_BYTES = 128 * 2**20


class RelativePositions(NamedTuple):
    """What every layer needs to add the relative-position terms for one sequence length.

    Built once per forward by the encoder (it depends only on the length), shared by all layers. No index tensor:
    the c2p / p2c terms are relative shifts (strided views) of their [b, h, s, 2a] products, see
    deberta_core.relative_position.relative_shift. ``workspace`` (eager calls only) holds the buffers the layers
    reuse (see :func:`scratch`).
    """

    att_span: int
    workspace: Optional[dict] = None


def build_relative_positions(seq_len: int, max_relative_positions: int, workspace: Optional[dict] = None) -> RelativePositions:
    # A branch rather than min(): under torch.export a symbolic min() leaves guards (s - min(span, s) == 0) that
    # the solver cannot discharge, where the comparison resolves from the sequence dimension's range.
    return RelativePositions(seq_len if seq_len <= max_relative_positions else max_relative_positions, workspace)


def scratch(workspace: Optional[dict], name: str, shape: Tuple[int, ...], like: torch.Tensor) -> Optional[torch.Tensor]:
    """The buffer ``name`` of ``workspace``, (re)allocated to ``shape``, for an op's ``out=``; None (the op allocates)
    without a workspace. Torch only: the layers of one forward (and of its backward) share their large
    [b, h, s, *] intermediates that nothing keeps; allocated afresh, each such block would be page-faulted in
    again by every layer (the allocator hands blocks this large back to the OS when they are freed)."""
    if workspace is None:
        return None
    buffer = workspace.get(name)
    if buffer is None or buffer.shape != shape or buffer.dtype != like.dtype or buffer.device != like.device:
        buffer = workspace[name] = like.new_empty(shape)
    return buffer


def extend_span(table: torch.Tensor, seq_len: int, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """[..., s, 2a] -> [..., s, 2s]: the first / last column repeated s - a times on its side, so the shift reads
    the clamped positions (a < s) as plain ones (deberta_core.relative_position.extend_span). Unchanged if a == s."""
    pad = seq_len - table.shape[-1] // 2
    if pad == 0:
        return table
    left = table[..., :1].expand(table.shape[:-1] + (pad,))  # [..., s, s - a]
    right = table[..., -1:].expand(table.shape[:-1] + (pad,))
    return torch.cat([left, table, right], dim=-1, out=out)  # [..., s, 2s]


def relative_shift(table: torch.Tensor, offset: int) -> torch.Tensor:
    """out[..., r, c] = table[..., r, offset + c - r] for a [..., s, 2s] table: views only, no copy, no index
    (deberta_core.relative_position.relative_shift)."""
    seq_len, width = table.shape[-2], table.shape[-1]
    flat = table.flatten(-2).narrow(-1, offset, seq_len * (width - 1))  # [..., s * (2s - 1)]
    return flat.unflatten(-1, (seq_len, width - 1)).narrow(-1, 0, seq_len)  # [..., s, s]


def relative_term(rows: torch.Tensor, table: torch.Tensor, batch: int, offset: int, workspace: Optional[dict],
                  name: str) -> torch.Tensor:
    """relative_shift(extend_span(rows @ table^T)) [g, b, s, s] for rows [g, b*s, d] and a projected table
    [g, 2a, d]: the c2p term (query rows, reversed pos_key_layer, offset s - 1) or the p2c term transposed (key
    rows, pos_query_layer, offset s). Torch only: eager calls (a workspace) run it as one op on reused buffers
    (RelativeTerm); traced ones as the plain ops below."""
    if workspace is not None:
        return RelativeTerm.apply(rows, table, batch, offset, workspace, name)
    seq_len = rows.shape[1] // batch
    product = torch.bmm(rows, table.transpose(-1, -2)).unflatten(1, (batch, seq_len))  # [g, b, s, 2a]
    return relative_shift(extend_span(product, seq_len), offset)  # [g, b, s, s]


class RelativeTerm(torch.autograd.Function):
    """relative_term in eager calls. The product and its widened copy live in workspace buffers (the output is a
    view of them, which the caller reads at once); the backward writes the gradient through the same shift into
    one zeroed buffer and sums the repeated edge columns, where autograd would zero-fill a full-size gradient
    for every slice and narrow on the way."""

    @staticmethod
    def forward(ctx, rows, table, batch, offset, workspace, name):
        heads, seq_len, span2 = rows.shape[0], rows.shape[1] // batch, table.shape[1]
        product = torch.bmm(rows, table.transpose(-1, -2),
                            out=scratch(workspace, name + "_product", (heads, batch * seq_len, span2), rows))
        product = product.unflatten(1, (batch, seq_len))  # [g, b, s, 2a]
        wide = extend_span(product, seq_len,
                           out=scratch(workspace, name + "_wide", (heads, batch, seq_len, 2 * seq_len), rows))
        ctx.save_for_backward(rows, table)
        ctx.batch, ctx.offset, ctx.workspace = batch, offset, workspace
        return relative_shift(wide, offset)  # [g, b, s, s]

    @staticmethod
    def backward(ctx, grad):
        rows, table = ctx.saved_tensors
        heads, seq_len, span2 = rows.shape[0], rows.shape[1] // ctx.batch, table.shape[1]
        pad = seq_len - span2 // 2
        grad_wide = scratch(ctx.workspace, "grad_wide", (heads, ctx.batch, seq_len, 2 * seq_len), grad).zero_()
        relative_shift(grad_wide, ctx.offset).copy_(grad)
        grad_product = grad_wide
        if pad:
            grad_product = scratch(ctx.workspace, "grad_product", (heads, ctx.batch, seq_len, span2), grad)
            grad_product.copy_(grad_wide[..., pad : pad + span2])
            grad_product[..., 0] += grad_wide[..., :pad].sum(-1)  # the repeated edge columns
            grad_product[..., -1] += grad_wide[..., pad + span2 :].sum(-1)
        grad_product = grad_product.flatten(1, 2)  # [g, b*s, 2a]
        grad_rows = torch.bmm(grad_product, table) if ctx.needs_input_grad[0] else None
        grad_table = torch.bmm(grad_product.transpose(-1, -2), rows) if ctx.needs_input_grad[1] else None
        return grad_rows, grad_table, None, None, None, None


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
        hidden_states; everything after the projections is the ordinary path (same length, same positions)."""
        qkv = self.transpose_for_scores(self.in_proj(hidden_states))  # [b, h, s, 3d]
        query_layer, key_layer, value_layer = qkv.chunk(3, dim=-1)  # [b, h, s, d] each
        if query_states is not None:
            # The whole fused projection, of which the queries are kept: a wrapper (LoRA, ...) may have changed
            # the projection, and slicing its weights would miss the wrapper's part.
            query_layer = self.transpose_for_scores(self.in_proj(query_states)).chunk(3, dim=-1)[0]  # [b, h, s, d]
        # Biases follow the projection's dtype (under autocast they would otherwise promote q and v to fp32).
        query_layer = query_layer + self.q_bias.view(self.num_attention_heads, 1, -1).to(qkv.dtype)  # [h, 1, d]
        value_layer = value_layer + self.v_bias.view(self.num_attention_heads, 1, -1).to(qkv.dtype)
        scale = math.sqrt(self.attention_head_size * self.scale_factor)
        query_layer = query_layer.div_(scale)  # in place: the sum is fresh and neither op saves it for backward

        rel_att = None
        if self.relative_attention and relative_positions is not None and rel_embeddings is not None:
            rel_att = self.disentangled_att_bias(query_layer, key_layer, relative_positions, rel_embeddings)

        if output_attentions or is_transformed():
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
            # the softmax uniform; zeroing their context gives exactly what the eager path computes. No mask
            # (the encoder drops it when nothing is masked in an eager call) skips both passes.
            masked = attention_mask is not None
            if rel_att is None:
                bias = torch.zeros((), dtype=query_layer.dtype, device=query_layer.device)
                bias = bias.masked_fill(~attention_mask, torch.finfo(bias.dtype).min) if masked else None
            else:
                bias = rel_att.to(query_layer.dtype)  # [b, h, s, s], fresh (disentangled_att_bias)
                if masked:
                    bias = bias.masked_fill_(~attention_mask, torch.finfo(bias.dtype).min)
            context_layer = F.scaled_dot_product_attention(
                query_layer, key_layer, value_layer, attn_mask=bias,
                dropout_p=self.dropout.p if self.training else 0.0, scale=1.0,
            )  # [b, h, s, d]
            attention_probs = None
            if masked:
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
        """c2p + p2c terms [b, h, s, s] for scaled queries and keys [b, h, s, d], in a fresh tensor (the caller masks
        it in place).

        Each product is one GEMM per head over all b * s rows ([h, b*s, d] is a view of the projection's layout),
        not a [b, h]-batched one against a positional table copied b times.
        """
        batch, heads, seq_len, _ = query_layer.shape
        att_span, workspace = relative_positions
        pos_key_layer, pos_query_layer = self.relative_tables(rel_embeddings, att_span)
        queries = query_layer.transpose(0, 1).flatten(1, 2)  # [h, b*s, d], a view of the projection's layout
        keys = key_layer.transpose(0, 1).flatten(1, 2)
        # The summed score is what the fused kernel keeps for backward: a shared buffer only with autograd off.
        score = scratch(None if torch.is_grad_enabled() else workspace, "score", (heads, batch, seq_len, seq_len),
                        query_layer)  # [h, b, s, s]
        group = heads
        if score is not None and att_span < seq_len:
            # Torch only: clamped terms read products widened to [h, b, s, 2s]; eager inference widens a few heads
            # at a time (reusing the buffers for the next heads and layers), so they stay within WIDE_BYTES.
            group = max(1, WIDE_BYTES // (2 * batch * seq_len * 2 * seq_len * score.element_size()))
            while heads % group:  # equal groups: the buffers keep their shape
                group -= 1
        for start in range(0, heads, group):
            rows = slice(start, start + group)
            c2p_att = p2c_att = None
            if "c2p" in self.pos_att_type:
                c2p_att = relative_term(queries[rows], pos_key_layer[0, rows], batch, seq_len - 1, workspace, "c2p")
            if "p2c" in self.pos_att_type:
                p2c_att = relative_term(keys[rows], pos_query_layer[0, rows], batch, seq_len, workspace, "p2c")
                p2c_att = p2c_att.transpose(-1, -2)  # [g, b, s, s]: query i, key j
            if c2p_att is not None and p2c_att is not None:
                score_rows = torch.add(c2p_att, p2c_att, out=None if score is None else score[rows])
            else:
                term = c2p_att if p2c_att is None else p2c_att
                score_rows = term.contiguous() if score is None else score[rows].copy_(term)
            if group == heads:
                score = score_rows
        return score.transpose(0, 1)  # [b, h, s, s], fresh (the terms are views of reused buffers)

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
        if self.freeze_tables and not self.training and not self.needs_table_gradient(rel_embeddings):
            device = rel_embeddings.device.type  # frozen tables keep the weights' dtype; autocast calls cast the window
            dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
            tables = self.frozen_relative_tables(rel_embeddings)
            return tuple(None if t is None else t[:, :, start : start + 2 * att_span].to(dtype) for t in tables)
        window = self.pos_dropout(rel_embeddings[start : start + 2 * att_span])  # [2a, e]
        return self.project_relative(window)

    def needs_table_gradient(self, rel_embeddings: torch.Tensor) -> bool:
        """Whether a gradient can reach the relative tables in this call: autograd on and a weight they come from
        (``rel_embeddings``, every parameter of the projections, an adapter's too) requires one."""
        if not torch.is_grad_enabled():
            return False
        weights = [rel_embeddings]
        if "c2p" in self.pos_att_type:
            weights += self.pos_proj.parameters()
        if "p2c" in self.pos_att_type:
            weights += self.pos_q_proj.parameters()
        return any(weight.requires_grad for weight in weights)

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
