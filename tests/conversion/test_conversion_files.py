"""File-level conversion without any framework: torch safetensors/.bin <-> reference tf_model.h5, bit for bit,
against the reference fixtures and the core's in-memory path; refusals (all problems at once, nothing written)."""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pytest

from conversion.convert import convert
from conversion.inspection import inspect_checkpoint
from conversion.sources import ConversionError, make_plan, open_reader, resolve_source
from conftest import PT_BIN, PT_V5, TF_457, fail_after_first_write, fixture_names, kill_mid_write
from conversion_helpers import assert_same_arrays, copy_fixture, leftovers, tree
from deberta_core import DebertaConfig
from deberta_core.checkpoint_io import (
    SafetensorsReader, read_safetensors, read_tf_h5, read_tf_h5_layout, write_safetensors, write_tf_h5,
)
from deberta_core.weight_map import WeightMapError
from deberta_core.weight_plan import torch_to_keras


def _torch_weights_without_extras(folder: pathlib.Path):
    """The fixture's safetensors minus the tolerated extras the map drops (the hub-like unused position table)."""
    config = DebertaConfig.from_json_file(folder / "config.json")
    weights = read_safetensors(folder / "model.safetensors")
    converted = torch_to_keras(weights, config, config.architectures[0])
    return {k: v for k, v in weights.items() if k not in converted.ignored}


@pytest.mark.parametrize("name", fixture_names(PT_V5))
def test_torch_to_tf_to_torch_is_bit_exact(name, tmp_path):
    src = PT_V5 / name
    convert(src, tmp_path / "tf", to="tf")
    convert(tmp_path / "tf", tmp_path / "pt", to="torch")
    assert_same_arrays(read_safetensors(tmp_path / "pt" / "model.safetensors"), _torch_weights_without_extras(src), name)
    # The h5 is the reference's: same weights as the fixture written by the reference TF classes.
    if (TF_457 / name / "tf_model.h5").exists():
        assert_same_arrays(read_tf_h5(tmp_path / "tf" / "tf_model.h5"), read_tf_h5(TF_457 / name / "tf_model.h5"), name)
        assert read_tf_h5_layout(tmp_path / "tf" / "tf_model.h5") == read_tf_h5_layout(TF_457 / name / "tf_model.h5")
    assert (tmp_path / "pt" / "config.json").read_bytes() == (src / "config.json").read_bytes()
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("name", fixture_names(TF_457))
def test_tf_to_torch_to_tf_is_bit_exact(name, tmp_path):
    src = TF_457 / name
    convert(src, tmp_path / "pt", to="torch")
    assert_same_arrays(read_safetensors(tmp_path / "pt" / "model.safetensors"),
                       read_safetensors(PT_V5 / name / "model.safetensors"), name)
    convert(tmp_path / "pt", tmp_path / "tf", to="tf")
    assert_same_arrays(read_tf_h5(tmp_path / "tf" / "tf_model.h5"), read_tf_h5(src / "tf_model.h5"), name)


@pytest.mark.parametrize("name", fixture_names(PT_BIN))
def test_pytorch_bin_converts_like_its_safetensors_twin(name, tmp_path):
    result = convert(PT_BIN / name, tmp_path / "out", to="torch,tf")
    assert_same_arrays(read_safetensors(tmp_path / "out" / "model.safetensors"),
                       read_safetensors(PT_V5 / name / "model.safetensors"), name)
    assert_same_arrays(read_tf_h5(tmp_path / "out" / "tf_model.h5"), read_tf_h5(TF_457 / name / "tf_model.h5"), name)
    if name.endswith("__mlm"):
        assert sorted(result.ignored) == ["cls.predictions.decoder.bias", "cls.predictions.decoder.weight"]


