"""Checkpoint conversion between the torch and Keras twins, driven by the core's weight map.

Two levels:

* **In memory**: ``torch_to_tf(torch_model)`` returns the TF twin (same class, same config, weights copied through
  the map); ``tf_to_torch(tf_model)`` the other way.
* **Files/folders**: ``convert(src, dst, to=("tf",))`` (and ``torch_to_tf(src, dst)`` / ``tf_to_torch(src, dst)``)
  reads any supported source (``model.safetensors`` incl. shards, ``pytorch_model.bin`` incl. shards with
  ``weights_only=True``, the reference ``tf_model.h5``, a Keras 3 ``.keras`` file) and writes the target
  format(s): ``torch`` -> ``model.safetensors``, ``tf`` -> ``tf_model.h5`` (the reference layout), ``keras`` ->
  ``model.keras`` (Keras 3 native, through ``deberta_tf``'s ``model.save``).

File-level contract:

* **Complete or nothing.** Every source name and shape is checked against the expanded weight map before a byte is
  written; all missing, unexpected and mis-shaped weights are reported in one ``WeightMapError``.
* **Streaming.** safetensors and h5 are read tensor by tensor (header/metadata first, data on demand) and written
  tensor by tensor, so converting between them holds about one tensor in memory, not the model three times.
  (``.bin`` is one pickle, loaded memory-mapped; ``.keras`` goes through a TF model: one copy.)
* **Atomic, never clobbering.** Everything is staged in a temporary folder (next to or inside ``dst``), checked
  (optionally, see ``conversion.parity``) and only then moved into place; existing different files in ``dst``
  are an error unless ``force=True``. On any error the staging folder is removed: no partial output.
* ``config.json`` and the tokenizer files travel along (byte for byte; only ``architectures`` is added when the
  task had to be given explicitly).

The torch side never needs TensorFlow and the h5 side never needs torch: torch <-> h5 is framework-free
(NumPy, safetensors, h5py); torch is imported only to read a ``.bin``; TensorFlow only for ``.keras``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from deberta_core import DebertaConfig
from deberta_core import files as ckfiles
from deberta_core.weight_map import (
    ARCHITECTURES,
    MapEntry,
    WeightMapError,
    format_report,  # the core's one report format for a partial conversion
    apply_op,
    detect_torch_layout,
    expand,
    mlm_config_for_weights,
    normalize_architecture,
    tolerated_torch_keys,
)

# ---------------------------------------------------------------------------------------------------- names
# Weight formats we read, by family. "torch" names are state-dict keys, "keras" names the canonical Keras names.
TORCH_FORMATS = ("safetensors", "safetensors_sharded", "pytorch", "pytorch_sharded")
KERAS_FORMATS = ("tf_h5", "keras")
FAMILY = {**{f: "torch" for f in TORCH_FORMATS}, **{f: "keras" for f in KERAS_FORMATS}}

# Targets of ``--to``: target -> (weights file written, family of its names).
TARGETS: Dict[str, Tuple[str, str]] = {
    "torch": (ckfiles.SAFE_WEIGHTS_NAME, "torch"),
    "tf": (ckfiles.TF2_WEIGHTS_NAME, "keras"),
    "keras": (ckfiles.KERAS_NAME, "keras"),
}
TARGET_FORMAT = {"torch": "safetensors", "tf": "tf_h5", "keras": "keras"}

# Short task names for ``--task`` (the full architecture names are accepted too).
TASKS: Dict[str, str] = {
    "model": "DebertaModel",
    "mlm": "DebertaForMaskedLM",
    "seqcls": "DebertaForSequenceClassification",
    "tokcls": "DebertaForTokenClassification",
    "qa": "DebertaForQuestionAnswering",
}

# Extensions of single weight files given directly as SRC.
_FILE_FORMATS = {
    ".safetensors": "safetensors",
    ".bin": "pytorch",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".h5": "tf_h5",
    ".keras": "keras",
}
_STAGING_PREFIX = ".deberta-convert-"

# numpy dtype -> safetensors dtype string (what our streaming writer emits).
_ST_DTYPES = {
    np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
    np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16", np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL",
}
_ST_NP = {v: k for k, v in _ST_DTYPES.items()}


class ConversionError(ValueError):
    """A user-input problem (file, folder, config, option): the message names the file and what was wrong."""


def resolve_task(task: Optional[str]) -> Optional[str]:
    """``"mlm"`` / ``"DebertaForMaskedLM"`` / ``"TFDebertaForMaskedLM"`` -> ``"DebertaForMaskedLM"``."""
    if task is None:
        return None
    if task in TASKS:
        return TASKS[task]
    try:
        return normalize_architecture(task)
    except ValueError:
        raise ConversionError(
            f"unknown task {task!r}; expected one of {sorted(TASKS)} or an architecture name {list(ARCHITECTURES)}"
        ) from None


def architecture_of(config: DebertaConfig, task: Optional[str] = None, where: str = "config.json") -> str:
    """The architecture to convert: ``task`` if given, else the config's first ``architectures`` entry."""
    if task is not None:
        return resolve_task(task)
    archs = config.architectures
    if not archs:
        raise ConversionError(
            f"{where} has no 'architectures' entry, so the model head is unknown; pass --task "
            f"({', '.join(TASKS)})"
        )
    try:
        return normalize_architecture(archs[0])
    except ValueError as err:
        raise ConversionError(f"{where}: {err}") from None


# ---------------------------------------------------------------------------------------------------- readers
class TensorReader:
    """Lazy access to the tensors of a checkpoint: names, shapes and dtypes up front, data on demand."""

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


