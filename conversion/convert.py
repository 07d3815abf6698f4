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
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from deberta_core import DebertaConfig
from deberta_core import files as ckfiles
from deberta_core.batches import DEFAULT_SEED
from deberta_core.checkpoint_io import H5StreamWriter, SafetensorsStreamWriter
from deberta_core.files import Staging

from .parity import ATOL_FP32, check_checkpoints, merge_reports, progress_bar
from .sources import ConversionError, Source, make_plan, open_reader, resolve_source
from .twins import is_model, model_class, tf_model_to_torch, torch_model_to_tf

# Targets of ``--to``: target -> (weights file written, family of its names).
TARGETS: Dict[str, Tuple[str, str]] = {
    "torch": (ckfiles.SAFE_WEIGHTS_NAME, "torch"),
    "tf": (ckfiles.TF2_WEIGHTS_NAME, "keras"),
    "keras": (ckfiles.KERAS_NAME, "keras"),
}
STAGING_PREFIX = ".deberta-convert-"  # staging folders of a conversion in progress


# ---------------------------------------------------------------------------------------------------- writers
class KerasModelWriter:
    """Builds the deberta_tf model of the architecture, assigns each tensor as it comes, then ``model.save``."""

    def __init__(self, path: str, config: DebertaConfig, architecture: str) -> None:
        from deberta_tf.io import model_variables

        self.path = path
        self.model = model_class("tf", architecture)(config)
        self.model.build()
        self._variables = model_variables(self.model)

    def write(self, name: str, array: np.ndarray) -> None:
        variable = self._variables.pop(name)
        variable.assign(array.astype(variable.dtype, copy=False))

    def close(self) -> None:
        if self._variables:
            raise RuntimeError(f"variables never assigned: {sorted(self._variables)}")
        self.model.save(self.path)

    def abort(self) -> None:
        """Nothing is open until ``close`` (``model.save`` writes atomically)."""


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
    """What a file-level conversion did.

    Attributes:
        source: the checkpoint read (its path, format, config and architecture).
        dst: the output folder (absolute).
        written: the paths of the files written into ``dst``.
        tensors: how many tensors were converted.
        ignored: tolerated source names that were dropped (tied copies, unused tables; see
            ``weight_map.TORCH_TOLERATED``).
        bytes_read: the size of the source weights.
        parity: the ``conversion.parity.ParityReport`` when ``check`` ran, else None.
        ok: True unless the parity check ran and failed.
    """

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
    grad_atol: Optional[float] = None,
    seed: int = DEFAULT_SEED,
    seq_len: Optional[int] = None,
    progress: bool = False,
) -> ConversionResult:
    """Convert the checkpoint ``src`` (folder or weights file) into the folder ``dst`` in the format(s) ``to``.

    Every source name and shape is checked against the weight map before a byte is written; the output is staged and
    moved into ``dst`` only when complete (and, with ``check``, checked).

    Args:
        src: a checkpoint folder, or one weights file whose folder holds config.json.
        dst: the output folder (created if missing).
        to: ``"torch"`` (model.safetensors), ``"tf"`` (tf_model.h5), ``"keras"`` (model.keras), or several (a
            sequence, or a comma-separated str).
        src_format: read this format of a folder that holds several (default: the loaders' order, preferring one not
            of the target's family).
        task: the head (``"model"``, ``"mlm"``, ``"seqcls"``, ``"tokcls"``, ``"qa"`` or an architecture name) when
            config.json names none, or to override it.
        force: replace files in ``dst`` that would be overwritten.
        check: load source and result in their frameworks and compare outputs (``conversion.parity``) before anything
            is moved into ``dst``; a failed check leaves ``dst`` untouched and returns a result whose ``ok`` is
            False.
        atol: the check's output tolerance (default ``ATOL_FP32``).
        gradients: the check compares the gradients of the loss too.
        grad_atol: the check's gradient tolerance (default ``GRAD_ATOL_FP32``).
        seed: the seed of the check's batch (``make_batch``).
        seq_len: the sequence length of the check's batch.
        progress: show progress bars on stderr.

    Returns:
        What was written, read and (with ``check``) measured.

    Raises:
        ConversionError: an unknown target or task, a missing or unreadable source, or an output that is a file or
            the source itself.
        WeightMapError: source names or shapes that do not fit the weight map (all of them at once).
        FileExistsError: files in ``dst`` that would be overwritten without ``force``.
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
            items = plans[targets[0]].items
            bar = progress_bar(len(items), "converting", progress, unit="tensor")
            try:
                for t in targets:
                    plan = plans[t]
                    path = staging.path(TARGETS[t][0])
                    if t == "torch":
                        writers[t] = SafetensorsStreamWriter(path, [(i.dst, i.dst_shape, i.dtype) for i in plan.items])
                    elif t == "tf":
                        writers[t] = H5StreamWriter(path, [i.dst for i in plan.items], arch)
                    else:
                        writers[t] = KerasModelWriter(path, plan.config, arch)
                for index, item in enumerate(items):
                    array = reader.read(item.src)
                    for t in targets:
                        own = plans[t].items[index]
                        writers[t].write(own.dst, own.apply(array))
                    del array
                    bar.update(1)
                for t in targets:
                    writers.pop(t).close()
            except BaseException:
                for writer in writers.values():  # close what is still open before the staging folder goes
                    writer.abort()
                raise
            finally:
                bar.close()
        result = ConversionResult(source, dst, [], len(items), plans[targets[0]].ignored, bytes_read)
        if check:
            reports = []
            for t in targets:
                reports.append(check_checkpoints(
                    source.path, staging.path(TARGETS[t][0]), task=arch, config=plans[t].config,
                    atol=ATOL_FP32 if atol is None else atol, gradients=gradients, grad_atol=grad_atol, seed=seed,
                    seq_len=seq_len, progress=progress,
                    names=(source.path, os.path.join(dst, TARGETS[t][0])),
                ))
            result.parity = merge_reports(reports)
            if not result.parity.passed:
                staging.abort()
                return result
        result.written = staging.commit()
        return result
    finally:
        staging.abort()


# ---------------------------------------------------------------------------------------------------- by argument type
def torch_to_tf(src, dst: Optional[str] = None, *, to: Any = ("tf",), **kwargs):
    """In memory: a deberta_torch model -> its deberta_tf twin. Files: ``convert(src, dst, to=to, ...)`` from a
    torch-format checkpoint.

    Args:
        src: a deberta_torch model, or a checkpoint folder / weights file.
        dst: the output folder (files only; omit it for a model).
        to: ``"tf"``, ``"keras"`` or both (files only).
        **kwargs: ``convert``'s other options (files only).

    Returns:
        The TF model (in memory), or ``convert``'s ``ConversionResult``.

    Raises:
        TypeError: a model with ``dst`` or file options, or a folder without ``dst``.
        ConversionError: a ``to`` other than tf / keras, and as ``convert``.
    """
    if is_model(src, "torch"):
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
    tf_model.h5 / .keras checkpoint.

    Args:
        src: a deberta_tf model, or a checkpoint folder / weights file.
        dst: the output folder (files only; omit it for a model).
        **kwargs: ``convert``'s other options (files only).

    Returns:
        The torch model (in memory), or ``convert``'s ``ConversionResult``.

    Raises:
        TypeError: a model with ``dst`` or file options, or a folder without ``dst``.
    """
    if is_model(src, "tf"):
        if dst is not None or kwargs:
            raise TypeError("tf_to_torch(model) converts in memory and takes no dst or file options")
        return tf_model_to_torch(src)
    if dst is None:
        raise TypeError("tf_to_torch(folder, dst): dst (the output folder) is required for a file conversion")
    return convert(src, dst, to=("torch",), **kwargs)


__all__ = [
    "ConversionResult", "KerasModelWriter", "STAGING_PREFIX", "TARGETS", "convert", "tf_to_torch", "torch_to_tf",
]
