"""Parity: run two models (either framework, any pair) on the same inputs and report max |a - b| per named output.

Named outputs are flattened from the models' ``ModelOutput``: ``last_hidden_state``, ``hidden_states.<i>`` (0 is the
embedding output), ``attentions.<i>``, ``logits`` / ``start_logits`` / ``end_logits``, ``loss``; with
``gradients=True`` also ``grad:<torch state-dict key>`` for every weight (TF gradients are mapped to the torch
layout through the weight map, transposes undone). A bare ``DebertaModel`` has no loss; its gradients are those of
``surrogate_loss = mean(last_hidden_state * R)`` with a fixed random ``R``.

Every position is compared, padded ones included: both twins give a fully masked query row all-zero attention.

Precision. During a check, reduced-precision fp32 shortcuts that can be switched at run time are switched off and
restored afterwards (``full_fp32``): torch ``backends.cuda.matmul.allow_tf32``, ``backends.cudnn.allow_tf32``,
``set_float32_matmul_precision("highest")``; TensorFlow ``config.experimental.enable_tensor_float_32_execution``.
What cannot be switched at run time: TensorFlow's oneDNN custom ops (``TF_ENABLE_ONEDNN_OPTS``) are chosen when
TensorFlow is imported. The ``deberta-convert`` CLI sets ``TF_ENABLE_ONEDNN_OPTS=0`` before it imports TensorFlow
(unless the variable is already set); a library caller must set it before importing TensorFlow. The report's
``precision`` field records what was in effect. Only frameworks already imported are touched (a torch-only
check never imports TensorFlow).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from deberta_core import DebertaConfig
from deberta_core.batches import DEFAULT_SEED, make_batch
from deberta_core.weight_map import apply_op, expand, normalize_architecture

from .twins import framework_of, load_checkpoint_model

# fp32 forward passes of the same math in two frameworks differ by kernel choice and reduction order only; the
# reference's own torch-vs-TF fixtures stay below ~6e-6 on tiny models (tests/fixtures/hf/README.md).
ATOL_FP32 = 1e-5
# Gradients go through the whole backward pass (one more long chain of reductions than the outputs) and are
# larger than the outputs where the loss is steep (MLM over the vocabulary); deberta_torch's own gradient parity
# tests against the reference use the same bound.
GRAD_ATOL_FP32 = 1e-4
PROBE_SEED = 1234  # the fixed projection of the surrogate loss of a bare DebertaModel


# ---------------------------------------------------------------------------------------------------- precision
@contextlib.contextmanager
def full_fp32() -> Iterator[Dict[str, Any]]:
    """Switch off TF32 (and friends) in the frameworks already imported; restore on exit. Yields the settings."""
    restore = []
    state: Dict[str, Any] = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())

        def undo_torch(old=old):
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old[0], old[1]
            torch.set_float32_matmul_precision(old[2])

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        restore.append(undo_torch)
        state["torch"] = "tf32 off, float32 matmul precision 'highest'"
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        old_tf = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        restore.append(lambda: tf.config.experimental.enable_tensor_float_32_execution(old_tf))
        onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
        state["tensorflow"] = ("tf32 off; oneDNN custom ops " + (
            "off (TF_ENABLE_ONEDNN_OPTS=0)" if onednn == "0" else
            f"as chosen at import (TF_ENABLE_ONEDNN_OPTS={onednn!r}; only settable before importing TensorFlow)"))
    try:
        yield state
    finally:
        for undo in reversed(restore):
            undo()


# ---------------------------------------------------------------------------------------------------- running
@dataclass
class RunResult:
    """One model's flattened outputs (and gradients, torch key -> torch-layout array) on one batch."""

    framework: str
    outputs: Dict[str, np.ndarray]
    gradients: Dict[str, np.ndarray] = field(default_factory=dict)


def _flatten(outputs: Mapping[str, Any], to_numpy) -> Dict[str, np.ndarray]:
    flat: Dict[str, np.ndarray] = {}
    for key, value in outputs.items():
        if value is None:
            continue
        if key in ("hidden_states", "attentions"):
            for i, item in enumerate(value):
                flat[f"{key}.{i}"] = to_numpy(item)
        else:
            flat[key] = to_numpy(value)
    return flat


def surrogate_probe(shape: Sequence[int]) -> np.ndarray:
    """The fixed random R of the surrogate loss mean(last_hidden_state * R) of a bare DebertaModel."""
    return np.random.default_rng(PROBE_SEED).standard_normal(tuple(shape)).astype(np.float32)


