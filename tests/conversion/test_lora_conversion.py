"""LoRA-adapted models cross frameworks: a PEFT adapter merged into the torch model, and a Keras model in LoRA mode
saved as .keras, each converted with deberta-convert's parity check and run in the other framework."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

import deberta_tf
import deberta_torch
from conversion.convert import convert
from deberta_core import DebertaConfig

peft = pytest.importorskip("peft")

# Same math, different kernels in the two frameworks: fp32 round-off.
ATOL_FP32 = 1e-5
CONFIG = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
              max_position_embeddings=64, relative_attention=True, pos_att_type="c2p|p2c", type_vocab_size=2,
              hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=3)


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    mask = np.array([[1] * 10, [1] * 6 + [0] * 4])
    ids = rng.integers(1, CONFIG["vocab_size"], mask.shape) * mask
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}, np.array([0, 2])


def test_peft_merged_model_converts_to_keras_with_parity(tmp_path):
    torch.manual_seed(0)
    model = deberta_torch.DebertaForSequenceClassification(DebertaConfig(**CONFIG))
    adapted = peft.get_peft_model(model, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["in_proj"],
                                                         modules_to_save=["pooler", "classifier"]))
    inputs, labels = _batch()
    batch = {k: torch.from_numpy(v) for k, v in inputs.items()}
    optimizer = torch.optim.AdamW([p for p in adapted.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        adapted(**batch, labels=torch.from_numpy(labels)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    adapted.eval()
    with torch.no_grad():
        expected = adapted(**batch).logits.numpy()
    merged = adapted.merge_and_unload()
    merged.save_pretrained(tmp_path / "merged")

    result = convert(tmp_path / "merged", tmp_path / "tf", to="tf", check=True)
    assert result.ok and result.parity.passed, result.parity.to_text()
    keras_model = deberta_tf.TFDebertaForSequenceClassification.from_pretrained(tmp_path / "tf")
    got = keras_model(inputs)["logits"].numpy()
    assert np.abs(got - expected).max() <= ATOL_FP32


def test_keras_lora_model_file_converts_to_torch_with_parity(tmp_path):
    keras.utils.set_random_seed(0)
    model = deberta_tf.TFDebertaForSequenceClassification(DebertaConfig(**CONFIG))
    model.enable_lora(4, target_layer_names=["in_proj", "pos_proj"])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    inputs, labels = _batch()
    model.fit({**inputs, "labels": labels}, epochs=3, batch_size=2, verbose=0)
    expected = model(inputs)["logits"].numpy()
    model.save(tmp_path / "lora.keras")

    result = convert(tmp_path / "lora.keras", tmp_path / "pt", to="torch", check=True)
    assert result.ok and result.parity.passed, result.parity.to_text()
    twin = deberta_torch.DebertaForSequenceClassification.from_pretrained(tmp_path / "pt")
    with torch.no_grad():
        got = twin(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits.numpy()
    assert np.abs(got - expected).max() <= ATOL_FP32
