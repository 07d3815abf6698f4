"""The Enhanced Mask Decoder in deberta_torch (config.enhanced_mask_decoder): DebertaForMaskedLM's logits equal
tests/reference_numpy.emd_logits (the NumPy transcription of the original code) at every position, padded rows
included; the loss trains the decoder's weights; checkpoints carry the position table it reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import reference_numpy as ref
from conftest import ATOL_FP32, EMD_VARIANTS, make_emd_config, make_inputs, make_labels
from deberta_torch import DebertaForMaskedLM, DebertaModel
from deberta_torch.io import CheckpointLoadError
from torch_helpers import random_model, to_torch

POSITION_TABLE = "deberta.embeddings.position_embeddings.weight"
# float32 model vs the float64 NumPy reference: the same bound as every other fp32 output (conftest.ATOL_FP32);
# measured <= 4e-7 on these configs.
EMD_ATOL = ATOL_FP32


def state_of(model) -> dict:
    return {name: value.detach().numpy() for name, value in model.state_dict().items()}


def emd_logits(model, inputs, **kwargs) -> np.ndarray:
    with torch.no_grad():
        return model(**to_torch(inputs), **kwargs).logits.numpy()


def reference(model, inputs, position_ids=None) -> np.ndarray:
    return ref.emd_logits(state_of(model), model.config, inputs["input_ids"], inputs["attention_mask"], position_ids,
                          token_type_ids=inputs.get("token_type_ids"))


@pytest.mark.parametrize("legacy", [False, True], ids=["lm_predictions", "cls_predictions"])
@pytest.mark.parametrize("variant", EMD_VARIANTS)
def test_emd_logits_equal_the_reference(variant, legacy):
    model = random_model("DebertaForMaskedLM", make_emd_config(variant, legacy=legacy))
    inputs = make_inputs(model.config)  # three right-padded rows
    logits = emd_logits(model, inputs)
    expected = reference(model, inputs)
    assert logits.shape == inputs["input_ids"].shape + (model.config.vocab_size,)
    assert np.abs(logits - expected).max() <= EMD_ATOL  # every position, padded ones included
    # the decoder is what is computed: the ordinary head on H(L) is far from it
    plain = ref.mlm_logits(state_of(model), model.config, inputs["input_ids"], inputs["attention_mask"],
                           inputs.get("token_type_ids"))
    assert np.abs(logits - plain).max() > 100 * EMD_ATOL


def test_emd_reads_position_ids_and_a_missing_mask_is_all_ones():
    model = random_model("DebertaForMaskedLM", make_emd_config())
    inputs = make_inputs(model.config, lengths=(9, 9))
    position_ids = np.stack([np.arange(9), np.arange(9) + 20])
    logits = emd_logits(model, inputs, position_ids=torch.from_numpy(position_ids))
    assert np.abs(logits - reference(model, inputs, position_ids)).max() <= EMD_ATOL
    assert np.abs(logits - emd_logits(model, inputs)).max() > 100 * EMD_ATOL  # positions matter
    unmasked = {"input_ids": inputs["input_ids"]}
    assert np.abs(emd_logits(model, unmasked) - emd_logits(model, inputs)).max() == 0.0


def test_hidden_states_are_returned_only_when_asked():
    model = random_model("DebertaForMaskedLM", make_emd_config())
    inputs = to_torch(make_inputs(model.config))
    with torch.no_grad():
        assert model(**inputs).hidden_states is None
        out = model(**inputs, output_hidden_states=True)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1  # the encoder's, as without the decoder


def test_loss_trains_the_decoder_weights():
    config = make_emd_config(legacy=False, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = random_model("DebertaForMaskedLM", config).train()
    inputs = make_inputs(config)
    labels = make_labels("DebertaForMaskedLM", config, inputs)["labels"]
    out = model(**to_torch(inputs), labels=torch.from_numpy(labels))
    logits = out.logits.detach().numpy()
    valid = labels != -100
    shifted = logits[valid] - logits[valid].max(-1, keepdims=True)
    expected = -(shifted[np.arange(valid.sum()), labels[valid]] - np.log(np.exp(shifted).sum(-1))).mean()
    assert abs(out.loss.item() - expected) <= EMD_ATOL
    out.loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    last = f"deberta.encoder.layer.{config.num_hidden_layers - 1}."
    # the position table is read by the decoder only (position_biased_input is off): its gradient comes from it
    assert float(grads[POSITION_TABLE].abs().sum()) > 0
    for name in (last + "attention.self.in_proj.weight", last + "output.dense.weight", "deberta.encoder.rel_embeddings.weight",
                 "deberta.encoder.layer.0.attention.self.in_proj.weight", "lm_predictions.lm_head.dense.weight"):
        assert grads[name] is not None and float(grads[name].abs().sum()) > 0, name
        assert torch.isfinite(grads[name]).all(), name


def test_the_switch_adds_only_the_position_table():
    on = DebertaForMaskedLM(make_emd_config())
    off = DebertaForMaskedLM(make_emd_config(enhanced_mask_decoder=False))
    assert set(on.state_dict()) - set(off.state_dict()) == {POSITION_TABLE}
    assert set(off.state_dict()) <= set(on.state_dict())
    # the bare encoder of a decoder checkpoint keeps the table too (it is loaded and saved with the encoder)
    assert "embeddings.position_embeddings.weight" in DebertaModel(make_emd_config()).state_dict()


def test_checkpoints_round_trip_with_and_without_the_decoder(tmp_path):
    model = random_model("DebertaForMaskedLM", make_emd_config(legacy=False))
    inputs = make_inputs(model.config)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["enhanced_mask_decoder"] is True
    loaded = DebertaForMaskedLM.from_pretrained(tmp_path)
    assert loaded.config.enhanced_mask_decoder
    assert np.abs(emd_logits(loaded, inputs) - emd_logits(model, inputs)).max() == 0.0
    # the same checkpoint with the decoder off: the table is a tolerated extra (as in the hub checkpoints), the
    # logits are the ordinary head's
    plain, info = DebertaForMaskedLM.from_pretrained(tmp_path, enhanced_mask_decoder=False, output_loading_info=True)
    assert POSITION_TABLE in info["ignored_keys"] and not info["missing_keys"] and not info["unexpected_keys"]
    expected = ref.mlm_logits(state_of(model), model.config, inputs["input_ids"], inputs["attention_mask"],
                              inputs.get("token_type_ids"))
    assert np.abs(emd_logits(plain, inputs) - expected).max() <= EMD_ATOL
    # a default config.json does not mention the switch (it stays the reference's)
    plain.save_pretrained(tmp_path / "plain")
    assert "enhanced_mask_decoder" not in json.loads((tmp_path / "plain" / "config.json").read_text())
    # ... and that checkpoint (no table) cannot run the decoder: the missing table is an error, not a fresh one
    with pytest.raises(CheckpointLoadError, match="position_embeddings"):
        DebertaForMaskedLM.from_pretrained(tmp_path / "plain", enhanced_mask_decoder=True)