def _read_header(path: str) -> Tuple[int, dict]:
    with open(path, "rb") as handle:
        size_bytes = handle.read(8)
        if len(size_bytes) != 8:
            raise ConversionError(f"{path!r} is not a safetensors file: it is shorter than its 8-byte header size")
        header_size = int(np.frombuffer(size_bytes, dtype="<u8")[0])
        if header_size > os.path.getsize(path) - 8:
            raise ConversionError(
                f"{path!r} is truncated or corrupt: its header claims {header_size} bytes, the file has "
                f"{os.path.getsize(path)}"
            )
        try:
            header = json.loads(handle.read(header_size))
        except (ValueError, UnicodeDecodeError) as err:
            raise ConversionError(f"{path!r} is not a safetensors file (its header is not JSON: {err})") from None
    return header_size, header


_ST_ITEMSIZE = {**{name: dtype.itemsize for name, dtype in _ST_NP.items()}, "BF16": 2}


class SafetensorsReader(TensorReader):
    """One ``.safetensors`` file or every shard of an index, read tensor by tensor with plain file reads (no
    memory map: resident memory stays at one tensor). The header of every shard is validated up front: known
    dtypes, offsets that match the shapes and lie inside the file (a truncated file is refused before any read).

    BF16 tensors, which NumPy cannot hold, are widened to float32 exactly (as ``deberta_core.checkpoint_io``).
    """

    family = "torch"

    def __init__(self, path: str) -> None:
        self.path = path
        self._where: Dict[str, Tuple[str, int, Tuple[int, ...], str]] = {}  # name -> (shard, start, shape, dtype)
        for shard in self._shards(path):
            if not os.path.isfile(shard):
                raise ConversionError(f"no safetensors file at {shard!r}")
            header_size, header = _read_header(shard)
            data_start = 8 + header_size
            file_size = os.path.getsize(shard)
            if not isinstance(header, dict):
                raise ConversionError(f"{shard!r} is not a safetensors file (its header is not a JSON object)")
            for name, entry in header.items():
                if name == "__metadata__":
                    continue
                try:
                    dtype, shape, (start, end) = entry["dtype"], tuple(int(d) for d in entry["shape"]), entry["data_offsets"]
                except (KeyError, TypeError, ValueError):
                    raise ConversionError(f"{shard!r}: the header entry of {name!r} is malformed: {entry!r}") from None
                if dtype not in _ST_ITEMSIZE:
                    raise ConversionError(f"{shard!r}: {name!r} has dtype {dtype}; expected one of "
                                          f"{sorted(_ST_ITEMSIZE)}")
                if end - start != int(np.prod(shape, dtype=np.int64)) * _ST_ITEMSIZE[dtype]:
                    raise ConversionError(f"{shard!r} is corrupt: {name!r} has shape {list(shape)} ({dtype}) but "
                                          f"{end - start} bytes of data")
                if data_start + end > file_size:
                    raise ConversionError(f"{shard!r} is truncated: {name!r} ends at byte {data_start + end}, the "
                                          f"file has {file_size}")
                if name in self._where:
                    raise ConversionError(f"{name!r} is stored twice: in {self._where[name][0]!r} and {shard!r}")
                self._where[name] = (shard, data_start + start, shape, dtype)

    def _shards(self, path: str) -> List[str]:
        if not path.endswith(".json"):
            return [path]
        try:
            with open(path, encoding="utf-8") as handle:
                weight_map = json.load(handle)["weight_map"]
            if not isinstance(weight_map, dict):
                raise TypeError(f"'weight_map' is a {type(weight_map).__name__}")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ConversionError(f"{path!r} is not a valid shard index (expected a 'weight_map' object): {err}") from None
        folder = os.path.dirname(path)
        shards = [os.path.join(folder, s) for s in sorted(set(weight_map.values()))]
        lost = [s for s in shards if not os.path.isfile(s)]
        if lost:
            raise ConversionError(f"the shard index {path!r} lists files that do not exist: {lost}")
        return shards

    def names(self) -> List[str]:
        return list(self._where)

    def shape(self, name: str) -> Tuple[int, ...]:
        return self._where[name][2]

    def dtype(self, name: str) -> np.dtype:
        st = self._where[name][3]
        return np.dtype("float32") if st == "BF16" else _ST_NP[st]

    def read(self, name: str) -> np.ndarray:
        shard, start, shape, st = self._where[name]
        stored = np.dtype("<u2") if st == "BF16" else _ST_NP[st].newbyteorder("<")
        count = int(np.prod(shape, dtype=np.int64))
        try:
            with open(shard, "rb") as handle:
                handle.seek(start)
                array = np.fromfile(handle, dtype=stored, count=count)
        except OSError as err:
            raise ConversionError(f"{shard!r}: cannot read tensor {name!r}: {err}") from None
        if array.size != count:
            raise ConversionError(f"{shard!r} is truncated: tensor {name!r} is cut short")
        if st == "BF16":
            array = (array.astype("<u4") << 16).view("<f4")
        return array.astype(array.dtype.newbyteorder("="), copy=False).reshape(shape)


