"""The Keras twin's checkpoints (mirror of tests/torch/test_torch_checkpoints.py): tf_model.h5 written for (and
readable by) the reference TF classes, torch checkpoints with from_pt=True, full load reports, .keras round trips
and the SavedModel serving export."""

import json
import logging
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import (
    ATOL_FP32, HF_FIXTURES, PT_V5, TF_457, fail_after_first_write, fixture_architecture, folder_bytes,
    kill_mid_write, load_npz, split_npz,
)
from tf_helpers import tf_class, to_numpy
from deberta_core.checkpoint_io import (
    canonical_keras_name, read_safetensors, read_tf_h5, write_safetensors, write_tf_h5,
)
from deberta_tf import CheckpointLoadError
from deberta_core.weight_map import WeightMapError

TF_DIR, PT_DIR = TF_457, PT_V5


@pytest.fixture(scope="module")
def mlm():
    return tf_class("DebertaForMaskedLM").from_pretrained(TF_DIR / "p4_embproj__mlm")


@pytest.fixture(scope="module")
def mlm_inputs():
    return split_npz(load_npz(TF_DIR / "p4_embproj__mlm" / "expected_tf.npz"))[0]


def test_save_pretrained_round_trip_is_exact(tmp_path, mlm, mlm_inputs):
    mlm.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == ["DebertaForMaskedLM"]
    reference, ours = read_tf_h5(TF_DIR / "p4_embproj__mlm" / "tf_model.h5"), read_tf_h5(tmp_path / "tf_model.h5")
    assert sorted(reference) == sorted(ours)
    for name in reference:
        np.testing.assert_array_equal(reference[name], ours[name], err_msg=name)
    again = tf_class("DebertaForMaskedLM").from_pretrained(tmp_path)
    np.testing.assert_array_equal(again(mlm_inputs)["logits"].numpy(), mlm(mlm_inputs)["logits"].numpy())


# The reference TF classes load the h5 in a subprocess (they need TF_USE_LEGACY_KERAS=1 before TensorFlow is
# imported, which must not leak into this session), run it, and report what they loaded.
REFERENCE_TF_SCRIPT = r"""
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import transformers
result = {}
for folder, cls_name, npz in json.loads(sys.argv[1]):
    model, info = getattr(transformers, cls_name).from_pretrained(folder, output_loading_info=True)
    np.savez(os.path.join(folder, "loaded.npz"), **{w.name: w.numpy() for w in model.weights})
    data = np.load(npz)
    out = model({k: data[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in data},
                output_hidden_states=True, output_attentions=True, training=False)
    diffs = {
        "logits": float(np.max(np.abs(out.logits.numpy() - data["logits"]))),
        "hidden_states": float(np.max(np.abs(np.stack([h.numpy() for h in out.hidden_states])
                                             - data["hidden_states"]))),
        "attentions": float(np.max(np.abs(np.stack([a.numpy() for a in out.attentions]) - data["attentions"]))),
    }
    result[folder] = {"info": {k: sorted(map(str, v)) for k, v in info.items()}, "out": out.logits.numpy().tolist(),
                      "diffs": diffs}
print("RESULT" + json.dumps(result))
"""
# Same TF classes, same (bit-identical, checked) weights and inputs as the run that wrote expected_tf.npz, but
# another machine's oneDNN kernels / thread count: float32 round-off only (observed <= 5e-6 on MLM logits).
ATOL_SAME_TF = 1e-4
# Both MLM namings' layout (the legacy `cls` group repeats the embeddings), embed_proj + token types, the three
# layouts with weightless dropout groups; the first two load with no unexpected weight at all.
REFERENCE_RELOAD_CASES = ("p1_rel_c2p_p2c__mlm", "p4_embproj__seqcls", "p4_embproj__mlm", "p2_rel_p2c_clamp16__seqcls",
                          "p3_abs_bertlike__tokcls")
NO_UNEXPECTED = ("p1_rel_c2p_p2c__mlm", "p4_embproj__seqcls")


