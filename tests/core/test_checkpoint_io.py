"""Framework-free checkpoint I/O: the reference's files read bit for bit, ours written in the reference's layout.
(That the reference TF classes load what we write is proven once, in tests/tf/test_tf_checkpoints.py.)
"""

import json
import os
import shutil

import h5py
import numpy as np
import pytest

from deberta_core import DebertaConfig
from deberta_core import checkpoint_io as cio
from deberta_core.weight_plan import keras_to_torch, torch_to_keras

from conftest import HF_FIXTURES

TF_DIRS = sorted(p.parent for p in (HF_FIXTURES / "tf_457").glob("*/tf_model.h5"))


def _architecture(folder) -> str:
    return json.loads((folder / "config.json").read_text())["architectures"][0]


def _bitwise_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _h5_structure(path):
    """Everything about an h5 file but the values: attrs (with their HDF5 types), groups, datasets, order."""
    def attrs(node):
        return {k: (repr(node.attrs[k]), node.attrs.get_id(k).dtype.str) for k in node.attrs}

    with h5py.File(path, "r") as handle:
        items = []
        handle.visititems(lambda name, obj: items.append(
            (name, type(obj).__name__, getattr(obj, "shape", None), getattr(obj, "dtype", None), attrs(obj))))
        return attrs(handle), items


# ---------------------------------------------------------------------------------------------------- h5 reading
@pytest.mark.parametrize("folder", TF_DIRS, ids=lambda p: p.name)
def test_reference_h5_maps_to_reference_safetensors_bit_for_bit(folder):
    config = DebertaConfig.from_json_file(folder / "config.json")
    architecture = _architecture(folder)
    weights = cio.read_tf_h5(folder / "tf_model.h5")
    torch_side = keras_to_torch(weights, config, architecture, source=str(folder / "tf_model.h5"))
    reference = cio.read_safetensors(HF_FIXTURES / "pt_v5" / folder.name / "model.safetensors")
    assert set(torch_side) == set(reference)
    for key, value in reference.items():
        assert _bitwise_equal(torch_side[key], value), key


@pytest.mark.parametrize("folder", TF_DIRS, ids=lambda p: p.name)
def test_write_tf_h5_reproduces_the_reference_layout(folder, tmp_path):
    source = folder / "tf_model.h5"
    weights = cio.read_tf_h5(source)
    written = cio.write_tf_h5(weights, tmp_path / "tf_model.h5", "TF" + _architecture(folder))
    assert _h5_structure(written) == _h5_structure(source)
    again = cio.read_tf_h5(written)
    assert list(again) == list(weights)
    for name, value in weights.items():
        assert _bitwise_equal(again[name], value), name
    assert os.listdir(tmp_path) == ["tf_model.h5"]  # no temporary file left behind


def test_original_mlm_head_round_trips_through_h5(tmp_path):
    folder = HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__mlm_nolegacy"
    config = DebertaConfig.from_json_file(folder / "config.json")
    tensors = cio.read_safetensors(folder / "model.safetensors")
    keras = torch_to_keras(tensors, config, "DebertaForMaskedLM")
    path = cio.write_tf_h5(keras, tmp_path / "tf_model.h5", "DebertaForMaskedLM")
    layout = cio.read_tf_h5_layout(path)
    assert list(layout) == ["deberta", "lm_predictions"]
    assert all(w.startswith("tf_deberta_for_masked_lm/lm_predictions/lm_head/") for w in layout["lm_predictions"])
    back = keras_to_torch(cio.read_tf_h5(path), config, "DebertaForMaskedLM")
    assert all(_bitwise_equal(back[k], v) for k, v in tensors.items())


def test_chunked_attributes_and_sharded_dataset_layout_are_read(tmp_path):
    source = HF_FIXTURES / "tf_457" / "p1_rel_c2p_p2c__qa" / "tf_model.h5"
    expected = cio.read_tf_h5(source)
    chunked = tmp_path / "chunked.h5"
    shutil.copy(source, chunked)
    with h5py.File(chunked, "r+") as handle:  # tf-keras splits attributes past 64 KiB into name0, name1, ...
        names = list(handle["deberta"].attrs["weight_names"])
        del handle["deberta"].attrs["weight_names"]
        handle["deberta"].attrs["weight_names0"] = names[:10]
        handle["deberta"].attrs["weight_names1"] = names[10:]
    assert {k: v.tobytes() for k, v in cio.read_tf_h5(chunked).items()} == {k: v.tobytes() for k, v in expected.items()}
    sharded = tmp_path / "tf_model-00001-of-00001.h5"  # the reference's sharded layout: datasets at the root
    with h5py.File(sharded, "w") as handle:
        for name, value in expected.items():
            handle.create_dataset(name + ":0", data=value)
        handle.attrs["layer_names"] = [(n + ":0").encode() for n in expected]
    assert {k: v.tobytes() for k, v in cio.read_tf_h5(sharded).items()} == {k: v.tobytes() for k, v in expected.items()}


