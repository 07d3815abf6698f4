"""NumPy reference of DeBERTa's relative-position logic, shared by both backends.

Shape legend (docs/architecture.md): ``q`` query length, ``k`` key length, ``a`` attention span.

The disentangled attention adds two position terms to the content score of query ``i`` and key ``j``:

* c2p: ``Q_i . Pk[c2p_index[i, j]]`` with ``Pk = pos_proj(rel_embeddings[window])``
* p2c: ``K_j . Pq[p2c_index[i, j]]`` with ``Pq = pos_q_proj(rel_embeddings[window])``

where ``window`` is rows ``[span - a, span + a)`` of ``rel_embeddings`` (``span`` = max_relative_positions, or
max_position_embeddings when that is < 1) and ``a = min(max(q, k), span)``. As in the reference code (not the
paper), both terms index the relative position ``i - j``, clamped to ``[0, 2a - 1]`` after adding ``a``.

The backends compute each term as one matmul against the ``2a`` projected rows, then pick, for each (i, j),
column ``c2p_index[i, j]`` of row i (c2p) or row j (p2c): by advanced indexing with ``[q, k]`` / ``[q, 1]`` /
``[1, k]`` index tensors, or by one gather along the flattened last axis with the ``[q * k]`` index of
:func:`c2p_flat_index` / :func:`p2c_flat_index`. Either way no index tensor is expanded to ``[b, h, q, k]``.
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


def c2p_flat_index(query_size: int, key_size: int, span: int) -> np.ndarray:
    """Index into ``c2p_att`` flattened from [.., q, 2a] to [.., q * 2a] giving the [.., q, k] term. Shape [q*k]."""
    idx = c2p_index(relative_position_ids(query_size, key_size), span)  # [q, k]
    rows = np.arange(query_size, dtype=np.int64)[:, None] * (2 * span)  # [q, 1]
    return (rows + idx).reshape(-1)  # [q * k]


def p2c_flat_index(query_size: int, key_size: int, span: int) -> np.ndarray:
    """Index into ``p2c_att`` = K @ Pq^T flattened from [.., k, 2a] to [.., k * 2a] giving the [.., q, k] term
    (query i, key j reads row j, column p2c_index[i, j]). Shape [q*k]."""
    idx = p2c_index(query_size, key_size, span)  # [q, k]
    cols = np.arange(key_size, dtype=np.int64)[None, :] * (2 * span)  # [1, k]
    return (cols + idx).reshape(-1)  # [q * k]


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
