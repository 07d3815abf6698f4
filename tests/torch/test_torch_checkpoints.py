"""The torch twin's checkpoints (mirror of tests/tf/test_tf_checkpoints.py): what we save loads in the reference
and back bit for bit, heads and namings follow the checkpoint, loading errors list every problem at once.
The reference checkpoints' outputs are checked in test_torch_reference.py."""

import json
import logging
import shutil

import numpy as np
import pytest
import torch
import transformers

import deberta_torch
from deberta_core import DebertaConfig
from deberta_torch import CheckpointLoadError

from conftest import ATOL_FP32, HF_FIXTURES, folder_bytes, kill_mid_write, make_config
from torch_helpers import fixture_class, npz_inputs

MANIFEST = json.loads((HF_FIXTURES / "manifest.json").read_text())
CLASS_OF = {m["name"]: m["class_name"] for m in MANIFEST["models"]}


def test_tf_head_checkpoint_into_bare_encoder_reports_unused_head():
    folder = HF_FIXTURES / "tf_457" / "p1_rel_c2p_p2c__seqcls"
    model, info = deberta_torch.DebertaModel.from_pretrained(folder, from_tf=True, output_loading_info=True)
    assert sorted(info["unexpected_keys"]) == ["classifier/bias", "classifier/kernel", "pooler/dense/bias", "pooler/dense/kernel"]
    expected = np.load(folder / "expected_tf.npz")
    with torch.no_grad():
        hidden = model(**npz_inputs(expected)).last_hidden_state.numpy()
    assert np.abs(hidden - expected["hidden_states"][-1]).max() <= ATOL_FP32


def test_tf_only_folder_without_from_tf_says_so():
    with pytest.raises(FileNotFoundError, match="pass from_tf=True"):
        deberta_torch.DebertaModel.from_pretrained(HF_FIXTURES / "tf_457" / "p1_rel_c2p_p2c__model")


@pytest.mark.parametrize("name", ["p1_rel_c2p_p2c__mlm", "p4_embproj__seqcls", "p2_rel_p2c_clamp16__qa"])
def test_saved_folder_loads_in_reference_without_missing_keys(name, tmp_path):
    source = HF_FIXTURES / "pt_v5" / name
    model = fixture_class(name).from_pretrained(source)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "config.json").exists()
    ref_cls = getattr(transformers, CLASS_OF[name])
    reference, info = ref_cls.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
    expected = np.load(source / "expected.npz")
    inputs = npz_inputs(expected)
    rows = inputs["attention_mask"].bool()
    with torch.no_grad():
        ours, theirs = model(**inputs), reference.eval()(**inputs)
    key = "start_logits" if "qa" in name else "logits"
    ours, theirs = ours[key], theirs[key]
    if ours.dim() >= 2 and ours.shape[:2] == rows.shape:
        ours, theirs = ours[rows], theirs[rows]
    assert float((ours - theirs).abs().max()) <= ATOL_FP32
    # And back in our own loader, bit for bit.
    again = fixture_class(name).from_pretrained(tmp_path)
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), again.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)
    model.save_pretrained(tmp_path / "bin", safe_serialization=False)
    assert (tmp_path / "bin" / "pytorch_model.bin").exists()
    fixture_class(name).from_pretrained(tmp_path / "bin")


def test_original_mlm_naming_is_picked_from_the_checkpoint(caplog):
    folder = HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__mlm_nolegacy_hublike"
    config = DebertaConfig.from_pretrained(folder)
    # The hub-like copy says nothing about `legacy`: the keys decide.
    unset = config.copy()
    unset.legacy = None
    with caplog.at_level(logging.INFO, logger="deberta_torch"):
        model, info = deberta_torch.DebertaForMaskedLM.from_pretrained(folder, config=unset, output_loading_info=True)
    assert not model.legacy and "lm_predictions" in "".join(caplog.messages)
    assert info["ignored_keys"] == ["deberta.embeddings.position_embeddings.weight"]
    # A config that insists on the reference naming is told what the checkpoint holds.
    with pytest.raises(CheckpointLoadError, match=r"asks for the cls.predictions MaskedLM head .* holds lm_predictions"):
        forced = unset.copy(legacy=True)
        deberta_torch.DebertaForMaskedLM.from_pretrained(folder, config=forced)


def test_unused_position_table_is_an_error_when_position_biased_input_is_on(tmp_path):
    folder = HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__mlm_nolegacy_hublike"
    config = DebertaConfig.from_pretrained(folder)
    assert not config.position_biased_input
    shutil.copytree(folder, tmp_path / "ckpt")
    config.copy(position_biased_input=True).save_pretrained(tmp_path / "ckpt")
    model, info = deberta_torch.DebertaForMaskedLM.from_pretrained(tmp_path / "ckpt", output_loading_info=True)
    assert info["ignored_keys"] == []  # now the table is used, so it is loaded, not ignored


