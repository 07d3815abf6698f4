"""Framework-free checkpoint file I/O: safetensors (single or sharded) and the reference ``tf_model.h5``.

Arrays are NumPy; names are the file's own (torch state-dict keys for safetensors, canonical Keras names for
h5, see ``deberta_core.weight_map``). Writers are atomic (temporary file in the same folder + ``os.replace``).
Reading ``pytorch_model.bin`` needs torch and lives in ``deberta_torch``.

The h5 layout is the tf-keras 2 ``save_weights`` layout the reference TF classes read and write:

* root attrs ``backend`` ("tensorflow"), ``keras_version``, ``layer_names`` (the model's top-level layers);
* one group per top-level layer (created in sorted order) with attr ``weight_names``, listing
  ``<model_name>/<weight path>:0``; the datasets live at ``<group>/<model_name>/<weight path>:0``;
* an empty ``top_level_model_weights`` group; layers without weights (dropouts) get empty groups;
* TFDebertaForMaskedLM's ``cls`` group repeats every ``deberta/embeddings/*`` weight (the head holds the
  embeddings layer), with the same values.
"""

from __future__ import annotations

import json
import os
import re
from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union

import h5py
import numpy as np

from .files import atomic_write
from .weight_map import keras_sort_key, normalize_architecture

PathLike = Union[str, "os.PathLike[str]"]

# tf-keras 2 h5 conventions (tf_keras/src/saving/legacy/hdf5_format.py).
H5_BACKEND = "tensorflow"
H5_KERAS_VERSION = "2.21.0"  # the tf-keras that wrote the reference fixtures; loaders only act on a "1.x" value
H5_OBJECT_HEADER_LIMIT = 64512  # attributes larger than this are split into name0, name1, ...
TOP_LEVEL_GROUP = "top_level_model_weights"

# The reference TF model of each architecture: Keras model name and top-level layers, in model order.
TF_MODEL_NAMES: Dict[str, str] = {
    "DebertaModel": "tf_deberta_model",
    "DebertaForMaskedLM": "tf_deberta_for_masked_lm",
    "DebertaForSequenceClassification": "tf_deberta_for_sequence_classification",
    "DebertaForTokenClassification": "tf_deberta_for_token_classification",
    "DebertaForQuestionAnswering": "tf_deberta_for_question_answering",
}
TF_LAYER_NAMES: Dict[str, Tuple[str, ...]] = {
    "DebertaModel": ("deberta",),
    "DebertaForMaskedLM": ("deberta", "cls"),
    "DebertaForSequenceClassification": ("deberta", "pooler", "cls_dropout", "classifier"),
    "DebertaForTokenClassification": ("deberta", "dropout", "classifier"),
    "DebertaForQuestionAnswering": ("deberta", "qa_outputs"),
}
WEIGHTLESS_LAYERS = ("cls_dropout", "dropout")
# Our own non-legacy MLM head (no reference TF twin) lives in a top-level layer of this name.
ORIGINAL_MLM_LAYER = "lm_predictions"
# The MLM head layers that also list the embeddings weights (the reference ties the decoder to them).
EMBEDDINGS_PREFIX = "deberta/embeddings/"

_SUFFIX = re.compile(r":\d+$")


# ---------------------------------------------------------------------------------------------------- helpers
# ---------------------------------------------------------------------------------------------------- safetensors
def _read_one_safetensors(path: str) -> Dict[str, np.ndarray]:
    from safetensors import safe_open

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no safetensors file at {path!r}")
    try:
        out: Dict[str, np.ndarray] = {}
        bf16: List[str] = []
        with safe_open(path, framework="numpy") as handle:
            for name in handle.keys():
                if handle.get_slice(name).get_dtype() == "BF16":
                    bf16.append(name)  # NumPy has no bfloat16
                else:
                    out[name] = handle.get_tensor(name)
        if bf16:
            out.update(_read_bf16_as_float32(path, bf16))
        return out
    except (OSError, FileNotFoundError):
        raise
    except Exception as err:  # safetensors raises SafetensorError / TypeError for bad headers, dtypes, sizes
        raise ValueError(
            f"{path!r} is not a readable safetensors file (truncated or corrupt?): {type(err).__name__}: {err}"
        ) from err


