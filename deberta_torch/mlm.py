"""Masked-LM batches as a torch dataset: a thin adapter over deberta_core.mlm.MLMBatches (twin of deberta_tf/mlm.py)."""

from __future__ import annotations

from typing import Dict, Iterator

import torch

from deberta_core.mlm import MLMBatches


class MLMDataset(torch.utils.data.IterableDataset):
    """Iterates ``batches`` (one epoch per iteration) as dicts of int64 tensors; use it with
    ``DataLoader(dataset, batch_size=None)`` (the batches are already made). With worker processes each worker
    yields every ``num_workers``-th batch; call ``set_epoch`` before each epoch unless the workers persist."""

    def __init__(self, batches: MLMBatches) -> None:
        super().__init__()
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def set_epoch(self, epoch: int) -> None:
        self.batches.set_epoch(epoch)

    def __iter__(self) -> Iterator[Dict[str, torch.Tensor]]:
        worker = torch.utils.data.get_worker_info()
        for index, batch in enumerate(self.batches):
            if worker is None or index % worker.num_workers == worker.id:
                yield {name: torch.from_numpy(value) for name, value in batch.items()}


def mlm_dataset(batches: MLMBatches) -> MLMDataset:
    """``batches`` as a torch IterableDataset of int64 tensors ``input_ids``, ``attention_mask``, ``labels``; use it
    with ``DataLoader(dataset, batch_size=None)`` (the batches are already made).

    Args:
        batches: the masked-LM batches (a ``deberta_core.mlm.MLMBatches``).

    Returns:
        An ``MLMDataset`` of ``len(batches)`` dicts of int64 [b, s] tensors: each array of ``batches.sequences`` and
        ``labels`` (-100 where nothing is predicted); the last batch is smaller unless ``batches.drop_last``.

    Raises:
        TypeError: ``batches`` is not an ``MLMBatches``.
    """
    if not isinstance(batches, MLMBatches):
        raise TypeError(f"expected a deberta_core.mlm.MLMBatches, got {type(batches).__name__}")
    return MLMDataset(batches)


__all__ = ["MLMDataset", "mlm_dataset"]
