"""Twin parity and its reports: every head x fixture config loads in both twins, round-trips bit for bit and
computes the same outputs within ATOL_FP32 and gradients within GRAD_ATOL_FP32 (the one test of that claim); a
perturbed weight is caught and named; file conversion with --check."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")

import deberta_tf  # noqa: E402
import deberta_torch  # noqa: E402
from conversion.convert import convert, tf_to_torch, torch_to_tf  # noqa: E402
from conversion.parity import ATOL_FP32, GRAD_ATOL_FP32, check_checkpoints, compare_models, full_fp32  # noqa: E402
from deberta_core.batches import make_batch  # noqa: E402
from conftest import PT_V5, TF_457, fixture_architecture, fixture_names, load_npz, split_npz  # noqa: E402
from deberta_tf.io import model_variables, model_weights  # noqa: E402


def _torch_state(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", fixture_names(PT_V5))
def test_in_memory_round_trip_and_parity(name):
    """Twin parity, proven once: one reference checkpoint in both twins (deberta_torch.from_pretrained, and
    deberta_tf both through from_pretrained(from_pt=True) and in memory through torch_to_tf: the same weights bit
    for bit, and back to torch bit for bit), then the two frameworks on the checkpoint's own batch (padding,
    token types, labels): every output on every position within ATOL_FP32, the gradient of the loss for every
    weight within GRAD_ATOL_FP32."""
    folder = PT_V5 / name
    arch = fixture_architecture(name)
    torch_model = getattr(deberta_torch, arch).from_pretrained(folder)
    tf_model = torch_to_tf(torch_model)
    assert type(tf_model).__name__ == "TF" + arch
    loaded = getattr(deberta_tf, "TF" + arch).from_pretrained(folder, from_pt=True)
    first, from_loader = model_weights(tf_model), model_weights(loaded)
    assert sorted(first) == sorted(from_loader)
    assert all(first[k].tobytes() == from_loader[k].tobytes() for k in first), "the loader and torch_to_tf agree"
    back = tf_to_torch(tf_model)
    before, after = _torch_state(torch_model), _torch_state(back)
    assert sorted(before) == sorted(after)
    for key in before:
        assert before[key].tobytes() == after[key].tobytes(), key
    # and tf -> torch -> tf
    second = model_weights(torch_to_tf(back))
    assert sorted(first) == sorted(second)
    assert all(first[k].tobytes() == second[k].tobytes() for k in first)

    inputs, labels = split_npz(load_npz(folder / "expected.npz"))
    report = compare_models(torch_model, loaded, {**inputs, **labels}, gradients=True)
    assert report.passed, report.to_text(verbose=True)
    names = set(report.diffs())
    config = torch_model.config
    assert {f"hidden_states.{i}" for i in range(config.num_hidden_layers + 1)} <= names
    assert {f"attentions.{i}" for i in range(config.num_hidden_layers)} <= names
    assert ("last_hidden_state" in names and "surrogate_loss" in names) if arch == "DebertaModel" else ("loss" in names)
    assert {f"grad:{k}" for k, _ in torch_model.named_parameters()} <= names
    outputs = {e.name: e.max_abs_diff for e in report.entries if not e.is_gradient}
    gradients = {e.name: e.max_abs_diff for e in report.entries if e.is_gradient}
    assert max(outputs.values()) <= ATOL_FP32, outputs
    assert len(gradients) > 10 and max(gradients.values()) <= GRAD_ATOL_FP32, gradients


def test_generated_batch_has_padding_token_types_and_labels():
    config = deberta_torch.DebertaConfig.from_json_file(PT_V5 / "p4_embproj__tokcls" / "config.json")
    batch = make_batch(config, "DebertaForTokenClassification", batch_size=3, seq_len=9)
    mask = batch["attention_mask"]
    assert mask[0].all() and not mask[1:].all(axis=1).any()
    assert set(np.unique(batch["token_type_ids"])) == {0, 1}
    assert (batch["labels"][mask == 0] == -100).all() and (batch["labels"][mask == 1] >= 0).all()
    assert (batch["input_ids"][mask == 0] == config.pad_token_id).all()


def test_a_perturbed_weight_fails_and_is_named(tmp_path):
    src = PT_V5 / "p1_rel_c2p_p2c__seqcls"
    torch_model = deberta_torch.DebertaForSequenceClassification.from_pretrained(src)
    tf_model = torch_to_tf(torch_model)
    weight = tf_model.classifier.kernel
    original = weight.numpy()
    weight.assign(original + np.eye(*original.shape, dtype=np.float32) * 0.05)  # one class moves: the loss changes
    report = compare_models(torch_model, tf_model)
    assert not report.passed
    assert {e.name for e in report.failures} == {"logits", "loss"}  # the encoder outputs still agree
    assert "FAILED" in report.to_text() and "logits" in report.to_text()
    # an encoder weight shows up in every later hidden state
    layer = model_variables(tf_model)["deberta/encoder/layer_._1/output/dense/kernel"]
    weight.assign(original)
    layer.assign(layer.numpy() * 1.01)
    failed = {e.name for e in compare_models(torch_model, tf_model).failures}
    assert "hidden_states.2" in failed and "hidden_states.1" not in failed


def test_full_fp32_switches_off_and_restores():
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.set_float32_matmul_precision("medium")
    tf.config.experimental.enable_tensor_float_32_execution(True)
    try:
        with full_fp32() as state:
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
            assert torch.get_float32_matmul_precision() == "highest"
            assert not tf.config.experimental.tensor_float_32_execution_enabled()
            assert "torch" in state and "tensorflow" in state
        assert torch.backends.cuda.matmul.allow_tf32 and torch.get_float32_matmul_precision() == "medium"
        assert tf.config.experimental.tensor_float_32_execution_enabled()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")


def test_file_conversion_with_check(tmp_path):
    result = convert(TF_457 / "p2_rel_p2c_clamp16__seqcls_multilabel", tmp_path / "pt", to="torch", check=True,
                     gradients=True)
    assert result.ok and result.parity.passed
    assert (tmp_path / "pt" / "model.safetensors").exists()
    # same framework on both sides is a valid check too (bin vs safetensors of the same weights)
    report = check_checkpoints(PT_V5 / "p1_rel_c2p_p2c__mlm" / "model.safetensors",
                               PT_V5.parent / "pt_457_bin" / "p1_rel_c2p_p2c__mlm")
    assert report.passed and max(report.diffs().values()) == 0.0



def test_keras_native_round_trip_is_bit_exact(tmp_path):
    """safetensors -> model.keras -> safetensors, and .keras -> tf_model.h5, through deberta_tf's save/load."""
    from deberta_core.checkpoint_io import read_safetensors, read_tf_h5

    name = "p4_embproj__mlm"
    convert(PT_V5 / name, tmp_path / "k", to="keras")
    convert(tmp_path / "k" / "model.keras", tmp_path / "pt", to="torch")
    convert(tmp_path / "k" / "model.keras", tmp_path / "tf", to="tf")
    a, b = read_safetensors(tmp_path / "pt" / "model.safetensors"), read_safetensors(PT_V5 / name / "model.safetensors")
    assert sorted(a) == sorted(b) and all(a[k].tobytes() == b[k].tobytes() for k in a)
    c, d = read_tf_h5(tmp_path / "tf" / "tf_model.h5"), read_tf_h5(TF_457 / name / "tf_model.h5")
    assert sorted(c) == sorted(d) and all(c[k].tobytes() == d[k].tobytes() for k in c)
    report = check_checkpoints(tmp_path / "k" / "model.keras", PT_V5 / name)
    assert report.passed, report.to_text()
