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
import zipfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from deberta_core import DebertaConfig
from deberta_core import files as ckfiles
from deberta_core.checkpoint_io import (
    ArrayReader,
    H5StreamWriter,
    SafetensorsStreamWriter,
    TensorReader,
    open_weights,
)
from deberta_core.errors import CheckpointError
from deberta_core.files import Staging
from deberta_core.weight_map import ARCHITECTURES, detect_torch_layout, normalize_architecture, tolerated_torch_keys
from deberta_core.weight_plan import Plan, config_for_weights, plan_weights, raise_if_incomplete

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
STAGING_PREFIX = ".deberta-convert-"  # staging folders of a conversion in progress

# A user-input problem (file, folder, config, option): the message names the file and what was wrong. The same
# class as the core's readers raise for a damaged file.
ConversionError = CheckpointError


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
    from deberta_tf.io import model_weights

    model = load_keras_file(path)
    return model_weights(model), model.config.copy(architectures=[normalize_architecture(type(model).__name__)])


def open_reader(fmt: str, path: str) -> TensorReader:
    """A lazy reader for the weights file ``path`` of format ``fmt`` (see ``deberta_core.files.WEIGHT_FILES``)."""
    if fmt in ("pytorch", "pytorch_sharded"):
        from deberta_torch.io import TorchPickleReader

        return TorchPickleReader(path)
    if fmt == "keras":
        weights, _ = keras_file_weights(path)
        return ArrayReader(weights, "keras", path)
    if fmt in ckfiles.WEIGHT_FILES:
        return open_weights(fmt, path)
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
def make_plan(reader: TensorReader, config: DebertaConfig, architecture: str, dst_family: str,
              config_source: Optional[str] = None) -> Plan:
    """The core planner on ``reader``'s names and shapes, all or nothing: the list of tensor moves, or one
    WeightMapError naming every missing, unexpected and mis-shaped weight (with a hint at the likely cause).

    Reads no tensor data except the tied copies a ``.bin`` carries (checked equal to their source). A MaskedLM
    config that leaves ``legacy`` unset follows the weights' head naming, as the loaders do. ``config_source``
    (the config file) is named in the message when shapes disagree.
    """
    arch = normalize_architecture(architecture)
    names = reader.names()
    if config.legacy is None:
        config = config_for_weights(config, arch, names)  # follows the weights; never raises while legacy is unset

    def tied_equal(key: str, tied_to: str) -> bool:
        a, b = reader.read(key), reader.read(tied_to)
        return a.shape == b.shape and np.array_equal(a, b)

    try:
        plan = plan_weights(reader.shapes(), config, arch, src_family=reader.family, dst_family=dst_family,
                            tied_equal=tied_equal, dtypes={name: reader.dtype(name) for name in names})
    except (ValueError, KeyError) as err:
        raise ConversionError(f"the config cannot build {arch}: {err}") from None
    if not plan.complete:
        hint = _layout_hint(names, arch, reader.family)
        if plan.mismatched and not hint:
            hint = (f"the expected shapes come from the config{f' ({config_source})' if config_source else ''}; "
                    f"check that it belongs to these weights")
        raise_if_incomplete(plan, source=reader.path, hint=hint)
    return plan


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

    staging = Staging(dst, prefix=STAGING_PREFIX)
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
    from deberta_tf.io import assign_weights
    from deberta_torch.io import model_weights

    arch = normalize_architecture(type(model).__name__)
    reader = ArrayReader(model_weights(model), "torch", f"<{type(model).__name__} state_dict>")
    plan = make_plan(reader, model.config, arch, "keras")
    tf_model = _tf_class(arch)(plan.config)
    tf_model.build()
    assign_weights(tf_model, {item.dst: item.apply(reader.read(item.src)) for item in plan.items})
    return tf_model


def tf_model_to_torch(model):
    """A deberta_tf model -> the deberta_torch twin of the same class and config, weights copied via the map."""
    import torch

    from deberta_tf.io import model_weights
    from deberta_torch.io import assign_weights

    arch = normalize_architecture(type(model).__name__)
    model.build()
    reader = ArrayReader(model_weights(model), "keras", f"<{type(model).__name__} weights>")
    plan = make_plan(reader, model.config, arch, "torch")
    torch_model = _torch_class(arch)(plan.config)
    assign_weights(torch_model, {item.dst: torch.from_numpy(np.ascontiguousarray(item.apply(reader.read(item.src))))
                                 for item in plan.items})
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
        return sum(os.path.getsize(path) for path in ckfiles.shard_files(source.path))
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
