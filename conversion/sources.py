"""What a checkpoint holds and how it maps: weight formats and task names, the readers of every format (``.keras``
archives included), the source a conversion reads (folder or file, format, config, architecture) and the
all-or-nothing plan of its tensor moves (the core planner plus a hint at the likely mistake)."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from deberta_core import DebertaConfig
from deberta_core import files as ckfiles
from deberta_core.checkpoint_io import ArrayReader, TensorReader, open_weights
from deberta_core.errors import CheckpointError
from deberta_core.weight_map import ARCHITECTURES, detect_torch_layout, normalize_architecture
from deberta_core.weight_plan import Plan, config_for_weights, plan_weights, raise_if_incomplete

# ---------------------------------------------------------------------------------------------------- names
# Weight formats we read, by family. "torch" names are state-dict keys, "keras" names the canonical Keras names.
TORCH_FORMATS = ckfiles.TORCH_WEIGHT_FORMATS
KERAS_FORMATS = ("tf_h5", "keras")
FAMILY = {**{f: "torch" for f in TORCH_FORMATS}, **{f: "keras" for f in KERAS_FORMATS}}

# Short task names for ``--task`` (the full architecture names are accepted too).
TASKS: Dict[str, str] = {
    "model": "DebertaModel",
    "mlm": "DebertaForMaskedLM",
    "seqcls": "DebertaForSequenceClassification",
    "tokcls": "DebertaForTokenClassification",
    "qa": "DebertaForQuestionAnswering",
}

# Extensions of single weight files given directly as SRC.
FILE_FORMATS = {
    ".safetensors": "safetensors",
    ".bin": "pytorch",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".h5": "tf_h5",
    ".keras": "keras",
}
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


def architecture_of(config: DebertaConfig, task: Optional[str] = None, where: str = "config.json",
                    required: bool = True) -> Optional[str]:
    """The architecture to convert: ``task`` if given, else the config's first ``architectures`` entry (None when
    there is none and it is not ``required``)."""
    if task is not None:
        return resolve_task(task)
    archs = config.architectures
    if not archs:
        if not required:
            return None
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

    import deberta_tf  # noqa: F401  (importing it registers the serializable classes)

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
    architecture: Optional[str]
    config_path: Optional[str] = None
    tokenizer: Dict[str, str] = field(default_factory=dict)
    other_formats: List[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return FAMILY[self.fmt]


def resolve_source(
    src: str, *, fmt: Optional[str] = None, avoid_family: Optional[str] = None, task: Optional[str] = None,
    config: Optional[DebertaConfig] = None, require_architecture: bool = True,
) -> Source:
    """Find the weights to read in ``src`` (a checkpoint folder, or one weights file whose folder holds config.json).

    ``fmt`` forces a format; otherwise a folder's formats are tried in the loaders' order, preferring one not of
    ``avoid_family`` (the target's family). ``task`` overrides the config's architecture; without either, the
    source's ``architecture`` is None unless ``require_architecture``.
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
            found = FILE_FORMATS.get(os.path.splitext(base)[1])
        if found is None:
            raise ConversionError(
                f"cannot tell the format of {src!r} from its name; expected a checkpoint folder or a file ending in "
                f"{', '.join(sorted(FILE_FORMATS))} or .index.json"
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
    architecture = architecture_of(config, task, where=where, required=require_architecture)
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


__all__ = [
    "FAMILY", "FILE_FORMATS", "KERAS_FORMATS", "TASKS", "TORCH_FORMATS", "ConversionError", "Source", "architecture_of",
    "keras_file_config", "keras_file_weights", "load_keras_file", "make_plan", "open_reader", "resolve_source",
    "resolve_task",
]