def test_streaming_path_equals_the_core_in_memory_path(tmp_path):
    """The tensor-by-tensor writers produce what the core's read -> torch_to_keras -> write_tf_h5 produces."""
    src = PT_V5 / "p4_embproj__mlm"
    config = DebertaConfig.from_json_file(src / "config.json")
    core = torch_to_keras(read_safetensors(src / "model.safetensors"), config, "DebertaForMaskedLM")
    write_tf_h5(core, tmp_path / "core.h5", "DebertaForMaskedLM")
    convert(src, tmp_path / "ours", to="tf")
    ours = tmp_path / "ours" / "tf_model.h5"
    assert read_tf_h5_layout(ours) == read_tf_h5_layout(tmp_path / "core.h5")
    assert_same_arrays(read_tf_h5(ours), read_tf_h5(tmp_path / "core.h5"))
    import h5py

    with h5py.File(ours) as a, h5py.File(tmp_path / "core.h5") as b:
        assert dict(a.attrs).keys() == dict(b.attrs).keys()
        assert a.attrs["keras_version"] == b.attrs["keras_version"] and a.attrs["backend"] == b.attrs["backend"]
    # Our streamed safetensors reads back with the library's own loaders, same as its writer's output.
    from safetensors.torch import load_file

    convert(tmp_path / "ours", tmp_path / "pt", to="torch")
    loaded = {k: v.numpy() for k, v in load_file(str(tmp_path / "pt" / "model.safetensors")).items()}
    assert_same_arrays(loaded, read_safetensors(src / "model.safetensors"))


