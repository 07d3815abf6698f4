"""Reading and writing checkpoints for the Keras twin, through deberta_core's reader layer and weight-map planner:
its own format (the reference tf_model.h5), and with ``from_pt=True`` torch safetensors (incl. shards), both as
NumPy (torch is never imported).

The same functions, in the same order, as deberta_torch/io.py: ``read_weights`` -> ``match_weights`` ->
``assign_weights`` (``load_weights`` does all three), ``model_weights``, ``save_weights``.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Mapping, Tuple

import numpy as np

from deberta_core.checkpoint_io import TensorReader, open_weights, write_tf_h5
from deberta_core.errors import CheckpointError, CheckpointLoadError
from deberta_core.files import TF2_WEIGHTS_NAME, TF_WEIGHT_FORMATS, TORCH_WEIGHT_FORMATS, CheckpointFiles
from deberta_core.weight_plan import LoadReport, arrays_equal, check_model_names, plan_load

logger = logging.getLogger("deberta_tf")

# The weight formats read by default and with from_pt=True, in the order the loader prefers them.
OWN_FORMATS = TF_WEIGHT_FORMATS
OTHER_FORMATS = TORCH_WEIGHT_FORMATS


def open_reader(fmt: str, path: str) -> TensorReader:
    """The reader of a weights file: deberta_core's for safetensors and h5; a torch pickle needs torch."""
    if fmt.startswith("pytorch"):
        raise CheckpointLoadError(
            f"{path!r} is a torch pickle (pytorch_model.bin); reading it needs torch, which "
            f"deberta_tf never imports. Convert it first: deberta_torch.DebertaXxx.from_pretrained(folder)"
            f".save_pretrained(new_folder) writes model.safetensors, which from_pt=True reads"
        )
    return open_weights(fmt, path)


def read_weights(files: CheckpointFiles, from_pt: bool = False) -> Tuple[Dict[str, Any], str]:
    """The weights of a checkpoint folder (name -> array) and the family of their names ("keras" or "torch"):
    its tf_model.h5, or with ``from_pt`` its torch weights (safetensors; a pytorch_model.bin needs torch)."""
    fmt = files.pick(OTHER_FORMATS if from_pt else OWN_FORMATS, logger)
    if fmt is not None:
        try:
            with open_reader(fmt, files.weights[fmt]) as reader:
                return {name: reader.read(name) for name in reader.names()}, reader.family
        except CheckpointError as err:
            raise CheckpointLoadError(str(err)) from None
    if from_pt:
        raise FileNotFoundError(
            f"from_pt=True but {files.folder!r} has no torch weights (looked for model.safetensors(.index.json))"
            + (f"; it holds TensorFlow weights ({TF2_WEIGHTS_NAME}): drop from_pt to load them"
               if "tf_h5" in files.weights else "")
        )
    others = [fmt for fmt in files.weights if fmt in OTHER_FORMATS]
    if others:
        raise FileNotFoundError(
            f"{files.folder!r} holds only torch weights ({', '.join(others)}); pass from_pt=True to load them"
        )
    raise FileNotFoundError(f"no {TF2_WEIGHTS_NAME} in {files.folder!r}")


BASE_PREFIX = "deberta/"  # the reference's main layer, which the bare TFDebertaModel does not have


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
    checkpoint weights: model_weights merges them into their kernel."""
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
    model, weights: Mapping[str, Any], family: str, ignore_mismatched_sizes: bool = False
) -> Tuple[Dict[str, np.ndarray], LoadReport]:
    """Plan ``weights`` (named in ``family``) onto the model through the weight map. Returns the model's
    canonical variable name -> array to load and a report of the warnings; raises CheckpointLoadError listing
    every problem at once when the base model does not fit."""
    model_name = type(model).__name__
    check_model_names({name: tuple(variable.shape) for name, variable in model_variables(model).items()},
                      model.config, model_name, "keras", model_name)
    plan, report = plan_load(
        {name: tuple(np.shape(value)) for name, value in weights.items()}, model.config, model_name,
        src_family=family, dst_family="keras", model_name=model_name,
        tied_equal=arrays_equal(weights),
        ignore_mismatched_sizes=ignore_mismatched_sizes,
    )
    matched = {}
    for item in plan.items:
        value = np.asarray(weights[item.src])
        matched[item.dst] = item.apply(value)
    return matched, report


def assign_weights(model, matched: Mapping[str, np.ndarray]) -> None:
    """The one loop that writes checkpoint arrays into the model's variables."""
    variables = model_variables(model)
    for name, array in matched.items():
        variables[name].assign(np.asarray(array).astype(variables[name].dtype, copy=False))


def load_weights(model, weights: Mapping[str, Any], family: str, ignore_mismatched_sizes: bool = False) -> LoadReport:
    """``match_weights`` then ``assign_weights``; returns the report."""
    matched, report = match_weights(model, weights, family, ignore_mismatched_sizes)
    assign_weights(model, matched)
    return report


def model_weights(model) -> Dict[str, np.ndarray]:
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


def save_weights(model, folder: str) -> str:
    """Write the model's weights as the reference tf_model.h5 of its architecture, atomically."""
    os.makedirs(folder, exist_ok=True)
    return write_tf_h5(model_weights(model), os.path.join(folder, TF2_WEIGHTS_NAME), type(model).__name__)


__all__ = [
    "CheckpointLoadError", "LoadReport", "assign_weights", "canonical_name", "load_weights", "match_weights",
    "model_variables", "model_weights", "open_reader", "read_weights", "save_weights",
]