def run_torch(model, batch: Mapping[str, np.ndarray], *, gradients: bool = False) -> RunResult:
    """Forward (eval mode: dropout off) with hidden states and attentions; optionally backward of the loss."""
    import torch

    inputs = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}
    was_training = model.training
    model.eval()
    try:
        with contextlib.ExitStack() as stack:
            if not gradients:
                stack.enter_context(torch.no_grad())
            else:
                model.zero_grad(set_to_none=True)
            out = model(**inputs, output_hidden_states=True, output_attentions=True, return_dict=True)
            flat = _flatten(out, lambda t: t.detach().cpu().numpy().copy())
            grads: Dict[str, np.ndarray] = {}
            if gradients:
                loss = out.get("loss")
                if loss is None:
                    loss = (out["last_hidden_state"] * torch.from_numpy(surrogate_probe(out["last_hidden_state"].shape))).mean()
                    flat["surrogate_loss"] = loss.detach().numpy().copy()
                loss.backward()
                for name, param in model.named_parameters():
                    grads[name] = (param.grad.detach().cpu().numpy().copy() if param.grad is not None
                                   else np.zeros(tuple(param.shape), np.float32))
                model.zero_grad(set_to_none=True)
    finally:
        model.train(was_training)
    return RunResult("torch", flat, grads)


def run_tf(model, batch: Mapping[str, np.ndarray], *, gradients: bool = False) -> RunResult:
    """Forward (training=False: dropout off) with hidden states and attentions; optionally the loss's gradients,
    mapped to torch keys and layout through the weight map."""
    import tensorflow as tf

    from deberta_tf.io import model_variables

    inputs = {k: tf.constant(v) for k, v in batch.items()}
    kwargs = dict(output_hidden_states=True, output_attentions=True, return_dict=True, training=False)
    if not gradients:
        out = model(**inputs, **kwargs)
        return RunResult("tf", _flatten(out, lambda t: np.array(t)))
    model.build()
    variables = model_variables(model)
    names = list(variables)
    with tf.GradientTape() as tape:
        out = model(**inputs, **kwargs)
        loss = out.get("loss")
        surrogate = loss is None
        if surrogate:
            loss = tf.reduce_mean(out["last_hidden_state"] * surrogate_probe(out["last_hidden_state"].shape))
    flat = _flatten(out, lambda t: np.array(t))
    if surrogate:
        flat["surrogate_loss"] = np.array(loss)
    raw = tape.gradient(loss, [variables[n] for n in names])
    by_keras = {e.keras_name: e for e in expand(model.config, normalize_architecture(type(model).__name__))}
    grads = {}
    for name, grad in zip(names, raw):
        entry = by_keras[name]
        value = (np.zeros(tuple(variables[name].shape), np.float32) if grad is None
                 else np.array(tf.convert_to_tensor(grad)))
        grads[entry.torch_key] = apply_op(entry.op, value, inverse=True)
    return RunResult("tf", flat, grads)


def run_model(model, batch: Mapping[str, np.ndarray], *, gradients: bool = False) -> RunResult:
    """``run_torch`` or ``run_tf``, by the model's framework."""
    return (run_torch if framework_of(model) == "torch" else run_tf)(model, batch, gradients=gradients)


# ---------------------------------------------------------------------------------------------------- report
@dataclass
class ParityEntry:
    name: str
    max_abs_diff: float
    atol: float
    shape: Tuple[int, ...] = ()
    note: str = ""
    relative: bool = False  # max_abs_diff holds a relative difference (training losses), atol a relative tolerance

    @property
    def passed(self) -> bool:
        return not self.note and self.max_abs_diff <= self.atol

    @property
    def is_gradient(self) -> bool:
        return self.name.startswith("grad:")