def test_reference_tf_classes_load_our_h5(tmp_path):
    """What save_pretrained writes (from torch weights: the h5 bytes are ours, not a copy of the fixture) loads in
    the reference 4.x TF classes with no missing or mis-shaped weight, holds bit for bit the weights of the
    reference's own tf_model.h5, reproduces the reference's recorded outputs, and computes what our model does."""
    pytest.importorskip("transformers")
    pytest.importorskip("tf_keras")
    jobs, ours = [], {}
    for name in REFERENCE_RELOAD_CASES:
        folder = tmp_path / name
        architecture = fixture_architecture(name)
        model = tf_class(architecture).from_pretrained(PT_DIR / name, from_pt=True)
        model.save_pretrained(folder)
        npz = TF_DIR / name / "expected_tf.npz"
        jobs.append((str(folder), "TF" + architecture, str(npz)))
        ours[str(folder)] = model(split_npz(load_npz(npz))[0])["logits"].numpy()
    env = {k: v for k, v in os.environ.items() if k not in ("USE_TF", "USE_TORCH")}
    env.update(USE_TORCH="0", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-c", REFERENCE_TF_SCRIPT, json.dumps(jobs)], capture_output=True,
                          text=True, timeout=300, env=env)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT")), None)
    assert done.returncode == 0 and line, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(line[len("RESULT"):])
    assert sorted(result) == sorted(str(tmp_path / name) for name in REFERENCE_RELOAD_CASES)
    for folder, got in result.items():
        name = os.path.basename(folder)
        info = got["info"]
        assert info["missing_keys"] == [] and info["mismatched_keys"] == [], (name, info)
        if name in NO_UNEXPECTED:
            assert info["unexpected_keys"] == [], (name, info)
        assert all("dropout" in k for k in info["unexpected_keys"]), (name, info)
        # What the reference loaded is bit for bit what it wrote itself.
        reference = read_tf_h5(TF_DIR / name / "tf_model.h5")
        with np.load(os.path.join(folder, "loaded.npz")) as loaded:
            got_weights = {canonical_keras_name(k): loaded[k] for k in loaded.files}
        assert set(got_weights) == set(reference), name
        for key, value in reference.items():
            assert value.dtype == got_weights[key].dtype and value.tobytes() == got_weights[key].tobytes(), (name, key)
        for output, diff in got["diffs"].items():
            assert diff <= ATOL_SAME_TF, f"{name}: {output} max |diff| {diff} > {ATOL_SAME_TF}"
        np.testing.assert_allclose(np.asarray(got["out"]), ours[folder], atol=ATOL_FP32)


def test_keras_file_round_trip(tmp_path, mlm, mlm_inputs):
    path = tmp_path / "m.keras"
    mlm.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(mlm) and loaded.config == mlm.config
    a = to_numpy(mlm(mlm_inputs, output_hidden_states=True))
    b = to_numpy(loaded(mlm_inputs, output_hidden_states=True))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_keras_file_round_trip_mixed_precision_head(tmp_path, tiny_config, tiny_inputs):
    config = tiny_config("rel_c2p_clamp", num_labels=3, problem_type="multi_label_classification")
    model = tf_class("DebertaForSequenceClassification")(config, dtype="mixed_bfloat16")
    inputs = tiny_inputs(config)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.dtype_policy.name == "mixed_bfloat16"
    np.testing.assert_array_equal(loaded(inputs)["logits"].numpy(), model(inputs)["logits"].numpy())


