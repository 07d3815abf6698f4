"""PyTorch utilities of the twin: the loss primitives its heads use (float32, the reference's ignore index) and
the pytree registration torch.export / torch.compile need for ModelOutput. Twin of deberta_tf/utils.py (which also
holds what Keras lacks and torch has built in)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from deberta_core import ModelOutput
from deberta_core.outputs import IGNORE_INDEX


def register_model_output_pytree() -> None:
    """Let torch.export / torch.compile see through ModelOutput (an ordered mapping of tensors)."""
    from torch.utils import _pytree

    try:
        _pytree.register_pytree_node(
            ModelOutput,
            lambda out: (list(out.values()), list(out.keys())),
            lambda values, keys: ModelOutput(zip(keys, values)),
            serialized_type_name="deberta_core.outputs.ModelOutput",
        )
    except ValueError:  # already registered (module reloaded)
        pass


# ---------------------------------------------------------------------------------------------------- losses
def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index=IGNORE_INDEX) -> torch.Tensor:
    """F.cross_entropy in float32: logits [n, c], labels [n]; mean over labels != ignore_index."""
    return F.cross_entropy(logits.float(), labels, ignore_index=ignore_index)


def mse_loss(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(predictions.float(), targets.float())
