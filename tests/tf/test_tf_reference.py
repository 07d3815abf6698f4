"""Parity with the reference (mirror of tests/torch/test_torch_reference.py): its checkpoints load and reproduce
its outputs.

tf_457: tf_model.h5 written by the reference 4.x TF classes; outputs compared on EVERY position (both zero the
attention of fully masked query rows). pt_v5: torch checkpoints read with from_pt=True; outputs compared on valid
positions (the reference torch softmaxes padded query rows uniformly, this project zeroes them, see
tests/fixtures/hf/README.md).
"""

import numpy as np
import pytest

from conftest import ATOL_FP32, PT_V5, TF_457, fixture_architecture, fixture_names, load_npz, split_npz
from tf_helpers import assert_close, max_abs_diffs, tf_class, to_numpy

OUTPUTS = ["last_hidden_state", "logits", "start_logits", "end_logits", "hidden_states", "attentions"]


def _run(folder, from_pt):
    architecture = fixture_architecture(folder.name)
    model = tf_class(architecture).from_pretrained(folder, from_pt=from_pt)
    expected = load_npz(folder / ("expected.npz" if from_pt else "expected_tf.npz"))
    inputs, labels = split_npz(expected)
    outputs = to_numpy(model(inputs, output_hidden_states=True, output_attentions=True))
    loss = model({**inputs, **labels})["loss"].numpy() if labels else None
    return architecture, expected, inputs, outputs, loss


@pytest.mark.parametrize("name", fixture_names(TF_457))
def test_tf_h5_fixture_all_positions(name):
    architecture, expected, inputs, outputs, loss = _run(TF_457 / name, from_pt=False)
    diffs = max_abs_diffs(outputs, expected, OUTPUTS)
    assert "hidden_states" in diffs and "attentions" in diffs
    assert_close(diffs, ATOL_FP32, f"{name} vs the reference TF (all positions)")
    if "loss" in expected:
        # The reference TF returns the masked mean (MLM / tokens) or per-example losses (sequence, QA): the mean.
        assert abs(float(loss) - float(np.mean(expected["loss"]))) <= ATOL_FP32, (float(loss), expected["loss"])


@pytest.mark.parametrize("name", fixture_names(PT_V5))
def test_torch_safetensors_fixture_valid_positions(name):
    architecture, expected, inputs, outputs, loss = _run(PT_V5 / name, from_pt=True)
    valid = inputs["attention_mask"].astype(bool)
    diffs = max_abs_diffs(outputs, expected, OUTPUTS, valid=valid)
    assert "hidden_states" in diffs and "attentions" in diffs
    assert_close(diffs, ATOL_FP32, f"{name} vs the reference torch (valid positions)")
    if loss is not None and architecture != "DebertaForQuestionAnswering":
        # The QA loss softmaxes over padded positions too, which the reference torch does not zero: it is
        # checked against the TF fixtures above and against deberta_torch in test_conversion_parity.py.
        assert abs(float(loss) - float(expected["loss"])) <= ATOL_FP32, (float(loss), float(expected["loss"]))
