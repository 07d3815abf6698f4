"""tests/reference_numpy.py (the NumPy transcription of the original DeBERTa code, EMD included) proved on what
exists: its encoder and MLM logits equal deberta_torch.DebertaForMaskedLM's; its EMD path is pinned by
properties that follow from the original's semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import reference_numpy as ref
from deberta_core import DebertaConfig
from deberta_torch import DebertaForMaskedLM
from conftest import ATOL_FP32, TINY
from torch_helpers import randomize_

POSITION_TABLE = "deberta.embeddings.position_embeddings.weight"

# Variants the brief asks for: c2p|p2c, p2c only, clamped spans, absolute positions on/off, token types,
# embedding_size != hidden_size, no relative attention.
VARIANTS = {
    "c2p_p2c": dict(relative_attention=True, pos_att_type="c2p|p2c", position_biased_input=False),
    "p2c_only": dict(relative_attention=True, pos_att_type=["p2c"], position_biased_input=False),
    "c2p_only_clamped": dict(relative_attention=True, pos_att_type=["c2p"], max_relative_positions=3,
                             position_biased_input=False, type_vocab_size=2),
    "both_clamped_abs": dict(relative_attention=True, pos_att_type="c2p|p2c", max_relative_positions=4,
                             position_biased_input=True, hidden_act="gelu_new"),
    "abs_only": dict(relative_attention=False, position_biased_input=True, type_vocab_size=2, hidden_act="relu"),
    "embproj": dict(relative_attention=True, pos_att_type="c2p|p2c", embedding_size=16, position_biased_input=False),
}


def build(variant: str, seed: int = 0, **overrides):
    config = DebertaConfig(**{**TINY, **VARIANTS[variant], "legacy": False, **overrides})
    model = DebertaForMaskedLM(config).eval()
    randomize_(model, seed)
    state = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    return config, model, state


def padded_batch(config, lengths=(11, 7, 3), seed=0):
    rng = np.random.default_rng(seed)
    batch, seq = len(lengths), max(lengths)
    attention_mask = (np.arange(seq)[None, :] < np.array(lengths)[:, None]).astype(np.int64)
    input_ids = rng.integers(1, config.vocab_size, size=(batch, seq)) * attention_mask
    return input_ids, attention_mask


def torch_outputs(model, input_ids, attention_mask, token_type_ids=None):
    with torch.no_grad():
        out = model(torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask),
                    token_type_ids=None if token_type_ids is None else torch.from_numpy(token_type_ids),
                    output_hidden_states=True)
    return [h.numpy() for h in out.hidden_states[1:]], out.logits.numpy()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_encoder_and_mlm_logits_equal_deberta_torch(variant):
    config, model, state = build(variant)
    input_ids, attention_mask = padded_batch(config)
    token_type_ids = None
    if config.type_vocab_size:
        token_type_ids = (np.arange(input_ids.shape[1])[None, :] >= 4).astype(np.int64) * attention_mask
    hidden, logits = torch_outputs(model, input_ids, attention_mask, token_type_ids)
    out = ref.encoder_forward(state, config, input_ids, attention_mask, token_type_ids)
    assert len(out["hidden_states"]) == config.num_hidden_layers
    for index, (ours, theirs) in enumerate(zip(hidden, out["hidden_states"])):
        assert np.abs(ours - theirs).max() <= ATOL_FP32, f"layer {index}"  # padded rows included
    reference_logits = ref.lm_head(state, config, out["hidden_states"][-1])
    assert np.abs(logits - reference_logits).max() <= ATOL_FP32
    if token_type_ids is None:  # the same through the one-call entry point
        assert np.abs(logits - ref.mlm_logits(state, config, input_ids, attention_mask)).max() <= ATOL_FP32


def test_clamping_is_exercised():
    # a span of 3 over 11 tokens: distances beyond +-2 share the edge rows, so the result differs from a wide span
    config, model, state = build("c2p_only_clamped")
    input_ids, attention_mask = padded_batch(config)
    narrow = ref.mlm_logits(state, config, input_ids, attention_mask)
    wide_config = config.copy(max_relative_positions=32)
    wide_state = dict(state, **{"deberta.encoder.rel_embeddings.weight":
                                np.random.default_rng(0).normal(size=(64, config.hidden_size)).astype(np.float32)})
    wide_state["deberta.encoder.rel_embeddings.weight"][32 - 3: 32 + 3] = state["deberta.encoder.rel_embeddings.weight"]
    # both sides float64: were the clamped rows not used, they would agree to ~1e-15
    assert np.abs(narrow - ref.mlm_logits(wide_state, wide_config, input_ids, attention_mask)).max() > 1e-5


def test_legacy_head_naming_is_read_too():
    config = DebertaConfig(**{**TINY, **VARIANTS["c2p_p2c"], "legacy": True})
    model = DebertaForMaskedLM(config).eval()
    randomize_(model, 1)
    state = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    input_ids, attention_mask = padded_batch(config)
    _, logits = torch_outputs(model, input_ids, attention_mask)
    assert np.abs(logits - ref.mlm_logits(state, config, input_ids, attention_mask)).max() <= ATOL_FP32


# ------------------------------------------------------------------------------------------------ EMD
def with_position_table(config, state, seed=2, zero=False):
    table = np.random.default_rng(seed).normal(scale=0.2, size=(config.max_position_embeddings, config.hidden_size))
    return dict(state, **{POSITION_TABLE: (np.zeros_like(table) if zero else table).astype(np.float32)})


@pytest.mark.parametrize("variant", ["c2p_p2c", "p2c_only", "c2p_only_clamped", "abs_only"])
def test_emd_first_pass_with_zero_positions_is_the_last_encoder_layer(variant):
    # With z = 0 the first query is H(L-1), the keys/values' own input: the query_states path (in_proj cut per
    # head into separate projections, residual through the query) must then reproduce the fused encoder layer.
    config, model, state = build(variant)
    if config.position_biased_input:  # the encoder reads the table too: give the torch model the zeros as well
        state = dict(state, **{POSITION_TABLE: np.zeros_like(state[POSITION_TABLE])})
        model.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    else:
        state = with_position_table(config, state, zero=True)
    input_ids, attention_mask = padded_batch(config)
    first, second = ref.emd_hidden_states(state, config, input_ids, attention_mask, always_decode=True)
    encoder_last = ref.encoder_forward(state, config, input_ids, attention_mask)["hidden_states"][-1]
    assert np.abs(first - encoder_last).max() < 1e-9
    hidden, _ = torch_outputs(model, input_ids, attention_mask)
    assert np.abs(first - hidden[-1]).max() <= ATOL_FP32
    assert np.abs(second - first).max() > 1e-3  # the second pass is not a no-op


def test_emd_logits_shape_rows_and_dependence_on_positions():
    config, _, state = build("c2p_p2c")
    state = with_position_table(config, state)
    input_ids, attention_mask = padded_batch(config)
    logits = ref.emd_logits(state, config, input_ids, attention_mask)
    assert logits.shape == input_ids.shape + (config.vocab_size,)
    plain = ref.mlm_logits(state, config, input_ids, attention_mask)
    assert np.abs(logits - plain).max() > 1e-2  # the decoder changes the logits
    # Each position's logits depend on its own query only: moving one query's absolute position changes that
    # row alone (keys/values and relative positions do not depend on position_ids).
    position_ids = np.broadcast_to(np.arange(input_ids.shape[1]), input_ids.shape).copy()
    position_ids[0, 5] = 40
    moved = ref.emd_logits(state, config, input_ids, attention_mask, position_ids)
    changed = np.abs(moved - logits).max(axis=-1) > 1e-9
    assert changed[0, 5] and changed.sum() == 1
    # position_ids of shape [1, s] broadcast over the batch (the original would fail its in-place add)
    default = np.arange(input_ids.shape[1])[None, :]
    assert np.abs(ref.emd_logits(state, config, input_ids, attention_mask, default) - logits).max() == 0.0


def test_emd_padding_does_not_leak_into_real_positions():
    config, _, state = build("c2p_p2c")
    state = with_position_table(config, state)
    input_ids, attention_mask = padded_batch(config, lengths=(7, 5))
    logits = ref.emd_logits(state, config, input_ids, attention_mask)
    noisy = input_ids.copy()
    noisy[attention_mask == 0] = 77  # different ids under the padding
    alone = ref.emd_logits(state, config, input_ids[1:, :5], attention_mask[1:, :5])
    assert np.abs(ref.emd_logits(state, config, noisy, attention_mask)[attention_mask == 1]
                  - logits[attention_mask == 1]).max() < 1e-9
    assert np.abs(alone[0] - logits[1, :5]).max() < 1e-9  # unpadded row == padded row at its real positions


def test_emd_is_off_when_position_biased_input_unless_always_decode():
    config, _, state = build("both_clamped_abs")
    input_ids, attention_mask = padded_batch(config)
    plain = ref.mlm_logits(state, config, input_ids, attention_mask)
    assert np.abs(ref.emd_logits(state, config, input_ids, attention_mask) - plain).max() == 0.0
    decoded = ref.emd_logits(state, config, input_ids, attention_mask, always_decode=True)
    assert np.abs(decoded - plain).max() > 1e-2


def test_emd_errors():
    config, _, state = build("c2p_p2c")
    input_ids, attention_mask = padded_batch(config)
    with pytest.raises(KeyError, match="position_embeddings.weight"):
        ref.emd_logits(state, config, input_ids, attention_mask)
    one_layer, _, one_state = build("c2p_p2c", num_hidden_layers=1)
    with pytest.raises(ValueError, match="num_hidden_layers >= 2"):
        ref.emd_logits(with_position_table(one_layer, one_state), one_layer, input_ids, attention_mask)
    proj, _, proj_state = build("embproj")
    proj_state = dict(proj_state, **{POSITION_TABLE: np.zeros((proj.max_position_embeddings, 16), np.float32)})
    with pytest.raises(ValueError, match=r"embedding_size 16.*hidden_size 32"):
        ref.emd_logits(proj_state, proj, input_ids, attention_mask)
    with pytest.raises(ValueError, match="attention_mask must be a 2-D"):
        ref.emd_logits(with_position_table(config, state), config, input_ids, attention_mask[:, None])
