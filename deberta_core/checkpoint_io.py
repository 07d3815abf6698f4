"""The one tensor reader/writer layer: safetensors (single or sharded) and the reference ``tf_model.h5``, framework-free.

Readers (``TensorReader``: names, shapes and dtypes up front, data on demand, one tensor in memory at a time):
``SafetensorsReader`` (a file or every shard of an index), ``H5Reader`` (the reference h5 layout) and
``ArrayReader`` (tensors already in memory). A torch pickle (``pytorch_model.bin``) needs torch: its reader is
``deberta_torch.io.TorchPickleReader``, on the same interface. ``read_safetensors`` / ``read_tf_h5`` read a whole
file through them.

Writers: ``SafetensorsStreamWriter`` and ``H5StreamWriter`` write tensor by tensor as they come (the converter
streams through them); ``write_safetensors`` / ``write_tf_h5`` write a dict of arrays atomically (temporary file in
the same folder + ``os.replace``, see ``deberta_core.files.atomic_write``).

Arrays are NumPy; names are the file's own (torch state-dict keys for safetensors, canonical Keras names for h5,
see ``deberta_core.weight_map``). BF16 tensors, which NumPy cannot hold, are widened to float32 exactly. Every
problem with a file is a ``CheckpointError`` naming the file (FileNotFoundError for a file that is not there).

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
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import h5py
import numpy as np

from .errors import CheckpointError
from .files import atomic_write, read_shard_index, shard_files
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

# numpy dtype <-> safetensors dtype string.
ST_DTYPES: Dict[np.dtype, str] = {
    np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
    np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16", np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL",
}
_ST_NUMPY = {v: k for k, v in ST_DTYPES.items()}
_ST_ITEMSIZE = {**{name: dtype.itemsize for name, dtype in _ST_NUMPY.items()}, "BF16": 2}

_SUFFIX = re.compile(r":\d+$")


# ---------------------------------------------------------------------------------------------------- readers
class TensorReader:
    """Lazy access to the tensors of a checkpoint: names, shapes and dtypes up front, data on demand.

    ``family``: ``"torch"`` (names are state-dict keys) or ``"keras"`` (canonical Keras names)."""

    path: str = ""
    family: str = ""

    def names(self) -> List[str]:
        raise NotImplementedError

    def shape(self, name: str) -> Tuple[int, ...]:
        raise NotImplementedError

    def dtype(self, name: str) -> np.dtype:
        raise NotImplementedError

    def read(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def shapes(self) -> Dict[str, Tuple[int, ...]]:
        return {name: self.shape(name) for name in self.names()}

    def read_all(self) -> Dict[str, np.ndarray]:
        return {name: self.read(name) for name in self.names()}

    def nbytes(self) -> int:
        return int(sum(int(np.prod(self.shape(n), dtype=np.int64)) * self.dtype(n).itemsize for n in self.names()))

    def close(self) -> None:
        pass

    def __enter__(self) -> "TensorReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ArrayReader(TensorReader):
    """Tensors already in memory (name -> array-like)."""

    def __init__(self, arrays: Mapping[str, Any], family: str, path: str = "<memory>") -> None:
        self._arrays = dict(arrays)
        self.family = family
        self.path = path

    def names(self) -> List[str]:
        return list(self._arrays)

    def shape(self, name: str) -> Tuple[int, ...]:
        return tuple(np.shape(self._arrays[name]))

    def dtype(self, name: str) -> np.dtype:
        return np.asarray(self._arrays[name]).dtype

    def read(self, name: str) -> np.ndarray:
        return np.asarray(self._arrays[name])


def _unreadable(path: str, what: str) -> CheckpointError:
    return CheckpointError(f"{path!r} is not a readable safetensors file (truncated or corrupt?): {what}")


def _read_header(path: str) -> Tuple[int, dict]:
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        size_bytes = handle.read(8)
        if len(size_bytes) != 8:
            raise _unreadable(path, f"it is shorter ({len(size_bytes)} bytes) than its 8-byte header size")
        header_size = int(np.frombuffer(size_bytes, dtype="<u8")[0])
        if header_size > size - 8:
            raise _unreadable(path, f"its header claims {header_size} bytes, the file has {size}")
        try:
            header = json.loads(handle.read(header_size))
        except (ValueError, UnicodeDecodeError) as err:
            raise _unreadable(path, f"its header is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise _unreadable(path, "its header is not a JSON object")
    return header_size, header


class SafetensorsReader(TensorReader):
    """One ``.safetensors`` file or every shard of a ``model.safetensors.index.json``, read tensor by tensor with
    plain file reads (no memory map: resident memory stays at one tensor).

    Everything is validated up front, before any data is read: every shard's header (known dtypes, offsets that
    match the shapes and lie inside the file, so a truncated file is refused here), no name stored twice, and
    for an index that it names exactly what its shards hold, where they hold it."""

    family = "torch"

    def __init__(self, path: PathLike) -> None:
        self.path = os.fspath(path)
        self._where: Dict[str, Tuple[str, int, Tuple[int, ...], str]] = {}  # name -> (shard, start, shape, dtype)
        index = read_shard_index(self.path) if self.path.endswith(".json") else None
        for shard in shard_files(self.path) if index is not None else [self.path]:
            self._scan(shard)
        if index is not None:
            lacking = [f"{name} (in {shard})" for name, shard in index.items() if name not in self._where]
            if lacking:
                raise CheckpointError(f"the index {self.path!r} lists tensors its shards do not hold: {lacking}")
            misplaced = [f"{n}: index says {index[n]!r}, found in {os.path.basename(self._where[n][0])!r}"
                         for n in index if os.path.basename(self._where[n][0]) != index[n]]
            if misplaced:
                raise CheckpointError(f"the index {self.path!r} disagrees with its shards: {misplaced}")

    def _scan(self, shard: str) -> None:
        if not os.path.isfile(shard):
            raise FileNotFoundError(f"no safetensors file at {shard!r}")
        header_size, header = _read_header(shard)
        data_start = 8 + header_size
        file_size = os.path.getsize(shard)
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            try:
                dtype, shape, (start, end) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
            except (KeyError, TypeError, ValueError):
                raise _unreadable(shard, f"the header entry of {name!r} is malformed: {entry!r}") from None
            if dtype not in _ST_ITEMSIZE:
                raise CheckpointError(f"{shard!r}: {name!r} has dtype {dtype}; expected one of {sorted(_ST_ITEMSIZE)}")
            if end - start != int(np.prod(shape, dtype=np.int64)) * _ST_ITEMSIZE[dtype]:
                raise _unreadable(shard, f"{name!r} has shape {list(shape)} ({dtype}) but {end - start} bytes of data")
            if data_start + end > file_size:
                raise _unreadable(shard, f"{name!r} ends at byte {data_start + end}, the file has {file_size}")
            if name in self._where:
                raise CheckpointError(f"{name!r} is stored twice: in {self._where[name][0]!r} and in {shard!r}")
            self._where[name] = (shard, data_start + start, shape, dtype)

    def names(self) -> List[str]:
        return list(self._where)

    def shape(self, name: str) -> Tuple[int, ...]:
        return self._where[name][2]

    def dtype(self, name: str) -> np.dtype:
        stored = self._where[name][3]
        return np.dtype("float32") if stored == "BF16" else _ST_NUMPY[stored]

    def read(self, name: str) -> np.ndarray:
        shard, start, shape, stored = self._where[name]
        dtype = np.dtype("<u2") if stored == "BF16" else _ST_NUMPY[stored].newbyteorder("<")
        count = int(np.prod(shape, dtype=np.int64))
        try:
            with open(shard, "rb") as handle:
                handle.seek(start)
                array = np.fromfile(handle, dtype=dtype, count=count)
        except OSError as err:
            raise CheckpointError(f"{shard!r}: cannot read tensor {name!r}: {err}") from None
        if array.size != count:
            raise _unreadable(shard, f"tensor {name!r} is cut short")
        if stored == "BF16":  # bfloat16 is the top half of a float32: widening is exact
            array = (array.astype("<u4") << 16).view("<f4")
        return array.astype(array.dtype.newbyteorder("="), copy=False).reshape(shape)


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


def _open_h5(path: str) -> h5py.File:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no h5 file at {path!r}")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise CheckpointError(f"{path!r} is not a readable HDF5 file (truncated or corrupt?): {err}") from None


def _iter_h5_weights(handle: h5py.File, path: str) -> Iterator[Tuple[str, str]]:
    """(canonical name, dataset path) for every weight the file lists, in file order."""
    layer_names = _load_attribute(handle, "layer_names")
    if layer_names is None:
        raise CheckpointError(
            f"{path!r} is not a Keras weights h5 file: its root has no 'layer_names' attribute "
            f"(found attributes {sorted(handle.attrs)})"
        )
    for layer in layer_names:
        node = handle.get(layer)
        if node is None:
            raise CheckpointError(f"{path!r}: 'layer_names' lists {layer!r}, but the file has no such group or dataset")
        if isinstance(node, h5py.Dataset):
            # The reference's sharded-h5 layout: datasets at '<weight path>:0', listed in layer_names directly.
            yield _SUFFIX.sub("", layer), layer
            continue
        weight_names = _load_attribute(node, "weight_names")
        if weight_names is None:
            raise CheckpointError(f"{path!r}: group {layer!r} has no 'weight_names' attribute")
        for weight_name in weight_names:
            if not isinstance(node.get(weight_name), h5py.Dataset):
                raise CheckpointError(
                    f"{path!r}: group {layer!r} lists the weight {weight_name!r}, but there is no such dataset"
                )
            yield canonical_keras_name(weight_name), f"{layer}/{weight_name}"


def _bitwise_equal(a: np.ndarray, b: np.ndarray, block: int = 1 << 24) -> bool:
    """Same dtype, shape and bytes, compared block by block (no full-size temporaries)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    x = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    y = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    return all(np.array_equal(x[i:i + block], y[i:i + block]) for i in range(0, x.size, block))


