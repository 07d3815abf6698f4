"""Parity with the reference (mirror of tests/tf/test_tf_reference.py).

Random weights: the reference PyTorch classes and ours with the same weights, padded inputs with token types,
eval mode, every head and variant, outputs and gradients. Compared on valid (non-padded) positions: the reference
gives a fully padded query row uniform attention, we give it all-zero attention (the original code's semantics),
so padded rows differ by design.

Reference checkpoints (tests/fixtures/hf): the reference's own torch checkpoints (safetensors and .bin) reproduce
its recorded outputs, and its tf_model.h5 loaded with from_tf=True reproduces the reference TF outputs on every
position.
"""

import numpy as np
import pytest
import torch

from conftest import ATOL_FP32, GRAD_ATOL_FP32, HEADS, PT_BIN, PT_V5, TF_457, VARIANTS
from torch_helpers import (fixture_class, max_diff, npz_inputs, npz_labels, reference_twin, torch_inputs, torch_labels,
                           valid_rows)

CASES = [(head, variant) for head in HEADS for variant in VARIANTS]
EXTRA_CASES = [
    ("DebertaForSequenceClassification", "rel_both", dict(problem_type="multi_label_classification", num_labels=4)),
    ("DebertaForSequenceClassification", "abs_only_types", dict(num_labels=1)),
    ("DebertaForSequenceClassification", "rel_c2p_clamp", dict(problem_type="regression", num_labels=3)),
    ("DebertaForSequenceClassification", "rel_p2c_abs", dict(problem_type="single_label_classification", num_labels=5)),
    ("DebertaForMaskedLM", "rel_both", dict(legacy=False)),
]


def _compare(head, config, seed=0):
    reference, ours = reference_twin(head, config, seed=seed)
    inputs = torch_inputs(config, seed=seed)
    labels = torch_labels(head, config, inputs, seed=seed)
    rows = valid_rows(inputs)
    with torch.no_grad():
        ref_out = reference(**inputs, output_hidden_states=True, output_attentions=True)
        our_out = ours(**inputs, output_hidden_states=True, output_attentions=True)
        our_sdpa = ours(**inputs, output_hidden_states=True)  # the fused path (no attention maps requested)
    diffs = {}
    for i, (r, o, s) in enumerate(zip(ref_out.hidden_states, our_out.hidden_states, our_sdpa.hidden_states)):
        diffs[f"hidden_states.{i}"] = max_diff(r, o, rows)
        diffs[f"hidden_states.{i} (sdpa)"] = max_diff(r, s, rows)
    for i, (r, o) in enumerate(zip(ref_out.attentions, our_out.attentions)):
        query_rows = rows[:, None, :].expand(-1, config.num_attention_heads, -1)  # [b, h, s] valid query rows
        diffs[f"attentions.{i}"] = max_diff(r, o, query_rows)
    for name in ("last_hidden_state", "logits", "start_logits", "end_logits"):
        if name in our_out:
            ref_value = ref_out[name]
            per_token = ref_value.dim() >= 2 and tuple(ref_value.shape[:2]) == tuple(rows.shape)
            diffs[name] = max_diff(ref_value, our_out[name], rows if per_token else None)
    if labels and head != "DebertaForQuestionAnswering":
        with torch.no_grad():
            diffs["loss"] = max_diff(reference(**inputs, **labels).loss, ours(**inputs, **labels).loss)
    return diffs


@pytest.mark.parametrize("head, variant", CASES, ids=[f"{h}-{v}" for h, v in CASES])
def test_outputs_match_reference(head, variant, tiny_config):
    diffs = _compare(head, tiny_config(variant, num_labels=2 if head == "DebertaForQuestionAnswering" else 3))
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= ATOL_FP32, f"{worst}: {diffs[worst]:.3g} (all: {diffs})"


@pytest.mark.parametrize("head, variant, overrides", EXTRA_CASES, ids=[f"{h}-{o}" for h, _, o in EXTRA_CASES])
def test_problem_types_and_mlm_namings_match_reference(head, variant, overrides, tiny_config):
    diffs = _compare(head, tiny_config(variant, **overrides), seed=3)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= ATOL_FP32, f"{worst}: {diffs[worst]:.3g}"


def test_negative_labels_dropped_like_reference(tiny_config):
    config = tiny_config("rel_both", num_labels=3)
    reference, ours = reference_twin("DebertaForSequenceClassification", config)
    inputs = torch_inputs(config)
    for labels in (torch.tensor([2, -1, 0]), torch.tensor([-1, -1, -1])):
        with torch.no_grad():
            assert max_diff(reference(**inputs, labels=labels).loss, ours(**inputs, labels=labels).loss) <= ATOL_FP32