def test_saved_model_export_serves_int32_and_int64_dynamic_shapes(tmp_path, tiny_inputs):
    model = tf_class("DebertaForQuestionAnswering").from_pretrained(PT_DIR / "p4_embproj__qa", from_pt=True)
    model.export(tmp_path / "saved", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    assert "serving_default" in served.signatures
    for lengths in ((9, 4), (5, 5, 2)):
        inputs = tiny_inputs(model.config, lengths)
        expected = model(inputs)
        for endpoint, dtype in ((served.serve, tf.int32), (served.serve_int64, tf.int64)):
            got = endpoint({k: tf.constant(v, dtype) for k, v in inputs.items()})
            for name in ("start_logits", "end_logits"):
                np.testing.assert_allclose(got[name].numpy(), expected[name].numpy(), atol=ATOL_FP32)
        signature = served.signatures["serving_default"]
        got = signature(**{k: tf.constant(v, tf.int32) for k, v in inputs.items()})
        np.testing.assert_allclose(got["start_logits"].numpy(), expected["start_logits"].numpy(), atol=ATOL_FP32)


def test_saved_model_export_of_a_model_without_token_types(tmp_path, tiny_config, tiny_inputs):
    # The models inside a head are Keras models too: a SavedModel writer traces their default signature, which
    # must feed integer ids (Keras' own default traces float32 ones, which input validation refuses).
    config = tiny_config("rel_both", num_labels=2)
    assert config.type_vocab_size == 0
    model = tf_class("DebertaForSequenceClassification")(config)
    model.export(tmp_path / "saved", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    inputs = {k: v for k, v in tiny_inputs(config).items() if k != "token_type_ids"}
    got = served.serve({k: tf.constant(v, tf.int32) for k, v in inputs.items()})
    np.testing.assert_allclose(got["logits"].numpy(), model(inputs)["logits"].numpy(), atol=ATOL_FP32)


# ---------------------------------------------------------------------------------------------------- loading
def test_torch_bin_needs_torch_clear_error():
    with pytest.raises(CheckpointLoadError, match="needs torch"):
        tf_class("DebertaForMaskedLM").from_pretrained(HF_FIXTURES / "pt_457_bin" / "p1_rel_c2p_p2c__mlm", from_pt=True)


def test_format_hints():
    with pytest.raises(FileNotFoundError, match="from_pt=True"):
        tf_class("DebertaModel").from_pretrained(PT_DIR / "p1_rel_c2p_p2c__model")
    with pytest.raises(FileNotFoundError, match="drop from_pt"):
        tf_class("DebertaModel").from_pretrained(TF_DIR / "p1_rel_c2p_p2c__model", from_pt=True)


def _copy_with(tmp_path, source, mutate, weights_name):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    shutil.copy(source / "config.json", folder / "config.json")
    if weights_name == "tf_model.h5":
        weights = read_tf_h5(source / weights_name)
        mutate(weights)
        write_tf_h5(weights, folder / weights_name, "DebertaForSequenceClassification")
    else:
        weights = read_safetensors(source / weights_name)
        mutate(weights)
        write_safetensors(weights, folder / weights_name)
    return folder


def test_h5_problems_reported_all_at_once(tmp_path):
    def mutate(w):
        del w["deberta/encoder/layer_._1/output/dense/bias"]
        w["deberta/embeddings/LayerNorm/gamma"] = np.ones(7, np.float32)

    folder = _copy_with(tmp_path, TF_DIR / "p1_rel_c2p_p2c__seqcls", mutate, "tf_model.h5")
    with pytest.raises(WeightMapError) as caught:
        tf_class("DebertaForSequenceClassification").from_pretrained(folder)
    message = str(caught.value)
    assert "2 problem(s)" in message and "layer_._1/output/dense/bias" in message and "(7,)" in message
    assert caught.value.missing == ["deberta/encoder/layer_._1/output/dense/bias"]
    assert [m[0] for m in caught.value.mismatched] == ["deberta/embeddings/LayerNorm/gamma"]


def test_torch_problems_reported_all_at_once(tmp_path):
    def mutate(w):
        del w["deberta.encoder.layer.0.attention.self.q_bias"]
        w["deberta.encoder.rel_embeddings.weight"] = np.zeros((3, 32), np.float32)
        w["deberta.encoder.layer.0.attention.self.surprise"] = np.zeros(2, np.float32)

    folder = _copy_with(tmp_path, PT_DIR / "p1_rel_c2p_p2c__seqcls", mutate, "model.safetensors")
    with pytest.raises(WeightMapError) as caught:
        tf_class("DebertaForSequenceClassification").from_pretrained(folder, from_pt=True)
    message = str(caught.value)
    for part in ("q_bias", "rel_embeddings", "surprise"):
        assert part in message, message


def test_fresh_head_on_base_checkpoint_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="deberta_tf"):
        model, info = tf_class("DebertaForSequenceClassification").from_pretrained(
            TF_DIR / "p1_rel_c2p_p2c__model", num_labels=4, output_loading_info=True)
    assert sorted(info["missing_keys"]) == ["classifier/bias", "classifier/kernel", "pooler/dense/bias",
                                            "pooler/dense/kernel"]
    assert "newly initialised" in caplog.text
    base = tf_class("DebertaModel").from_pretrained(TF_DIR / "p1_rel_c2p_p2c__model")
    inputs = split_npz(load_npz(TF_DIR / "p1_rel_c2p_p2c__model" / "expected_tf.npz"))[0]
    np.testing.assert_array_equal(model.deberta(inputs)["last_hidden_state"].numpy(),
                                  base(inputs)["last_hidden_state"].numpy())


def test_head_checkpoint_into_base_model_and_other_head(caplog):
    with caplog.at_level(logging.WARNING, logger="deberta_tf"):
        _, info = tf_class("DebertaModel").from_pretrained(PT_DIR / "p1_rel_c2p_p2c__qa", from_pt=True,
                                                          output_loading_info=True)
    assert sorted(info["unexpected_keys"]) == ["qa_outputs.bias", "qa_outputs.weight"]
    _, info = tf_class("DebertaForTokenClassification").from_pretrained(TF_DIR / "p1_rel_c2p_p2c__qa",
                                                                         output_loading_info=True)
    assert sorted(info["unexpected_keys"]) == ["qa_outputs/bias", "qa_outputs/kernel"]
    assert sorted(info["missing_keys"]) == ["classifier/bias", "classifier/kernel"]


def test_ignore_mismatched_head_sizes():
    folder = PT_DIR / "p1_rel_c2p_p2c__seqcls"
    with pytest.raises(WeightMapError, match="classifier"):
        tf_class("DebertaForSequenceClassification").from_pretrained(folder, from_pt=True, num_labels=7)
    model, info = tf_class("DebertaForSequenceClassification").from_pretrained(
        folder, from_pt=True, num_labels=7, ignore_mismatched_sizes=True, output_loading_info=True)
    assert model.classifier.kernel.shape == (32, 7)
    assert sorted(m[0] for m in info["mismatched_keys"]) == ["classifier/bias", "classifier/kernel"]


def test_mlm_head_naming_follows_the_checkpoint():
    folder = PT_DIR / "p1_rel_c2p_p2c__mlm_nolegacy"
    model = tf_class("DebertaForMaskedLM").from_pretrained(folder, from_pt=True)
    assert model.config.legacy is False and hasattr(model, "lm_predictions")
    with pytest.raises(CheckpointLoadError, match="leave it unset"):
        tf_class("DebertaForMaskedLM").from_pretrained(folder, from_pt=True, legacy=True)
    legacy = tf_class("DebertaForMaskedLM").from_pretrained(PT_DIR / "p1_rel_c2p_p2c__mlm", from_pt=True)
    assert legacy.config.use_legacy_mlm_head and hasattr(legacy, "cls")


def test_non_legacy_mlm_h5_round_trip(tmp_path, tiny_inputs):
    model = tf_class("DebertaForMaskedLM").from_pretrained(PT_DIR / "p1_rel_c2p_p2c__mlm_nolegacy", from_pt=True)
    model.save_pretrained(tmp_path)
    assert any(n.startswith("lm_predictions/") for n in read_tf_h5(tmp_path / "tf_model.h5"))
    again = tf_class("DebertaForMaskedLM").from_pretrained(tmp_path)
    assert again.config.legacy is False
    inputs = tiny_inputs(model.config)
    np.testing.assert_array_equal(again(inputs)["logits"].numpy(), model(inputs)["logits"].numpy())


# ---------------------------------------------------------------------------------------------------- saving safely
@pytest.mark.parametrize("interrupt", [OSError("No space left on device"), KeyboardInterrupt()])
def test_failed_save_over_a_checkpoint_leaves_it_unchanged(tmp_path, monkeypatch, tiny_config, interrupt):
    from deberta_core.checkpoint_io import H5StreamWriter

    old = tf_class("DebertaForSequenceClassification")(tiny_config(num_labels=2))
    old.save_pretrained(tmp_path)
    before = folder_bytes(tmp_path)
    new = tf_class("DebertaForSequenceClassification")(tiny_config(num_labels=5, hidden_dropout_prob=0.2))
    written = fail_after_first_write(monkeypatch, H5StreamWriter, interrupt)
    with pytest.raises(type(interrupt)):
        new.save_pretrained(tmp_path)
    assert written and folder_bytes(tmp_path) == before  # no new config.json beside the old weights
    monkeypatch.undo()
    assert tf_class("DebertaForSequenceClassification").from_pretrained(tmp_path).config.num_labels == 2


def test_failed_keras_file_save_leaves_no_file(tmp_path, monkeypatch, tiny_config):
    import keras.src.saving.saving_lib as saving_lib

    model = tf_class("DebertaModel")(tiny_config())
    model.save(tmp_path / "model.keras")
    before = folder_bytes(tmp_path)

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(saving_lib, "_save_state", fail)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "model.keras")
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "other.keras")
    assert folder_bytes(tmp_path) == before
    with pytest.raises(FileExistsError, match="overwrite=False"):  # Keras would prompt on stdin instead
        model.save(tmp_path / "model.keras", overwrite=False)