class TorchPickleReader(TensorReader):
    """``pytorch_model.bin`` (or its shards) loaded with ``torch.load(weights_only=True, mmap=True)``."""

    family = "torch"

    def __init__(self, path: str) -> None:
        import torch

        self.path = path
        paths = [path]
        if path.endswith(".json"):
            try:
                with open(path, encoding="utf-8") as handle:
                    weight_map = json.load(handle)["weight_map"]
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise ConversionError(f"{path!r} is not a valid shard index (expected a 'weight_map' object): {err}") from None
            folder = os.path.dirname(path)
            paths = [os.path.join(folder, s) for s in sorted(set(weight_map.values()))]
        self._tensors: Dict[str, Any] = {}
        for file in paths:
            if not os.path.isfile(file):
                raise ConversionError(f"no torch pickle at {file!r}")
            try:
                try:
                    state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
                except RuntimeError as err:
                    if "mmap" not in str(err):
                        raise
                    state = torch.load(file, map_location="cpu", weights_only=True)  # legacy (non-zip) format
            except Exception as err:  # UnpicklingError, RuntimeError, EOFError, ... for bad or unsafe files
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise ConversionError(
                    f"{file!r} cannot be loaded as a plain state dict with torch.load(weights_only=True), which "
                    f"refuses anything but tensors and plain containers: {type(err).__name__}: {first}"
                ) from None
            if not isinstance(state, Mapping):
                raise ConversionError(
                    f"{file!r} holds a {type(state).__name__}, not a state dict (a mapping of names to tensors)"
                )
            bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
            if bad:
                raise ConversionError(
                    f"{file!r} is not a plain state dict: the entries {bad[:5]} are not tensors "
                    f"(a training checkpoint? save model.state_dict() instead)"
                )
            for key, value in state.items():
                if key in self._tensors:
                    raise ConversionError(f"{key!r} is stored twice (second time in {file!r})")
                self._tensors[key] = value

    def names(self) -> List[str]:
        return list(self._tensors)

    def shape(self, name: str) -> Tuple[int, ...]:
        return tuple(self._tensors[name].shape)

    def dtype(self, name: str) -> np.dtype:
        import torch

        dtype = self._tensors[name].dtype
        return np.dtype("float32") if dtype == torch.bfloat16 else torch.empty((), dtype=dtype).numpy().dtype

    def read(self, name: str) -> np.ndarray:
        import torch

        tensor = self._tensors[name].detach()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return tensor.contiguous().numpy().copy()


class H5Reader(TensorReader):
    """The reference ``tf_model.h5``: canonical Keras names, datasets read on demand with h5py.

    A weight listed by several layer groups (the MLM ``cls`` group repeats the embeddings) is returned once; the
    copies are checked to be identical when it is read.
    """

    family = "keras"

    def __init__(self, path: str) -> None:
        import h5py

        from deberta_core.checkpoint_io import canonical_keras_name, read_tf_h5_layout

        self.path = path
        if not os.path.isfile(path):
            raise ConversionError(f"no h5 file at {path!r}")
        try:
            layout = read_tf_h5_layout(path)
            self._file = h5py.File(path, "r")
        except (ValueError, OSError, KeyError, RuntimeError) as err:
            raise ConversionError(f"{path!r} is not a readable Keras weights h5 file (truncated or corrupt?): {err}") from None
        self._datasets: Dict[str, List[str]] = {}
        try:
            for layer, weight_names in layout.items():
                for weight_name in weight_names:
                    node_path = layer if weight_name == layer else f"{layer}/{weight_name}"
                    name = canonical_keras_name(weight_name)
                    if not isinstance(self._file.get(node_path), h5py.Dataset):
                        raise ConversionError(f"{path!r}: group {layer!r} lists {weight_name!r}, but there is no such dataset")
                    self._datasets.setdefault(name, []).append(node_path)
        except ConversionError:
            self.close()
            raise
        except (ValueError, OSError, KeyError, RuntimeError) as err:
            self.close()
            raise ConversionError(f"{path!r} is damaged (truncated or corrupt HDF5 metadata?): {err}") from None

    def names(self) -> List[str]:
        return list(self._datasets)

    def shape(self, name: str) -> Tuple[int, ...]:
        return tuple(self._file[self._datasets[name][0]].shape)

    def dtype(self, name: str) -> np.dtype:
        return self._file[self._datasets[name][0]].dtype

    def read(self, name: str) -> np.ndarray:
        paths = self._datasets[name]
        try:
            first = np.asarray(self._file[paths[0]][()])
            for other in paths[1:]:
                copy = np.asarray(self._file[other][()])
                if copy.shape != first.shape or copy.dtype != first.dtype or not _bitwise_equal(first, copy):
                    raise ConversionError(f"{self.path!r}: {name!r} is stored twice with different values "
                                          f"({paths[0]!r} and {other!r})")
        except ConversionError:
            raise
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as err:
            raise ConversionError(f"{self.path!r}: cannot read {paths[0]!r} (truncated or corrupt file?): {err}") from None
        return first

    def close(self) -> None:
        handle = getattr(self, "_file", None)
        if handle is not None:
            try:
                handle.close()
            except Exception:
                pass
            self._file = None


def _bitwise_equal(a: np.ndarray, b: np.ndarray, block: int = 1 << 24) -> bool:
    """Same bytes, compared block by block (no full-size temporaries)."""
    x = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    y = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
    return x.size == y.size and all(np.array_equal(x[i:i + block], y[i:i + block]) for i in range(0, x.size, block))


def load_keras_file(path: str):
    """A ``.keras`` file -> the deberta_tf model it holds (via ``keras.saving.load_model``)."""
    if not os.path.isfile(path):
        raise ConversionError(f"no .keras file at {path!r}")
    if not zipfile.is_zipfile(path):
        raise ConversionError(f"{path!r} is not a Keras 3 .keras file (not a zip archive; truncated or corrupt?)")
    import keras

    import deberta_tf  # noqa: F401  (registers the serializable classes)

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as err:  # keras raises many types for bad archives
        raise ConversionError(f"{path!r} could not be loaded as a deberta_tf .keras model: {type(err).__name__}: "
                              f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}") from None


