"""Reading and writing checkpoints for the torch twin, through deberta_core's reader layer and weight-map planner:
its own formats (model.safetensors incl. shards, pytorch_model.bin incl. shards, loaded with weights_only), and
with ``from_tf=True`` the reference tf_model.h5 (h5py; TensorFlow is never imported).

The same functions, in the same order, as deberta_tf/io.py: ``read_weights`` -> ``match_weights`` ->
``assign_weights`` (``load_weights`` does all three), ``model_weights``, ``save_weights``.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

from deberta_core.checkpoint_io import TensorReader, open_weights
from deberta_core.errors import CheckpointError, CheckpointLoadError
from deberta_core.files import (
    SAFE_WEIGHTS_NAME, TF2_WEIGHTS_NAME, TF_WEIGHT_FORMATS, TORCH_WEIGHT_FORMATS, WEIGHTS_NAME, CheckpointFiles,
    atomic_write, shard_files,
)
from deberta_core.weight_plan import LoadReport, check_model_names, plan_load

logger = logging.getLogger("deberta_torch")

# The weight formats read by default and with from_tf=True, in the order the loader prefers them.
OWN_FORMATS = TORCH_WEIGHT_FORMATS
OTHER_FORMATS = TF_WEIGHT_FORMATS


class TorchPickleReader(TensorReader):
    """``pytorch_model.bin`` (or every shard of a ``pytorch_model.bin.index.json``) loaded with
    ``torch.load(weights_only=True, mmap=True)``: the torch pickle reader of deberta_core's reader layer (same
    interface as ``deberta_core.checkpoint_io.SafetensorsReader``; arrays come out as NumPy, bf16 widened to
    float32). ``weights_only`` refuses anything but tensors and plain containers."""

    family = "torch"

    def __init__(self, path: str) -> None:
        self.path = os.fspath(path)
        self._tensors: Dict[str, torch.Tensor] = {}
        for file in shard_files(self.path) if self.path.endswith(".json") else [self.path]:
            if not os.path.isfile(file):
                raise FileNotFoundError(f"no torch pickle at {file!r}")
            try:
                try:
                    state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
                except RuntimeError as err:
                    if "mmap" not in str(err):
                        raise
                    state = torch.load(file, map_location="cpu", weights_only=True)  # legacy (non-zip) format
            except Exception as err:  # UnpicklingError, RuntimeError, EOFError, ... for bad or unsafe files
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise CheckpointError(
                    f"{file!r} cannot be loaded as a plain state dict with torch.load(weights_only=True), which "
                    f"refuses anything but tensors and plain containers: {type(err).__name__}: {first}"
                ) from None
            if not isinstance(state, Mapping):
                raise CheckpointError(
                    f"{file!r} holds a {type(state).__name__}, not a state dict (a mapping of names to tensors)"
                )
            bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
            if bad:
                raise CheckpointError(
                    f"{file!r} is not a plain state dict: the entries {bad[:5]} are not tensors "
                    f"(a training checkpoint? save model.state_dict() instead)"
                )
            for key, value in state.items():
                if key in self._tensors:
                    raise CheckpointError(f"{key!r} is stored twice (second time in {file!r})")
                self._tensors[key] = value

    def names(self) -> List[str]:
        return list(self._tensors)

    def shape(self, name: str) -> Tuple[int, ...]:
        return tuple(self._tensors[name].shape)

    def dtype(self, name: str) -> np.dtype:
        dtype = self._tensors[name].dtype
        return np.dtype("float32") if dtype == torch.bfloat16 else torch.empty((), dtype=dtype).numpy().dtype

    def read(self, name: str) -> np.ndarray:
        tensor = self._tensors[name].detach()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return tensor.contiguous().numpy().copy()

    def tensor(self, name: str) -> torch.Tensor:
        """The tensor as stored (bf16 stays bf16)."""
        return self._tensors[name]


def open_reader(fmt: str, path: str) -> TensorReader:
    """The reader of a weights file: deberta_core's for safetensors and h5, TorchPickleReader for a pickle."""
    return TorchPickleReader(path) if fmt.startswith("pytorch") else open_weights(fmt, path)


