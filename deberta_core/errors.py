"""The errors of deberta-dual, once for every package (each is a ValueError: the input, not the code, is wrong).

* ``CheckpointError``: a checkpoint file, folder, config or option that cannot be used as given (damaged or
  unreadable file, inconsistent shard index, unknown format or task). The message names the file.
* ``WeightMapError``: a conversion that would be partial: every missing, unexpected and mis-shaped name at once.
* ``CheckpointLoadError``: a checkpoint that does not fit the model being loaded (a ``WeightMapError``, raised by
  both twins' ``from_pretrained``).
"""

from __future__ import annotations

from typing import Sequence, Tuple


class CheckpointError(ValueError):
    """A checkpoint file, folder, config or option that cannot be used as given; the message names the file and
    says what was expected."""


class WeightMapError(ValueError):
    """A conversion that would be partial: every missing, unexpected and shape-mismatched name at once.

    Args:
        message: the text of the error (every name, as the raiser lists them).
        missing: names the destination needs and the source lacks; kept as the attribute ``missing``.
        unexpected: names the source holds and the destination has no place for (``unexpected``).
        mismatched: ``(name, expected shape, got shape)`` of each weight whose shape differs (``mismatched``).
    """

    def __init__(
        self,
        message: str,
        missing: Sequence[str] = (),
        unexpected: Sequence[str] = (),
        mismatched: Sequence[Tuple[str, Tuple[int, ...], Tuple[int, ...]]] = (),
    ) -> None:
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)  # (name, expected shape, got shape)


class CheckpointLoadError(WeightMapError):
    """A checkpoint does not fit the model: every missing, unexpected and mis-shaped weight, in one message."""


__all__ = ["CheckpointError", "CheckpointLoadError", "WeightMapError"]