class H5Reader(TensorReader):
    """The reference ``tf_model.h5`` (tf-keras 2 ``save_weights`` layout, chunked attributes and the reference's
    sharded-h5 layout included): canonical Keras names, datasets read on demand with h5py.

    A weight listed by several layer groups (the MLM ``cls`` group repeats the embeddings) is one name; its
    copies are checked to be identical when it is read."""

    family = "keras"

    def __init__(self, path: PathLike) -> None:
        self.path = os.fspath(path)
        self._file = _open_h5(self.path)
        self._datasets: Dict[str, List[str]] = {}
        try:
            for name, dataset_path in _iter_h5_weights(self._file, self.path):
                self._check_stored(dataset_path)
                self._datasets.setdefault(name, []).append(dataset_path)
        except CheckpointError:
            self.close()
            raise
        except (ValueError, OSError, KeyError, RuntimeError) as err:  # h5py surfaces damaged metadata in several ways
            self.close()
            raise CheckpointError(f"{self.path!r} is damaged (truncated or corrupt HDF5 metadata?): {err}") from None

    def _check_stored(self, dataset_path: str) -> None:
        """A weight must be stored in full: a dataset that declares more bytes than the file holds for it
        (compressed, or chunks never written, which read back as fill values) is refused before it is read, so a
        small file cannot make us allocate a huge array."""
        dataset = self._file[dataset_path]
        declared = int(np.prod(dataset.shape, dtype=np.int64)) * dataset.dtype.itemsize
        stored = dataset.id.get_storage_size()
        if stored < declared:
            raise CheckpointError(
                f"{self.path!r}: dataset {dataset_path!r} declares {declared} bytes ({dataset.dtype}"
                f"{list(dataset.shape)}) but stores {stored}; only plain, fully written weights are read "
                f"(compressed or partly written file?)"
            )

    def names(self) -> List[str]:
        return list(self._datasets)

    def shape(self, name: str) -> Tuple[int, ...]:
        return tuple(self._file[self._datasets[name][0]].shape)

    def dtype(self, name: str) -> np.dtype:
        return self._file[self._datasets[name][0]].dtype

    def _read_dataset(self, dataset_path: str) -> np.ndarray:
        try:
            return np.asarray(self._file[dataset_path][()])
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as err:
            raise CheckpointError(
                f"{self.path!r}: cannot read dataset {dataset_path!r} (truncated or corrupt file?): {err}"
            ) from None

    def read(self, name: str) -> np.ndarray:
        paths = self._datasets[name]
        first = self._read_dataset(paths[0])
        for other in paths[1:]:
            copy = self._read_dataset(other)
            if not _bitwise_equal(first, copy):
                raise CheckpointError(
                    f"{self.path!r}: {name!r} is stored twice with different values: {paths[0]!r} "
                    f"{first.dtype}{list(first.shape)} vs {other!r} {copy.dtype}{list(copy.shape)}"
                )
        return first

    def close(self) -> None:
        handle = getattr(self, "_file", None)
        if handle is not None:
            try:
                handle.close()
            except Exception:  # closing a damaged file must not hide the error being raised
                pass
            self._file = None


