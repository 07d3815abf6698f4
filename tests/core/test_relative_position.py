"""The NumPy relative-position reference against the reference implementation's own functions."""

import itertools

import numpy as np
import pytest
import torch
import transformers
from transformers.models.deberta import modeling_deberta as ref

from deberta_core import relative_position as rp

# Same math in float64 (ours) vs float32 (reference): round-off only.
ATOL_FP32 = 1e-5

LENGTHS = [1, 2, 5, 9, 16, 17, 33]
SPANS = [1, 3, 8, 16, 64]


@pytest.mark.parametrize("q_len, k_len", list(itertools.product(LENGTHS, LENGTHS)))
def test_relative_position_ids_match_reference(q_len, k_len):
    query = torch.zeros(1, 1, q_len, 4)
    key = torch.zeros(1, 1, k_len, 4)
    expected = ref.build_relative_position(query, key)[0].numpy()
    np.testing.assert_array_equal(rp.relative_position_ids(q_len, k_len), expected)


def test_span_and_window():
    assert rp.max_relative_span(-1, 512) == 512
    assert rp.max_relative_span(0, 512) == 512
    assert rp.max_relative_span(16, 512) == 16
    assert rp.attention_span(20, 7, 16) == 16
    assert rp.attention_span(5, 7, 16) == 7
    assert rp.rel_embedding_window(64, 20) == (44, 84)
    with pytest.raises(ValueError, match="sequence lengths must be >= 0"):
        rp.relative_position_ids(-1, 3)


# Self-attention (q == k) is the only case the model runs. For q != k (the unused query_states path) the
# reference 4.57 builds the p2c map from (query, key) instead of the original code's (key, key) and fails to
# expand it unless q == 1, so it is no oracle there; p2c_index follows the original code.
@pytest.mark.parametrize("q_len, max_span", list(itertools.product([1, 2, 4, 7, 12, 20, 33], [1, 2, 5, 8, 16, 64])))
def test_disentangled_bias_matches_reference(q_len, max_span):
    """Reference disentangled_att_bias (gather with expanded index maps) == our index maps and relative shifts."""
    k_len = q_len
    heads, head_dim, batch = 2, 3, 2
    cfg = transformers.DebertaConfig(
        hidden_size=heads * head_dim, num_attention_heads=heads, relative_attention=True,
        pos_att_type=["c2p", "p2c"], max_relative_positions=max_span, max_position_embeddings=64,
    )
    torch.manual_seed(q_len * 1000 + k_len * 10 + max_span)
    module = ref.DisentangledSelfAttention(cfg).eval()
    query = torch.randn(batch, heads, q_len, head_dim)
    key = torch.randn(batch, heads, k_len, head_dim)
    rel_embeddings = torch.randn(2 * max_span, heads * head_dim)
    relative_pos = ref.build_relative_position(query, key)
    scale_factor = 3
    with torch.no_grad():
        expected = module.disentangled_att_bias(query, key, relative_pos, rel_embeddings, scale_factor).numpy()

        span = rp.attention_span(q_len, k_len, max_span)
        start, stop = rp.rel_embedding_window(max_span, span)
        window = rel_embeddings[start:stop]  # [2a, e]
        pos_key = module.transpose_for_scores(module.pos_proj(window)[None])  # [1, h, 2a, d]
        pos_query = module.transpose_for_scores(module.pos_q_proj(window)[None])
        pos_query = pos_query / np.sqrt(head_dim * scale_factor)

    ours = rp.disentangled_bias(
        query.double().numpy(), key.double().numpy(), pos_key.double().numpy(), pos_query.double().numpy(),
        ["c2p", "p2c"], span,
    )
    np.testing.assert_allclose(ours, expected, atol=ATOL_FP32, rtol=0)

    # The gather-free formulation the backends use (relative shift over the reversed / widened tables) agrees.
    c2p_reversed = (query @ pos_key.flip(-2).transpose(-1, -2)).numpy()  # [b, h, q, 2a], Pk rows reversed
    p2c_full = (key @ pos_query.transpose(-1, -2)).numpy()  # [b, h, k, 2a]
    shifted = rp.c2p_by_shift(c2p_reversed, q_len) + rp.p2c_by_shift(p2c_full, q_len)
    np.testing.assert_allclose(shifted, expected, atol=ATOL_FP32, rtol=0)


@pytest.mark.parametrize("length, span", [(1, 1), (1, 8), (2, 1), (5, 2), (6, 3), (7, 7), (9, 16), (33, 5)])
def test_relative_shift_picks_the_clamped_index_maps_exactly(length, span):
    """Every (i, j) of the shifted tables is the entry the c2p / p2c index maps name (integer tables, so exact)."""
    a = rp.attention_span(length, length, span)
    table = np.arange(2 * 3 * length * 2 * a).reshape(2, 3, length, 2 * a)  # [b, h, s, 2a], distinct entries
    index = rp.c2p_index(rp.relative_position_ids(length, length), a)  # [s, s]
    rows, cols = np.arange(length)[:, None], np.arange(length)[None, :]
    np.testing.assert_array_equal(rp.c2p_by_shift(table[..., ::-1], length), table[..., rows, index])
    np.testing.assert_array_equal(rp.p2c_by_shift(table, length), table[..., cols, rp.p2c_index(length, length, a)])
    if a == length:  # unclamped: the shift is a view of the table, nothing is copied
        assert np.shares_memory(rp.relative_shift(table, length), table)


def test_relative_shift_rejects_bad_tables():
    with pytest.raises(ValueError, match=r"\[\.\.\., s, 2s\] table"):
        rp.relative_shift(np.zeros((3, 5)), 1)
    with pytest.raises(ValueError, match="0 <= offset <= s"):
        rp.relative_shift(np.zeros((3, 6)), 4)
    with pytest.raises(ValueError, match="more than 2 \\* seq_len"):
        rp.extend_span(np.zeros((3, 8)), 3)


@pytest.mark.parametrize("length, span", [(6, 3), (10, 10), (4, 16)])
def test_index_maps_are_clamped_relative_positions(length, span):
    c2p = rp.c2p_index(rp.relative_position_ids(length, length), span)
    assert c2p.min() >= 0 and c2p.max() <= 2 * span - 1
    for i in range(length):
        for j in range(length):
            assert c2p[i, j] == min(max(i - j + span, 0), 2 * span - 1)
    np.testing.assert_array_equal(rp.p2c_index(length, length, span), c2p)
