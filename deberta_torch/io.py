"""Reading and writing checkpoints for the torch twin: reference safetensors (incl. shards), pytorch_model.bin
(weights_only), and tf_model.h5 through the core's weight map (h5py; TensorFlow is never imported)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Tuple

import torch

from deberta_core import DebertaConfig
from deberta_core.files import SAFE_WEIGHTS_NAME, WEIGHTS_NAME, CheckpointFiles, atomic_write
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


def read_torch_weights(files: CheckpointFiles) -> Dict[str, torch.Tensor]:
    """The state dict of a folder's torch-format weights (safetensors preferred, then pytorch_model.bin)."""
    if "safetensors" in files.weights:
        return _load_safetensors(files.weights["safetensors"])
    if "safetensors_sharded" in files.weights:
        state: Dict[str, torch.Tensor] = {}
        for shard in files.shard_files("safetensors_sharded"):
            state.update(_load_safetensors(shard))
        return state
    for fmt in ("pytorch", "pytorch_sharded"):
        if fmt in files.weights:
            paths = [files.weights[fmt]] if fmt == "pytorch" else files.shard_files(fmt)
            state = {}
            for path in paths:
                state.update(_load_pickle(path))
            return state
    if "tf_h5" in files.weights:
        raise FileNotFoundError(
            f"{files.folder!r} holds only TensorFlow weights ({os.path.basename(files.weights['tf_h5'])}); "
            f"pass from_tf=True to load them"
        )
    raise FileNotFoundError(f"no torch weights in {files.folder!r}: looked for model.safetensors, pytorch_model.bin")


def _load_safetensors(path: str) -> Dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointLoadError(f"{path!r} is not a readable safetensors file: {err}") from None


def _load_pickle(path: str) -> Dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad or unsafe files
        raise CheckpointLoadError(
            f"{path!r} could not be loaded as a plain state dict with weights_only=True "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        ) from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointLoadError(f"{path!r} does not hold a state dict (a mapping of names to tensors)")
    return dict(state)


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
