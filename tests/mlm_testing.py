"""Shared by the twins' tests of the MLM data adapters (tests/torch/test_torch_mlm.py, tests/tf/test_tf_mlm.py)."""

from __future__ import annotations

import numpy as np

from deberta_core.mlm import MLMBatches, MLMMasker

SEQ = 24
SPECIALS = [0, 1, 2, 3, 4]  # [PAD] [CLS] [SEP] [UNK] [MASK], as the deberta-base vocabulary orders the first four


def small_masker(vocab_size: int, **kwargs) -> MLMMasker:
    return MLMMasker(vocab_size, 4, SPECIALS, pad_token_id=0, **kwargs)


def small_batches(vocab_size: int, **kwargs) -> MLMBatches:
    """21 random sequences [CLS] ... [SEP] of SEQ tokens in batches of 4 (the last one of 1), seed 5."""
    ids = np.random.default_rng(0).integers(len(SPECIALS), vocab_size, size=(21, SEQ))
    ids[:, 0], ids[:, -1] = 1, 2
    sequences = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    return MLMBatches(sequences, small_masker(vocab_size), batch_size=4, seed=5, **kwargs)