def keras_file_config(path: str) -> DebertaConfig:
    """The DebertaConfig stored inside a ``.keras`` archive (read from its config.json; no TensorFlow)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("config.json"))
        return DebertaConfig.from_dict(data["config"]["config"]).copy(
            architectures=[normalize_architecture(data["class_name"])])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise ConversionError(f"{path!r} is not a deberta_tf .keras archive (no readable model config: {err})") from None


def keras_file_weights(path: str) -> Tuple[Dict[str, np.ndarray], DebertaConfig]:
    """(canonical Keras name -> array, config) of a ``.keras`` file (loads the model with TensorFlow)."""
    from deberta_tf.io import keras_weights

    model = load_keras_file(path)
    return keras_weights(model), model.config.copy(architectures=[normalize_architecture(type(model).__name__)])


def open_reader(fmt: str, path: str) -> TensorReader:
    """A lazy reader for the weights file ``path`` of format ``fmt`` (see ``deberta_core.files.WEIGHT_FILES``)."""
    if fmt in ("safetensors", "safetensors_sharded"):
        return SafetensorsReader(path)
    if fmt in ("pytorch", "pytorch_sharded"):
        return TorchPickleReader(path)
    if fmt == "tf_h5":
        return H5Reader(path)
    if fmt == "keras":
        weights, _ = keras_file_weights(path)
        return ArrayReader(weights, "keras", path)
    raise ConversionError(f"unknown weights format {fmt!r}; expected one of {sorted(FAMILY)}")


# ---------------------------------------------------------------------------------------------------- sources
@dataclass
class Source:
    """A checkpoint to convert: its folder, the weights file and format chosen, its config and architecture."""

    folder: str
    fmt: str
    path: str
    config: DebertaConfig
    architecture: str
    config_path: Optional[str] = None
    tokenizer: Dict[str, str] = field(default_factory=dict)
    other_formats: List[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return FAMILY[self.fmt]


def resolve_source(
    src: str, *, fmt: Optional[str] = None, avoid_family: Optional[str] = None, task: Optional[str] = None,
    config: Optional[DebertaConfig] = None,
) -> Source:
    """Find the weights to read in ``src`` (a checkpoint folder, or one weights file whose folder holds config.json).

    ``fmt`` forces a format; otherwise a folder's formats are tried in the loaders' order, preferring one not of
    ``avoid_family`` (the target's family). ``task`` overrides the config's architecture.
    """
    src = os.fspath(src)
    if not os.path.exists(src):
        raise ConversionError(f"no checkpoint at {src!r}: it does not exist")
    if os.path.isfile(src):
        folder = os.path.dirname(os.path.abspath(src))
        base = os.path.basename(src)
        if base.endswith(".index.json"):
            found = "safetensors_sharded" if "safetensors" in base else "pytorch_sharded"
        else:
            found = _FILE_FORMATS.get(os.path.splitext(base)[1])
        if found is None:
            raise ConversionError(
                f"cannot tell the format of {src!r} from its name; expected a checkpoint folder or a file ending in "
                f"{', '.join(sorted(_FILE_FORMATS))} or .index.json"
            )
        if fmt is not None and fmt != found:
            raise ConversionError(f"--from {fmt} was given but {src!r} is a {found} file")
        files = ckfiles.scan_folder(folder)
        chosen, path, others = found, os.path.abspath(src), [f for f in files.weights if files.weights[f] != os.path.abspath(src)]
    else:
        files = ckfiles.scan_folder(src)
        folder = files.folder
        if not files.weights:
            raise ConversionError(
                f"no weights in {folder!r}: looked for {', '.join(ckfiles.WEIGHT_FILES.values())}"
            )
        if fmt is not None:
            if fmt not in files.weights:
                raise ConversionError(f"--from {fmt} was given but {folder!r} holds only {files.formats}")
            chosen = fmt
        else:
            preferred = [f for f in files.weights if FAMILY[f] != avoid_family]
            chosen = (preferred or list(files.weights))[0]
        path = files.weights[chosen]
        others = [f for f in files.weights if f != chosen]
    if config is None:
        if chosen == "keras":
            config = keras_file_config(path)
        elif files.config is None:
            raise ConversionError(f"no {ckfiles.CONFIG_NAME} next to the weights in {folder!r}; the model shape is unknown")
        else:
            try:
                config = DebertaConfig.from_json_file(files.config)
            except (ValueError, TypeError) as err:
                raise ConversionError(f"{files.config!r} is not a valid DeBERTa config: {err}") from None
    where = files.config or path
    architecture = architecture_of(config, task, where=where)
    return Source(folder=folder, fmt=chosen, path=path, config=config, architecture=architecture,
                  config_path=files.config if chosen != "keras" else None, tokenizer=dict(files.tokenizer),
                  other_formats=others)


# ---------------------------------------------------------------------------------------------------- plan
@dataclass
class PlanItem:
    """One tensor to move: source name -> target name, with the op to apply (``inverse`` for Keras -> torch)."""

    src: str
    dst: str
    op: str
    inverse: bool
    dst_shape: Tuple[int, ...]
    dtype: np.dtype

    def apply(self, array: np.ndarray) -> np.ndarray:
        return apply_op(self.op, array, inverse=self.inverse)


@dataclass
class Plan:
    items: List[PlanItem]
    ignored: List[str]
    config: DebertaConfig
    architecture: str
    src_family: str
    dst_family: str


def config_for_weights(config: DebertaConfig, architecture: str, names: Iterable[str]) -> DebertaConfig:
    """Pick the MaskedLM head naming from the weights when the config leaves it unset (as the loaders do)."""
    if normalize_architecture(architecture) != "DebertaForMaskedLM" or config.legacy is not None:
        return config
    return mlm_config_for_weights(config, names)  # legacy unset: follows the weights, never raises


def make_plan(reader: TensorReader, config: DebertaConfig, architecture: str, dst_family: str,
              config_source: Optional[str] = None) -> Plan:
    """Check every name and shape of ``reader`` against the map; the list of tensor moves, or one WeightMapError.

    Reads no tensor data except the tied copies a ``.bin`` carries (checked equal to their source).
    ``config_source`` (the config file) is named in the message when shapes disagree.
    """
    arch = normalize_architecture(architecture)
    src_family = reader.family
    names = reader.names()
    config = config_for_weights(config, arch, names)
    try:
        entries: List[MapEntry] = expand(config, arch)
    except (ValueError, KeyError) as err:
        raise ConversionError(f"the config cannot build {arch}: {err}") from None
    to_keras = src_family == "torch"
    src_name: Callable[[MapEntry], str] = (lambda e: e.torch_key) if to_keras else (lambda e: e.keras_name)
    src_shape: Callable[[MapEntry], Tuple[int, ...]] = (lambda e: e.torch_shape) if to_keras else (lambda e: e.keras_shape)
    ignored: List[str] = []
    untied: Dict[str, str] = {}
    if to_keras:
        plain, tied = tolerated_torch_keys(names, config, arch)
        ignored += plain
        for key, tied_to in tied:
            if tied_to not in names:
                ignored.append(key)
                continue
            a, b = reader.read(key), reader.read(tied_to)
            if a.shape == b.shape and np.array_equal(a, b):
                ignored.append(key)
            else:
                untied[key] = f"{key} (differs from {tied_to}, to which it should be tied)"
    known = {src_name(e) for e in entries}
    present = set(names)
    unexpected = [n for n in names if n not in known and n not in ignored]
    missing = [src_name(e) for e in entries if src_name(e) not in present]
    mismatched = [(src_name(e), src_shape(e), reader.shape(src_name(e)))
                  for e in entries if src_name(e) in present and reader.shape(src_name(e)) != src_shape(e)]
    if missing or unexpected or mismatched:
        message = format_report("torch -> keras" if to_keras else "keras -> torch", arch, reader.path,
                                 missing, [untied.get(n, n) for n in unexpected], mismatched)
        hint = _layout_hint(names, arch, src_family)
        if mismatched and not hint:
            hint = (f"the expected shapes come from the config{f' ({config_source})' if config_source else ''}; "
                    f"check that it belongs to these weights")
        raise WeightMapError(message + (f"\n  hint: {hint}" if hint else ""), missing, unexpected, mismatched)
    items = []
    for e in entries:
        name = src_name(e)
        if dst_family == src_family:
            items.append(PlanItem(name, name, "identity", False, src_shape(e), reader.dtype(name)))
        elif to_keras:
            items.append(PlanItem(name, e.keras_name, e.op, False, e.keras_shape, reader.dtype(name)))
        else:
            items.append(PlanItem(name, e.torch_key, e.op, True, e.torch_shape, reader.dtype(name)))
    return Plan(items, ignored, config, arch, src_family, dst_family)


def _layout_hint(names: Sequence[str], arch: str, family: str) -> str:
    """A guess at the right --task when the weights clearly belong to another head."""
    if family == "torch":
        try:
            layout = detect_torch_layout(names)
        except ValueError:
            return ""
        if layout.base_prefixed is False and arch != "DebertaModel":
            return "the keys have no 'deberta.' prefix: this looks like a bare DebertaModel checkpoint (--task model)"
        if layout.base_prefixed and arch == "DebertaModel":
            return "the keys carry the 'deberta.' prefix of a head model: pass the right --task (mlm, seqcls, tokcls, qa)"
    heads = {"cls": "mlm", "lm_predictions": "mlm", "pooler": "seqcls", "qa_outputs": "qa"}
    tops = {n.split("/" if family == "keras" else ".", 1)[0] for n in names}
    guesses = sorted({heads[t] for t in tops if t in heads})
    if guesses and TASKS[guesses[0]] != arch:
        return f"the weights hold a {guesses[0]} head; is the config's architecture right? (--task {guesses[0]})"
    return ""


# ---------------------------------------------------------------------------------------------------- writers
class SafetensorsStreamWriter:
    """Writes a ``.safetensors`` file tensor by tensor: the header (names, dtypes, shapes, offsets) first, then
    each tensor's bytes as it arrives, in the order ``items`` lists them (the format only needs the offsets to tile
    the data; ``safetensors`` itself sorts by dtype and name). The header is padded with spaces to 8 bytes."""

    def __init__(self, path: str, items: Sequence[Tuple[str, Tuple[int, ...], np.dtype]],
                 metadata: Optional[Mapping[str, str]] = None) -> None:
        self.path = path
        header: Dict[str, Any] = {"__metadata__": dict(metadata or {"format": "pt"})}
        offset = 0
        self._order: List[str] = []
        self._expected: Dict[str, Tuple[Tuple[int, ...], np.dtype]] = {}
        for name, shape, dtype in items:
            dtype = np.dtype(dtype)
            if dtype not in _ST_DTYPES:
                raise ConversionError(f"cannot write {name!r} of dtype {dtype} to safetensors")
            if name in self._expected:
                raise ValueError(f"{name!r} is listed twice")
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            header[name] = {"dtype": _ST_DTYPES[dtype], "shape": list(shape), "data_offsets": [offset, offset + size]}
            offset += size
            self._order.append(name)
            self._expected[name] = (tuple(shape), dtype)
        blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
        blob += b" " * (-len(blob) % 8)
        self._handle = open(path, "wb")
        self._handle.write(np.uint64(len(blob)).astype("<u8").tobytes())
        self._handle.write(blob)
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


class H5StreamWriter:
    """Writes the reference ``tf_model.h5`` layout (same as ``deberta_core.checkpoint_io.write_tf_h5``) one
    dataset at a time: the group structure and attributes first, the data as it comes."""

    def __init__(self, path: str, names: Sequence[str], architecture: str) -> None:
        import h5py

        from deberta_core import checkpoint_io as cio

        arch = normalize_architecture(architecture)
        self.path = path
        layout = cio.h5_layout(dict.fromkeys(names), arch)
        model_name = cio.TF_MODEL_NAMES[arch]
        self._targets: Dict[str, List[str]] = {}
        self._file = h5py.File(path, "w")
        cio.save_attribute(self._file, "layer_names", list(layout))
        self._file.attrs["backend"] = cio.H5_BACKEND
        self._file.attrs["keras_version"] = cio.H5_KERAS_VERSION
        for layer in sorted(layout):
            group = self._file.create_group(layer)
            weight_names = [f"{model_name}/{name}:0" for name in layout[layer]]
            cio.save_attribute(group, "weight_names", weight_names)
            for weight_name, name in zip(weight_names, layout[layer]):
                self._targets.setdefault(name, []).append(f"{layer}/{weight_name}")
        cio.save_attribute(self._file.create_group(cio.TOP_LEVEL_GROUP), "weight_names", [])

    def write(self, name: str, array: np.ndarray) -> None:
        for target in self._targets.pop(name):
            self._file.create_dataset(target, data=np.ascontiguousarray(array))

    def close(self) -> None:
        left = list(self._targets)
        self._file.close()
        if left:
            raise RuntimeError(f"{self.path!r}: datasets never written: {left}")


class KerasModelWriter:
    """Builds the deberta_tf model of the architecture, assigns each tensor as it comes, then ``model.save``."""

    def __init__(self, path: str, config: DebertaConfig, architecture: str) -> None:
        import deberta_tf
        from deberta_tf.io import model_variables

        self.path = path
        cls = getattr(deberta_tf, "TF" + normalize_architecture(architecture))
        self.model = cls(config)
        self.model.build()
        self._variables = model_variables(self.model)

    def write(self, name: str, array: np.ndarray) -> None:
        variable = self._variables.pop(name)
        variable.assign(array.astype(variable.dtype, copy=False))

    def close(self) -> None:
        if self._variables:
            raise RuntimeError(f"variables never assigned: {sorted(self._variables)}")
        self.model.save(self.path)


# ---------------------------------------------------------------------------------------------------- staging
class Staging:
    """Files prepared in a private folder, moved into ``dst`` only by ``commit`` (removed by ``abort``).

    ``dst`` missing: the staging folder is a sibling and is renamed to ``dst`` (atomic). ``dst`` present: the
    staging folder lives inside it and each file is moved in with ``os.replace`` (each file atomic).
    """

    def __init__(self, dst: str) -> None:
        self.dst = os.path.abspath(dst)
        self.fresh = not os.path.exists(self.dst)
        parent = os.path.dirname(self.dst) if self.fresh else self.dst
        if self.fresh and not os.path.isdir(parent):
            raise ConversionError(f"cannot write {self.dst!r}: its parent folder {parent!r} does not exist")
        self.folder = tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=parent)

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def commit(self) -> List[str]:
        names = sorted(os.listdir(self.folder))
        if self.fresh:
            os.rename(self.folder, self.dst)
        else:
            for name in names:
                os.replace(os.path.join(self.folder, name), os.path.join(self.dst, name))
            os.rmdir(self.folder)
        self.folder = None
        return [os.path.join(self.dst, n) for n in names]

    def abort(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _same_file_content(a: str, b: str) -> bool:
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


# ---------------------------------------------------------------------------------------------------- results
@dataclass
class ConversionResult:
    """What a file-level conversion did."""

    source: Source
    dst: str
    written: List[str]
    tensors: int
    ignored: List[str]
    bytes_read: int
    parity: Any = None  # conversion.parity.ParityReport when checked

    @property
    def ok(self) -> bool:
        return self.parity is None or self.parity.passed


def _parse_targets(to: Any) -> List[str]:
    if isinstance(to, str):
        to = [to]
    targets: List[str] = []
    for item in to:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if part not in TARGETS:
                raise ConversionError(f"unknown target format {part!r}; expected one of {sorted(TARGETS)}")
            if part not in targets:
                targets.append(part)
    if not targets:
        raise ConversionError(f"no target format given; expected one or more of {sorted(TARGETS)}")
    return targets


def _output_config(source: Source, architecture: str) -> bytes:
    """config.json for the target: the source's bytes, with ``architectures`` added only when it lacked one."""
    if source.config_path is not None:
        with open(source.config_path, "rb") as handle:
            raw = handle.read()
        data = json.loads(raw)
        if data.get("architectures"):
            return raw
        data = {"architectures": [architecture], **data}
        return (json.dumps(data, indent=2) + "\n").encode("utf-8")
    return source.config.copy(architectures=[architecture]).to_json_string().encode("utf-8")


