"""Training the Keras twin (mirror of tests/torch/test_torch_training.py), the Keras way: compile() without a loss
+ fit() on dicts holding the labels (the model computes its task loss), compiled Keras losses on (features,
labels), XLA, mixed precision, gradient checkpointing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import HEADS, make_config, make_inputs, make_labels
from tf_helpers import tf_class
from deberta_tf.io import model_variables

LENGTHS = [(9, 5), (6, 2)]  # two padded batches of different lengths (XLA compiles each shape once)
EPOCHS = 6
LEARNING_RATE = 1e-2  # memorising two tiny batches: fast enough to see within a few epochs
DECREASE = 0.9  # the last epoch's loss must be below this fraction of the first's
# Gradient checkpointing recomputes the same float32 ops: only reassociation noise.
ATOL_REMAT = 1e-6


def padded_dataset(architecture, config, with_labels_in_dict=True):
    """A tf.data pipeline of right-padded batches of different lengths (labels padded with -100)."""
    batches = []
    for i, lengths in enumerate(LENGTHS):
        inputs = make_inputs(config, lengths, seed=i)
        labels = make_labels(architecture, config, inputs, seed=10 + i)
        batches.append((inputs, labels))

    def gen():
        for inputs, labels in batches:
            if with_labels_in_dict:
                yield {**inputs, **labels}
            else:
                yield inputs, labels["labels"]

    spec = tf.nest.map_structure(
        lambda a: tf.TensorSpec([None] * np.ndim(a), tf.as_dtype(np.asarray(a).dtype)), next(gen())
    )
    dataset = tf.data.Dataset.from_generator(gen, output_signature=spec)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))


def fit_losses(model, dataset, **compile_kwargs):
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), **compile_kwargs)
    history = model.fit(dataset, epochs=EPOCHS, verbose=0, shuffle=False)
    return history.history["loss"]


# One encoder layer: what these tests check (a fit loop, XLA, mixed precision, rematerialisation) does not depend on
# the depth, and a Keras train step's trace (and its XLA compile) grows with it: seconds per model, most of this
# file's time. Several layers are covered by test_tf_fast_paths.py (eager == graph == XLA) and
# test_tf_training_options.py (checkpointing every n-th layer).
TRAIN_LAYERS = 1


def head_config(architecture, **overrides):
    """The shared rel_c2p_clamp config with dropout off (these tests compare runs), unless a test turns it on, and
    TRAIN_LAYERS layers."""
    return make_config("rel_c2p_clamp", **{"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                                           "num_hidden_layers": TRAIN_LAYERS, **overrides})


@pytest.mark.parametrize("architecture", HEADS[1:])
@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "xla"])
def test_fit_drives_task_loss_down(architecture, jit_compile):
    config = head_config(architecture, num_labels=3 if architecture != "DebertaForQuestionAnswering" else 2)
    keras.utils.set_random_seed(0)
    model = tf_class(architecture)(config)
    dataset = padded_dataset(architecture, config)
    losses = fit_losses(model, dataset, jit_compile=jit_compile)
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < DECREASE * losses[0], f"{architecture} loss did not decrease: {losses}"
    if jit_compile and architecture == "DebertaForSequenceClassification":  # XLA evaluate / predict once
        results = model.evaluate(dataset, verbose=0, return_dict=True)
        assert np.isfinite(results["loss"])
        predictions = model.predict(dataset.map(lambda d: {k: d[k] for k in ("input_ids", "attention_mask")}), verbose=0)
        assert isinstance(predictions, dict)


def test_labels_as_keras_targets_use_the_task_loss():
    architecture = "DebertaForTokenClassification"
    config = head_config(architecture, num_labels=3)
    keras.utils.set_random_seed(0)
    model = tf_class(architecture)(config)
    losses = fit_losses(model, padded_dataset(architecture, config, with_labels_in_dict=False))
    assert losses[-1] < DECREASE * losses[0], losses


def test_compiled_keras_loss_and_metrics_on_features_labels():
    architecture = "DebertaForSequenceClassification"
    config = head_config(architecture, num_labels=3)
    keras.utils.set_random_seed(0)
    model = tf_class(architecture)(config)
    dataset = padded_dataset(architecture, config, with_labels_in_dict=False)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    history = model.fit(dataset, epochs=EPOCHS, verbose=0, shuffle=False).history
    assert history["loss"][-1] < DECREASE * history["loss"][0], history
    assert "accuracy" in history and history["accuracy"][-1] >= history["accuracy"][0]
    # The compiled loss equals the model's own loss for these labels (same CE).
    inputs, labels = next(iter(dataset))
    own = model({**inputs, "labels": labels})["loss"].numpy()
    compiled = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, model(inputs)["logits"]).numpy()
    np.testing.assert_allclose(own, compiled, rtol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_and_stays_finite_with_masked_rows(policy, tiny_inputs):
    architecture = "DebertaForMaskedLM"
    config = head_config(architecture)
    keras.utils.set_random_seed(0)
    model = tf_class(architecture)(config, dtype=policy)
    assert keras.mixed_precision.global_policy().name == "float32", "the policy stays local to the model"
    inputs = tiny_inputs(config, (8, 3, 0))  # a fully padded row: every query and key masked
    outputs = model(inputs, output_hidden_states=True, output_attentions=True)
    assert outputs["logits"].dtype == tf.as_dtype(policy.split("_")[1])
    for name in ("logits", "hidden_states", "attentions"):
        values = outputs[name] if name == "logits" else tf.stack(outputs[name])
        assert np.all(np.isfinite(tf.cast(values, tf.float32).numpy())), name
    attentions = tf.cast(tf.stack(outputs["attentions"]), tf.float32).numpy()
    assert np.all(attentions[:, 2] == 0.0), "fully masked rows attend to nothing"
    assert np.all(attentions[:, 1, :, :, 3:] == 0.0), "padded keys get probability exactly 0"
    losses = fit_losses(model, padded_dataset(architecture, config))
    assert all(np.isfinite(losses)) and losses[-1] < DECREASE * losses[0], losses
    assert all(v.dtype == "float32" for v in model.weights), "variables stay float32"


@pytest.mark.parametrize("dropout", [0.0, 0.1], ids=["no_dropout", "dropout"])
def test_gradient_checkpointing_gives_the_same_gradients(dropout, tiny_inputs, tiny_labels):
    """Same loss and gradients with and without rematerialisation; with dropout on, the recomputation replays
    the forward's masks (both runs start from the same dropout seed state)."""
    architecture = "DebertaForSequenceClassification"
    config = head_config(architecture, num_labels=3, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    model = tf_class(architecture)(config)
    inputs = tiny_inputs(config)
    labels = tiny_labels(architecture, config, inputs)
    model.build()
    variables = model_variables(model)
    generators = [layer.seed_generator for layer in model._flatten_layers() if hasattr(layer, "seed_generator")]
    start = [g.state.numpy() for g in generators]

    def grads():
        for generator, state in zip(generators, start):
            generator.state.assign(state)
        with tf.GradientTape() as tape:
            loss = model({**inputs, **labels}, training=True)["loss"]
        return loss.numpy(), [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, list(variables.values()))]

    loss_plain, grads_plain = grads()
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    loss_remat, grads_remat = grads()
    assert abs(loss_plain - loss_remat) <= ATOL_REMAT
    for name, a, b in zip(variables, grads_plain, grads_remat):
        np.testing.assert_allclose(a, b, atol=ATOL_REMAT, err_msg=name)
    if dropout == 0.0:  # and inside a compiled train step
        losses = fit_losses(model, padded_dataset(architecture, config), jit_compile=False)
        assert losses[-1] < losses[0]