@dataclass
class ParityReport:
    """Max |a - b| per named output (and gradient), judged against ``atol``.

    Attributes:
        label_a: what side A is (in the text).
        label_b: what side B is.
        entries: one ``ParityEntry`` per compared output or gradient (``grad:<weight>``).
        atol: the outputs' tolerance.
        grad_atol: the gradients' tolerance (None when none were compared).
        precision: the matmul precision settings in force during the runs (``full_fp32``).
        inputs: the shape of each input of the batch.
        passed: something was compared and every entry is within its tolerance.
        failures: the entries over their tolerance.
    """

    label_a: str
    label_b: str
    entries: List[ParityEntry]
    atol: float
    grad_atol: Optional[float] = None
    precision: Dict[str, Any] = field(default_factory=dict)
    inputs: Dict[str, Tuple[int, ...]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.entries) and all(e.passed for e in self.entries)

    @property
    def failures(self) -> List[ParityEntry]:
        return [e for e in self.entries if not e.passed]

    def diffs(self) -> Dict[str, float]:
        """Named output -> max |a - b| (inf for a shape mismatch or an output only one side has)."""
        return {e.name: e.max_abs_diff for e in self.entries}

    def worst(self, gradients: bool = False) -> Optional[ParityEntry]:
        """The entry with the largest difference, among the outputs or (``gradients``) the gradients; None if none.

        Args:
            gradients: look at the gradient entries instead of the outputs.
        """
        pool = [e for e in self.entries if e.is_gradient == gradients]
        return max(pool, key=lambda e: e.max_abs_diff) if pool else None

    def as_dict(self) -> Dict[str, Any]:
        """The report as a JSON-ready dict: labels, verdict, tolerances, every difference, the failures, precision and
        input shapes (``deberta-convert check --json`` prints it).
        """
        return {
            "a": self.label_a, "b": self.label_b, "passed": self.passed, "atol": self.atol, "grad_atol": self.grad_atol,
            "diffs": self.diffs(), "failures": [e.name for e in self.failures], "precision": self.precision,
            "inputs": {k: list(v) for k, v in self.inputs.items()},
        }

    def to_text(self, verbose: bool = False) -> str:
        """The report for a terminal: the verdict, the worst output and gradient, the input shapes and the entries over
        tolerance.

        Args:
            verbose: list every entry, not only those over tolerance.
        """
        outputs = [e for e in self.entries if not e.is_gradient]
        grads = [e for e in self.entries if e.is_gradient]
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"parity {verdict}: {self.label_a}  vs  {self.label_b}"]
        worst = self.worst()
        if worst is not None:
            lines.append(f"  outputs:   {len(outputs)} compared, max |diff| {worst.max_abs_diff:.3g} ({worst.name}), "
                         f"atol {self.atol:g}")
        worst_grad = self.worst(gradients=True)
        if worst_grad is not None:
            lines.append(f"  gradients: {len(grads)} weights, max |diff| {worst_grad.max_abs_diff:.3g} "
                         f"({worst_grad.name[5:]}), atol {self.grad_atol:g}")
        if self.inputs:
            lines.append("  inputs:    " + ", ".join(f"{k} {list(v)}" for k, v in self.inputs.items()))
        shown = self.entries if verbose else self.failures
        if shown:
            lines.append("  " + ("every output:" if verbose else "over tolerance:"))
            width = max(len(e.name) for e in shown)
            for e in shown:
                status = "ok  " if e.passed else "FAIL"
                if e.passed:
                    detail = f"max |diff| {e.max_abs_diff:.3g}"
                else:
                    detail = e.note or f"max |diff| {e.max_abs_diff:.3g} > atol {e.atol:g}"
                lines.append(f"    {status} {e.name:<{width}}  {detail}")
        if not self.entries:
            lines.append("  nothing was compared")
        return "\n".join(lines)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = np.abs(a64 - b64)
    both_nan = np.isnan(a64) & np.isnan(b64)
    diff = np.where(both_nan, 0.0, diff)
    diff = np.where(np.isnan(diff), np.inf, diff)
    return float(diff.max()) if diff.size else 0.0


def compare_results(a: RunResult, b: RunResult, *, atol: float = ATOL_FP32, grad_atol: Optional[float] = None,
                    label_a: str = "A", label_b: str = "B") -> ParityReport:
    """Every named output (and gradient) of ``a`` against ``b``; one-sided or mis-shaped ones fail."""
    grad_atol = GRAD_ATOL_FP32 if grad_atol is None else grad_atol
    entries: List[ParityEntry] = []
    for kind, left, right, tol, prefix in (("output", a.outputs, b.outputs, atol, ""),
                                           ("gradient", a.gradients, b.gradients, grad_atol, "grad:")):
        for name in list(left) + [n for n in right if n not in left]:
            label = prefix + name
            if name not in right or name not in left:
                side = label_a if name in left else label_b
                entries.append(ParityEntry(label, math.inf, tol, note=f"only {side} has this {kind}"))
                continue
            x, y = np.asarray(left[name]), np.asarray(right[name])
            if x.shape != y.shape:
                entries.append(ParityEntry(label, math.inf, tol, x.shape,
                                           note=f"shape {list(x.shape)} vs {list(y.shape)}"))
                continue
            entries.append(ParityEntry(label, max_abs_diff(x, y), tol, x.shape))
    return ParityReport(label_a, label_b, entries, atol, grad_atol if (a.gradients or b.gradients) else None)


