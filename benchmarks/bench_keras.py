"""The TensorFlow peers of `make bench`: our Keras 3 models against the reference's 4.x TF classes
(transformers' TFDebertaModel / TFDebertaForSequenceClassification on tf-keras), forward in graph mode
(tf.function) and under XLA (jit_compile=True), and one ``fit`` step (``train_on_batch``: forward, backward and
AdamW through the framework's own train step).

The reference runs in workers of their own (TF_USE_LEGACY_KERAS=1 must be set before TensorFlow is imported, so
it cannot share a process with Keras 3). Every peer loads the same tf_model.h5 (written once per run by
benchmarks/prepare.py from the torch checkpoint the torch peers load) and gets the same inputs (int32).
A peer that fails - the reference's TF classes under XLA, for one - shows as an error cell with its message.
"""

from __future__ import annotations

from typing import Any, Dict

from benchmarks.harness import Runner, make_inputs, make_labels, read_config


def _inputs(spec: Dict[str, Any]):
    import tensorflow as tf

    batch, seq = spec["shape"]
    arrays = make_inputs(read_config(spec["checkpoint"])["vocab_size"], batch, seq)
    return {k: tf.constant(v.astype("int32")) for k, v in arrays.items()}


def _forward_runner(model, spec: Dict[str, Any], jit_compile: bool) -> Runner:
    import tensorflow as tf

    inputs = _inputs(spec)
    forward = tf.function(lambda x: model(x, training=False).last_hidden_state, jit_compile=jit_compile)
    return Runner(lambda: forward(inputs), output=lambda: forward(inputs).numpy(),
                  info={"jit_compile": jit_compile})


def forward_ours(spec: Dict[str, Any], jit_compile: bool = False) -> Runner:
    import deberta_tf

    model = deberta_tf.TFDebertaModel.from_pretrained(spec["checkpoint"])
    return _forward_runner(model, spec, jit_compile)


def forward_reference(spec: Dict[str, Any], jit_compile: bool = False) -> Runner:
    import transformers

    model = transformers.TFDebertaModel.from_pretrained(spec["checkpoint"])
    return _forward_runner(model, spec, jit_compile)


def _fit_runner(model, spec: Dict[str, Any], optimizer, jit_compile: bool) -> Runner:
    """``compile()`` without a loss (both models compute their task loss from the ``labels`` in the input dict),
    then one ``train_on_batch`` per step: the framework's train step (forward, loss, gradients, AdamW)."""
    import tensorflow as tf

    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    inputs = dict(_inputs(spec))
    inputs["labels"] = tf.constant(make_labels(spec["shape"][0], model.config.num_labels).astype("int32"))
    return Runner(lambda: model.train_on_batch(inputs), info={"jit_compile": jit_compile})


def fit_ours(spec: Dict[str, Any], jit_compile: bool = False) -> Runner:
    import deberta_tf
    import keras

    keras.utils.set_random_seed(0)
    model = deberta_tf.TFDebertaForSequenceClassification.from_pretrained(spec["checkpoint"])
    return _fit_runner(model, spec, keras.optimizers.AdamW(learning_rate=1e-5, weight_decay=0.01), jit_compile)


def fit_reference(spec: Dict[str, Any], jit_compile: bool = False) -> Runner:
    import tensorflow as tf
    import tf_keras
    import transformers

    tf.random.set_seed(0)
    model = transformers.TFDebertaForSequenceClassification.from_pretrained(spec["checkpoint"])
    return _fit_runner(model, spec, tf_keras.optimizers.AdamW(learning_rate=1e-5, weight_decay=0.01), jit_compile)
