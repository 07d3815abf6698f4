"""Training options shared with the torch twin: checkpointing every n-th layer, parameter counts."""

import numpy as np
import pytest
import tensorflow as tf

import deberta_tf.encoder as encoder_module
from conftest import HEADS, make_config, make_inputs, make_labels
from tf_helpers import tf_class

# Rematerialisation recomputes the same float32 ops: only reassociation noise.
ATOL_REMAT = 1e-6


def test_checkpointing_every_second_layer_gives_the_same_gradients(monkeypatch):
    architecture = "DebertaForTokenClassification"
    # Dropout off: Keras recomputation draws fresh dropout masks, so only a deterministic forward can match.
    config = make_config("rel_both", num_labels=3, num_hidden_layers=3, hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)
    model = tf_class(architecture)(config)
    inputs = make_inputs(config)
    batch = {**inputs, **make_labels(architecture, config, inputs)}

    def grads():
        with tf.GradientTape() as tape:
            loss = model(batch, training=True)["loss"]
        return [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_weights)]

    model.build()
    plain = grads()
    calls = []
    real = encoder_module.checkpoint
    monkeypatch.setattr(encoder_module, "checkpoint", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    model.gradient_checkpointing_enable(every_n_layers=2)
    remat = grads()
    assert len(calls) == 2  # layers 0 and 2 of 3
    for name, a, b in zip([v.path for v in model.trainable_weights], plain, remat):
        np.testing.assert_allclose(a, b, atol=ATOL_REMAT, err_msg=name)
    with pytest.raises(ValueError, match="every_n_layers must be a positive integer, got 0"):
        model.gradient_checkpointing_enable(every_n_layers=0)


@pytest.mark.parametrize("architecture", HEADS)
def test_parameter_counts_equal_the_torch_twin(architecture):
    import deberta_torch

    config = make_config("embproj_abs", num_labels=2)  # word, position, token-type and relative tables
    ours = tf_class(architecture)(config)
    twin = getattr(deberta_torch, architecture)(config)
    for kwargs in ({}, {"exclude_embeddings": True}, {"only_trainable": True}):
        assert ours.num_parameters(**kwargs) == twin.num_parameters(**kwargs), kwargs
    assert ours.num_parameters(exclude_embeddings=True) < ours.num_parameters()
