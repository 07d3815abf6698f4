"""deberta_tf vs deberta_torch built from one checkpoint: outputs on every position and the gradient of the loss
with respect to every weight (torch autograd mapped through the weight map vs tf.GradientTape)."""

import pytest

from conftest import HF_FIXTURES
from tf_testing import (
    ATOL_FP32, ATOL_GRAD, architecture_of, assert_close, fixture_dirs, load_npz, split_npz, torch_keras_parity,
)

pytest.importorskip("torch")


@pytest.mark.parametrize("name", [n for n in fixture_dirs("pt_v5") if not n.endswith("_hublike")])
def test_outputs_and_gradients_match_torch(name):
    folder = HF_FIXTURES / "pt_v5" / name
    inputs, labels = split_npz(load_npz(folder / "expected.npz"))
    output_diffs, grad_diffs = torch_keras_parity(folder, architecture_of(name), inputs, labels)
    assert "hidden_states" in output_diffs and "attentions" in output_diffs and "loss" in output_diffs
    assert_close(output_diffs, ATOL_FP32, f"{name}: Keras vs torch outputs (every position)")
    assert len(grad_diffs) > 10
    assert_close(grad_diffs, ATOL_GRAD, f"{name}: Keras vs torch gradients")
