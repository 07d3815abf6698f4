"""NumPy reference of DeBERTa's relative-position logic, shared by both backends.

Shape legend (docs/architecture.md): ``q`` query length, ``k`` key length, ``a`` attention span.

The disentangled attention adds two position terms to the content score of query ``i`` and key ``j``:

* c2p: ``Q_i . Pk[c2p_index[i, j]]`` with ``Pk = pos_proj(rel_embeddings[window])``
* p2c: ``K_j . Pq[p2c_index[i, j]]`` with ``Pq = pos_q_proj(rel_embeddings[window])``

where ``window`` is rows ``[span - a, span + a)`` of ``rel_embeddings`` (``span`` = max_relative_positions, or
max_position_embeddings when that is < 1) and ``a = min(max(q, k), span)``. As in the reference code (not the
paper), both terms index the relative position ``i - j``, clamped to ``[0, 2a - 1]`` after adding ``a``.

The backends compute each term as one matmul against the ``2a`` projected rows, then pick, for each (i, j),
column ``c2p_index[i, j]`` of row i (c2p) or row j (p2c). They pick without any gather or index tensor: both
picks are a *relative shift*, ``out[r, c] = table[r, offset + c - r]`` (:func:`relative_shift`), which is a
strided view of the row-major table (rows read with a stride of one less than their width). c2p needs
``C[i, a + i - j]``, decreasing in j, so it runs on the table with its columns reversed (the backends reverse the
rows of ``Pk`` before the matmul); p2c needs ``P[j, a + i - j]``, the shift of ``P`` transposed. Clamping
(``a < s``) is the same shift over the table widened to ``2s`` columns by repeating its first and last columns
(:func:`extend_span`): positions beyond the span read the edge columns exactly as the clamped index does.
"""

from __future__ import annotations

import numpy as np


def relative_position_ids(query_size: int, key_size: int) -> np.ndarray:
    """Relative position of query ``i`` to key ``j``: ``i - j``. Shape [q, k], int64."""
    if query_size < 0 or key_size < 0:
        raise ValueError(f"sequence lengths must be >= 0, got query_size={query_size}, key_size={key_size}")
    q_ids = np.arange(query_size, dtype=np.int64)
    k_ids = np.arange(key_size, dtype=np.int64)
    return q_ids[:, None] - k_ids[None, :]  # [q, k]


def max_relative_span(max_relative_positions: int, max_position_embeddings: int) -> int:
    """Half the number of ``rel_embeddings`` rows: max_relative_positions, or max_position_embeddings if < 1."""
    return max_position_embeddings if max_relative_positions < 1 else max_relative_positions


def attention_span(query_size: int, key_size: int, max_span: int) -> int:
    """Number of relative distances used on each side: ``min(max(q, k), max_span)``."""
    return min(max(query_size, key_size), max_span)


def rel_embedding_window(max_span: int, span: int) -> tuple:
    """(start, stop) of the ``rel_embeddings`` rows used for attention span ``span``: ``2 * span`` rows."""
    return max_span - span, max_span + span


def c2p_index(relative_pos: np.ndarray, span: int) -> np.ndarray:
    """Row of the projected relative embeddings used by c2p for each (i, j): ``clip(i - j + a, 0, 2a - 1)``."""
    return np.clip(relative_pos + span, 0, 2 * span - 1)


def p2c_index(query_size: int, key_size: int, span: int) -> np.ndarray:
    """Row of the projected relative embeddings used by p2c for each (i, j), shape [q, k].

    The reference gathers ``K @ Pq^T`` with the key-to-key map ``clip(m - j + a)`` and transposes it; for
    q != k it then picks row ``i`` for query ``i``. Either way, query ``i`` and key ``j`` read row
    ``clip(i - j + a, 0, 2a - 1)``: the same index as c2p (the code's p2c, not the paper's).
    """
    return c2p_index(relative_position_ids(query_size, key_size), span)


def extend_span(table: np.ndarray, seq_len: int) -> np.ndarray:
    """Widen a ``[..., s, 2a]`` table to ``[..., s, 2s]`` (``a <= s``): ``s - a`` copies of its first column on the
    left, of its last column on the right. Column ``t`` of the result is column ``clip(t - (s - a), 0, 2a - 1)``,
    so the clamped relative positions become plain ones; with ``a == s`` the table is returned unchanged."""
    pad = seq_len - table.shape[-1] // 2
    if pad < 0:
        raise ValueError(f"the table has {table.shape[-1]} columns, more than 2 * seq_len ({2 * seq_len})")
    if pad == 0:
        return table
    left = np.repeat(table[..., :1], pad, axis=-1)
    right = np.repeat(table[..., -1:], pad, axis=-1)
    return np.concatenate([left, table, right], axis=-1)  # [..., s, 2s]


def relative_shift(table: np.ndarray, offset: int) -> np.ndarray:
    """``out[..., r, c] = table[..., r, offset + c - r]`` for a ``[..., s, 2s]`` table, ``0 <= offset <= s``; [..., s, s].

    The rows of the table, flattened, read from ``offset`` with a row length of ``2s - 1``: element (r, c) sits at
    ``offset + r * (2s - 1) + c = r * 2s + (offset + c - r)``. Flatten, slice, reshape, slice: views only.
    """
    *lead, seq_len, width = table.shape
    if width != 2 * seq_len or not 0 <= offset <= seq_len:
        raise ValueError(f"relative_shift needs a [..., s, 2s] table and 0 <= offset <= s, got {table.shape}, {offset}")
    flat = table.reshape(*lead, seq_len * width)[..., offset : offset + seq_len * (width - 1)]
    return flat.reshape(*lead, seq_len, width - 1)[..., :seq_len]  # [..., s, s]


def c2p_by_shift(c2p_reversed: np.ndarray, seq_len: int) -> np.ndarray:
    """The c2p term [..., s, s] from ``Q @ Pk_reversed^T`` [..., s, 2a] (``Pk`` rows reversed)."""
    return relative_shift(extend_span(c2p_reversed, seq_len), seq_len - 1)


def p2c_by_shift(p2c_att: np.ndarray, seq_len: int) -> np.ndarray:
    """The p2c term [..., s, s] (query i, key j) from ``K @ Pq^T`` [..., s, 2a] (row j: key j)."""
    return np.swapaxes(relative_shift(extend_span(p2c_att, seq_len), seq_len), -1, -2)


def disentangled_bias(
    query: np.ndarray,
    key: np.ndarray,
    pos_key: np.ndarray,
    pos_query: np.ndarray,
    pos_att_type,
    span: int,
) -> np.ndarray:
    """The c2p + p2c score terms, computed directly from their definition (slow; for tests).

    query [..., q, d] (already scaled), key [..., k, d], pos_key / pos_query [..., 2a, d] (pos_query already
    scaled), pos_att_type a list of "c2p" / "p2c". Returns [..., q, k].
    """
    q_len, k_len = query.shape[-2], key.shape[-2]
    score = np.zeros(query.shape[:-2] + (q_len, k_len), dtype=np.float64)
    rel = relative_position_ids(q_len, k_len)
    if "c2p" in pos_att_type:
        c2p = c2p_index(rel, span)
        for i in range(q_len):
            for j in range(k_len):
                score[..., i, j] += np.sum(query[..., i, :] * pos_key[..., c2p[i, j], :], axis=-1)
    if "p2c" in pos_att_type:
        p2c = p2c_index(q_len, k_len, span)
        for i in range(q_len):
            for j in range(k_len):
                score[..., i, j] += np.sum(key[..., j, :] * pos_query[..., p2c[i, j], :], axis=-1)
    return score
