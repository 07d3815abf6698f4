"""Reading and writing checkpoints for the Keras twin: the reference tf_model.h5 and torch safetensors (incl.
shards), both as NumPy through deberta_core (torch is never imported), mapped onto the model's variables by the
core's weight map."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Tuple

import numpy as np

from deberta_core import DebertaConfig
from deberta_core.checkpoint_io import read_safetensors, read_tf_h5, write_tf_h5
from deberta_core.files import TF2_WEIGHTS_NAME, CheckpointFiles
from deberta_core.weight_map import (
    WeightMapError,
    adapt_torch_prefix,
    expand,
    is_head_weight,
    normalize_architecture,
    torch_to_keras,
)

logger = logging.getLogger("deberta_tf")

BASE_PREFIX = "deberta/"


class CheckpointLoadError(WeightMapError):
    """A checkpoint does not fit the model: every missing, unexpected and mis-shaped weight, in one message."""


@dataclass
class LoadReport:
    missing_keys: List[str] = field(default_factory=list)  # head weights newly initialised (warning)
    unexpected_keys: List[str] = field(default_factory=list)  # weights of another head, unused (warning)
    mismatched_keys: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    ignored_keys: List[str] = field(default_factory=list)  # known benign extras (tied copies, unused tables)
    problems: List[str] = field(default_factory=list)  # errors found before matching (torch-side names)

    def as_dict(self) -> dict:
        return {
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "mismatched_keys": self.mismatched_keys,
            "ignored_keys": self.ignored_keys,
        }


def read_torch_weights(files: CheckpointFiles) -> Dict[str, np.ndarray]:
    """The torch state dict of a folder as NumPy arrays (safetensors, single or sharded). No torch import."""
    for fmt in ("safetensors", "safetensors_sharded"):
        if fmt in files.weights:
            try:
                return read_safetensors(files.weights[fmt])
            except ValueError as err:
                raise CheckpointLoadError(str(err)) from None
    for fmt in ("pytorch", "pytorch_sharded"):
        if fmt in files.weights:
            raise CheckpointLoadError(
                f"{files.weights[fmt]!r} is a torch pickle (pytorch_model.bin); reading it needs torch, which "
                f"deberta_tf never imports. Convert it first: deberta_torch.DebertaXxx.from_pretrained(folder)"
                f".save_pretrained(new_folder) writes model.safetensors, which from_pt=True reads"
            )
    if "tf_h5" in files.weights:
        raise FileNotFoundError(
            f"from_pt=True but {files.folder!r} holds only TensorFlow weights ({TF2_WEIGHTS_NAME}); "
            f"drop from_pt to load them"
        )
    raise FileNotFoundError(f"no torch weights in {files.folder!r}: looked for model.safetensors(.index.json)")


def read_tf_weights(files: CheckpointFiles) -> Dict[str, np.ndarray]:
    """A reference tf_model.h5 as canonical Keras name -> array."""
    if "tf_h5" not in files.weights:
        torch_formats = [f for f in files.weights if f.startswith(("safetensors", "pytorch"))]
        if torch_formats:
            raise FileNotFoundError(
                f"{files.folder!r} holds only torch weights ({', '.join(torch_formats)}); pass from_pt=True to load them"
            )
        raise FileNotFoundError(f"no {TF2_WEIGHTS_NAME} in {files.folder!r}")
    try:
        return read_tf_h5(files.weights["tf_h5"])
    except ValueError as err:
        raise CheckpointLoadError(str(err)) from None


def torch_state_to_keras(
    state: Mapping[str, np.ndarray], config: DebertaConfig, architecture: str, ignore_mismatched_sizes: bool = False
) -> Tuple[Dict[str, np.ndarray], LoadReport]:
    """Torch state-dict arrays -> canonical Keras names through the weight map (prefix adapted as the reference
    loader does). What does not convert is recorded in the returned report, for match_weights to judge."""
    report = LoadReport()
    state, dropped = adapt_torch_prefix(state, architecture)
    report.unexpected_keys += dropped
    if ignore_mismatched_sizes:
        for entry in expand(config, architecture):
            array = state.get(entry.torch_key)
            if array is not None and is_head_weight(entry.torch_key) and tuple(array.shape) != entry.torch_shape:
                report.mismatched_keys.append((entry.keras_name, tuple(array.shape), entry.torch_shape))
                state = {k: v for k, v in state.items() if k != entry.torch_key}
    try:
        converted = torch_to_keras(state, config, architecture, strict=False)
    except WeightMapError as err:
        raise CheckpointLoadError(str(err), err.missing, err.unexpected, err.mismatched) from None
    report.ignored_keys += converted.ignored
    for key in converted.unexpected:
        if is_head_weight(key):
            report.unexpected_keys.append(key)
        else:
            report.problems.append(f"unexpected key {key!r}: no weight of {architecture} maps to it")
    return dict(converted), report


def canonical_name(model, variable) -> str:
    """A model variable's name in the weight map: its path without the model's own name (the bare encoder's
    variables get the ``deberta/`` prefix that the reference's main layer gives them)."""
    root = model.name + "/"
    if not variable.path.startswith(root):
        raise RuntimeError(f"variable {variable.path!r} was not created in the name scope of {model.name!r}")
    name = variable.path[len(root):]
    return BASE_PREFIX + name if model.get_base_model() is model else name


def model_variables(model) -> Dict[str, object]:
    """Canonical name -> variable for every checkpoint variable of ``model`` (built). LoRA factors are not
    checkpoint weights: keras_weights merges them into their kernel."""
    factors = {id(v) for layer in model.lora_layers() for v in (layer.lora_kernel_a, layer.lora_kernel_b)}
    out: Dict[str, object] = {}
    for variable in model.weights:
        if id(variable) in factors:
            continue
        name = canonical_name(model, variable)
        if name in out:
            raise RuntimeError(f"two variables of {model.name!r} map to the canonical name {name!r}")
        out[name] = variable
    return out


def match_weights(
    model, weights: Mapping[str, np.ndarray], config: DebertaConfig, ignore_mismatched_sizes: bool = False,
    report: LoadReport = None,
) -> Tuple[List[Tuple[object, np.ndarray]], LoadReport]:
    """Pair checkpoint arrays (canonical Keras names) with the model's variables, driven by the weight map's
    rows for this config. Returns (variable, array) pairs and a report of the warnings; raises
    CheckpointLoadError listing every problem at once when the base model does not fit."""
    architecture = normalize_architecture(type(model).__name__)
    entries = expand(config, architecture)
    variables = model_variables(model)
    expected = {e.keras_name for e in entries}
    if set(variables) != expected:
        raise RuntimeError(  # a bug in deberta_tf, not a user error
            f"{type(model).__name__} variables disagree with the weight map: not in the map "
            f"{sorted(set(variables) - expected)}, not in the model {sorted(expected - set(variables))}"
        )
    report = LoadReport() if report is None else report
    problems = list(report.problems)
    missing, unexpected, mismatched = [], [], []
    pairs: List[Tuple[object, np.ndarray]] = []
    for entry in entries:
        name = entry.keras_name
        if name not in weights:
            if any(name == m[0] for m in report.mismatched_keys):
                continue  # a head weight of the wrong size, skipped (ignore_mismatched_sizes)
            if is_head_weight(name):
                report.missing_keys.append(name)
            else:
                missing.append(name)
                problems.append(f"missing weight {name!r} (shape {entry.keras_shape}): not in the checkpoint")
            continue
        array = np.asarray(weights[name])
        if tuple(array.shape) != entry.keras_shape:
            report.mismatched_keys.append((name, tuple(array.shape), entry.keras_shape))
            if not (ignore_mismatched_sizes and is_head_weight(name)):
                mismatched.append((name, entry.keras_shape, tuple(array.shape)))
                problems.append(
                    f"shape mismatch for {name!r}: checkpoint has {tuple(array.shape)}, the model expects {entry.keras_shape}"
                )
            continue
        pairs.append((variables[name], array))
    for name in weights:
        if name in expected:
            continue
        if is_head_weight(name):
            report.unexpected_keys.append(name)
        else:
            unexpected.append(name)
            problems.append(f"unexpected weight {name!r} (shape {tuple(np.shape(weights[name]))}): no such weight in "
                            f"{type(model).__name__}")
    if problems:
        raise CheckpointLoadError(
            f"the checkpoint does not fit {type(model).__name__} ({len(problems)} problem(s)):\n  - "
            + "\n  - ".join(problems),
            missing, unexpected, mismatched,
        )
    return pairs, report


def assign_weights(pairs: List[Tuple[object, np.ndarray]]) -> None:
    """The one loop that writes checkpoint arrays into variables."""
    for variable, array in pairs:
        variable.assign(array.astype(variable.dtype, copy=False))


def keras_weights(model) -> Dict[str, np.ndarray]:
    """The model's weights as canonical Keras name -> array (float32 as stored); a LoRA-adapted kernel is given
    merged, ``kernel + lora_alpha / rank * A @ B`` (what Keras' Dense saves too)."""
    deltas = {f"{layer.path}/kernel": lora_delta(layer) for layer in model.lora_layers()}
    out = {}
    for name, variable in model_variables(model).items():
        array = np.asarray(variable.numpy())
        out[name] = array + deltas[variable.path].astype(array.dtype) if variable.path in deltas else array
    return out


def lora_delta(layer) -> np.ndarray:
    """What a LoRA-enabled Dense adds to its kernel, in float32."""
    a = np.asarray(layer.lora_kernel_a.numpy(), dtype=np.float32)
    b = np.asarray(layer.lora_kernel_b.numpy(), dtype=np.float32)
    return np.float32(layer.lora_alpha / layer.lora_rank) * (a @ b)


def save_tf_weights(model, folder: str) -> str:
    """Write the model's weights as the reference tf_model.h5 of its architecture."""
    os.makedirs(folder, exist_ok=True)
    return write_tf_h5(keras_weights(model), os.path.join(folder, TF2_WEIGHTS_NAME), type(model).__name__)
