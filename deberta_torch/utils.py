"""PyTorch utilities of the twin: the input and label checks (deberta_core.validation's rules run on torch
tensors), the loss primitives its heads use (float32, the reference's ignore index) and the pytree registration
torch.export / torch.compile need for ModelOutput. Twin of deberta_tf/utils.py (which also holds what Keras lacks
and torch has built in)."""

from __future__ import annotations

import contextlib
from typing import Dict, Optional, Tuple

import torch
import torch.utils.checkpoint
from torch.nn import functional as F

from deberta_core import DebertaConfig, ModelOutput
from deberta_core.outputs import IGNORE_INDEX
from deberta_core.validation import MODEL_INPUTS, Checks, TensorInfo, ValueCheck, check_labels, check_model_inputs


def is_traced() -> bool:
    """True while torch.compile / torch.export (dynamo) or torch.jit traces the model, or a torch.func transform
    (vmap, grad, jvp, ...) runs it: the eager-only fast paths (shared attention buffers written through ``out=``,
    the relative term's own autograd op, the dropped all-True mask, keeping frozen relative tables) stay out of a
    graph and out of transformed calls, which get one general path of plain differentiable ops whatever the
    values."""
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or is_transformed()


def is_transformed() -> bool:
    """True while a torch.func transform (vmap, grad, jvp, ...) runs the model: it also takes the exact attention
    path, since the fused kernel has no forward-mode derivative (jvp) on the CPU."""
    return torch._C._are_functorch_transforms_active()  # torch has no public query for an active transform


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


# ---------------------------------------------------------------------------------------------------- checks
def tensor_info(name: str, value) -> TensorInfo:
    """The rules' view of a torch tensor; anything else is a TypeError (torch modules take tensors only)."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__} (make one with torch.tensor(...) "
                        f"on the model's device)")
    return TensorInfo(tuple(value.shape), str(value.dtype).replace("torch.", ""))


def value_stats(tensor: torch.Tensor, check: ValueCheck) -> torch.Tensor:
    """[smallest, largest, off] of ``tensor`` for ``check`` (see deberta_core.validation.ValueCheck), on its
    device, without a host transfer."""
    values = tensor
    if check.ignore is not None or check.ignore_negative:
        kept = values >= 0 if check.ignore_negative else values != check.ignore
        values = torch.where(kept, values, torch.full_like(values, check.low))
    smallest, largest = torch.aminmax(values)
    if check.whole:
        off = (values - values.round()).abs().max()
    elif check.distribution:
        off = (values.float().sum(-1) - 1).abs().max()
    else:
        off = torch.zeros((), device=values.device)
    wide = torch.float32 if values.device.type == "mps" else torch.float64  # MPS has no float64
    return torch.stack([smallest.to(wide), largest.to(wide), off.to(wide)])


def run_checks(checks: Checks, tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Raise ValueError for the first value check that fails; return the tensors (unchanged). Every statistic
    comes back in one host transfer (one device sync on an accelerator). Skipped while torch.compile /
    torch.export trace: a data-dependent check would break the graph (the shape and dtype rules still hold
    there, as guards)."""
    if not checks.values or torch.compiler.is_compiling():
        return tensors
    stats = torch.stack([value_stats(tensors[name], check) for name, check in checks.values]).tolist()
    for (_, check), (smallest, largest, off) in zip(checks.values, stats):
        if not check.holds(smallest, largest, off):
            raise ValueError(check.message(smallest, largest, off))
    return tensors


def validate_inputs(config: DebertaConfig, input_ids, attention_mask, token_type_ids, position_ids,
                    inputs_embeds) -> Tuple[Optional[torch.Tensor], ...]:
    """Check DebertaModel's inputs against deberta_core.validation's rules; return them, checked (unchanged;
    the Keras twin's are graph tensors that wait for its checks)."""
    tensors = {name: value for name, value in (
        ("input_ids", input_ids), ("attention_mask", attention_mask), ("token_type_ids", token_type_ids),
        ("position_ids", position_ids), ("inputs_embeds", inputs_embeds)) if value is not None}
    checks = check_model_inputs(config, {name: tensor_info(name, value) for name, value in tensors.items()})
    tensors = run_checks(checks, tensors)
    return tuple(tensors.get(name) for name in MODEL_INPUTS)


def validate_labels(task: str, logits: torch.Tensor, problem_type: Optional[str] = None,
                    **labels: torch.Tensor) -> Tuple[Optional[str], Dict[str, torch.Tensor]]:
    """Check a head's labels against deberta_core.validation's rules; return the loss to compute (sequence
    classification's problem, else None) and the labels, checked (by name, unchanged)."""
    checks = check_labels(task, tensor_info("logits", logits),
                          {name: tensor_info(name, value) for name, value in labels.items()}, problem_type)
    checked = run_checks(checks, labels)
    return checks.problem, {name: checked[name] for name in labels}


# ---------------------------------------------------------------------------------------------------- losses
def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index=IGNORE_INDEX) -> torch.Tensor:
    """F.cross_entropy in float32: logits [n, c], labels [n]; mean over labels != ignore_index, and 0 (with zero
    gradient) when every label is ignored (F.cross_entropy's mean gives nan there)."""
    labels = labels.long()
    total = F.cross_entropy(logits.float(), labels, ignore_index=ignore_index, reduction="sum")
    return total / (labels != ignore_index).sum().clamp(min=1)


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