# Formats the core reads without a framework (``deberta_core.files.WEIGHT_FILES`` names them).
CORE_READERS = {"safetensors": SafetensorsReader, "safetensors_sharded": SafetensorsReader, "tf_h5": H5Reader}


def open_weights(fmt: str, path: PathLike) -> TensorReader:
    """A lazy reader for the weights file ``path`` of format ``fmt``, for the formats no framework is needed for
    (``CORE_READERS``); a torch pickle is read by ``deberta_torch.io.TorchPickleReader``."""
    if fmt not in CORE_READERS:
        raise CheckpointError(f"{os.fspath(path)!r}: the format {fmt!r} is not read by deberta_core "
                              f"(it reads {sorted(CORE_READERS)})")
    return CORE_READERS[fmt](path)


def read_safetensors(path_or_index: PathLike) -> Dict[str, np.ndarray]:
    """Every tensor of a ``.safetensors`` file, or of every shard of a ``model.safetensors.index.json``."""
    with SafetensorsReader(path_or_index) as reader:
        return reader.read_all()


def read_tf_h5(path: PathLike) -> Dict[str, np.ndarray]:
    """A reference ``tf_model.h5`` -> canonical Keras name -> array (repeated weights once, checked identical)."""
    with H5Reader(path) as reader:
        return reader.read_all()


