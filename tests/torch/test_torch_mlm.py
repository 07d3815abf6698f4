"""deberta_torch.mlm: the torch adapter of deberta_core.mlm.MLMBatches (dtypes, shapes, epochs, workers) and a
masked-LM loss on its batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from deberta_core import DebertaConfig
from deberta_core.mlm import IGNORE_INDEX, MLMBatches
from deberta_torch import DebertaForMaskedLM
from deberta_torch.mlm import MLMDataset, mlm_dataset
from mlm_testing import small_batches, small_masker
from conftest import ATOL_FP32, TINY


def make_batches(**kwargs) -> MLMBatches:
    return small_batches(TINY["vocab_size"], **kwargs)


def assert_same(batch, expected):
    assert set(batch) == set(expected) == {"input_ids", "attention_mask", "labels"}
    for name, value in batch.items():
        assert value.dtype == torch.int64 and tuple(value.shape) == expected[name].shape
        np.testing.assert_array_equal(value.numpy(), expected[name])


def test_batches_are_int64_tensors_and_each_pass_is_the_next_epoch():
    dataset = mlm_dataset(make_batches())
    assert isinstance(dataset, MLMDataset) and len(dataset) == 6
    reference = make_batches()
    for epoch in range(2):
        got = list(DataLoader(dataset, batch_size=None))
        expected = list(reference.epoch_batches(epoch))
        assert len(got) == len(expected) == 6
        for batch, want in zip(got, expected):
            assert_same(batch, want)
    dataset.set_epoch(0)  # back to the first epoch
    assert_same(next(iter(dataset)), next(reference.epoch_batches(0)))


def test_worker_processes_share_out_the_batches():
    dataset = mlm_dataset(make_batches(epoch=3))
    got = list(DataLoader(dataset, batch_size=None, num_workers=2))
    expected = list(make_batches().epoch_batches(3))
    assert len(got) == len(expected)
    # each worker yields every other batch: the order interleaves, the set of batches is the epoch's
    as_bytes = sorted(b["input_ids"].numpy().tobytes() + b["labels"].numpy().tobytes() for b in got)
    assert as_bytes == sorted(b["input_ids"].tobytes() + b["labels"].tobytes() for b in expected)


def test_masked_lm_loss_on_a_batch_counts_only_the_selected_tokens():
    config = DebertaConfig(**TINY, relative_attention=True, pos_att_type="c2p|p2c")
    model = DebertaForMaskedLM(config).eval()
    batch = next(iter(mlm_dataset(make_batches())))
    with torch.no_grad():
        out = model(**batch)
    selected = batch["labels"] != IGNORE_INDEX
    assert selected.any() and (~selected).any()
    manual = F.cross_entropy(out.logits[selected], batch["labels"][selected])
    assert abs(float(out.loss) - float(manual)) <= ATOL_FP32


def test_collator_gives_int64_tensors():
    masker = small_masker(TINY["vocab_size"], seed=0)
    batch = masker([{"input_ids": [1, 7, 8, 9, 2], "attention_mask": [1] * 5}] * 3, return_tensors="pt")
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.int64 and v.shape == (3, 5) for v in batch.values())


def test_wrong_argument():
    with pytest.raises(TypeError, match="expected a deberta_core.mlm.MLMBatches, got dict"):
        mlm_dataset({"input_ids": np.ones((2, 3), int)})
