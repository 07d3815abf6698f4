"""The Enhanced Mask Decoder in deberta_tf (config.enhanced_mask_decoder): TFDebertaForMaskedLM's logits equal
tests/reference_numpy.emd_logits (the NumPy transcription of the original code) at every position, padded rows
included; the loss trains the decoder's weights; checkpoints carry the position table it reads. (Torch against
Keras, outputs and gradients: tests/conversion/test_conversion_emd.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

import reference_numpy as ref
from conftest import ATOL_FP32, EMD_VARIANTS, make_emd_config, make_inputs, make_labels
from deberta_core.weight_plan import keras_to_torch
from deberta_tf import TFDebertaForMaskedLM, TFDebertaModel
from deberta_tf.io import model_variables, model_weights

POSITION_TABLE = "deberta.embeddings.position_embeddings.weight"
KERAS_POSITION_TABLE = "deberta/embeddings/position_embeddings/embeddings"
# float32 model vs the float64 NumPy reference: the same bound as every other fp32 output (conftest.ATOL_FP32);
# measured <= 4e-7 on these configs.
EMD_ATOL = ATOL_FP32


def random_model(config, seed: int = 0) -> TFDebertaForMaskedLM:
    """A built TFDebertaForMaskedLM whose every variable is seeded random (biases, norms and q/v biases matter)."""
    model = TFDebertaForMaskedLM(config)
    model.build()
    rng = np.random.default_rng(seed)
    for name, variable in sorted(model_variables(model).items()):
        variable.assign(rng.normal(scale=0.2, size=tuple(variable.shape)).astype(np.float32))
    return model


def state_of(model) -> dict:
    """The model's weights under the torch names the reference reads."""
    return dict(keras_to_torch(model_weights(model), model.config, "DebertaForMaskedLM"))


def emd_logits(model, inputs, **kwargs) -> np.ndarray:
    return np.asarray(model({k: tf.constant(v) for k, v in inputs.items()}, **kwargs).logits)


def reference(model, inputs, position_ids=None) -> np.ndarray:
    return ref.emd_logits(state_of(model), model.config, inputs["input_ids"], inputs["attention_mask"], position_ids,
                          token_type_ids=inputs.get("token_type_ids"))


@pytest.mark.parametrize("legacy", [False, True], ids=["lm_predictions", "cls_predictions"])
@pytest.mark.parametrize("variant", EMD_VARIANTS)
def test_emd_logits_equal_the_reference(variant, legacy):
    model = random_model(make_emd_config(variant, legacy=legacy))
    inputs = make_inputs(model.config)  # three right-padded rows
    logits = emd_logits(model, inputs)
    expected = reference(model, inputs)
    assert logits.shape == inputs["input_ids"].shape + (model.config.vocab_size,)
    assert np.abs(logits - expected).max() <= EMD_ATOL  # every position, padded ones included
    plain = ref.mlm_logits(state_of(model), model.config, inputs["input_ids"], inputs["attention_mask"],
                           inputs.get("token_type_ids"))
    assert np.abs(logits - plain).max() > 100 * EMD_ATOL


def test_emd_reads_position_ids_in_a_traced_call():
    model = random_model(make_emd_config())
    inputs = make_inputs(model.config, lengths=(9, 9))
    position_ids = np.stack([np.arange(9), np.arange(9) + 20])
    traced = tf.function(lambda batch, positions: model(batch, position_ids=positions).logits)
    logits = np.asarray(traced({k: tf.constant(v) for k, v in inputs.items()}, tf.constant(position_ids)))
    assert np.abs(logits - reference(model, inputs, position_ids)).max() <= EMD_ATOL
    assert np.abs(logits - emd_logits(model, inputs)).max() > 100 * EMD_ATOL  # positions matter


def test_hidden_states_are_returned_only_when_asked():
    model = random_model(make_emd_config())
    inputs = {k: tf.constant(v) for k, v in make_inputs(model.config).items()}
    assert model(inputs).hidden_states is None
    out = model(inputs, output_hidden_states=True)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1


def test_loss_trains_the_decoder_weights():
    config = make_emd_config(legacy=False, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = random_model(config)
    inputs = make_inputs(config)
    labels = make_labels("DebertaForMaskedLM", config, inputs)["labels"]
    variables = model_variables(model)
    with tf.GradientTape() as tape:
        out = model({k: tf.constant(v) for k, v in inputs.items()}, labels=tf.constant(labels), training=True)
    grads = dict(zip(variables, tape.gradient(out.loss, list(variables.values()))))
    logits = np.asarray(out.logits)
    valid = labels != -100
    shifted = logits[valid] - logits[valid].max(-1, keepdims=True)
    expected = -(shifted[np.arange(valid.sum()), labels[valid]] - np.log(np.exp(shifted).sum(-1))).mean()
    assert abs(float(out.loss) - expected) <= EMD_ATOL
    last = f"deberta/encoder/layer_._{config.num_hidden_layers - 1}/"
    for name in (KERAS_POSITION_TABLE, last + "attention/self/in_proj/kernel", last + "output/dense/kernel",
                 "deberta/encoder/rel_embeddings.weight", "deberta/encoder/layer_._0/attention/self/in_proj/kernel",
                 "lm_predictions/lm_head/dense/kernel"):
        grad = tf.convert_to_tensor(grads[name])
        assert float(tf.reduce_sum(tf.abs(grad))) > 0, name
        assert bool(tf.reduce_all(tf.math.is_finite(grad))), name


def test_the_switch_adds_only_the_position_table():
    on, off = TFDebertaForMaskedLM(make_emd_config()), TFDebertaForMaskedLM(make_emd_config(enhanced_mask_decoder=False))
    on.build()
    off.build()
    assert set(model_variables(on)) - set(model_variables(off)) == {KERAS_POSITION_TABLE}
    assert set(model_variables(off)) <= set(model_variables(on))
    # built with the encoder even where no call reads it (the bare model), under its own name
    bare = TFDebertaModel(make_emd_config())
    bare.build()
    assert KERAS_POSITION_TABLE in model_variables(bare)


def test_checkpoints_round_trip_with_and_without_the_decoder(tmp_path):
    model = random_model(make_emd_config(legacy=False))
    inputs = make_inputs(model.config)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["enhanced_mask_decoder"] is True
    loaded = TFDebertaForMaskedLM.from_pretrained(tmp_path)
    assert loaded.config.enhanced_mask_decoder
    assert np.abs(emd_logits(loaded, inputs) - emd_logits(model, inputs)).max() == 0.0
    # the same checkpoint with the decoder off: the table is a tolerated extra (as on the torch side)
    plain = TFDebertaForMaskedLM.from_pretrained(tmp_path, enhanced_mask_decoder=False)
    expected = ref.mlm_logits(state_of(model), model.config, inputs["input_ids"], inputs["attention_mask"],
                              inputs.get("token_type_ids"))
    assert np.abs(emd_logits(plain, inputs) - expected).max() <= EMD_ATOL
