"""Reading and writing checkpoints for the torch twin: reference safetensors (incl. shards), pytorch_model.bin
(weights_only), and tf_model.h5 through the core's weight map (h5py; TensorFlow is never imported)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Tuple

import numpy as np
import torch

from deberta_core import DebertaConfig
from deberta_core.checkpoint_io import TensorReader, open_weights
from deberta_core.errors import CheckpointError
from deberta_core.files import SAFE_WEIGHTS_NAME, WEIGHTS_NAME, CheckpointFiles, atomic_write, shard_files
from deberta_core.weight_map import adapt_torch_prefix, is_head_weight, tolerated_torch_keys

logger = logging.getLogger("deberta_torch")

class CheckpointLoadError(ValueError):
    """A checkpoint does not fit the model: every missing, unexpected and mis-shaped key, in one message."""


@dataclass
class LoadReport:
    missing_keys: List[str] = field(default_factory=list)  # head weights newly initialised (warning)
    unexpected_keys: List[str] = field(default_factory=list)  # weights of another head, unused (warning)
    mismatched_keys: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    ignored_keys: List[str] = field(default_factory=list)  # known benign extras (tied copies, unused tables)

    def as_dict(self) -> dict:
        return {
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "mismatched_keys": self.mismatched_keys,
            "ignored_keys": self.ignored_keys,
        }


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


def read_torch_weights(files: CheckpointFiles) -> Dict[str, torch.Tensor]:
    """The state dict of a folder's torch-format weights (safetensors preferred, then pytorch_model.bin)."""
    for fmt in ("safetensors", "safetensors_sharded", "pytorch", "pytorch_sharded"):
        if fmt in files.weights:
            try:
                if fmt.startswith("pytorch"):
                    reader = TorchPickleReader(files.weights[fmt])
                    return {name: reader.tensor(name) for name in reader.names()}
                with open_weights(fmt, files.weights[fmt]) as reader:
                    return {name: torch.from_numpy(reader.read(name)) for name in reader.names()}
            except CheckpointError as err:
                raise CheckpointLoadError(str(err)) from None
    if "tf_h5" in files.weights:
        raise FileNotFoundError(
            f"{files.folder!r} holds only TensorFlow weights ({os.path.basename(files.weights['tf_h5'])}); "
            f"pass from_tf=True to load them"
        )
    raise FileNotFoundError(f"no torch weights in {files.folder!r}: looked for model.safetensors, pytorch_model.bin")


def read_tf_weights(
    files: CheckpointFiles, config: DebertaConfig, architecture: str
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """A reference tf_model.h5 as a torch state dict, through the core's weight map (no TensorFlow import).

    Returns the state dict and the h5 names of other heads' weights that were left out (the caller reports
    them as unused). Encoder weights the map does not know are an error; missing ones are reported by
    ``match_state_dict`` with everything else.
    """
    from deberta_core.checkpoint_io import read_tf_h5
    from deberta_core.weight_map import keras_to_torch

    if "tf_h5" not in files.weights:
        raise FileNotFoundError(f"from_tf=True but {files.folder!r} has no tf_model.h5")
    path = files.weights["tf_h5"]
    arrays = keras_to_torch(read_tf_h5(path), config, architecture, strict=False, source=path)
    unknown = [name for name in arrays.unexpected if name.startswith("deberta/")]
    if unknown:
        raise CheckpointLoadError(f"{path!r} holds encoder weights {type(config).__name__} has no place for: {unknown}")
    state = {name: torch.from_numpy(array.copy()) for name, array in arrays.items()}
    return state, list(arrays.unexpected)


def save_torch_weights(state: Mapping[str, torch.Tensor], folder: str, safe_serialization: bool = True) -> str:
    """Write the state dict as model.safetensors (default) or pytorch_model.bin, atomically."""
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in state.items()}
    path = os.path.join(folder, SAFE_WEIGHTS_NAME if safe_serialization else WEIGHTS_NAME)
    with atomic_write(path) as tmp:
        if safe_serialization:
            save_file(state, tmp, metadata={"format": "pt"})
        else:
            torch.save(state, tmp)
    return path


def match_state_dict(
    model: torch.nn.Module, state: Dict[str, torch.Tensor], config: DebertaConfig, ignore_mismatched_sizes: bool = False
) -> Tuple[Dict[str, torch.Tensor], LoadReport]:
    """Check a state dict against the model. Returns the tensors to load and a report of the warnings;
    raises CheckpointLoadError listing every problem at once when the base model does not fit."""
    architecture = type(model).__name__
    own = model.state_dict()
    try:
        state, dropped = adapt_torch_prefix(state, architecture)  # base <-> head checkpoints, as the reference
    except ValueError as err:  # a state dict mixing both prefix conventions
        raise CheckpointLoadError(str(err)) from None
    report = LoadReport(unexpected_keys=list(dropped))
    plain, tied = tolerated_torch_keys(state, config, architecture)
    report.ignored_keys += plain + [
        key for key, tied_to in tied  # a tied copy is dropped only when it equals what it is tied to
        if tied_to not in state or (state[key].shape == state[tied_to].shape and torch.equal(state[key], state[tied_to]))
    ]
    problems: List[str] = []
    to_load: Dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if key not in own:
            if key in report.ignored_keys:
                continue
            if is_head_weight(key):
                report.unexpected_keys.append(key)
            else:
                problems.append(f"unexpected key {key!r} (shape {tuple(tensor.shape)}): no such weight in {type(model).__name__}")
            continue
        if tuple(tensor.shape) != tuple(own[key].shape):
            report.mismatched_keys.append((key, tuple(tensor.shape), tuple(own[key].shape)))
            if not (ignore_mismatched_sizes and is_head_weight(key)):
                problems.append(
                    f"shape mismatch for {key!r}: checkpoint has {tuple(tensor.shape)}, the model expects {tuple(own[key].shape)}"
                )
            continue
        to_load[key] = tensor
    for key in own:
        if key in state:
            continue
        if is_head_weight(key):
            report.missing_keys.append(key)
        else:
            problems.append(f"missing key {key!r} (shape {tuple(own[key].shape)}): not in the checkpoint")
    if problems:
        raise CheckpointLoadError(
            f"the checkpoint does not fit {type(model).__name__} ({len(problems)} problem(s)):\n  - " + "\n  - ".join(problems)
        )
    return to_load, report
