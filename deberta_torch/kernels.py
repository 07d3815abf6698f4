"""The torch twin's attention kernels: how the two contracts of attention.py are computed fast in PyTorch.

- ``relative_scores``: the c2p + p2c terms [b, h, s, s] (deberta_core.relative_position: a relative shift of one
  product per term, widened for clamping). Torch runs each product as one GEMM per head over all b * s rows;
  eager calls run it as one autograd op (RelativeTerm) on buffers the layers of a forward share, a few heads at
  a time when clamped.
- ``attend``: softmax attention with the relative scores as a bias, masked keys probability 0 and fully masked
  query rows all-zero: the fused kernel (scaled_dot_product_attention), or the exact path when the attention
  maps are asked for or a torch.func transform runs.

One-sided (the Keras twin's kernels.py computes the same contracts its own way); the twin check does not compare
it with deberta_tf/kernels.py. Shape legend: b batch, s sequence, h heads, g heads in a group, d head dim,
a attention span, e hidden size.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .utils import is_transformed


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


def span(relative_positions: RelativePositions) -> int:
    """The attention span a of ``relative_positions`` (a Python int in torch)."""
    return relative_positions.att_span


def relative_scores(query_layer: torch.Tensor, key_layer: torch.Tensor, pos_key_layer: Optional[torch.Tensor],
                    pos_query_layer: Optional[torch.Tensor], relative_positions: RelativePositions,
                    pos_att_type: Sequence[str]) -> torch.Tensor:
    """c2p + p2c terms [b, h, s, s] for scaled queries and keys [b, h, s, d] and the projected tables [1, h, 2a, d]
    (None for a term the config does not use), in a fresh tensor (the caller may mask it in place).

    Each product is one GEMM per head over all b * s rows ([h, b*s, d] is a view of the projection's layout),
    not a [b, h]-batched one against a positional table copied b times.
    """
    batch, heads, seq_len, _ = query_layer.shape
    att_span, workspace = relative_positions
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
        if "c2p" in pos_att_type:
            c2p_att = relative_term(queries[rows], pos_key_layer[0, rows], batch, seq_len - 1, workspace, "c2p")
        if "p2c" in pos_att_type:
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


def attend(query_layer: torch.Tensor, key_layer: torch.Tensor, value_layer: torch.Tensor,
           rel_att: Optional[torch.Tensor], attention_mask: Optional[torch.Tensor], dropout: nn.Dropout,
           training: bool, output_attentions: bool) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Softmax attention of scaled queries, keys and values [b, h, s, d] with ``rel_att`` [b, h, s, s] (or None)
    added to the scores, under ``attention_mask`` bool [b, 1, s, s] (True = may attend; None when nothing is
    masked: eager calls without attention maps only). Returns the context [b, s, e] and, with
    ``output_attentions``, the probabilities [b, h, s, s] (else None)."""
    if output_attentions or is_transformed():
        # Exact eager path: masked keys get probability 0, fully masked query rows all-zero attention.
        attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))  # [b, h, s, s]
        if rel_att is not None:
            attention_scores = attention_scores + rel_att
        attention_scores = attention_scores.float().masked_fill(~attention_mask, torch.finfo(torch.float32).min)
        attention_probs = F.softmax(attention_scores, dim=-1).masked_fill(~attention_mask, 0.0)
        attention_probs = attention_probs.to(value_layer.dtype)
        context_layer = torch.matmul(dropout(attention_probs), value_layer)  # [b, h, s, d]
    else:
        # Fused kernel with the disentangled bias as an additive mask. Fully masked query rows come out of
        # the softmax uniform; zeroing their context gives exactly what the eager path computes. No mask
        # (the encoder drops it when nothing is masked in an eager call) skips both passes.
        masked = attention_mask is not None
        if rel_att is None:
            bias = torch.zeros((), dtype=query_layer.dtype, device=query_layer.device)
            bias = bias.masked_fill(~attention_mask, torch.finfo(bias.dtype).min) if masked else None
        else:
            bias = rel_att.to(query_layer.dtype)  # [b, h, s, s], fresh (relative_scores)
            if masked:
                bias = bias.masked_fill_(~attention_mask, torch.finfo(bias.dtype).min)
        context_layer = F.scaled_dot_product_attention(
            query_layer, key_layer, value_layer, attn_mask=bias,
            dropout_p=dropout.p if training else 0.0, scale=1.0,
        )  # [b, h, s, d]
        attention_probs = None
        if masked:
            context_layer = context_layer * attention_mask.any(dim=-1, keepdim=True).to(context_layer.dtype)
    # An explicit contiguous copy: the fused kernel may hand back [b, s, h, d] memory, and exporters that
    # decompose it must not be left with a view recorded against the other layout.
    context_layer = context_layer.transpose(1, 2).clone(memory_format=torch.contiguous_format)  # [b, s, h, d]
    return context_layer.flatten(2), attention_probs  # [b, s, e]