def read_tf_h5_layout(path: PathLike) -> Dict[str, List[str]]:
    """Top-level layer name -> its ``weight_names`` (as stored, ``<model>/<path>:0``), in file order."""
    path = os.fspath(path)
    with _open_h5(path) as handle:
        layer_names = _load_attribute(handle, "layer_names")
        if layer_names is None:
            raise CheckpointError(f"{path!r} is not a Keras weights h5 file: its root has no 'layer_names' attribute")
        return {layer: (_load_attribute(handle[layer], "weight_names") or [])
                if isinstance(handle.get(layer), h5py.Group) else [layer] for layer in layer_names}


# ---------------------------------------------------------------------------------------------------- writers
class SafetensorsStreamWriter:
    """Writes a ``.safetensors`` file tensor by tensor: the header (names, dtypes, shapes, offsets) first, then
    each tensor's bytes as it arrives, in the order ``items`` lists them (the format only needs the offsets to tile
    the data; ``safetensors`` itself sorts by dtype and name). The header is padded with spaces to 8 bytes."""

    def __init__(self, path: PathLike, items: Sequence[Tuple[str, Tuple[int, ...], np.dtype]],
                 metadata: Optional[Mapping[str, str]] = None) -> None:
        self.path = os.fspath(path)
        header: Dict[str, Any] = {"__metadata__": dict(metadata or {"format": "pt"})}
        offset = 0
        self._order: List[str] = []
        self._expected: Dict[str, Tuple[Tuple[int, ...], np.dtype]] = {}
        for name, shape, dtype in items:
            dtype = np.dtype(dtype)
            if dtype not in ST_DTYPES:
                raise CheckpointError(f"cannot write {name!r} of dtype {dtype} to safetensors")
            if name in self._expected:
                raise ValueError(f"{name!r} is listed twice")
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            header[name] = {"dtype": ST_DTYPES[dtype], "shape": list(shape), "data_offsets": [offset, offset + size]}
            offset += size
            self._order.append(name)
            self._expected[name] = (tuple(shape), dtype)
        blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
        blob += b" " * (-len(blob) % 8)
        self._handle = open(self.path, "wb")
        try:
            self._handle.write(np.uint64(len(blob)).astype("<u8").tobytes())
            self._handle.write(blob)
        except BaseException:
            self.abort()
            raise
        self._next = 0

    def write(self, name: str, array: np.ndarray) -> None:
        if self._next >= len(self._order) or self._order[self._next] != name:
            expected = self._order[self._next] if self._next < len(self._order) else "nothing more"
            raise RuntimeError(f"{self.path!r}: tensors must come in the planned order; expected {expected!r}, got {name!r}")
        shape, dtype = self._expected[name]
        if tuple(array.shape) != shape or array.dtype != dtype:
            raise RuntimeError(f"{name!r}: planned {dtype}{list(shape)}, got {array.dtype}{list(array.shape)}")
        data = np.ascontiguousarray(array, dtype=dtype.newbyteorder("<"))
        self._handle.write(data.reshape(-1).view(np.uint8))
        self._next += 1

    def close(self) -> None:
        self._handle.close()
        if self._next != len(self._order):
            raise RuntimeError(f"{self.path!r}: {len(self._order) - self._next} tensors were never written")

    def abort(self) -> None:
        """Close the file after a failure, raising nothing (the caller removes it and re-raises its error)."""
        try:
            self._handle.close()
        except Exception:  # a full disk fails the final flush too; the original error is what matters
            pass


