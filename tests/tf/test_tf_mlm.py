"""deberta_tf.mlm: the tf.data adapter of deberta_core.mlm.MLMBatches (signature, dtypes, epochs) and a
masked-LM loss on its batches."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from deberta_core import DebertaConfig
from deberta_core.mlm import IGNORE_INDEX, MLMBatches
from deberta_tf import TFDebertaForMaskedLM
from deberta_tf.mlm import mlm_dataset
from mlm_testing import SEQ, small_batches, small_masker
from conftest import ATOL_FP32, TINY


def make_batches(**kwargs) -> MLMBatches:
    return small_batches(TINY["vocab_size"], **kwargs)


def test_signature_dtypes_and_each_pass_is_the_next_epoch():
    dataset = mlm_dataset(make_batches())
    assert set(dataset.element_spec) == {"input_ids", "attention_mask", "labels"}
    for spec in dataset.element_spec.values():
        assert spec.dtype == tf.int32 and spec.shape.as_list() == [None, SEQ]
    assert int(dataset.cardinality()) == 6
    reference = make_batches()
    for epoch in range(2):
        got = list(dataset)
        expected = list(reference.epoch_batches(epoch))
        assert len(got) == len(expected) == 6
        for batch, want in zip(got, expected):
            for name, value in batch.items():
                np.testing.assert_array_equal(value.numpy(), want[name])


def test_masked_lm_loss_on_a_batch_counts_only_the_selected_tokens():
    config = DebertaConfig(**TINY, relative_attention=True, pos_att_type="c2p|p2c")
    model = TFDebertaForMaskedLM(config)
    batch = next(iter(mlm_dataset(make_batches())))
    out = model(**batch, training=False)
    selected = (batch["labels"] != IGNORE_INDEX).numpy()
    assert selected.any() and (~selected).any()
    logits = out.logits.numpy()[selected]
    labels = batch["labels"].numpy()[selected]
    log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(-1, keepdims=True)
    manual = -log_probs[np.arange(labels.size), labels].mean()
    assert abs(float(np.mean(out.loss)) - manual) <= ATOL_FP32


def test_collator_gives_int32_tensors_as_the_tokenizer():
    masker = small_masker(TINY["vocab_size"], seed=0)
    batch = masker([{"input_ids": [1, 7, 8, 9, 2], "attention_mask": [1] * 5}] * 3, return_tensors="tf")
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert all(isinstance(v, tf.Tensor) and v.dtype == tf.int32 and v.shape == (3, 5) for v in batch.values())


def test_wrong_argument():
    with pytest.raises(TypeError, match="expected a deberta_core.mlm.MLMBatches, got dict"):
        mlm_dataset({"input_ids": np.ones((2, 3), int)})