def test_h5_save_that_hits_the_file_size_limit_fails_cleanly(tmp_path, tiny_config):
    """A disk that fills during tf_model.h5 (RLIMIT_FSIZE): a clear OSError, the old checkpoint kept, and the
    process still exits normally (an h5py handle left open on the removed temporary crashed it at exit)."""
    tf_class("DebertaModel")(tiny_config()).save_pretrained(tmp_path)
    before = folder_bytes(tmp_path)
    script = (
        "import resource, signal, sys\n"
        "import deberta_tf\n"
        "from conftest import make_config\n"
        "model = deberta_tf.TFDebertaModel(make_config(layer_norm_eps=1e-5)); model.build()\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.RLIM_INFINITY))\n"
        "try:\n"
        f"    model.save_pretrained({str(tmp_path)!r})\n"
        "except OSError as err:\n"
        "    print('refused:', type(err).__name__, err)\n"
        "else:\n"
        "    print('saved')\n"
    )
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
               TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refused: " in done.stdout, done.stdout + done.stderr[-2000:]
    assert folder_bytes(tmp_path) == before


@pytest.mark.bad_input("TF from_pretrained(folder, num_label=5): a misspelt keyword argument", TypeError,
                       "unexpected keyword argument 'num_label' (did you mean 'num_labels'?)")
