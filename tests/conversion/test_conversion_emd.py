"""The Enhanced Mask Decoder across the twins: a torch DebertaForMaskedLM with the decoder on and its Keras twin
(converted in memory, and through checkpoint files) compute the same logits, loss and gradients."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")

import deberta_tf  # noqa: E402
import deberta_torch  # noqa: E402
from conversion.convert import convert, torch_to_tf  # noqa: E402
from conversion.parity import ATOL_FP32, GRAD_ATOL_FP32, compare_models  # noqa: E402
from conversion.training import TRAIN_RTOL, TRAIN_WEIGHT_ATOL, compare_training  # noqa: E402
from conftest import EMD_VARIANTS, make_emd_config, make_inputs, make_labels  # noqa: E402
from deberta_core.batches import make_batch  # noqa: E402
from deberta_core.checkpoint_io import read_safetensors, read_tf_h5  # noqa: E402

POSITION_TABLE = "deberta.embeddings.position_embeddings.weight"


def random_mlm(config, seed: int = 0):
    """A torch DebertaForMaskedLM with every weight seeded random (biases, norms and q/v biases matter), eval mode."""
    model = deberta_torch.DebertaForMaskedLM(config).eval()
    rng = np.random.default_rng(seed)
    model.load_state_dict({name: torch.from_numpy(rng.normal(scale=0.2, size=tuple(value.shape)).astype(np.float32))
                           for name, value in sorted(model.state_dict().items())})
    return model


def batch_of(config) -> dict:
    inputs = make_inputs(config)  # three right-padded rows (token types where the config has them)
    return {**inputs, **make_labels("DebertaForMaskedLM", config, inputs)}


@pytest.mark.parametrize("variant", EMD_VARIANTS)
def test_torch_and_keras_emd_agree_in_outputs_and_gradients(variant):
    # Twin parity at the library's bounds (ATOL_FP32 outputs, GRAD_ATOL_FP32 gradients), padded rows included.
    config = make_emd_config(variant, legacy=False)
    torch_model = random_mlm(config)
    keras_model = torch_to_tf(torch_model)
    report = compare_models(torch_model, keras_model, batch_of(config), gradients=True)
    assert report.passed, report.to_text()
    grads = [e for e in report.entries if e.is_gradient]
    assert "grad:" + POSITION_TABLE in {e.name for e in grads}  # the decoder's table is trained on both sides
    assert report.worst().max_abs_diff <= ATOL_FP32 and report.worst(gradients=True).max_abs_diff <= GRAD_ATOL_FP32


def test_checkpoint_files_carry_the_position_table(tmp_path):
    config = make_emd_config(legacy=False)
    model = random_mlm(config)
    model.save_pretrained(tmp_path / "pt")
    result = convert(tmp_path / "pt", tmp_path / "tf", to="tf", check=True)
    assert result.ok and result.parity.passed
    h5 = read_tf_h5(tmp_path / "tf" / "tf_model.h5")
    table = h5["deberta/embeddings/position_embeddings/embeddings"]
    assert np.array_equal(table, model.state_dict()[POSITION_TABLE].numpy())
    keras_model = deberta_tf.TFDebertaForMaskedLM.from_pretrained(tmp_path / "tf")
    assert keras_model.config.enhanced_mask_decoder
    convert(tmp_path / "tf", tmp_path / "back", to="torch")
    back = read_safetensors(tmp_path / "back" / "model.safetensors")
    saved = read_safetensors(tmp_path / "pt" / "model.safetensors")
    assert sorted(back) == sorted(saved) and all(back[k].tobytes() == saved[k].tobytes() for k in saved)


def test_training_with_the_decoder_tracks_across_frameworks():
    # Training parity at the library's bounds (TRAIN_RTOL per-step loss, TRAIN_WEIGHT_ATOL final weights), AdamW
    # at the stable settings of tests/conversion/test_training_parity.py; the decoder's table is trained.
    config = make_emd_config(legacy=False, vocab_size=64, max_position_embeddings=32)
    model = random_mlm(config, seed=1)
    before = model.state_dict()[POSITION_TABLE].clone()
    batch = make_batch(config, "DebertaForMaskedLM", batch_size=3, seq_len=12)  # one batch, ten steps: loss falls
    report = compare_training(model, batches=[batch] * 10, optimizer="adamw", learning_rate=1e-3, weight_decay=0.01)
    assert report.passed, report.to_text(verbose=True)
    assert max(report.loss_rel_diffs) <= TRAIN_RTOL and report.max_weight_diff()[0] <= TRAIN_WEIGHT_ATOL
    assert report.losses_a[-1] < report.losses_a[0]
    assert not torch.equal(before, model.state_dict()[POSITION_TABLE])

