"""Keras LoRA: ``model.enable_lora(rank)`` adapts the attention projections with Keras 3's own Dense LoRA and
freezes the rest of the encoder; fit trains only the factors and the task head; .keras saving keeps the outputs
and the LoRA mode; save_pretrained writes merged kernels that either framework loads."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from deberta_tf import TFDebertaForSequenceClassification
from deberta_tf.modeling import LORA_TARGETS
from conftest import ATOL_FP32, HEADS, make_config, make_inputs, make_labels
from tf_helpers import tf_class

RANK = 4
LEARNING_RATE = 1e-2
STEPS = 3


def _model(architecture, variant="rel_both", seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    num_labels = 2 if architecture == "DebertaForQuestionAnswering" else 3
    config = make_config(variant, num_labels=num_labels, **overrides)
    model = tf_class(architecture)(config)
    inputs = make_inputs(config)
    return model, inputs, {**inputs, **make_labels(architecture, config, inputs)}


def _fit(model, batch, steps=STEPS, run_eagerly=True):
    """A few fit steps; eager unless asked (tracing a train step costs more than these tiny steps)."""
    if getattr(model, "optimizer", None) is None:
        model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), run_eagerly=run_eagerly)
    return model.fit(tf.data.Dataset.from_tensors(batch).repeat(steps), epochs=1, verbose=0).history["loss"]


def _values(model) -> dict:
    return {v.path: v.numpy().copy() for v in model.weights}


def _is_factor(path: str) -> bool:
    return path.endswith(("/lora_kernel_a", "/lora_kernel_b"))


def _is_head(model, path: str) -> bool:
    return not path.startswith(f"{model.name}/deberta/") and model.get_base_model() is not model


@pytest.mark.parametrize("architecture", HEADS[1:])
def test_fit_after_enable_lora_trains_only_the_factors_and_the_head(architecture):
    model, inputs, batch = _model(architecture)
    model.build()
    before_outputs = model(inputs)
    model.enable_lora(RANK)
    after_outputs = model(inputs)
    for name in before_outputs:  # B starts at zero: nothing changes yet
        np.testing.assert_array_equal(before_outputs[name], after_outputs[name], err_msg=name)

    layers = model.config.num_hidden_layers
    trainable = [v.path for v in model.trainable_weights]
    factors = [p for p in trainable if _is_factor(p)]
    assert len(factors) == 2 * layers and all("/attention/self/in_proj/" in p for p in factors), factors
    assert set(trainable) - set(factors) == {v.path for v in model.weights if _is_head(model, v.path)}
    assert model.num_parameters(only_trainable=True) < model.num_parameters() // 2

    before = _values(model)
    losses = _fit(model, batch, run_eagerly=architecture != "DebertaForSequenceClassification")  # one traced
    assert all(np.isfinite(losses))
    after = _values(model)
    changed = {path for path in before if not np.array_equal(before[path], after[path])}
    assert changed == set(trainable), (sorted(changed ^ set(trainable)))  # every trainable one moved, nothing else


def test_bare_encoder_trains_the_factors_only():
    model, inputs, _ = _model("DebertaModel")
    model.enable_lora(RANK, target_layer_names=LORA_TARGETS)
    trainable = [v.path for v in model.trainable_weights]
    assert len(trainable) == 2 * 3 * model.config.num_hidden_layers and all(map(_is_factor, trainable)), trainable
    # The gradient of any loss reaches exactly those variables.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(inputs)["last_hidden_state"]))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None for g in grads)


def test_targets_alpha_and_frozen_biases():
    model, inputs, batch = _model("DebertaForSequenceClassification")
    model.enable_lora(2, lora_alpha=8, target_layer_names=["in_proj", "pos_q_proj"])
    attention = model.get_base_model().encoder.layer[0].attention.self
    assert attention.in_proj.lora_enabled and attention.pos_q_proj.lora_enabled
    assert not attention.pos_proj.lora_enabled
    assert attention.pos_q_proj.lora_alpha / attention.pos_q_proj.lora_rank == 4.0
    assert not attention.pos_q_proj.bias.trainable  # PEFT's bias="none": biases of adapted layers stay frozen
    assert len(model.lora_layers()) == 2 * model.config.num_hidden_layers
    assert model.lora_settings.rank == 2 and model.lora_settings.target_layer_names == ("in_proj", "pos_q_proj")
    _fit(model, batch)
    # The forward is kernel + alpha / rank * A @ B, i.e. the merged kernel.
    merged = attention.pos_q_proj.kernel.numpy()
    a, b = attention.pos_q_proj.lora_kernel_a.numpy(), attention.pos_q_proj.lora_kernel_b.numpy()
    base = [v for v in attention.pos_q_proj.weights if v.path.endswith("/kernel")][0].numpy()
    np.testing.assert_allclose(merged, base + 4.0 * a @ b, atol=ATOL_FP32)
    assert np.abs(b).max() > 0


def test_keras_file_round_trip_keeps_outputs_lora_mode_and_training(tmp_path):
    model, inputs, batch = _model("DebertaForTokenClassification")
    model.enable_lora(RANK)
    _fit(model, batch)
    expected = model(inputs)["logits"].numpy()
    model.save(tmp_path / "lora.keras")

    loaded = keras.models.load_model(tmp_path / "lora.keras")
    np.testing.assert_array_equal(loaded(inputs)["logits"].numpy(), expected)
    assert loaded.lora_settings == model.lora_settings
    assert sorted(v.path for v in loaded.trainable_weights) == sorted(v.path for v in model.trainable_weights)
    assert int(loaded.optimizer.iterations.numpy()) == STEPS  # the compiled optimizer came back with its state
    for layer in loaded.lora_layers():  # the file holds the merged kernel: B restarts at zero, A is drawn afresh
        assert not np.any(layer.lora_kernel_b.numpy()) and np.any(layer.lora_kernel_a.numpy())
    frozen = {v.path: v.numpy().copy() for v in loaded.weights if not v.trainable}
    _fit(loaded, batch)
    assert all(np.any(layer.lora_kernel_b.numpy()) for layer in loaded.lora_layers())  # the factors train again
    assert all(np.array_equal(v.numpy(), frozen[v.path]) for v in loaded.weights if not v.trainable)


def test_save_pretrained_writes_merged_kernels_both_frameworks_load(tmp_path):
    import torch

    import deberta_torch

    model, inputs, batch = _model("DebertaForSequenceClassification")
    model.enable_lora(RANK, target_layer_names=LORA_TARGETS)
    _fit(model, batch)
    assert all(np.any(layer.lora_kernel_b.numpy()) for layer in model.lora_layers())
    expected = model(inputs)["logits"].numpy()
    model.save_pretrained(tmp_path)

    plain = TFDebertaForSequenceClassification.from_pretrained(tmp_path)
    assert plain.lora_settings is None and not plain.lora_layers()
    np.testing.assert_allclose(plain(inputs)["logits"].numpy(), expected, atol=ATOL_FP32)
    twin = deberta_torch.DebertaForSequenceClassification.from_pretrained(tmp_path, from_tf=True)
    with torch.no_grad():
        got = twin(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()
    np.testing.assert_allclose(got, expected, atol=ATOL_FP32)


def test_enable_lora_refuses_what_it_cannot_do():
    model, _, batch = _model("DebertaForSequenceClassification", variant="rel_c2p_clamp")
    for kwargs, message in [
        ({"rank": 0}, "rank must be a positive integer, got 0"),
        ({"rank": 2, "lora_alpha": -1.0}, "lora_alpha must be a positive number, got -1.0"),
        ({"rank": 2, "target_layer_names": ["query"]}, r"target_layer_names must be some of \['in_proj', 'pos_proj', "
                                                       r"'pos_q_proj'\], got \['query'\]"),
        ({"rank": 2, "target_layer_names": ["pos_q_proj"]}, r"\['pos_q_proj'\] do not exist in this model"),
    ]:
        with pytest.raises(ValueError, match=message):
            model.enable_lora(**kwargs)
    assert model.lora_settings is None and not model.lora_layers()
    _fit(model, batch, steps=1)  # trained: the optimizer is built for every weight
    with pytest.raises(ValueError, match=r"call compile\(\) again after enable_lora"):
        model.enable_lora(2)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    model.enable_lora(2)
    with pytest.raises(ValueError, match="LoRA is already enabled"):
        model.enable_lora(2)
    assert np.isfinite(_fit(model, batch, steps=1)).all()