def test_misspelt_keyword_argument_is_refused(tmp_path, tiny_config, expect_bad_input):
    tf_class("DebertaForSequenceClassification")(tiny_config()).save_pretrained(tmp_path)
    with expect_bad_input():
        tf_class("DebertaForSequenceClassification").from_pretrained(tmp_path, num_label=5)
    with pytest.raises(TypeError, match="TFDebertaForSequenceClassification.from_pretrained.*from_pt"):
        tf_class("DebertaForSequenceClassification").from_pretrained(tmp_path, from_torch=True)
    model = tf_class("DebertaForSequenceClassification").from_pretrained(tmp_path, problem_type="regression")
    assert model.config.problem_type == "regression"


@pytest.mark.bad_input("TF from_pretrained(from_pt=True) of a shard index naming '../outside.safetensors'",
                       CheckpointLoadError, "shards must lie next to the index")
def test_shard_outside_the_checkpoint_folder_is_refused(tmp_path, expect_bad_input):
    from deberta_core.checkpoint_io import write_safetensors

    source = PT_DIR / "p2_rel_p2c_clamp16__model"
    weights = read_safetensors(source / "model.safetensors")
    names = sorted(weights)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    shutil.copy(source / "config.json", folder / "config.json")
    write_safetensors({k: weights[k] for k in names[:3]}, folder / "model-00001-of-00002.safetensors")
    write_safetensors({k: weights[k] for k in names[3:]}, tmp_path / "outside.safetensors")
    weight_map = {**{k: "model-00001-of-00002.safetensors" for k in names[:3]},
                  **{k: "../outside.safetensors" for k in names[3:]}}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    with expect_bad_input():
        tf_class("DebertaModel").from_pretrained(folder, from_pt=True)