def test_sharded_safetensors_source(tmp_path):
    src = PT_V5 / "p3_abs_bertlike__seqcls"
    weights = read_safetensors(src / "model.safetensors")
    names = sorted(weights)
    folder = copy_fixture(src, tmp_path / "sharded", keep=("config.json",))
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        write_safetensors({k: weights[k] for k in keys}, folder / shard)
    index = {"metadata": {}, "weight_map": {k: shard for shard, keys in shards.items() for k in keys}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    convert(folder, tmp_path / "tf", to="tf")
    assert_same_arrays(read_tf_h5(tmp_path / "tf" / "tf_model.h5"), read_tf_h5(TF_457 / src.name / "tf_model.h5"))


def test_bf16_safetensors_is_widened_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    src = PT_V5 / "p1_rel_c2p_p2c__model"
    folder = copy_fixture(src, tmp_path / "bf16", keep=("config.json",))
    state = {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in read_safetensors(src / "model.safetensors").items()}
    save_file(state, str(folder / "model.safetensors"))
    convert(folder, tmp_path / "tf", to="tf")
    expected = {k: v.float().numpy() for k, v in state.items()}
    got = read_tf_h5(tmp_path / "tf" / "tf_model.h5")
    config = DebertaConfig.from_json_file(src / "config.json")
    assert_same_arrays(got, dict(torch_to_keras(expected, config, "DebertaModel")))


def test_output_next_to_the_source_and_force(tmp_path):
    """Converting into the source folder adds the target file; a second run needs --force."""
    folder = copy_fixture(PT_V5 / "p2_rel_p2c_clamp16__tokcls", tmp_path / "ckpt")
    before = tree(folder)
    convert(folder, folder, to="tf")
    assert set(tree(folder)) == set(before) | {"tf_model.h5"}
    assert all(tree(folder)[k] == v for k, v in before.items())
    snapshot = tree(folder)
    with pytest.raises(FileExistsError, match=r"tf_model\.h5.*--force"):
        convert(folder, folder, to="tf", src_format="safetensors")
    assert tree(folder) == snapshot and not leftovers(tmp_path)
    convert(folder, folder, to="tf", src_format="safetensors", force=True)
    assert_same_arrays(read_tf_h5(folder / "tf_model.h5"), read_tf_h5(TF_457 / "p2_rel_p2c_clamp16__tokcls" / "tf_model.h5"))


@pytest.mark.bad_input("convert() into a folder holding a different config.json, without force", FileExistsError,
                       "refusing to overwrite existing file(s)")
def test_existing_different_config_is_a_conflict(tmp_path, expect_bad_input):
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("{}")
    with expect_bad_input():
        convert(PT_V5 / "p1_rel_c2p_p2c__qa", out, to="tf")
    assert tree(out) == {"config.json": b"{}"} and not leftovers(tmp_path)


@pytest.mark.bad_input("convert() of weights with a missing, an unexpected and a mis-shaped tensor", WeightMapError,
                       "1 missing, 1 unexpected, 1 with the wrong shape")
def test_missing_unexpected_and_mis_shaped_are_reported_together(tmp_path, expect_bad_input):
    src = PT_V5 / "p1_rel_c2p_p2c__seqcls"
    folder = copy_fixture(src, tmp_path / "bad", keep=("config.json",))
    weights = read_safetensors(src / "model.safetensors")
    del weights["deberta.encoder.layer.1.output.dense.bias"]
    weights["deberta.encoder.layer.0.extra.weight"] = np.zeros(3, np.float32)
    weights["classifier.weight"] = np.zeros((5, 32), np.float32)
    write_safetensors(weights, folder / "model.safetensors")
    with expect_bad_input():
        convert(folder, tmp_path / "out", to="tf")
    with pytest.raises(WeightMapError) as info:
        convert(folder, tmp_path / "out", to="tf")
    message = str(info.value)
    for name in ("deberta.encoder.layer.1.output.dense.bias", "deberta.encoder.layer.0.extra.weight", "classifier.weight"):
        assert name in message
    assert str(folder / "model.safetensors") in message
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_config_that_does_not_match_the_weights(tmp_path):
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 48
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightMapError, match=r"(?s)wrong shape.*intermediate.dense.weight: expected \(48, 32\), got \(64, 32\)"
                       r".*config\.json") as info:
        convert(folder, tmp_path / "out", to="tf")
    assert "6 with the wrong shape" in str(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.bad_input("convert(task='seqcls') of a bare-model checkpoint", WeightMapError, "hint: ")
def test_head_mismatch_gives_a_task_hint(tmp_path, expect_bad_input):
    with pytest.raises(WeightMapError, match=r"hint: .*--task"):
        convert(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "out", to="tf", task="seqcls")
    with expect_bad_input():
        convert(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "out", to="tf", task="seqcls")


def test_config_without_architectures_needs_a_task(tmp_path):
    folder = copy_fixture(PT_V5 / "p3_abs_bertlike__qa", tmp_path / "ckpt")
    config = json.loads((folder / "config.json").read_text())
    del config["architectures"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConversionError, match=r"config\.json.*no 'architectures'.*--task"):
        convert(folder, tmp_path / "out", to="tf")
    convert(folder, tmp_path / "out", to="tf", task="qa")
    written = json.loads((tmp_path / "out" / "config.json").read_text())
    assert written["architectures"] == ["DebertaForQuestionAnswering"]
    assert {k: v for k, v in written.items() if k != "architectures"} == config


@pytest.mark.parametrize("damage", [
    pytest.param(d, marks=pytest.mark.bad_input(f"convert() of a damaged model.safetensors ({d.replace('_', ' ')})",
                                                ConversionError, "is not a readable safetensors file"))
    for d in ["truncate_data", "truncate_header", "garbage"]
])
def test_damaged_safetensors_is_refused(tmp_path, damage, expect_bad_input):
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt")
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes({"truncate_data": data[: len(data) - 100], "truncate_header": data[:40],
                      "garbage": b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!"}[damage])
    with pytest.raises(ConversionError, match=str(path).replace(".", r"\.")):
        convert(folder, tmp_path / "out", to="tf")
    with expect_bad_input():
        convert(folder, tmp_path / "out", to="tf")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


@pytest.mark.parametrize("damage", [
    pytest.param(d, marks=pytest.mark.bad_input(f"convert() of a damaged tf_model.h5 ({d})", ConversionError,
                                                "tf_model.h5")) for d in ["truncate", "garbage"]
])
def test_damaged_h5_is_refused(tmp_path, damage, expect_bad_input):
    folder = copy_fixture(TF_457 / "p1_rel_c2p_p2c__model", tmp_path / "ckpt")
    path = folder / "tf_model.h5"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x89HDF\r\n" + b"x" * 100)
    with expect_bad_input():
        convert(folder, tmp_path / "out", to="torch")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_pickle_that_is_not_a_plain_state_dict_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    folder = copy_fixture(PT_BIN / "p1_rel_c2p_p2c__seqcls", tmp_path / "ckpt", keep=("config.json",))
    # A training checkpoint pickling an arbitrary object: weights_only=True refuses to unpickle it.
    torch.save({"model": torch.nn.Linear(2, 2), "step": 3}, folder / "pytorch_model.bin")
    with pytest.raises(ConversionError, match=r"pytorch_model\.bin.*weights_only=True"):
        convert(folder, tmp_path / "out", to="tf")
    # Plain containers load, but a mapping that holds more than tensors is not a state dict either.
    torch.save({"state_dict": {"a": torch.zeros(2)}, "epoch": 1}, folder / "pytorch_model.bin")
    with pytest.raises(ConversionError, match="not a plain state dict"):
        convert(folder, tmp_path / "out", to="tf")
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


def test_source_resolution(tmp_path):
    with pytest.raises(ConversionError, match="does not exist"):
        resolve_source(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConversionError, match="no weights"):
        resolve_source(tmp_path / "empty")
    folder = copy_fixture(PT_V5 / "p1_rel_c2p_p2c__mlm", tmp_path / "both")
    shutil.copyfile(TF_457 / "p1_rel_c2p_p2c__mlm" / "tf_model.h5", folder / "tf_model.h5")
    assert resolve_source(folder, avoid_family="keras").fmt == "safetensors"
    assert resolve_source(folder, avoid_family="torch").fmt == "tf_h5"
    assert resolve_source(folder / "tf_model.h5").fmt == "tf_h5"
    with pytest.raises(ConversionError, match="format"):
        resolve_source(folder / "config.json")


def test_plan_reads_no_data_and_reader_is_lazy():
    with open_reader("safetensors", str(PT_V5 / "p2_rel_p2c_clamp16__mlm" / "model.safetensors")) as reader:
        assert isinstance(reader, SafetensorsReader)
        config = DebertaConfig.from_json_file(PT_V5 / "p2_rel_p2c_clamp16__mlm" / "config.json")
        plan = make_plan(reader, config, "DebertaForMaskedLM", "keras")
        assert [i.dst for i in plan.items][0] == "deberta/embeddings/word_embeddings/weight"
        assert {i.op for i in plan.items} == {"identity", "transpose"}


def test_inspect_is_framework_free():
    info = inspect_checkpoint(str(TF_457 / "p4_embproj__seqcls"))
    assert info["format"] == "tf_h5" and info["architecture"] == "DebertaForSequenceClassification"
    config = DebertaConfig.from_json_file(TF_457 / "p4_embproj__seqcls" / "config.json")
    expected = sum(int(np.prod(v.shape)) for v in read_tf_h5(TF_457 / "p4_embproj__seqcls" / "tf_model.h5").values())
    assert info["parameters"] == expected and info["dtypes"] == {"float32": info["tensors"]}
    assert config.hidden_size == info["config"]["hidden_size"]


@pytest.mark.parametrize("target", ["tf", "torch"])
@pytest.mark.parametrize("interrupt", [OSError("No space left on device"), KeyboardInterrupt()])
def test_failed_conversion_over_an_existing_output_leaves_it_unchanged(tmp_path, monkeypatch, target, interrupt):
    """A writer that fails after the first tensor (full disk, Ctrl-C): no half-written file, the old output kept."""
    from deberta_core import checkpoint_io

    src = PT_V5 / "p1_rel_c2p_p2c__seqcls" if target == "tf" else TF_457 / "p1_rel_c2p_p2c__seqcls"
    out = tmp_path / "out"
    convert(src, out, to=target)
    before = tree(out)
    writer = checkpoint_io.H5StreamWriter if target == "tf" else checkpoint_io.SafetensorsStreamWriter
    calls = fail_after_first_write(monkeypatch, writer, interrupt)
    with pytest.raises(type(interrupt)):
        convert(src, out, to=target, force=True)
    assert calls and tree(out) == before and not leftovers(tmp_path)
    with pytest.raises(type(interrupt)):  # into a new folder: no folder at all
        convert(src, tmp_path / "new", to=target)
    assert not (tmp_path / "new").exists() and not leftovers(tmp_path)


def test_killed_conversion_leaves_the_old_output_and_no_temporaries_after_the_next_one(tmp_path):
    """SIGKILL of deberta-convert's process after the first tensor of the output is written."""
    src = PT_V5 / "p1_rel_c2p_p2c__seqcls"
    out = tmp_path / "out"
    convert(src, out, to="tf")
    before = tree(out)
    kill_mid_write(
        "from conversion.convert import convert\n"
        "from deberta_core.checkpoint_io import H5StreamWriter\n"
        "pause_after(H5StreamWriter, 'write')\n"
        f"convert({str(src)!r}, {str(out)!r}, to='tf', force=True)\n"
    )
    assert {k: v for k, v in tree(out).items() if not k.startswith(".")} == before
    assert leftovers(tmp_path)  # what the killed conversion left behind
    convert(src, out, to="tf", force=True)  # the next conversion removes the dead one's staging folder
    assert tree(out) == before and not leftovers(tmp_path)