def test_write_tf_h5_splits_huge_attribute(tmp_path, monkeypatch):
    monkeypatch.setattr(cio, "H5_OBJECT_HEADER_LIMIT", 500)
    weights = cio.read_tf_h5(HF_FIXTURES / "tf_457" / "p3_abs_bertlike__model" / "tf_model.h5")
    path = cio.write_tf_h5(weights, tmp_path / "tf_model.h5", "DebertaModel")
    with h5py.File(path, "r") as handle:
        assert "weight_names" not in handle["deberta"].attrs and "weight_names1" in handle["deberta"].attrs
    assert list(cio.read_tf_h5(path)) == list(weights)


# ---------------------------------------------------------------------------------------------------- h5 errors
def _truncate(source, target, keep):
    data = source.read_bytes()
    target.write_bytes(data[:keep(len(data))])
    return target


@pytest.mark.parametrize("keep", [lambda n: n // 2, lambda n: n - 64, lambda n: 0], ids=["half", "tail", "empty"])
def test_truncated_h5_is_a_clear_error(tmp_path, keep):
    path = _truncate(HF_FIXTURES / "tf_457" / "p1_rel_c2p_p2c__mlm" / "tf_model.h5", tmp_path / "tf_model.h5", keep)
    with pytest.raises(ValueError, match=r"tf_model.h5' is not a readable HDF5 file \(truncated or corrupt\?\)"):
        cio.read_tf_h5(path)


def test_h5_structure_errors(tmp_path):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as handle:
        handle.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ValueError, match="plain.h5' is not a Keras weights h5 file: its root has no 'layer_names'"):
        cio.read_tf_h5(plain)
    with pytest.raises(FileNotFoundError, match="no h5 file at"):
        cio.read_tf_h5(tmp_path / "absent.h5")

    source = HF_FIXTURES / "tf_457" / "p1_rel_c2p_p2c__mlm" / "tf_model.h5"
    broken = tmp_path / "broken.h5"
    shutil.copy(source, broken)
    dup = "cls/tf_deberta_for_masked_lm/deberta/embeddings/LayerNorm/gamma:0"
    with h5py.File(broken, "r+") as handle:
        handle[dup][0] += 1.0
    with pytest.raises(ValueError, match="'deberta/embeddings/LayerNorm/gamma' is stored twice with different values"):
        cio.read_tf_h5(broken)
    shutil.copy(source, broken)
    with h5py.File(broken, "r+") as handle:
        del handle["deberta/tf_deberta_for_masked_lm/deberta/encoder/layer_._1/output/dense/bias:0"]
    with pytest.raises(ValueError, match="group 'deberta' lists the weight .*layer_._1/output/dense/bias:0.*no such dataset"):
        cio.read_tf_h5(broken)


def test_write_tf_h5_refuses_names_the_reference_would_not_load(tmp_path):
    weights = cio.read_tf_h5(HF_FIXTURES / "tf_457" / "p1_rel_c2p_p2c__seqcls" / "tf_model.h5")
    with pytest.raises(ValueError, match=r"no top-level layer of the reference TFDebertaForMaskedLM.*'pooler/dense/kernel'"):
        cio.write_tf_h5(weights, tmp_path / "a.h5", "DebertaForMaskedLM")
    with pytest.raises(ValueError, match=r"no weights for the layer\(s\) \['classifier'\]"):
        cio.write_tf_h5({k: v for k, v in weights.items() if not k.startswith("classifier/")}, tmp_path / "b.h5",
                        "DebertaForSequenceClassification")
    with pytest.raises(ValueError, match="'deberta/encoder/layer_._0/bogus/kernel' matches no row"):
        cio.write_tf_h5(dict(weights, **{"deberta/encoder/layer_._0/bogus/kernel": np.zeros(2)}), tmp_path / "c.h5",
                        "DebertaForSequenceClassification")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cio.write_tf_h5(weights, tmp_path / "no" / "such" / "tf_model.h5", "DebertaForSequenceClassification")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------------- safetensors
def test_safetensors_round_trip_is_atomic_with_pt_metadata(tmp_path):
    from safetensors import safe_open

    tensors = cio.read_safetensors(HF_FIXTURES / "pt_v5" / "p4_embproj__qa" / "model.safetensors")
    tensors["transposed_view"] = tensors["qa_outputs.weight"].T  # non-contiguous input is fine
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"old")
    assert cio.write_safetensors(tensors, path) == str(path)
    assert os.listdir(tmp_path) == ["model.safetensors"]
    with safe_open(str(path), framework="numpy") as handle:
        assert handle.metadata() == {"format": "pt"}
    back = cio.read_safetensors(path)
    assert set(back) == set(tensors)
    assert all(np.array_equal(back[k], tensors[k]) and back[k].dtype == tensors[k].dtype for k in tensors)
    with pytest.raises(ValueError, match="metadata must map str to str"):
        cio.write_safetensors(tensors, path, metadata={"format": 1})
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert cio.read_safetensors(path).keys() == back.keys()  # the failed write left the old file intact


