"""The Keras twin's models (mirror of tests/torch/test_torch_models.py), through the run_model_test helper: every
head x shared variant, the reference's input forms, return_dict=False, the weight-map coverage, input validation,
activations, import side effects, resizing."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ATOL_FP32, HEADS, VARIANTS
from tf_helpers import run_model_test, tf_class
from deberta_core.config import ACTIVATIONS


def expected_shape(architecture, config, batch, seq):
    return {
        "DebertaModel": (batch, seq, config.hidden_size),
        "DebertaForMaskedLM": (batch, seq, config.vocab_size),
        "DebertaForSequenceClassification": (batch, config.num_labels),
        "DebertaForTokenClassification": (batch, seq, config.num_labels),
        "DebertaForQuestionAnswering": (batch, seq),
    }[architecture]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("architecture", HEADS)
def test_every_head_and_variant(architecture, variant, tiny_config, tiny_inputs):
    config = tiny_config(variant, num_labels=2 if architecture == "DebertaForQuestionAnswering" else 3)
    inputs = tiny_inputs(config, (11, 7, 3))
    run_model_test(tf_class(architecture), config, inputs, expected_shape(architecture, config, 3, 11))


def test_non_legacy_mlm_head_and_outputs_flags(tiny_config, tiny_inputs):
    config = tiny_config("rel_both", legacy=False, output_hidden_states=True)
    model, outputs = run_model_test(tf_class("DebertaForMaskedLM"), config, tiny_inputs(config), (3, 11, config.vocab_size))
    assert hasattr(model, "lm_predictions") and not hasattr(model, "cls")
    assert outputs["hidden_states"].shape == (config.num_hidden_layers + 1, 3, 11, config.hidden_size)
    assert "attentions" not in outputs


def test_inputs_embeds_equal_input_ids_path(tiny_config, tiny_inputs):
    config = tiny_config("embproj_abs")
    model = tf_class("DebertaModel")(config)
    inputs = tiny_inputs(config)
    by_ids = model(inputs)["last_hidden_state"].numpy()
    embeds = tf.gather(model.embeddings.word_embeddings.weight, inputs["input_ids"])
    by_embeds = model({**{k: v for k, v in inputs.items() if k != "input_ids"}, "inputs_embeds": embeds})
    np.testing.assert_allclose(by_embeds["last_hidden_state"].numpy(), by_ids, atol=ATOL_FP32)


# Model inputs and labels, checked alike in both twins: tests/twins/test_twin_inputs.py. Here what only Keras takes.
@pytest.fixture(scope="module")
def abs_model(tiny_config):
    config = tiny_config("abs_only_types", max_position_embeddings=16)
    return tf_class("DebertaForTokenClassification")(config)


IDS = np.ones((1, 4), np.int64)


@pytest.mark.bad_input("a misspelled name in the Keras input dict (attention_masks)", ValueError, "unknown input name")
def test_unknown_input_name(abs_model, expect_bad_input):
    with expect_bad_input():
        abs_model({"input_ids": IDS, "attention_masks": IDS})


@pytest.mark.bad_input("an input both in the Keras input dict and as a keyword", ValueError,
                       "both in the input dict and as keyword")
def test_input_given_twice(abs_model, expect_bad_input):
    with expect_bad_input():
        abs_model({"input_ids": IDS, "attention_mask": IDS}, attention_mask=IDS)


@pytest.mark.bad_input("a dict instead of a DebertaConfig (Keras)", TypeError, "expected a deberta_core.DebertaConfig")
def test_constructor_rejects_other_configs(expect_bad_input):
    with expect_bad_input():
        tf_class("DebertaModel")({"hidden_size": 32})


@pytest.mark.bad_input("question answering with num_labels 3 (Keras)", ValueError,
                       "question answering needs num_labels == 2 (start and end logits), got 3")
def test_question_answering_needs_two_labels(tiny_config, expect_bad_input):
    with expect_bad_input():
        tf_class("DebertaForQuestionAnswering")(tiny_config(sorted(VARIANTS)[0], num_labels=3))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_match_torch(name):
    torch = pytest.importorskip("torch")
    from deberta_tf.activations import get_activation as tf_activation
    from deberta_torch.activations import get_activation as torch_activation

    x = np.linspace(-6, 6, 101, dtype=np.float32)
    np.testing.assert_allclose(tf_activation(name)(tf.constant(x)).numpy(),
                               torch_activation(name)(torch.from_numpy(x)).numpy(), atol=ATOL_FP32)


def test_import_has_no_process_wide_side_effects():
    script = r"""
import json, logging, os, sys
env = dict(os.environ); handlers = list(logging.getLogger().handlers); level = logging.getLogger().level
import tensorflow as tf, keras
threads = (tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads())
import deberta_tf
print(json.dumps({
    "torch": "torch" in sys.modules,
    "policy": keras.mixed_precision.global_policy().name,
    "env_changed": sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k)),
    "handlers_changed": list(logging.getLogger().handlers) != handlers or logging.getLogger().level != level,
    "threads_changed": threads != (tf.config.threading.get_intra_op_parallelism_threads(),
                                   tf.config.threading.get_inter_op_parallelism_threads()),
}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"torch": False, "policy": "float32", "env_changed": [], "handlers_changed": False,
                      "threads_changed": False}, report


@pytest.mark.parametrize("legacy", [True, False])
def test_resize_token_embeddings_in_place_then_train_and_load_in_torch(legacy, tmp_path, tiny_config, tiny_inputs):
    torch = pytest.importorskip("torch")
    import deberta_torch

    config = tiny_config("rel_both", legacy=legacy)
    model = tf_class("DebertaForMaskedLM")(config)
    model.build()
    old_vocab = config.vocab_size
    old_rows = model.get_input_embeddings().weight.numpy().copy()
    model.resize_token_embeddings(old_vocab + 30)
    table = model.get_input_embeddings().weight.numpy()
    assert table.shape == (old_vocab + 30, config.embedding_size)
    np.testing.assert_array_equal(table[:old_vocab], old_rows)
    assert model.output_bias.shape == (old_vocab + 30,) and model.config.vocab_size == old_vocab + 30
    assert len(model.weights) == len({id(w) for w in model.weights})  # the old tables are gone
    inputs = tiny_inputs(model.config)
    inputs["input_ids"][0, 1] = old_vocab + 29  # a new id is valid now
    assert model(inputs).logits.shape[-1] == old_vocab + 30
    with pytest.raises(ValueError, match="new_num_tokens must be a positive integer"):
        model.resize_token_embeddings(0)

    model.save_pretrained(tmp_path)
    twin = deberta_torch.DebertaForMaskedLM.from_pretrained(tmp_path, from_tf=True)
    with torch.no_grad():
        expected = twin(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()
    np.testing.assert_allclose(np.asarray(model(inputs).logits), expected, atol=ATOL_FP32)

    labels = np.where(inputs["attention_mask"] == 1, inputs["input_ids"], -100)
    model.compile(optimizer="adam")
    history = model.fit(tf.data.Dataset.from_tensors({**inputs, "labels": labels}), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