@pytest.mark.parametrize("variant", ["rel_both", "embproj"])
def test_question_answering_loss_matches_reference_without_padding(variant, tiny_config):
    """The QA loss softmaxes over padded positions too, whose logits differ by design: compare unpadded."""
    config = tiny_config(variant)
    reference, ours = reference_twin("DebertaForQuestionAnswering", config)
    inputs = torch_inputs(config, lengths=(9, 9))
    positions = {"start_positions": torch.tensor([1, 30]), "end_positions": torch.tensor([4, 2])}  # 30 > s: ignored
    with torch.no_grad():
        assert max_diff(reference(**inputs, **positions).loss, ours(**inputs, **positions).loss) <= ATOL_FP32


@pytest.mark.parametrize("head", HEADS[1:])
@pytest.mark.parametrize("variant", ["rel_both", "embproj_abs", "abs_only_types"])
def test_gradients_match_reference(head, variant, tiny_config):
    config = tiny_config(variant, num_labels=3 if head != "DebertaForQuestionAnswering" else 2)
    reference, ours = reference_twin(head, config, seed=5)
    lengths = (8, 8) if head == "DebertaForQuestionAnswering" else (8, 5)
    inputs = torch_inputs(config, lengths=lengths, seed=5)
    labels = torch_labels(head, config, inputs, seed=5)
    reference(**inputs, **labels).loss.backward()
    ours(**inputs, **labels).loss.backward()
    ref_params = dict(reference.named_parameters())
    worst, worst_name = 0.0, None
    for name, param in ours.named_parameters():
        diff = max_diff(ref_params[name].grad, param.grad)
        if diff > worst:
            worst, worst_name = diff, name
    assert worst <= GRAD_ATOL_FP32, f"{worst_name}: {worst:.3g}"


# ---------------------------------------------------------------------------------------------------- checkpoints
def _check_outputs(model, expected, valid_only: bool):
    inputs = npz_inputs(expected)
    rows = torch.from_numpy(expected["attention_mask"]).bool() if valid_only else None
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True, output_attentions=True)
    diffs = {}

    def diff(ours, ref, per_token):
        ours, ref = ours.numpy(), np.asarray(ref)
        if rows is not None and per_token:
            ours, ref = ours[rows.numpy()], ref[rows.numpy()]
        return float(np.abs(ours - ref).max())

    for i, hidden in enumerate(out.hidden_states):
        diffs[f"hidden_states.{i}"] = diff(hidden, expected["hidden_states"][i], True)
    for i, attention in enumerate(out.attentions):
        ours, ref = attention.numpy(), expected["attentions"][i]
        if rows is not None:
            query_rows = rows.numpy()[:, None, :].repeat(ours.shape[1], axis=1)
            ours, ref = ours[query_rows], ref[query_rows]
        diffs[f"attentions.{i}"] = float(np.abs(ours - ref).max())
    for name in ("last_hidden_state", "logits", "start_logits", "end_logits"):
        if name in expected:
            per_token = expected[name].ndim >= 2 and expected[name].shape[:2] == expected["attention_mask"].shape
            diffs[name] = diff(out[name], expected[name], per_token)
    return diffs


PT_DIRS = sorted(p for p in PT_V5.iterdir())
TF_DIRS = sorted(p for p in TF_457.iterdir())
BIN_DIRS = sorted(p for p in PT_BIN.iterdir())


@pytest.mark.parametrize("folder", PT_DIRS + BIN_DIRS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_reference_torch_checkpoint_reproduces_outputs(folder):
    model = fixture_class(folder.name).from_pretrained(folder)
    expected = np.load(folder / "expected.npz")
    diffs = _check_outputs(model, expected, valid_only=True)
    for name, value in diffs.items():
        assert value <= ATOL_FP32, f"{name}: {value:.3g}"
    labels = npz_labels(expected)
    if labels and "loss" in expected and "__qa" not in folder.name:
        with torch.no_grad():
            loss = model(**npz_inputs(expected), **labels).loss
        assert abs(float(loss) - float(expected["loss"])) <= ATOL_FP32


@pytest.mark.parametrize("folder", TF_DIRS, ids=lambda p: p.name)
def test_reference_tf_checkpoint_loads_with_from_tf_and_matches_every_position(folder):
    """The reference TF classes share our padded-row semantics, so every position must agree."""
    model = fixture_class(folder.name).from_pretrained(folder, from_tf=True)
    expected = np.load(folder / "expected_tf.npz")
    for name, value in _check_outputs(model, expected, valid_only=False).items():
        assert value <= ATOL_FP32, f"{name}: {value:.3g}"
    labels = npz_labels(expected)
    if labels and "loss" in expected:
        with torch.no_grad():
            loss = model(**npz_inputs(expected), **labels).loss
        # The TF classes return per-example (or masked-mean) losses; their mean is the reduced loss.
        assert abs(float(loss) - float(np.mean(expected["loss"]))) <= ATOL_FP32
