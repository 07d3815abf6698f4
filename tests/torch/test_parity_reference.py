"""Parity with the reference PyTorch classes: same random weights, padded inputs with token types, eval mode.

Compared on valid (non-padded) positions: the reference gives a fully padded query row uniform attention,
we give it all-zero attention (the original code's semantics), so padded rows differ by design.
"""

import pytest
import torch

from torch_helpers import (ATOL_FP32, ATOL_GRAD, HEADS, VARIANTS, make_config, make_inputs, make_labels, max_diff,
                           reference_twin, valid_rows)

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
    inputs = make_inputs(config, seed=seed)
    labels = make_labels(head, config, inputs, seed=seed)
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
def test_outputs_match_reference(head, variant):
    diffs = _compare(head, make_config(variant, num_labels=2 if head == "DebertaForQuestionAnswering" else 3))
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= ATOL_FP32, f"{worst}: {diffs[worst]:.3g} (all: {diffs})"


@pytest.mark.parametrize("head, variant, overrides", EXTRA_CASES, ids=[f"{h}-{o}" for h, _, o in EXTRA_CASES])
def test_problem_types_and_mlm_namings_match_reference(head, variant, overrides):
    diffs = _compare(head, make_config(variant, **overrides), seed=3)
    worst = max(diffs, key=diffs.get)
    assert diffs[worst] <= ATOL_FP32, f"{worst}: {diffs[worst]:.3g}"


def test_negative_labels_dropped_like_reference():
    config = make_config("rel_both", num_labels=3)
    reference, ours = reference_twin("DebertaForSequenceClassification", config)
    inputs = make_inputs(config)
    for labels in (torch.tensor([2, -1, 0]), torch.tensor([-1, -1, -1])):
        with torch.no_grad():
            assert max_diff(reference(**inputs, labels=labels).loss, ours(**inputs, labels=labels).loss) <= ATOL_FP32


@pytest.mark.parametrize("variant", ["rel_both", "embproj"])
def test_question_answering_loss_matches_reference_without_padding(variant):
    """The QA loss softmaxes over padded positions too, whose logits differ by design: compare unpadded."""
    config = make_config(variant)
    reference, ours = reference_twin("DebertaForQuestionAnswering", config)
    inputs = make_inputs(config, lengths=(9, 9))
    positions = {"start_positions": torch.tensor([1, 30]), "end_positions": torch.tensor([4, 2])}  # 30 > s: ignored
    with torch.no_grad():
        assert max_diff(reference(**inputs, **positions).loss, ours(**inputs, **positions).loss) <= ATOL_FP32


@pytest.mark.parametrize("head", HEADS[1:])
@pytest.mark.parametrize("variant", ["rel_both", "embproj_abs", "abs_only_types"])
def test_gradients_match_reference(head, variant):
    config = make_config(variant, num_labels=3 if head != "DebertaForQuestionAnswering" else 2)
    reference, ours = reference_twin(head, config, seed=5)
    lengths = (8, 8) if head == "DebertaForQuestionAnswering" else (8, 5)
    inputs = make_inputs(config, lengths=lengths, seed=5)
    labels = make_labels(head, config, inputs, seed=5)
    reference(**inputs, **labels).loss.backward()
    ours(**inputs, **labels).loss.backward()
    ref_params = dict(reference.named_parameters())
    worst, worst_name = 0.0, None
    for name, param in ours.named_parameters():
        diff = max_diff(ref_params[name].grad, param.grad)
        if diff > worst:
            worst, worst_name = diff, name
    assert worst <= ATOL_GRAD, f"{worst_name}: {worst:.3g}"