def write_safetensors(
    tensors: Mapping[str, np.ndarray], path: PathLike, metadata: Optional[Mapping[str, str]] = None
) -> str:
    """Write ``tensors`` to a ``.safetensors`` file atomically (the ``safetensors`` library's own layout);
    ``metadata`` defaults to ``{"format": "pt"}``. Returns the path written."""
    from safetensors.numpy import save_file

    meta = {"format": "pt"} if metadata is None else dict(metadata)
    bad = [k for k, v in meta.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise ValueError(f"safetensors metadata must map str to str; these entries do not: {bad}")
    arrays = {name: np.ascontiguousarray(np.asarray(value)) for name, value in tensors.items()}
    with atomic_write(path) as tmp:
        save_file(arrays, tmp, metadata=meta)
    return os.fspath(path)


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


def h5_layout(names: Sequence[str], architecture: str) -> Dict[str, List[str]]:
    """The reference layout for the canonical Keras ``names``: top-level layer -> names it lists, in TF order.

    Raises ValueError for names that belong to no layer of ``architecture`` and for layers left without weights.
    """
    arch = normalize_architecture(architecture)
    layers = list(TF_LAYER_NAMES[arch])
    if arch == "DebertaForMaskedLM" and any(n.startswith(ORIGINAL_MLM_LAYER + "/") for n in names):
        layers = ["deberta", ORIGINAL_MLM_LAYER]
    ordered = sorted(names, key=keras_sort_key)  # also rejects names that match no row
    layout: Dict[str, List[str]] = {layer: [] for layer in layers}
    stray = []
    for name in ordered:
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
                         f"{sorted({n.split('/', 1)[0] for n in names})}")
    if "cls" in layout:  # the legacy MLM head holds the embeddings layer: its group lists those weights too
        layout["cls"] += [n for n in layout["deberta"] if n.startswith(EMBEDDINGS_PREFIX)]
    return layout