@pytest.mark.parametrize("keep", [lambda n: n // 2, lambda n: n - 1, lambda n: 5, lambda n: 0],
                         ids=["half", "one-byte-short", "header", "empty"])
def test_truncated_safetensors_is_a_clear_error(tmp_path, keep):
    path = _truncate(HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__mlm" / "model.safetensors",
                     tmp_path / "model.safetensors", keep)
    with pytest.raises(ValueError, match=r"model.safetensors' is not a readable safetensors file \(truncated or corrupt\?\)"):
        cio.read_safetensors(path)


def test_sharded_safetensors(tmp_path):
    tensors = cio.read_safetensors(HF_FIXTURES / "pt_v5" / "p2_rel_p2c_clamp16__tokcls" / "model.safetensors")
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        cio.write_safetensors({k: tensors[k] for k in keys}, tmp_path / shard)
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    back = cio.read_safetensors(index)
    assert set(back) == set(tensors) and all(_bitwise_equal(back[k], tensors[k]) for k in tensors)

    index.write_text(json.dumps({"weight_map": dict(weight_map, extra="model-00001-of-00002.safetensors")}))
    with pytest.raises(ValueError, match=r"lists tensors its shards do not hold: \['extra \(in model-00001"):
        cio.read_safetensors(index)
    index.write_text(json.dumps({"weight_map": dict(weight_map, **{names[0]: "model-00002-of-00002.safetensors"})}))
    with pytest.raises(ValueError, match="disagrees with its shards"):
        cio.read_safetensors(index)
    cio.write_safetensors({names[0]: tensors[names[0]]}, tmp_path / "model-00002-of-00002.safetensors")
    index.write_text(json.dumps({"weight_map": weight_map}))
    with pytest.raises(ValueError, match="is stored twice"):
        cio.read_safetensors(index)
    index.write_text("{not json")
    with pytest.raises(ValueError, match="is not a valid shard index"):
        cio.read_safetensors(index)
    with pytest.raises(FileNotFoundError, match="no safetensors file at"):
        cio.read_safetensors(tmp_path / "absent.safetensors")


def test_bf16_safetensors_are_widened_to_float32_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    values = torch.randn(3, 5, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    save_file({"w": values, "b": torch.arange(4, dtype=torch.int64)}, str(tmp_path / "model.safetensors"))
    back = cio.read_safetensors(tmp_path / "model.safetensors")
    assert back["w"].dtype == np.float32 and back["w"].shape == (3, 5)
    assert _bitwise_equal(back["w"], values.float().numpy())
    assert _bitwise_equal(back["b"], np.arange(4, dtype=np.int64))


@pytest.mark.bad_input("a tf_model.h5 dataset that declares more data than the file stores (an h5 'bomb')",
                       cio.CheckpointError, "only plain, fully written weights are read")
def test_h5_dataset_larger_than_its_storage_is_refused_before_reading(tmp_path, expect_bad_input):
    path = tmp_path / "tf_model.h5"
    shutil.copyfile(HF_FIXTURES / "tf_457" / "p1_rel_c2p_p2c__model" / "tf_model.h5", path)
    name = next(n for n in cio.read_tf_h5_layout(path)["deberta"] if n.endswith("word_embeddings/weight:0"))
    with h5py.File(path, "r+") as handle:
        group = handle["deberta"]
        del group[name]
        group.create_dataset(name, shape=(1 << 20, 1 << 14), dtype="float32", chunks=(1024, 1024))  # 64 GiB, unwritten
    assert path.stat().st_size < 10_000_000
    with expect_bad_input():
        cio.H5Reader(path)