@pytest.mark.bad_input("TF from_pt=True of a folder holding model.safetensors and pytorch_model.bin", "log:WARNING",
                       "holds model.safetensors and pytorch_model.bin; loading model.safetensors")
def test_folder_with_two_weight_formats_says_which_is_loaded(tmp_path, expect_bad_input):
    folder = tmp_path / "both"
    shutil.copytree(PT_DIR / "p1_rel_c2p_p2c__seqcls", folder)
    shutil.copyfile(HF_FIXTURES / "pt_457_bin" / "p1_rel_c2p_p2c__seqcls" / "pytorch_model.bin",
                    folder / "pytorch_model.bin")
    with expect_bad_input():
        tf_class("DebertaForSequenceClassification").from_pretrained(folder, from_pt=True)


def test_killed_save_leaves_the_old_checkpoint_and_no_temporaries_after_the_next_save(tmp_path, tiny_config):
    """SIGKILL of a process in the middle of a save_pretrained over an existing checkpoint (after the first
    weight of tf_model.h5 is written)."""
    tf_class("DebertaModel")(tiny_config()).save_pretrained(tmp_path)
    before = folder_bytes(tmp_path)
    kill_mid_write(
        "import deberta_tf\n"
        "from deberta_core.checkpoint_io import H5StreamWriter\n"
        "from conftest import make_config\n"
        "pause_after(H5StreamWriter, 'write')\n"
        f"deberta_tf.TFDebertaModel(make_config(layer_norm_eps=1e-5)).save_pretrained({str(tmp_path)!r})\n"
    )
    left = folder_bytes(tmp_path)
    assert {k: v for k, v in left.items() if not k.startswith(".")} == before
    assert any(k.startswith(".deberta-staging-") for k in left)  # what the killed save left behind
    tf_class("DebertaModel").from_pretrained(tmp_path)  # the old checkpoint still loads
    tf_class("DebertaModel")(tiny_config()).save_pretrained(tmp_path)  # the next save cleans up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "tf_model.h5"]


@pytest.mark.bad_input("TF: a masked-LM checkpoint saved with an untied decoder (tie_word_embeddings=False)",
                       CheckpointLoadError, "the checkpoint was saved with an untied decoder")
def test_an_untied_mlm_decoder_is_refused(tmp_path, expect_bad_input):
    """The reference writes cls.predictions.decoder.weight when its decoder is untied: the Keras head decodes with
    the word embeddings, so loading it would silently change the logits."""
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "untied"
    shutil.copytree(PT_DIR / "p1_rel_c2p_p2c__mlm", folder)
    weights = load_file(folder / "model.safetensors")
    embeddings = weights["deberta.embeddings.word_embeddings.weight"]
    weights["cls.predictions.decoder.weight"] = embeddings[::-1].copy()
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    with expect_bad_input():
        tf_class("DebertaForMaskedLM").from_pretrained(folder, from_pt=True)
    weights["cls.predictions.decoder.weight"] = embeddings  # a tied copy loads
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    tf_class("DebertaForMaskedLM").from_pretrained(folder, from_pt=True)