def convert(
    src: str,
    dst: str,
    *,
    to: Any = ("tf",),
    src_format: Optional[str] = None,
    task: Optional[str] = None,
    force: bool = False,
    check: bool = False,
    atol: Optional[float] = None,
    gradients: bool = False,
    progress: bool = False,
) -> ConversionResult:
    """Convert the checkpoint ``src`` (folder or weights file) into the folder ``dst`` in the format(s) ``to``.

    ``to``: ``"torch"`` (model.safetensors), ``"tf"`` (tf_model.h5), ``"keras"`` (model.keras), or several.
    ``check``: load source and result in their frameworks and compare outputs (``conversion.parity``) before
    anything is moved into ``dst``; a failed check leaves ``dst`` untouched and returns a result whose
    ``ok`` is False. Raises ConversionError / WeightMapError for bad input, FileExistsError for files in
    ``dst`` that would be overwritten without ``force``.
    """
    targets = _parse_targets(to)
    families = {TARGETS[t][1] for t in targets}
    avoid = families.pop() if len(families) == 1 else None
    source = resolve_source(src, fmt=src_format, avoid_family=avoid, task=task)
    arch = source.architecture
    dst = os.path.abspath(os.fspath(dst))
    if os.path.isfile(dst):
        raise ConversionError(f"the output {dst!r} is a file; expected a folder (existing or to be created)")

    # What will be written, and what it would overwrite.
    config_bytes = _output_config(source, arch)
    outputs = [TARGETS[t][0] for t in targets]
    conflicts = []
    if os.path.isdir(dst):
        for name in outputs:
            target = os.path.join(dst, name)
            if os.path.exists(target) and os.path.abspath(target) == os.path.abspath(source.path):
                raise ConversionError(f"the output {target!r} is the source file itself; write to another folder")
            if os.path.exists(target):
                conflicts.append(target)
        existing_config = os.path.join(dst, ckfiles.CONFIG_NAME)
        if os.path.exists(existing_config):
            with open(existing_config, "rb") as handle:
                if handle.read() != config_bytes:
                    conflicts.append(existing_config)
        for name, path in source.tokenizer.items():
            target = os.path.join(dst, name)
            if os.path.exists(target) and not _same_file_content(path, target):
                conflicts.append(target)
    if conflicts and not force:
        raise FileExistsError(
            f"refusing to overwrite existing file(s) in {dst!r}: {[os.path.basename(c) for c in conflicts]}; "
            f"pass --force (force=True) to replace them, or choose another output folder"
        )

    staging = Staging(dst)
    try:
        with open(staging.path(ckfiles.CONFIG_NAME), "wb") as handle:
            handle.write(config_bytes)
        for name, path in source.tokenizer.items():
            shutil.copyfile(path, staging.path(name))
        with open_reader(source.fmt, source.path) as reader:
            bytes_read = reader.nbytes()
            plans = {t: make_plan(reader, source.config, arch, TARGETS[t][1], source.config_path or source.path)
                     for t in targets}
            writers = {}
            for t in targets:
                plan = plans[t]
                path = staging.path(TARGETS[t][0])
                if t == "torch":
                    writers[t] = SafetensorsStreamWriter(path, [(i.dst, i.dst_shape, i.dtype) for i in plan.items])
                elif t == "tf":
                    writers[t] = H5StreamWriter(path, [i.dst for i in plan.items], arch)
                else:
                    writers[t] = KerasModelWriter(path, plan.config, arch)
            items = plans[targets[0]].items
            bar = _progress(total=len(items), desc="converting", unit="tensor", enabled=progress)
            try:
                for index, item in enumerate(items):
                    array = reader.read(item.src)
                    for t in targets:
                        own = plans[t].items[index]
                        writers[t].write(own.dst, own.apply(array))
                    del array
                    bar.update(1)
            finally:
                bar.close()
            for t in targets:
                writers[t].close()
            writers.clear()
        result = ConversionResult(source, dst, [], len(items), plans[targets[0]].ignored, bytes_read)
        if check:
            from .parity import ATOL_FP32, check_checkpoints

            reports = []
            for t in targets:
                reports.append(check_checkpoints(
                    source.path, staging.path(TARGETS[t][0]), task=arch, config=plans[t].config,
                    atol=ATOL_FP32 if atol is None else atol, gradients=gradients, progress=progress,
                    names=(source.path, os.path.join(dst, TARGETS[t][0])),
                ))
            from .parity import merge_reports

            result.parity = merge_reports(reports)
            if not result.parity.passed:
                staging.abort()
                return result
        result.written = staging.commit()
        return result
    finally:
        staging.abort()


