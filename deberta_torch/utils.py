"""PyTorch utilities of the twin: the loss primitives its heads use (float32, the reference's ignore index) and
the pytree registration torch.export / torch.compile need for ModelOutput. Twin of deberta_tf/utils.py (which also
holds what Keras lacks and torch has built in)."""

from __future__ import annotations

import contextlib

import torch
import torch.utils.checkpoint
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


def checkpoint(function, *args, offload: bool = False, **kwargs):
    """``torch.utils.checkpoint.checkpoint(function, *args, **kwargs)`` (the twin of deberta_tf.utils.checkpoint);
    with ``offload`` what the recompute needs is kept in pinned host memory when the model runs on an
    accelerator (on the CPU it stays where it is)."""
    device = next((a.device for a in args if isinstance(a, torch.Tensor)), torch.device("cpu"))
    if offload and device.type != "cpu":
        saved = torch.autograd.graph.save_on_cpu(pin_memory=True, device_type=device.type)
    else:
        saved = contextlib.nullcontext()
    with saved:
        return torch.utils.checkpoint.checkpoint(function, *args, **kwargs)