def compare_models(
    model_a, model_b, batch: Optional[Mapping[str, np.ndarray]] = None, *, atol: float = ATOL_FP32,
    grad_atol: Optional[float] = None, gradients: bool = False, seed: int = DEFAULT_SEED,
    seq_len: Optional[int] = None, label_a: Optional[str] = None, label_b: Optional[str] = None,
    progress: bool = False,
) -> ParityReport:
    """Run both models (torch or TF, in any pairing) on one batch, in full fp32, and compare every output.

    Args:
        model_a: a deberta_torch or deberta_tf model.
        model_b: the same head, in either framework.
        batch: NumPy inputs (and labels) by name, [b, s]; default ``make_batch`` of model_a's config.
        atol: the outputs' tolerance.
        grad_atol: the gradients' tolerance (default ``GRAD_ATOL_FP32``).
        gradients: also compare the gradient of the loss for every weight (a bare model: a fixed surrogate loss).
        seed: the seed of the default batch.
        seq_len: the sequence length of the default batch.
        label_a: what to call model_a in the report (default its framework and class).
        label_b: what to call model_b.
        progress: show a progress bar on stderr.

    Returns:
        The report (``passed``, the differences, ``to_text()``).

    Raises:
        ValueError: the two models are different heads.
    """
    arch = normalize_architecture(type(model_a).__name__)
    if normalize_architecture(type(model_b).__name__) != arch:
        raise ValueError(f"cannot compare a {type(model_a).__name__} with a {type(model_b).__name__}: different heads")
    if batch is None:
        batch = make_batch(model_a.config, arch, seed=seed, seq_len=seq_len)
    bar = progress_bar(2, "checking", progress)
    try:
        with full_fp32() as precision:
            result_a = run_model(model_a, batch, gradients=gradients)
            bar.update(1)
            result_b = run_model(model_b, batch, gradients=gradients)
            bar.update(1)
    finally:
        bar.close()
    report = compare_results(result_a, result_b, atol=atol, grad_atol=grad_atol,
                             label_a=label_a or f"{framework_of(model_a)} {type(model_a).__name__}",
                             label_b=label_b or f"{framework_of(model_b)} {type(model_b).__name__}")
    report.precision = precision
    report.inputs = {k: tuple(v.shape) for k, v in batch.items()}
    return report


def progress_bar(total: int, desc: str, enabled: bool, unit: str = "step"):
    """A tqdm bar on stderr (a disabled one unless ``enabled``): the one progress display of conversion/."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=None if enabled else True, leave=False, dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------------- checkpoints
def check_checkpoints(
    path_a: str, path_b: str, *, task: Optional[str] = None, config: Optional[DebertaConfig] = None,
    atol: float = ATOL_FP32, grad_atol: Optional[float] = None, gradients: bool = False,
    batch: Optional[Mapping[str, np.ndarray]] = None, seed: int = DEFAULT_SEED, seq_len: Optional[int] = None,
    progress: bool = False, names: Optional[Tuple[str, str]] = None,
) -> ParityReport:
    """Parity between two existing checkpoints (any formats; same or different frameworks).

    Args:
        path_a: a checkpoint folder or weights file.
        path_b: another one.
        task: the head of both, when their config.json names none or to override it.
        config: the configuration of both (default: each checkpoint's own config.json).
        atol: the outputs' tolerance.
        grad_atol: the gradients' tolerance (default ``GRAD_ATOL_FP32``).
        gradients: also compare the gradients of the loss.
        batch: NumPy inputs by name, [b, s]; default ``make_batch`` of the first model's config.
        seed: the seed of the default batch.
        seq_len: the sequence length of the default batch.
        progress: show a progress bar on stderr.
        names: the labels of the two in the report (default: the paths).

    Returns:
        The report, as ``compare_models``.
    """
    model_a = load_checkpoint_model(path_a, task=task, config=config)
    model_b = load_checkpoint_model(path_b, task=task, config=config)
    label_a, label_b = names or (os.fspath(path_a), os.fspath(path_b))
    return compare_models(model_a, model_b, batch, atol=atol, grad_atol=grad_atol, gradients=gradients, seed=seed,
                          seq_len=seq_len, label_a=f"{label_a} ({framework_of(model_a)})",
                          label_b=f"{label_b} ({framework_of(model_b)})", progress=progress)


def merge_reports(reports: Sequence[ParityReport]) -> ParityReport:
    """One report from several (one per converted target), entry names prefixed by the target's label."""
    if len(reports) == 1:
        return reports[0]
    entries = []
    for report in reports:
        target = os.path.basename(report.label_b.split(" (")[0])
        entries += [ParityEntry(f"{target}:{e.name}", e.max_abs_diff, e.atol, e.shape, e.note) for e in report.entries]
    first = reports[0]
    return ParityReport(first.label_a, " + ".join(r.label_b for r in reports), entries, first.atol, first.grad_atol,
                        first.precision, first.inputs)


__all__ = [
    "ATOL_FP32", "GRAD_ATOL_FP32", "ParityEntry", "ParityReport", "RunResult", "check_checkpoints", "compare_models",
    "compare_results", "full_fp32", "max_abs_diff", "merge_reports", "progress_bar", "run_model", "run_tf",
    "run_torch", "surrogate_probe",
]
