"""Seeded model inputs: a padded batch with token types and the labels of each head's loss (framework-free).

The batch the parity checks (``conversion.parity``, ``conversion.training``) and the tests run both twins on:
NumPy int64 ids, every row but the first right-padded (or the row lengths given), token types where the config
has them, labels with padding ignored (``IGNORE_INDEX``).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from .config import DebertaConfig
from .outputs import IGNORE_INDEX
from .weight_map import normalize_architecture

DEFAULT_BATCH_SIZE = 2
DEFAULT_SEQ_LEN = 12
DEFAULT_SEED = 0


def make_batch(
    config: DebertaConfig, architecture: str, *, batch_size: int = DEFAULT_BATCH_SIZE,
    seq_len: Optional[int] = None, seed: int = DEFAULT_SEED, labels: bool = True,
    lengths: Optional[Sequence[int]] = None,
) -> Dict[str, np.ndarray]:
    """A seeded batch for tests and benchmarks: random token ids, every row but the first right-padded, token types
    where the config has them, and the labels of the architecture's loss (padding ignored).

    Args:
        config: the model's configuration (vocabulary, pad id, type vocabulary, labels).
        architecture: the model class name, with or without the ``TF`` prefix (``"DebertaForMaskedLM"``).
        batch_size: b, the number of rows.
        seq_len: s; default ``min(DEFAULT_SEQ_LEN, max_position_embeddings)``; from 2 to max_position_embeddings.
        seed: the NumPy generator's seed: the same arguments give the same batch.
        labels: add the labels (``make_labels``).
        lengths: each row's number of valid tokens instead (the batch is then ``len(lengths)`` rows of
            ``max(lengths)``; 0 is a fully padded row); overrides ``batch_size`` and ``seq_len``.

    Returns:
        NumPy int64 arrays by name: ``input_ids``, ``attention_mask`` (and ``token_type_ids``) [b, s], plus the
        labels (``make_labels``).

    Raises:
        ValueError: an unknown architecture, a bad ``seq_len``, or ``lengths`` with a negative value or no row of 1
            or more.
    """
    arch = normalize_architecture(architecture)
    rng = np.random.default_rng(seed)
    if lengths is not None:
        lengths = [int(n) for n in lengths]
        if not lengths or min(lengths) < 0 or max(lengths) < 1:
            raise ValueError(f"lengths must be non-negative with at least one row of 1 or more, got {lengths}")
        batch_size, length = len(lengths), max(lengths)
    else:
        length = min(DEFAULT_SEQ_LEN, config.max_position_embeddings) if seq_len is None else seq_len
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) \
                or not 2 <= length <= config.max_position_embeddings:
            raise ValueError(f"seq_len must be an integer from 2 to the config's max_position_embeddings "
                             f"({config.max_position_embeddings}), got {seq_len!r}")
    input_ids = rng.integers(0, config.vocab_size, size=(batch_size, length), dtype=np.int64)
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    if config.vocab_size > 1:
        input_ids[input_ids == pad] = (pad + 1) % config.vocab_size
    if lengths is None:
        lengths = [length] + [max(1, length - (1 + (r * 3) % (length - 1))) for r in range(1, batch_size)]
    attention_mask = (np.arange(length)[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
    input_ids = np.where(attention_mask == 1, input_ids, pad)
    batch: Dict[str, np.ndarray] = {"input_ids": input_ids, "attention_mask": attention_mask}
    if config.type_vocab_size > 0:
        second = (np.arange(length)[None, :] >= (np.asarray(lengths)[:, None] // 2)).astype(np.int64)
        batch["token_type_ids"] = np.minimum(second, config.type_vocab_size - 1) * attention_mask
    if labels:
        batch.update(make_labels(config, arch, attention_mask, rng, input_ids))
    return batch


def make_labels(config: DebertaConfig, architecture: str, attention_mask: np.ndarray, rng: np.random.Generator,
                input_ids: np.ndarray) -> Dict[str, np.ndarray]:
    """Labels for the loss of ``architecture`` (none for DebertaModel), at the valid positions.

    Args:
        config: the model's configuration (``num_labels``, ``problem_type``).
        architecture: the model class name, with or without the ``TF`` prefix.
        attention_mask: the batch's 0/1 mask [b, s]; padding gets no label.
        rng: the NumPy generator to draw from.
        input_ids: the batch's token ids [b, s] (the masked-LM targets).

    Returns:
        ``{"labels": ...}``: masked LM int64 [b, s] (-100 where not predicted); token classification int64 [b, s];
        sequence classification int64 [b], float32 [b] or [b, num_labels] (regression), or 0/1 float32 [b,
        num_labels] (multi-label). QA: ``start_positions`` and ``end_positions`` int64 [b]. DebertaModel: ``{}``.

    Raises:
        ValueError: an unknown architecture.
    """
    arch = normalize_architecture(architecture)
    b, s = attention_mask.shape
    valid = attention_mask == 1
    if arch == "DebertaForMaskedLM":
        chosen = (rng.random((b, s)) < 0.5) & valid
        chosen[:, 0] = True  # every row has a target
        return {"labels": np.where(chosen, input_ids, IGNORE_INDEX).astype(np.int64)}
    if arch == "DebertaForTokenClassification":
        return {"labels": np.where(valid, rng.integers(0, config.num_labels, (b, s)), IGNORE_INDEX).astype(np.int64)}
    if arch == "DebertaForSequenceClassification":
        problem = config.problem_type
        if problem == "regression" or (problem is None and config.num_labels == 1):
            shape = (b,) if config.num_labels == 1 else (b, config.num_labels)
            return {"labels": rng.standard_normal(shape).astype(np.float32)}
        if problem == "multi_label_classification":
            return {"labels": (rng.random((b, config.num_labels)) < 0.5).astype(np.float32)}
        return {"labels": rng.integers(0, config.num_labels, (b,)).astype(np.int64)}
    if arch == "DebertaForQuestionAnswering":
        lengths = np.maximum(valid.sum(axis=1), 1)  # a fully padded row points at position 0
        start = np.array([rng.integers(0, n) for n in lengths], dtype=np.int64)
        end = np.array([rng.integers(st, n) for st, n in zip(start, lengths)], dtype=np.int64)
        return {"start_positions": start, "end_positions": end}
    return {}


LABEL_KEYS = ("labels", "start_positions", "end_positions")


__all__ = [
    "DEFAULT_BATCH_SIZE", "DEFAULT_SEED", "DEFAULT_SEQ_LEN", "IGNORE_INDEX", "LABEL_KEYS", "make_batch", "make_labels",
]
