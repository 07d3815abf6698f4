"""deberta_tf vs deberta_torch built from one checkpoint: outputs on every position and the gradient of the loss
with respect to every weight (torch autograd mapped through the weight map vs tf.GradientTape)."""

import pytest

from conftest import ATOL_FP32, GRAD_ATOL_FP32, HF_FIXTURES, PT_V5, fixture_architecture, fixture_names, load_npz, split_npz
from tf_helpers import assert_close, torch_keras_parity

pytest.importorskip("torch")


@pytest.mark.parametrize("name", [n for n in fixture_names(PT_V5) if not n.endswith("_hublike")])
def test_outputs_and_gradients_match_torch(name):
    folder = HF_FIXTURES / "pt_v5" / name
    inputs, labels = split_npz(load_npz(folder / "expected.npz"))
    output_diffs, grad_diffs = torch_keras_parity(folder, fixture_architecture(name), inputs, labels)
    assert "hidden_states" in output_diffs and "attentions" in output_diffs and "loss" in output_diffs
    assert_close(output_diffs, ATOL_FP32, f"{name}: Keras vs torch outputs (every position)")
    assert len(grad_diffs) > 10
    assert_close(grad_diffs, GRAD_ATOL_FP32, f"{name}: Keras vs torch gradients")