class _FailSafeFile:
    """The file object under an h5py file being written: an OSError of the disk (full, file-size limit) is kept
    and later writes are dropped, so that HDF5 itself never sees a failed write. (A failed write inside HDF5
    leaves handles that can be neither closed nor freed, and the interpreter crashes at exit.) ``close`` raises
    the kept error."""

    def __init__(self, path: str) -> None:
        self._handle = open(path, "w+b")
        self.error: Optional[OSError] = None

    def write(self, data) -> int:
        if self.error is None:
            try:
                return self._handle.write(data)
            except OSError as err:
                self.error = err
        return len(memoryview(data))

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def readinto(self, buffer) -> int:
        return self._handle.readinto(buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

    def truncate(self, size: Optional[int] = None) -> int:
        if self.error is None:
            try:
                return self._handle.truncate(size)
            except OSError as err:
                self.error = err
        return self._handle.tell() if size is None else size

    def flush(self) -> None:
        if self.error is None:
            try:
                self._handle.flush()
            except OSError as err:
                self.error = err

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError as err:
            self.error = self.error or err
        if self.error is not None:
            raise OSError(self.error.errno, f"cannot write {self._handle.name!r}: {self.error.strerror or self.error}")


class H5StreamWriter:
    """Writes the reference ``tf_model.h5`` layout of ``TF<architecture>`` one weight at a time: the group
    structure and attributes first (from the names), the data as it comes (in any order). A disk error (full
    disk, file-size limit) is raised by ``close`` as an OSError naming the file; ``abort`` closes without raising.
    """

    def __init__(self, path: PathLike, names: Sequence[str], architecture: str) -> None:
        arch = normalize_architecture(architecture)
        self.path = os.fspath(path)
        layout = h5_layout(list(names), arch)
        model_name = TF_MODEL_NAMES[arch]
        self._targets: Dict[str, List[str]] = {}
        self._sink = _FailSafeFile(self.path)
        self._file = h5py.File(self._sink, "w")
        try:
            save_attribute(self._file, "layer_names", list(layout))
            self._file.attrs["backend"] = H5_BACKEND
            self._file.attrs["keras_version"] = H5_KERAS_VERSION
            for layer in sorted(layout):  # tf-keras creates the groups in sorted order
                group = self._file.create_group(layer)
                weight_names = [f"{model_name}/{name}:0" for name in layout[layer]]
                save_attribute(group, "weight_names", weight_names)
                for weight_name, name in zip(weight_names, layout[layer]):
                    self._targets.setdefault(name, []).append(f"{layer}/{weight_name}")
            save_attribute(self._file.create_group(TOP_LEVEL_GROUP), "weight_names", [])
        except BaseException:
            self.abort()
            raise

    def write(self, name: str, array: np.ndarray) -> None:
        for target in self._targets.pop(name):
            self._file.create_dataset(target, data=np.ascontiguousarray(array))

    def close(self) -> None:
        left = list(self._targets)
        handle, self._file = self._file, None
        try:
            handle.close()
        finally:
            self._sink.close()  # raises the disk's error, if any
        if left:
            raise RuntimeError(f"{self.path!r}: datasets never written: {left}")

    def abort(self) -> None:
        """Close the file after a failure, raising nothing (the caller removes it and re-raises its error)."""
        handle, self._file = self._file, None
        for closing in ([handle.close] if handle is not None else []) + [self._sink.close]:
            try:
                closing()
            except Exception:  # the original error is what matters
                pass


def write_tf_h5(weights: Mapping[str, np.ndarray], path: PathLike, architecture: str) -> str:
    """Write canonical Keras weights as the reference ``tf_model.h5`` of ``TF<architecture>``, atomically.

    The file loads with the reference ``TFDebertaXxx.from_pretrained(folder)`` (and tf-keras ``load_weights``).
    Returns the path written.
    """
    arch = normalize_architecture(architecture)
    h5_layout(list(weights), arch)  # refuse bad names before a temporary file exists
    with atomic_write(path) as tmp:
        writer = H5StreamWriter(tmp, list(weights), arch)
        try:
            for name in sorted(weights, key=keras_sort_key):
                writer.write(name, np.asarray(weights[name]))
        except BaseException:
            writer.abort()
            raise
        writer.close()
    return os.fspath(path)


__all__ = [
    "ArrayReader", "CORE_READERS", "H5Reader", "H5StreamWriter", "H5_KERAS_VERSION", "SafetensorsReader",
    "SafetensorsStreamWriter", "TF_LAYER_NAMES", "TF_MODEL_NAMES", "TensorReader", "canonical_keras_name",
    "h5_layout", "open_weights", "read_safetensors", "read_tf_h5", "read_tf_h5_layout", "save_attribute",
    "write_safetensors", "write_tf_h5",
]