def _read_bf16_as_float32(path: str, names: List[str]) -> Dict[str, np.ndarray]:
    """BF16 tensors widened to float32 (exact: bfloat16 is the top half of a float32)."""
    with open(path, "rb") as handle:
        header_size = int(np.frombuffer(handle.read(8), dtype="<u8")[0])
        header = json.loads(handle.read(header_size))
        out = {}
        for name in names:
            start, end = header[name]["data_offsets"]
            handle.seek(8 + header_size + start)
            raw = np.frombuffer(handle.read(end - start), dtype="<u2")
            out[name] = (raw.astype("<u4") << 16).view("<f4").reshape(header[name]["shape"])
        return out


def read_safetensors(path_or_index: PathLike) -> Dict[str, np.ndarray]:
    """Read a ``.safetensors`` file, or every shard of a ``model.safetensors.index.json``, into NumPy arrays.

    BF16 tensors (which NumPy cannot hold) are widened to float32 exactly.

    For an index, every name it lists must be in its shard, and no name may occur in two shards.
    """
    path = os.fspath(path_or_index)
    if not path.endswith(".json"):
        return _read_one_safetensors(path)
    try:
        with open(path, encoding="utf-8") as handle:
            index = json.load(handle)
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError(f"'weight_map' is a {type(weight_map).__name__}")
    except FileNotFoundError:
        raise FileNotFoundError(f"no safetensors index at {path!r}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path!r} is not a valid safetensors index (expected JSON with a 'weight_map' object): {err}"
        ) from None
    folder = os.path.dirname(path)
    out: Dict[str, np.ndarray] = {}
    origin: Dict[str, str] = {}
    for shard in sorted(set(weight_map.values())):
        shard_path = os.path.join(folder, shard)
        tensors = _read_one_safetensors(shard_path)
        for name, array in tensors.items():
            if name in out:
                raise ValueError(f"{name!r} is stored twice: in {origin[name]!r} and in {shard_path!r}")
            out[name] = array
            origin[name] = shard_path
    lacking = [f"{name} (in {shard})" for name, shard in weight_map.items() if name not in out]
    if lacking:
        raise ValueError(f"the index {path!r} lists tensors its shards do not hold: {lacking}")
    misplaced = [f"{n}: index says {weight_map[n]!r}, found in {os.path.basename(origin[n])!r}"
                 for n in weight_map if os.path.basename(origin[n]) != weight_map[n]]
    if misplaced:
        raise ValueError(f"the index {path!r} disagrees with its shards: {misplaced}")
    return out


