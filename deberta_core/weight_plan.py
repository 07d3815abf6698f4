"""The one engine that applies the weight map: a planner on names and shapes.

``plan_weights`` checks the names and shapes of a set of tensors (torch state-dict keys or canonical Keras names)
against the rows ``deberta_core.weight_map.expand`` gives for a config and architecture, and returns a ``Plan``:
the tensor moves (source name -> target name, op) and everything that does not fit (missing, unexpected,
mis-shaped, tolerated extras dropped). It reads no tensor data: the one rule that needs values, "a tied copy may
be dropped only when it equals the tensor it is tied to", is the caller's callback ``tied_equal``.

Every path goes through it:

* ``torch_to_keras`` / ``keras_to_torch`` (whole dicts of arrays, strict or not) and the converter
  (``conversion.sources.make_plan``, streaming from a reader): all or nothing, one ``WeightMapError``;
* both twins' loaders (``match_weights`` in deberta_torch/io.py and deberta_tf/io.py, through ``plan_load``):
  head weights that are missing or left over are warnings in a ``LoadReport`` (the fine-tuning path), anything
  else one ``CheckpointLoadError``.

Pure Python + NumPy: imports no framework.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .config import DebertaConfig
from .errors import CheckpointLoadError, WeightMapError
from .weight_map import (
    MapEntry,
    apply_op,
    expand,
    is_head_weight,
    mlm_config_for_weights,
    normalize_architecture,
    op_shape,
    tolerated_keras_names,
    tolerated_torch_keys,
    torch_prefix_renames,
)

FAMILIES = ("torch", "keras")  # torch state-dict keys / canonical Keras (reference h5) names
Shape = Tuple[int, ...]
TiedEqual = Callable[[str, str], bool]


# ---------------------------------------------------------------------------------------------------- plan
@dataclass
class PlanItem:
    """One tensor to move: source name -> target name, with the op to apply (``inverse`` for Keras -> torch)."""

    src: str
    dst: str
    op: str
    inverse: bool
    dst_shape: Shape
    dtype: Optional[np.dtype] = None

    def apply(self, array: Any) -> Any:
        return apply_op(self.op, array, inverse=self.inverse)


@dataclass
class Plan:
    """What ``plan_weights`` found. Names in ``missing`` / ``unexpected`` / ``mismatched`` are the source's."""

    items: List[PlanItem]
    ignored: List[str]  # tolerated extras, dropped (see weight_map.TORCH_TOLERATED)
    missing: List[str]  # the map expects them, the input lacks them
    unexpected: List[str]  # in the input, no row of the map for this config
    mismatched: List[Tuple[str, Shape, Shape]]  # (name, expected shape, got shape)
    untied: Dict[str, str]  # tied copies that differ from what they are tied to -> description
    config: DebertaConfig
    architecture: str
    src_family: str
    dst_family: str
    missing_entries: List[MapEntry] = field(default_factory=list)
    mismatched_entries: List[Tuple[MapEntry, Shape]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    @property
    def direction(self) -> str:
        return f"{self.src_family} -> {self.dst_family}"


def _check_family(family: str, what: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"{what} must be one of {FAMILIES}, got {family!r}")


def plan_weights(
    shapes: Mapping[str, Sequence[int]], config: DebertaConfig, architecture: str, *, src_family: str,
    dst_family: str, tied_equal: TiedEqual, dtypes: Optional[Mapping[str, np.dtype]] = None,
) -> Plan:
    """Check every name and shape of ``shapes`` (name -> shape, in the ``src_family`` naming) against the map;
    return the moves to ``dst_family`` naming and layout, and whatever does not fit. Never raises for a bad
    input: the caller decides what is fatal (``raise_if_incomplete``, ``plan_load``).

    ``tied_equal(key, tied_to)``: whether the tied copy ``key`` equals ``tied_to`` (both present in the input);
    only then is the copy dropped as tolerated. ``dtypes`` (name -> dtype) is copied onto the items.
    """
    _check_family(src_family, "src_family")
    _check_family(dst_family, "dst_family")
    if not isinstance(config, DebertaConfig):
        raise TypeError(f"plan_weights needs a deberta_core.DebertaConfig, got {type(config).__name__}")
    arch = normalize_architecture(architecture)
    entries = expand(config, arch)
    from_torch = src_family == "torch"
    src_name: Callable[[MapEntry], str] = (lambda e: e.torch_key) if from_torch else (lambda e: e.keras_name)
    src_shape: Callable[[MapEntry], Shape] = (lambda e: e.torch_shape) if from_torch else (lambda e: e.keras_shape)
    names = list(shapes)
    present = set(names)

    ignored: List[str] = []
    untied: Dict[str, str] = {}
    if from_torch:
        plain, tied = tolerated_torch_keys(names, config, arch)
        ignored += plain
        for key, tied_to in tied:
            if tied_to not in present or tied_equal(key, tied_to):
                ignored.append(key)
            else:
                untied[key] = f"{key} (differs from {tied_to}, to which it should be tied)"
    else:
        ignored += tolerated_keras_names(names, config, arch)
    known = {src_name(e) for e in entries}
    unexpected = [n for n in names if n not in known and n not in ignored]
    missing_entries = [e for e in entries if src_name(e) not in present]
    mismatched_entries = [(e, tuple(shapes[src_name(e)])) for e in entries
                          if src_name(e) in present and tuple(shapes[src_name(e)]) != src_shape(e)]
    wrong = {id(e) for e, _ in mismatched_entries}
    items = []
    for e in entries:
        name = src_name(e)
        if name not in present or id(e) in wrong:
            continue
        dtype = None if dtypes is None else dtypes[name]
        if dst_family == src_family:
            items.append(PlanItem(name, name, "identity", False, src_shape(e), dtype))
        elif from_torch:
            items.append(PlanItem(name, e.keras_name, e.op, False, e.keras_shape, dtype))
        else:
            items.append(PlanItem(name, e.torch_key, e.op, True, e.torch_shape, dtype))
    return Plan(
        items, ignored, [src_name(e) for e in missing_entries], unexpected,
        [(src_name(e), src_shape(e), got) for e, got in mismatched_entries], untied, config, arch,
        src_family, dst_family, missing_entries, mismatched_entries,
    )


def format_report(
    direction: str, architecture: str, source: Optional[str], missing: List[str], unexpected: List[str],
    mismatched: List[Tuple[str, Shape, Shape]],
) -> str:
    """The one message of a partial conversion: counts, then every name by category."""
    where = f" from {source}" if source else ""
    counts = f"{len(missing)} missing, {len(unexpected)} unexpected, {len(mismatched)} with the wrong shape"
    lines = [f"cannot convert {direction} weights for {architecture}{where}: {counts}"]
    if missing:
        lines.append("  missing (the map expects them, the input lacks them):")
        lines += [f"    {name}" for name in missing]
    if unexpected:
        lines.append("  unexpected (in the input, no row of the map for this config):")
        lines += [f"    {name}" for name in unexpected]
    if mismatched:
        lines.append("  wrong shape (expected vs got):")
        lines += [f"    {name}: expected {tuple(exp)}, got {tuple(got)}" for name, exp, got in mismatched]
    return "\n".join(lines)


def raise_if_incomplete(plan: Plan, *, strict: bool = True, source: Optional[str] = None, hint: str = "") -> None:
    """One ``WeightMapError`` listing everything that does not fit (with ``strict=False`` only shape errors)."""
    if plan.mismatched or (strict and (plan.missing or plan.unexpected)):
        message = format_report(plan.direction, plan.architecture, source, plan.missing,
                                [plan.untied.get(n, n) for n in plan.unexpected], plan.mismatched)
        raise WeightMapError(message + (f"\n  hint: {hint}" if hint else ""), plan.missing, plan.unexpected,
                             plan.mismatched)


# ---------------------------------------------------------------------------------------------------- dicts of arrays
class ConvertedWeights(dict):
    """The converted ``name -> array`` dict, plus what was left out.

    ``ignored``: tolerated input names that were dropped (see ``TORCH_TOLERATED``), for the caller to log.
    ``missing`` / ``unexpected``: only non-empty with ``strict=False``.
    """

    ignored: List[str]
    missing: List[str]
    unexpected: List[str]


def arrays_equal(tensors: Mapping[str, Any]) -> TiedEqual:
    """The tied-weight rule for a dict of arrays: same shape and values."""
    def equal(key: str, tied_to: str) -> bool:
        a, b = np.asarray(tensors[key]), np.asarray(tensors[tied_to])
        return a.shape == b.shape and np.array_equal(a, b)

    return equal


def _convert(tensors: Mapping[str, Any], config: DebertaConfig, architecture: str, src_family: str,
             dst_family: str, strict: bool, source: Optional[str]) -> ConvertedWeights:
    plan = plan_weights({k: np.shape(v) for k, v in tensors.items()}, config, architecture, src_family=src_family,
                        dst_family=dst_family, tied_equal=arrays_equal(tensors))
    raise_if_incomplete(plan, strict=strict, source=source)
    out = ConvertedWeights((item.dst, item.apply(np.asarray(tensors[item.src]))) for item in plan.items)
    out.ignored, out.missing, out.unexpected = plan.ignored, plan.missing, plan.unexpected
    return out


def torch_to_keras(
    tensors: Mapping[str, np.ndarray], config: DebertaConfig, architecture: str, *, strict: bool = True,
    source: Optional[str] = None,
) -> ConvertedWeights:
    """Torch state-dict arrays -> canonical Keras names, ops applied, in the reference TF order.

    Raises one ``WeightMapError`` listing every missing, unexpected and wrongly shaped key (``source``, e.g. the
    file name, is quoted in the message). With ``strict=False`` missing/unexpected keys are only recorded on the
    result; shape mismatches always raise. Tolerated extras are dropped and listed in ``result.ignored``.
    """
    return _convert(tensors, config, architecture, "torch", "keras", strict, source)


def keras_to_torch(
    weights: Mapping[str, np.ndarray], config: DebertaConfig, architecture: str, *, strict: bool = True,
    source: Optional[str] = None,
) -> ConvertedWeights:
    """Canonical Keras names -> torch state-dict keys (reference prefix convention), inverse ops applied.

    Same error contract as ``torch_to_keras``.
    """
    return _convert(weights, config, architecture, "keras", "torch", strict, source)


# ---------------------------------------------------------------------------------------------------- loading
@dataclass
class LoadReport:
    """What a ``from_pretrained`` left out, in the model's names (``unexpected_keys``: the checkpoint's)."""

    missing_keys: List[str] = field(default_factory=list)  # head weights newly initialised (warning)
    unexpected_keys: List[str] = field(default_factory=list)  # weights of another head, unused (warning)
    mismatched_keys: List[Tuple[str, Shape, Shape]] = field(default_factory=list)  # (name, checkpoint, model)
    ignored_keys: List[str] = field(default_factory=list)  # known benign extras (tied copies, unused tables)

    def as_dict(self) -> dict:
        return {
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "mismatched_keys": self.mismatched_keys,
            "ignored_keys": self.ignored_keys,
        }

    def log(self, logger: logging.Logger, model_name: str, folder: str) -> None:
        """The warnings of a load that succeeded: heads newly initialised, weights not used."""
        for kind, keys in (("newly initialised", self.missing_keys), ("not used", self.unexpected_keys)):
            if keys:
                logger.warning("%s.from_pretrained(%s): weights %s: %s", model_name, folder, kind, keys)


def config_for_weights(config: DebertaConfig, architecture: str, names: Sequence[str],
                       logger: Optional[logging.Logger] = None) -> DebertaConfig:
    """The config to build ``architecture`` with for a checkpoint holding ``names``: a MaskedLM follows the
    checkpoint's head naming when the config leaves ``legacy`` unset (``mlm_config_for_weights``); a config that
    states the other naming is a CheckpointLoadError. Other architectures: ``config`` as it is."""
    if normalize_architecture(architecture) != "DebertaForMaskedLM":
        return config
    try:
        chosen = mlm_config_for_weights(config, names)
    except ValueError as err:
        raise CheckpointLoadError(str(err)) from None
    if logger is not None and chosen.legacy is False and config.legacy is None:
        logger.info("checkpoint holds the original lm_predictions.lm_head.* MaskedLM head; using that naming "
                    "(legacy=False)")
    return chosen


def _noun(family: str) -> str:
    return "key" if family == "torch" else "weight"


def plan_load(
    shapes: Mapping[str, Sequence[int]], config: DebertaConfig, architecture: str, *, src_family: str,
    dst_family: str, model_name: str, tied_equal: TiedEqual, ignore_mismatched_sizes: bool = False,
) -> Tuple[Plan, LoadReport]:
    """The loaders' policy over ``plan_weights``: the plan of what to load (item sources are the checkpoint's own
    names) and a report of the warnings; one CheckpointLoadError listing every problem when the base model does
    not fit.

    A torch-named checkpoint is first renamed to the architecture's prefix convention as the reference loader does
    (a head checkpoint's head is dropped into ``unexpected_keys`` for a bare model). Head weights
    (``is_head_weight``) missing from the checkpoint or left over are warnings; so are head weights of the wrong
    size with ``ignore_mismatched_sizes`` (they stay freshly initialised). Everything else is a problem.
    """
    renames: Dict[str, str] = {name: name for name in shapes}
    report = LoadReport()
    if src_family == "torch":
        try:
            renames, dropped = torch_prefix_renames(shapes, architecture)
        except ValueError as err:  # a state dict mixing both prefix conventions
            raise CheckpointLoadError(str(err)) from None
        report.unexpected_keys += dropped
    plan = plan_weights({new: shapes[old] for new, old in renames.items()}, config, architecture,
                        src_family=src_family, dst_family=dst_family,
                        tied_equal=lambda key, tied_to: tied_equal(renames[key], renames[tied_to]))
    report.ignored_keys += plan.ignored
    dst_noun, src_noun = _noun(dst_family), _noun(src_family)
    dst_name = (lambda e: e.torch_key) if dst_family == "torch" else (lambda e: e.keras_name)
    dst_shape = (lambda e: e.torch_shape) if dst_family == "torch" else (lambda e: e.keras_shape)
    problems: List[str] = []
    missing, unexpected, mismatched, untied = [], [], [], []
    for entry in plan.missing_entries:
        name = dst_name(entry)
        if is_head_weight(name):
            report.missing_keys.append(name)
        else:
            missing.append(name)
            problems.append(f"missing {dst_noun} {name!r} (shape {dst_shape(entry)}): not in the checkpoint")
    for entry, got in plan.mismatched_entries:
        name, expected = dst_name(entry), dst_shape(entry)
        got = got if src_family == dst_family else op_shape(entry.op, got)
        report.mismatched_keys.append((name, got, expected))
        if not (ignore_mismatched_sizes and is_head_weight(name)):
            mismatched.append((name, expected, got))
            problems.append(f"shape mismatch for {name!r}: checkpoint has {got}, the model expects {expected}")
    for name in plan.unexpected:
        if name in plan.untied:
            # The head decodes with the word embeddings: a decoder saved apart from them (tie_word_embeddings=False)
            # would be dropped and the logits silently differ from the checkpoint's.
            untied.append(renames[name])
            problems.append(f"{plan.untied[name]}: the checkpoint was saved with an untied decoder "
                            f"(tie_word_embeddings=False), and {model_name}'s masked-LM head decodes with the word "
                            f"embeddings, so its logits would differ. Tie them in the checkpoint (copy the word "
                            f"embeddings into the decoder) or load its encoder into another head")
        elif is_head_weight(name):
            report.unexpected_keys.append(renames[name])
        else:
            unexpected.append(renames[name])
            problems.append(f"unexpected {src_noun} {renames[name]!r} (shape {tuple(shapes[renames[name]])}): "
                            f"no such weight in {model_name}")
    if problems:
        raise CheckpointLoadError(
            f"the checkpoint does not fit {model_name} ({len(problems)} problem(s)):\n  - " + "\n  - ".join(problems),
            missing, unexpected + untied, mismatched,
        )
    for item in plan.items:
        item.src = renames[item.src]
    return plan, report


def check_model_names(model_shapes: Mapping[str, Sequence[int]], config: DebertaConfig, architecture: str,
                      family: str, model_name: str) -> None:
    """A twin's own weights (name -> shape) must be exactly the map's rows for its config: a RuntimeError
    (a bug in the twin, not a user error) otherwise."""
    expected = {(e.torch_key if family == "torch" else e.keras_name): (e.torch_shape if family == "torch"
                                                                       else e.keras_shape)
                for e in expand(config, architecture)}
    got = {name: tuple(shape) for name, shape in model_shapes.items()}
    if got != expected:
        raise RuntimeError(
            f"{model_name} weights disagree with the weight map: not in the map {sorted(set(got) - set(expected))}, "
            f"not in the model {sorted(set(expected) - set(got))}, other shapes "
            f"{sorted(n for n in set(got) & set(expected) if got[n] != expected[n])}"
        )


__all__ = [
    "FAMILIES", "ConvertedWeights", "LoadReport", "Plan", "PlanItem", "arrays_equal", "check_model_names",
    "config_for_weights", "format_report", "keras_to_torch", "plan_load", "plan_weights", "raise_if_incomplete",
    "torch_to_keras",
]