def test_every_problem_is_reported_at_once(tmp_path):
    source = HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__seqcls"
    state = deberta_torch.DebertaForSequenceClassification.from_pretrained(source).state_dict()
    del state["deberta.encoder.layer.1.output.dense.bias"]
    state["deberta.encoder.layer.0.attention.self.extra"] = torch.zeros(3)
    state["deberta.embeddings.LayerNorm.weight"] = torch.zeros(5)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "model.safetensors")
    shutil.copy(source / "config.json", tmp_path / "config.json")
    with pytest.raises(CheckpointLoadError) as err:
        deberta_torch.DebertaForSequenceClassification.from_pretrained(tmp_path)
    message = str(err.value)
    assert "3 problem(s)" in message
    assert "missing key 'deberta.encoder.layer.1.output.dense.bias'" in message
    assert "unexpected key 'deberta.encoder.layer.0.attention.self.extra'" in message
    assert "shape mismatch for 'deberta.embeddings.LayerNorm.weight': checkpoint has (5,), the model expects (32,)" in message


def test_fresh_head_on_base_checkpoint_is_a_warning(caplog):
    folder = HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__model"
    with caplog.at_level(logging.WARNING, logger="deberta_torch"):
        model, info = deberta_torch.DebertaForSequenceClassification.from_pretrained(
            folder, num_labels=4, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier.bias", "classifier.weight", "pooler.dense.bias", "pooler.dense.weight"]
    assert "newly initialised" in caplog.text
    assert model.classifier.out_features == 4
    # The encoder weights did load (the base checkpoint has no 'deberta.' prefix).
    base = deberta_torch.DebertaModel.from_pretrained(folder)
    assert torch.equal(base.encoder.layer[0].attention.self.in_proj.weight,
                       model.deberta.encoder.layer[0].attention.self.in_proj.weight)
    # ... and the other way: a head checkpoint into the bare encoder drops the head with a warning.
    _, info = deberta_torch.DebertaModel.from_pretrained(HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__mlm", output_loading_info=True)
    assert sorted(info["unexpected_keys"]) == sorted(k for k in info["unexpected_keys"] if k.startswith("cls."))
    assert info["unexpected_keys"]


def test_pickle_that_is_not_a_state_dict_is_refused(tmp_path):
    import collections

    shutil.copy(HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__model" / "config.json", tmp_path / "config.json")
    torch.save({"weights": collections.Counter(a=1), "fn": print}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointLoadError, match="weights_only=True"):
        deberta_torch.DebertaModel.from_pretrained(tmp_path)
    (tmp_path / "pytorch_model.bin").unlink()
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{trunc")
    with pytest.raises(CheckpointLoadError, match="not a readable safetensors file"):
        deberta_torch.DebertaModel.from_pretrained(tmp_path)


def test_sharded_safetensors_load(tmp_path):
    from safetensors.torch import save_file

    source = HF_FIXTURES / "pt_v5" / "p2_rel_p2c_clamp16__model"
    model = deberta_torch.DebertaModel.from_pretrained(source)
    state = model.state_dict()
    names = sorted(state)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: state[k].contiguous() for k in keys}, tmp_path / shard)
        weight_map.update({k: shard for k in keys})
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    shutil.copy(source / "config.json", tmp_path / "config.json")
    again = deberta_torch.DebertaModel.from_pretrained(tmp_path)
    for key, value in again.state_dict().items():
        assert torch.equal(value, state[key])


# ---------------------------------------------------------------------------------------------------- saving safely
@pytest.mark.parametrize("interrupt", [OSError("No space left on device"), KeyboardInterrupt()])
def test_failed_save_over_a_checkpoint_leaves_it_unchanged(tmp_path, monkeypatch, interrupt):
    import safetensors.torch

    old = deberta_torch.DebertaForSequenceClassification(make_config(num_labels=2))
    old.save_pretrained(tmp_path)
    before = folder_bytes(tmp_path)
    new = deberta_torch.DebertaForSequenceClassification(make_config(num_labels=5, hidden_dropout_prob=0.2))

    def half_then_fail(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"\0" * 100)  # some of the file, then the disk fills or the user presses Ctrl-C
        raise interrupt

    monkeypatch.setattr(safetensors.torch, "save_file", half_then_fail)
    with pytest.raises(type(interrupt)):
        new.save_pretrained(tmp_path)
    assert folder_bytes(tmp_path) == before  # no new config.json beside the old weights, no temporary left
    monkeypatch.undo()
    assert deberta_torch.DebertaForSequenceClassification.from_pretrained(tmp_path).config.num_labels == 2
    with pytest.raises(type(interrupt)):  # and a save into a folder that did not exist leaves no folder
        monkeypatch.setattr(safetensors.torch, "save_file", half_then_fail)
        new.save_pretrained(tmp_path / "fresh" / "model")
    assert not (tmp_path / "fresh" / "model").exists()
    assert not [p for p in (tmp_path / "fresh").iterdir()]


def test_save_in_the_other_format_replaces_the_old_weights(tmp_path):
    deberta_torch.DebertaModel(make_config()).save_pretrained(tmp_path)
    new = deberta_torch.DebertaModel(make_config(layer_norm_eps=1e-5))
    new.save_pretrained(tmp_path, safe_serialization=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "pytorch_model.bin"]
    again = deberta_torch.DebertaModel.from_pretrained(tmp_path)
    for key, value in new.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)


def test_killed_save_leaves_the_old_checkpoint_and_no_temporaries_after_the_next_save(tmp_path):
    """SIGKILL of a process in the middle of a save_pretrained over an existing checkpoint."""
    deberta_torch.DebertaModel(make_config()).save_pretrained(tmp_path)
    before = folder_bytes(tmp_path)
    kill_mid_write(
        "import safetensors.torch, deberta_torch\n"
        "from conftest import make_config\n"
        "pause_after(safetensors.torch, 'save_file')\n"
        f"deberta_torch.DebertaModel(make_config(layer_norm_eps=1e-5)).save_pretrained({str(tmp_path)!r})\n"
    )
    left = folder_bytes(tmp_path)
    assert {k: v for k, v in left.items() if not k.startswith(".")} == before
    assert any(k.startswith(".deberta-staging-") for k in left)  # what the killed save left behind
    deberta_torch.DebertaModel.from_pretrained(tmp_path)  # the old checkpoint still loads
    deberta_torch.DebertaModel(make_config()).save_pretrained(tmp_path)  # the next save cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


@pytest.mark.bad_input("from_pretrained of a shard index naming '../outside.safetensors'", CheckpointLoadError,
                       "shards must lie next to the index")
def test_shard_outside_the_checkpoint_folder_is_refused(tmp_path, expect_bad_input):
    from safetensors.torch import save_file

    model = deberta_torch.DebertaModel(make_config())
    state = model.state_dict()
    names = sorted(state)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    save_file({k: state[k].contiguous() for k in names[:3]}, folder / "model-00001-of-00002.safetensors")
    save_file({k: state[k].contiguous() for k in names[3:]}, tmp_path / "outside.safetensors")
    weight_map = {**{k: "model-00001-of-00002.safetensors" for k in names[:3]},
                  **{k: "../outside.safetensors" for k in names[3:]}}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    model.config.save_pretrained(folder)
    with expect_bad_input():
        deberta_torch.DebertaModel.from_pretrained(folder)


@pytest.mark.bad_input("from_pretrained(folder, num_label=5): a misspelt keyword argument", TypeError,
                       "unexpected keyword argument 'num_label' (did you mean 'num_labels'?)")
def test_misspelt_keyword_argument_is_refused(tmp_path, expect_bad_input):
    deberta_torch.DebertaForSequenceClassification(make_config()).save_pretrained(tmp_path)
    with expect_bad_input():
        deberta_torch.DebertaForSequenceClassification.from_pretrained(tmp_path, num_label=5)
    with pytest.raises(TypeError, match="DebertaForSequenceClassification.from_pretrained.*ignore_mismatched_sizes"):
        deberta_torch.DebertaForSequenceClassification.from_pretrained(tmp_path, ignore_mismatched_size=True)
    # config fields, keys the checkpoint's config.json holds, and the options are all accepted
    (tmp_path / "config.json").write_text(json.dumps({**json.loads((tmp_path / "config.json").read_text()),
                                                      "my_extra_key": 1}))
    model = deberta_torch.DebertaForSequenceClassification.from_pretrained(
        tmp_path, problem_type="regression", my_extra_key=2, output_loading_info=False)
    assert model.config.problem_type == "regression" and model.config.my_extra_key == 2


@pytest.mark.bad_input("a folder holding both model.safetensors and a different pytorch_model.bin", "log:WARNING",
                       "holds model.safetensors and pytorch_model.bin; loading model.safetensors")
def test_folder_with_two_weight_formats_says_which_is_loaded(tmp_path, expect_bad_input):
    deberta_torch.DebertaModel(make_config()).save_pretrained(tmp_path / "a")
    other = deberta_torch.DebertaModel(make_config())
    torch.save({k: v + 1 for k, v in other.state_dict().items()}, tmp_path / "a" / "pytorch_model.bin")
    with expect_bad_input():
        loaded = deberta_torch.DebertaModel.from_pretrained(tmp_path / "a")
    saved = deberta_torch.DebertaModel.from_pretrained(tmp_path / "a", output_loading_info=False)
    assert all(torch.equal(v, saved.state_dict()[k]) for k, v in loaded.state_dict().items())


@pytest.mark.bad_input("save_pretrained(folder, safe_serialisation=False): a misspelt keyword argument", TypeError,
                       "unexpected keyword argument 'safe_serialisation'")
def test_misspelt_save_keyword_is_refused_and_writes_nothing(tmp_path, expect_bad_input):
    with expect_bad_input():
        deberta_torch.DebertaModel(make_config()).save_pretrained(tmp_path / "out", safe_serialisation=False)
    assert not (tmp_path / "out").exists()