def write_safetensors(
    tensors: Mapping[str, np.ndarray], path: PathLike, metadata: Optional[Mapping[str, str]] = None
) -> str:
    """Write ``tensors`` to a ``.safetensors`` file atomically; ``metadata`` defaults to ``{"format": "pt"}``.

    Returns the path written.
    """
    from safetensors.numpy import save_file

    meta = {"format": "pt"} if metadata is None else dict(metadata)
    bad = [k for k, v in meta.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise ValueError(f"safetensors metadata must map str to str; these entries do not: {bad}")
    arrays = {}
    for name, value in tensors.items():
        array = np.asarray(value)
        arrays[name] = np.ascontiguousarray(array)
    with atomic_write(path) as tmp:
        save_file(arrays, tmp, metadata=meta)
    return os.fspath(path)


# ---------------------------------------------------------------------------------------------------- h5: reading
def _load_attribute(node: h5py.HLObject, name: str) -> Optional[List[str]]:
    """A (possibly chunked: name0, name1, ...) string-list attribute; None when absent."""
    attrs = node.attrs
    if name in attrs:
        values = list(np.atleast_1d(attrs[name]))
    elif f"{name}0" in attrs:
        values, chunk = [], 0
        while f"{name}{chunk}" in attrs:
            values.extend(np.atleast_1d(attrs[f"{name}{chunk}"]))
            chunk += 1
    else:
        return None
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def canonical_keras_name(weight_name: str) -> str:
    """``tf_deberta_model/deberta/embeddings/LayerNorm/gamma:0`` -> ``deberta/embeddings/LayerNorm/gamma``."""
    parts = weight_name.split("/")
    if len(parts) < 2:
        raise ValueError(f"h5 weight name {weight_name!r} has no '<model name>/' prefix")
    return _SUFFIX.sub("", "/".join(parts[1:]))


def _iter_h5_weights(handle: h5py.File, path: str) -> Iterator[Tuple[str, str, h5py.Dataset]]:
    """(canonical name, dataset path, dataset) for every weight the file lists."""
    layer_names = _load_attribute(handle, "layer_names")
    if layer_names is None:
        raise ValueError(
            f"{path!r} is not a Keras weights h5 file: its root has no 'layer_names' attribute "
            f"(found attributes {sorted(handle.attrs)})"
        )
    for layer in layer_names:
        node = handle.get(layer)
        if node is None:
            raise ValueError(f"{path!r}: 'layer_names' lists {layer!r}, but the file has no such group or dataset")
        if isinstance(node, h5py.Dataset):
            # The reference's sharded-h5 layout: datasets at '<weight path>:0', listed in layer_names directly.
            yield _SUFFIX.sub("", layer), layer, node
            continue
        weight_names = _load_attribute(node, "weight_names")
        if weight_names is None:
            raise ValueError(f"{path!r}: group {layer!r} has no 'weight_names' attribute")
        for weight_name in weight_names:
            dataset = node.get(weight_name)
            if not isinstance(dataset, h5py.Dataset):
                raise ValueError(
                    f"{path!r}: group {layer!r} lists the weight {weight_name!r}, but there is no such dataset"
                )
            yield canonical_keras_name(weight_name), f"{layer}/{weight_name}", dataset


def read_tf_h5(path: PathLike) -> Dict[str, np.ndarray]:
    """Read a reference ``tf_model.h5`` (tf-keras 2 ``save_weights`` layout) -> canonical Keras name -> array.

    Weights listed by several layer groups (the MLM ``cls`` group repeats the embeddings) are returned once,
    after checking that every copy is identical.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no h5 file at {path!r}")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path!r} is not a readable HDF5 file (truncated or corrupt?): {err}") from err
    out: Dict[str, np.ndarray] = {}
    origin: Dict[str, str] = {}
    try:
        with handle:
            for name, dataset_path, dataset in _iter_h5_weights(handle, path):
                try:
                    array = np.asarray(dataset[()])
                except (OSError, ValueError, TypeError) as err:
                    raise ValueError(
                        f"{path!r}: cannot read dataset {dataset_path!r} (truncated or corrupt file?): {err}"
                    ) from err
                if name in out:
                    first = out[name]
                    if first.shape != array.shape or first.dtype != array.dtype or first.tobytes() != array.tobytes():
                        raise ValueError(
                            f"{path!r}: {name!r} is stored twice with different values: {origin[name]!r} "
                            f"{first.dtype}{list(first.shape)} vs {dataset_path!r} {array.dtype}{list(array.shape)}"
                        )
                    continue
                out[name] = array
                origin[name] = dataset_path
    except (OSError, RuntimeError, KeyError) as err:  # h5py surfaces damaged metadata in several ways
        raise ValueError(f"{path!r} is damaged (truncated or corrupt HDF5 metadata?): {err}") from err
    return out


def read_tf_h5_layout(path: PathLike) -> Dict[str, List[str]]:
    """Top-level layer name -> its ``weight_names`` (as stored, ``<model>/<path>:0``), in file order."""
    path = os.fspath(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path!r} is not a readable HDF5 file (truncated or corrupt?): {err}") from err
    with handle:
        layer_names = _load_attribute(handle, "layer_names")
        if layer_names is None:
            raise ValueError(f"{path!r} is not a Keras weights h5 file: its root has no 'layer_names' attribute")
        return {layer: (_load_attribute(handle[layer], "weight_names") or [])
                if isinstance(handle.get(layer), h5py.Group) else [layer] for layer in layer_names}


# ---------------------------------------------------------------------------------------------------- h5: writing
def save_attribute(node: h5py.HLObject, name: str, values: List[str]) -> None:
    """Store a string list as tf-keras does (variable-length UTF-8; chunked past the header limit)."""
    if not values:
        node.attrs[name] = np.asarray([])  # tf-keras writes an empty float64 array for weightless layers
        return
    dtype = h5py.string_dtype("utf-8")
    total = sum(len(v.encode("utf8")) for v in values)
    chunks = max(1, -(-total // H5_OBJECT_HEADER_LIMIT))
    if chunks == 1:
        node.attrs.create(name, values, dtype=dtype)
        return
    for chunk_id, part in enumerate(np.array_split(np.asarray(values, dtype=object), chunks)):
        node.attrs.create(f"{name}{chunk_id}", list(part), dtype=dtype)


def h5_layout(weights: Mapping[str, np.ndarray], architecture: str) -> Dict[str, List[str]]:
    """The reference layout for ``weights``: top-level layer -> canonical names it lists, in TF order.

    Raises ValueError for names that belong to no layer of ``architecture`` and for layers left without weights.
    """
    arch = normalize_architecture(architecture)
    layers = list(TF_LAYER_NAMES[arch])
    if arch == "DebertaForMaskedLM" and any(n.startswith(ORIGINAL_MLM_LAYER + "/") for n in weights):
        layers = ["deberta", ORIGINAL_MLM_LAYER]
    names = sorted(weights, key=keras_sort_key)  # also rejects names that match no row
    layout: Dict[str, List[str]] = {layer: [] for layer in layers}
    stray = []
    for name in names:
        top = name.split("/", 1)[0]
        if top in layout and top not in WEIGHTLESS_LAYERS:
            layout[top].append(name)
        else:
            stray.append(name)
    if stray:
        raise ValueError(
            f"weights that no top-level layer of the reference TF{arch} holds (layers {layers}): {stray}"
        )
    empty = [layer for layer in layers if layer not in WEIGHTLESS_LAYERS and not layout[layer]]
    if empty:
        raise ValueError(f"no weights for the layer(s) {empty} of TF{arch}; got names under "
                         f"{sorted({n.split('/', 1)[0] for n in weights})}")
    if "cls" in layout:  # the legacy MLM head holds the embeddings layer: its group lists those weights too
        layout["cls"] += [n for n in layout["deberta"] if n.startswith(EMBEDDINGS_PREFIX)]
    return layout


def write_tf_h5(weights: Mapping[str, np.ndarray], path: PathLike, architecture: str) -> str:
    """Write canonical Keras weights as the reference ``tf_model.h5`` of ``TF<architecture>``, atomically.

    The file loads with the reference ``TFDebertaXxx.from_pretrained(folder)`` (and tf-keras ``load_weights``).
    Returns the path written.
    """
    arch = normalize_architecture(architecture)
    layout = h5_layout(weights, arch)
    model_name = TF_MODEL_NAMES[arch]
    arrays = {name: np.ascontiguousarray(np.asarray(value)) for name, value in weights.items()}
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            save_attribute(handle, "layer_names", list(layout))
            handle.attrs["backend"] = H5_BACKEND
            handle.attrs["keras_version"] = H5_KERAS_VERSION
            for layer in sorted(layout):  # tf-keras creates the groups in sorted order
                group = handle.create_group(layer)
                weight_names = [f"{model_name}/{name}:0" for name in layout[layer]]
                save_attribute(group, "weight_names", weight_names)
                for weight_name, name in zip(weight_names, layout[layer]):
                    group.create_dataset(weight_name, data=arrays[name])
            save_attribute(handle.create_group(TOP_LEVEL_GROUP), "weight_names", [])
    return os.fspath(path)


__all__ = [
    "H5_KERAS_VERSION", "TF_LAYER_NAMES", "TF_MODEL_NAMES", "canonical_keras_name", "h5_layout", "read_safetensors",
    "read_tf_h5", "read_tf_h5_layout", "write_safetensors", "write_tf_h5",
]