def read_weights(files: CheckpointFiles, from_tf: bool = False) -> Tuple[Dict[str, Any], str]:
    """The weights of a checkpoint folder (name -> tensor) and the family of their names ("torch" or "keras"):
    its torch weights (safetensors preferred, then pytorch_model.bin), or with ``from_tf`` its tf_model.h5."""
    fmt = files.pick(OTHER_FORMATS if from_tf else OWN_FORMATS, logger)
    if fmt is not None:
        try:
            with open_reader(fmt, files.weights[fmt]) as reader:
                if isinstance(reader, TorchPickleReader):  # twin: checkpoint-io
                    return {name: reader.tensor(name) for name in reader.names()}, reader.family
                return {name: torch.from_numpy(reader.read(name)) for name in reader.names()}, reader.family
        except CheckpointError as err:
            raise CheckpointLoadError(str(err)) from None
    if from_tf:
        raise FileNotFoundError(f"from_tf=True but {files.folder!r} has no tf_model.h5")
    others = [fmt for fmt in files.weights if fmt in OTHER_FORMATS]
    if others:
        raise FileNotFoundError(
            f"{files.folder!r} holds only TensorFlow weights ({TF2_WEIGHTS_NAME}); pass from_tf=True to load them"
        )
    raise FileNotFoundError(f"no torch weights in {files.folder!r}: looked for model.safetensors, pytorch_model.bin")


def match_weights(
    model: torch.nn.Module, weights: Mapping[str, Any], family: str, ignore_mismatched_sizes: bool = False
) -> Tuple[Dict[str, torch.Tensor], LoadReport]:
    """Plan ``weights`` (named in ``family``) onto the model through the weight map. Returns the model's
    parameter name -> tensor to load and a report of the warnings; raises CheckpointLoadError listing every
    problem at once when the base model does not fit."""
    model_name = type(model).__name__
    check_model_names({name: tuple(value.shape) for name, value in model.state_dict().items()}, model.config,
                      model_name, "torch", model_name)
    plan, report = plan_load(
        {name: tuple(value.shape) for name, value in weights.items()}, model.config, model_name,
        src_family=family, dst_family="torch", model_name=model_name,
        tied_equal=lambda key, tied_to: torch.equal(weights[key], weights[tied_to]),
        ignore_mismatched_sizes=ignore_mismatched_sizes,
    )
    matched = {}
    for item in plan.items:
        value = weights[item.src]
        matched[item.dst] = torch.from_numpy(item.apply(value.numpy())) if item.inverse else value
    return matched, report


def assign_weights(model: torch.nn.Module, matched: Mapping[str, torch.Tensor]) -> None:
    """The one loop that writes checkpoint tensors into the model's parameters."""
    model.load_state_dict(dict(matched), strict=False)


def load_weights(
    model: torch.nn.Module, weights: Mapping[str, Any], family: str, ignore_mismatched_sizes: bool = False
) -> LoadReport:
    """``match_weights`` then ``assign_weights``; returns the report."""
    matched, report = match_weights(model, weights, family, ignore_mismatched_sizes)
    assign_weights(model, matched)
    return report


def model_weights(model: torch.nn.Module) -> Dict[str, np.ndarray]:
    """The model's weights as torch key -> array (as stored)."""
    return {name: value.detach().cpu().contiguous().numpy() for name, value in model.state_dict().items()}


def save_weights(
    model: torch.nn.Module, folder: str, safe_serialization: bool = True,
    state_dict: Optional[Mapping[str, torch.Tensor]] = None,
) -> str:
    """Write the model's weights (or ``state_dict``, the same keys, as transformers.Trainer passes it) as
    model.safetensors (default) or pytorch_model.bin, atomically. (torch's own safetensors writer: it keeps
    dtypes NumPy has no type for, such as bfloat16.)"""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    state_dict = model.state_dict() if state_dict is None else state_dict
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in state_dict.items()}
    path = os.path.join(folder, SAFE_WEIGHTS_NAME if safe_serialization else WEIGHTS_NAME)
    with atomic_write(path) as tmp:
        if safe_serialization:
            save_file(state, tmp, metadata={"format": "pt"})
        else:
            torch.save(state, tmp)
    return path


__all__ = [
    "CheckpointLoadError", "LoadReport", "TorchPickleReader", "assign_weights", "load_weights", "match_weights",
    "model_weights", "open_reader", "read_weights", "save_weights",
]