def _progress(total: int, desc: str, unit: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=None if enabled else True, leave=False, dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------------- in memory
def _torch_class(architecture: str):
    import deberta_torch

    return getattr(deberta_torch, normalize_architecture(architecture))


def _tf_class(architecture: str):
    import deberta_tf

    return getattr(deberta_tf, "TF" + normalize_architecture(architecture))


def _is_torch_model(obj: Any) -> bool:
    return type(obj).__module__.startswith("deberta_torch") and hasattr(obj, "state_dict")


def _is_tf_model(obj: Any) -> bool:
    return type(obj).__module__.startswith("deberta_tf") and hasattr(obj, "weights")


def torch_model_to_tf(model):
    """A deberta_torch model -> the deberta_tf twin of the same class and config, weights copied via the map."""
    from deberta_tf.io import assign_weights, match_weights

    arch = normalize_architecture(type(model).__name__)
    state = {k: v.detach().cpu().contiguous().numpy() for k, v in model.state_dict().items()}
    reader = ArrayReader(state, "torch", f"<{type(model).__name__} state_dict>")
    plan = make_plan(reader, model.config, arch, "keras")
    weights = {item.dst: item.apply(reader.read(item.src)) for item in plan.items}
    tf_model = _tf_class(arch)(plan.config)
    tf_model.build()
    pairs, _ = match_weights(tf_model, weights, plan.config)
    assign_weights(pairs)
    return tf_model


def tf_model_to_torch(model):
    """A deberta_tf model -> the deberta_torch twin of the same class and config, weights copied via the map."""
    import torch

    from deberta_tf.io import keras_weights

    arch = normalize_architecture(type(model).__name__)
    model.build()
    reader = ArrayReader(keras_weights(model), "keras", f"<{type(model).__name__} weights>")
    plan = make_plan(reader, model.config, arch, "torch")
    torch_model = _torch_class(arch)(plan.config)
    state = {item.dst: torch.from_numpy(np.ascontiguousarray(item.apply(reader.read(item.src)))) for item in plan.items}
    torch_model.load_state_dict(state, strict=True)
    torch_model.eval()
    return torch_model


def torch_to_tf(src, dst: Optional[str] = None, *, to: Any = ("tf",), **kwargs):
    """In memory: a deberta_torch model -> its deberta_tf twin. Files: ``convert(src, dst, to=to, ...)`` from a
    torch-format checkpoint (``to`` may be ``"tf"``, ``"keras"`` or both)."""
    if _is_torch_model(src):
        if dst is not None or kwargs:
            raise TypeError("torch_to_tf(model) converts in memory and takes no dst or file options")
        return torch_model_to_tf(src)
    if dst is None:
        raise TypeError("torch_to_tf(folder, dst): dst (the output folder) is required for a file conversion")
    targets = _parse_targets(to)
    if any(TARGETS[t][1] != "keras" for t in targets):
        raise ConversionError(f"torch_to_tf writes tf and/or keras, not {targets}")
    return convert(src, dst, to=targets, **kwargs)


def tf_to_torch(src, dst: Optional[str] = None, **kwargs):
    """In memory: a deberta_tf model -> its deberta_torch twin. Files: ``convert(src, dst, to="torch", ...)`` from a
    tf_model.h5 / .keras checkpoint."""
    if _is_tf_model(src):
        if dst is not None or kwargs:
            raise TypeError("tf_to_torch(model) converts in memory and takes no dst or file options")
        return tf_model_to_torch(src)
    if dst is None:
        raise TypeError("tf_to_torch(folder, dst): dst (the output folder) is required for a file conversion")
    return convert(src, dst, to=("torch",), **kwargs)


# ---------------------------------------------------------------------------------------------------- inspect
def inspect_checkpoint(path: str, *, task: Optional[str] = None) -> Dict[str, Any]:
    """Config summary, formats, parameter count, dtypes and size on disk of a checkpoint (folder or file).

    Framework-free for safetensors, h5 and .keras (read from the archive's weights with h5py); a ``.bin`` needs
    torch. Tolerated extras (tied copies, unused tables) are counted apart from the parameters.
    """
    path = os.fspath(path)
    source = resolve_source(path, task=task) if task or not os.path.isdir(path) else None
    if source is None:
        try:
            source = resolve_source(path)
        except ConversionError as err:
            if "architectures" not in str(err):
                raise
            source = resolve_source(path, task="model")
            source.architecture = None
    info: Dict[str, Any] = {
        "path": os.path.abspath(path),
        "format": source.fmt,
        "weights_file": source.path,
        "other_formats": source.other_formats,
        "architecture": source.architecture,
    }
    config = source.config
    info["config"] = {
        "hidden_size": config.hidden_size, "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads, "intermediate_size": config.intermediate_size,
        "vocab_size": config.vocab_size, "embedding_size": config.embedding_size,
        "max_position_embeddings": config.max_position_embeddings, "type_vocab_size": config.type_vocab_size,
        "relative_attention": config.relative_attention, "pos_att_type": config.pos_att_type,
        "position_biased_input": config.position_biased_input, "num_labels": config.num_labels,
    }
    if source.fmt == "keras":
        names_shapes = _keras_archive_shapes(source.path)
    else:
        with open_reader(source.fmt, source.path) as reader:
            names_shapes = {n: (reader.shape(n), reader.dtype(n)) for n in reader.names()}
    extras: List[str] = []
    if FAMILY[source.fmt] == "torch" and source.architecture:
        plain, tied = tolerated_torch_keys(names_shapes, config, source.architecture)
        extras = plain + [k for k, _ in tied]
    params = sum(int(np.prod(s, dtype=np.int64)) for n, (s, _) in names_shapes.items() if n not in extras)
    dtypes: Dict[str, int] = {}
    for n, (s, d) in names_shapes.items():
        dtypes[str(d)] = dtypes.get(str(d), 0) + 1
    info.update(
        tensors=len(names_shapes),
        parameters=params,
        ignored_extras=extras,
        dtypes=dtypes,
        size_bytes=_weights_size(source),
    )
    return info


def _weights_size(source: Source) -> int:
    if source.path.endswith(".index.json"):
        with open(source.path, encoding="utf-8") as handle:
            shards = set(json.load(handle)["weight_map"].values())
        return sum(os.path.getsize(os.path.join(source.folder, s)) for s in shards)
    return os.path.getsize(source.path)


def _keras_archive_shapes(path: str) -> Dict[str, Tuple[Tuple[int, ...], np.dtype]]:
    """Variable path -> (shape, dtype) inside a .keras archive's model.weights.h5 (h5py only)."""
    import io

    import h5py

    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("model.weights.h5")
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise ConversionError(f"{path!r} is not a readable .keras archive: {err}") from None
    out: Dict[str, Tuple[Tuple[int, ...], np.dtype]] = {}
    with h5py.File(io.BytesIO(data), "r") as handle:
        handle.visititems(lambda n, o: out.__setitem__(n, (tuple(o.shape), o.dtype))
                          if isinstance(o, h5py.Dataset) else None)
    return out


__all__ = [
    "ConversionError", "ConversionResult", "Source", "TARGETS", "TASKS", "convert", "inspect_checkpoint",
    "make_plan", "open_reader", "resolve_source", "tf_model_to_torch", "tf_to_torch", "torch_model_to_tf",
    "torch_to_tf",
]
