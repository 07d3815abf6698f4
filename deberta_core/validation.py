"""What the models accept: the rules for model inputs and for the labels of each head, once for both twins.

Each twin reads its tensors into ``TensorInfo`` (the static shape, with ``None`` for a dimension unknown until
run time, and the dtype's name), asks ``check_model_inputs`` / ``check_labels`` and then runs what they return
with its own tensor ops (``deberta_torch.utils`` / ``deberta_tf.utils``, ``validate_inputs`` and
``validate_labels``). The rules raise here, at once, for everything a shape or a dtype decides; what only the
values (or a dimension unknown when a Keras graph is traced) can decide comes back as ``ValueCheck`` /
``DimCheck`` items, whose ``message`` / ``holds`` the twins use, so both twins say the same words.

Model inputs (``check_model_inputs``), checked at the entry of DebertaModel / TFDebertaModel:

* exactly one of ``input_ids`` [b, s] (int32/int64, values in [0, vocab_size)) and ``inputs_embeds``
  [b, s, embedding_size] (floating);
* ``attention_mask`` [b, s] (1 = a token, 0 = padding), or the reference's other forms [b, s, s] (query x key),
  [b, 1, s], [b, 1, s, s], [b, 1, 1, s]; bool, integer or floating, holding only 0 and 1 (an additive
  0 / -inf mask is refused: it would mask exactly the tokens it means to keep). A row may be fully padded.
* ``token_type_ids`` [b, s] (int32/int64, in [0, type_vocab_size)); with type_vocab_size 0 the model has no
  token-type table and ignores them (the reference does; its tokenizer returns them), so only their shape and
  dtype are checked.
* ``position_ids`` [b, s] or [1, s] (int32/int64, in [0, max_position_embeddings)); used, and range-checked,
  only with position_biased_input (DeBERTa's relative attention takes positions from the token order; the
  reference ignores position_ids otherwise, and so do we).
* b >= 1 and s >= 1: an empty batch or an empty sequence is an error in both twins (there is no [CLS] token to
  pool, and an empty batch is almost always an upstream bug). With absolute positions, s <= max_position_embeddings.
* No broadcasting: a [b, 1] or [1, s] mask, or [1, s] token types, is refused (only position_ids may be [1, s],
  the reference's own default shape).

Labels (``check_labels``), checked by each head's loss function:

* MaskedLM: ``labels`` [b, s], integer, in [0, vocab_size) or -100 (ignored).
* Token classification: ``labels`` [b, s], integer, in [0, num_labels) or -100 (ignored).
* Question answering: ``start_positions`` / ``end_positions`` [b] or [b, 1], integer, >= 0. A position at or
  beyond the sequence length is ignored (the reference clamps it to s and ignores index s; kept). A negative
  position is refused: the reference silently clamps it to 0 and trains towards the [CLS] token.
* Sequence classification, by problem_type (``problem`` in the result says which loss the twins compute):

  - ``regression`` (or problem_type unset and num_labels == 1): numbers (integer or floating, not bool),
    [b] or [b, 1] for one label, [b, num_labels] otherwise. Mean squared error.
  - ``single_label_classification`` (or unset, num_labels > 1, labels [b] or [b, 1]): integer class indices in
    [0, num_labels) or -100 (ignored); with problem_type unset any negative label is ignored (the reference's
    ``labels >= 0`` row filter). Float class labels are refused, not truncated. Cross-entropy.
  - ``multi_label_classification``: [b, num_labels], 0/1 (bool, integer) or floating in [0, 1]. Binary
    cross-entropy per label.
  - problem_type unset, num_labels > 1, labels [b, num_labels]: the DeBERTa reference (transformers 4.57
    modeling_deberta.py, DebertaForSequenceClassification) takes these as *soft targets*, a distribution over
    the labels per row, and computes -sum(log_softmax(logits) * labels) averaged over rows. We keep that for
    floating labels, and require each row to be a distribution (entries >= 0, summing to 1 within
    SOFT_TARGET_ATOL). Integer [b, num_labels] labels are refused: they are multi-hot targets (BERT-style models
    read problem_type unset + such labels as multi-label), and the soft-target loss would train a softmax
    towards rows summing to 2 or 0 without a word; the error says to set problem_type. Float multi-hot rows are
    refused by the distribution rule for the same reason.
* Every loss is the mean over the labels that are not ignored, and 0 (with zero gradient) when every label of
  the batch is ignored: the reference's PyTorch classes give nan there (0 / 0) except in its problem_type-unset
  classification branch, which gives 0; its TF classes give 0. A batch without a single target (an MLM batch
  where nothing was masked, QA windows without the answer) then leaves the weights as they are instead of
  poisoning them with nan.

Where the checks hold: every rule holds in eager mode in both twins. Shapes and dtypes are Python checks on
static facts, so they also hold under torch.compile / torch.export (as guards) and when a Keras graph is
traced (tf.function, XLA) wherever the dimensions are known then; dimensions unknown at trace time and all
value checks become ``tf.debugging.Assert`` ops in a Keras graph (they raise InvalidArgumentError with the same
words when the graph runs). XLA drops Assert ops (``jit_compile=True``: "Ignoring Assert operator"), so under
XLA only the trace-time checks hold; run ``deberta_tf.utils.validate_inputs`` in the tf.data pipeline (or
compile with ``jit_compile=False``) to keep the value checks. Under torch.compile / torch.export the value
checks are skipped (a data-dependent check would break the graph); eager torch runs them with one host
transfer of a few numbers per forward (a device sync on an accelerator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .config import DebertaConfig
from .outputs import IGNORE_INDEX

# The dtypes an embedding lookup takes as indices in both frameworks (torch: Long/Int; tf.gather: int32/int64).
INDEX_DTYPES = ("int32", "int64")
# A row of soft targets must sum to 1 within this: float32 / bfloat16 rounding of a distribution over a few
# labels stays far below it, while a multi-hot row (sums 0, 2, ...) is far above.
SOFT_TARGET_ATOL = 1e-2
# The argument that carries b and s, in the order they are looked for.
MAIN_INPUTS = ("input_ids", "inputs_embeds")
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds")
LABEL_TASKS = ("masked_lm", "token_classification", "sequence_classification", "question_answering")

Dim = Union[int, str]  # a constant, or a symbol bound to an axis of the main argument: "b", "s", "E", "n"
Shape = Tuple[Optional[int], ...]


@dataclass(frozen=True)
class TensorInfo:
    """What the rules see of a tensor: its static shape (``None`` where unknown until run time) and dtype name
    ("int64", "float32", "bfloat16", "bool", ...)."""

    shape: Optional[Shape]  # None: the rank itself is unknown
    dtype: str


@dataclass(frozen=True)
class DimCheck:
    """A dimension to compare at run time (unknown when traced): ``name``'s axis ``axis`` must be ``relation``
    ``expected``, a constant or the axis of another argument (``(argument, axis)``)."""

    name: str
    axis: int
    expected: Union[int, Tuple[str, int]]
    relation: str  # "==", ">=", "<="
    message: str


@dataclass(frozen=True)
class ValueCheck:
    """The values of ``name`` must lie in [low, high] (``high`` may be infinite), leaving out the entries equal
    to ``ignore`` (and every negative entry when ``ignore_negative``); whole numbers when ``whole`` (a floating
    mask); each last-axis row summing to 1 when ``distribution``.

    A twin reduces the tensor to three numbers (``stats``): the smallest and largest kept value (an ignored entry
    counts as ``low``) and ``off``, the largest distance of a value from a whole number (``whole``) or of a row
    sum from 1 (``distribution``), else 0. ``holds`` and ``message`` take those numbers (Python floats, or
    tensors in a graph: ``holds`` uses only comparison and ``&``).
    """

    name: str
    low: float
    high: float
    expected: str  # the rule in words, after "<name> must be ...": "in [0, vocab_size=120)"
    ignore: Optional[int] = None
    ignore_negative: bool = False
    whole: bool = False
    distribution: bool = False
    hint: str = ""

    @property
    def tolerance(self) -> float:
        return SOFT_TARGET_ATOL if self.distribution else 0.0

    def holds(self, smallest, largest, off):
        return (smallest >= self.low) & (largest <= self.high) & (off <= self.tolerance)

    def rule(self) -> str:
        """The message without the received values (a graph's Assert prints them after it)."""
        return f"{self.name} must be {self.expected}{(' ' + self.hint) if self.hint else ''}"

    def message(self, smallest: float, largest: float, off: float) -> str:
        got = f"got values in [{_number(smallest)}, {_number(largest)}]"
        if self.whole and off > 0:
            got += ", not all whole numbers"
        if self.distribution and off > self.tolerance:
            got += f", a row sum {_number(off)} away from 1"
        return f"{self.name} must be {self.expected}; {got}{(' ' + self.hint) if self.hint else ''}"


@dataclass
class Checks:
    """What is left to check when the values are there: dimensions unknown when traced, and the values."""

    dims: List[DimCheck] = field(default_factory=list)
    values: List[Tuple[str, ValueCheck]] = field(default_factory=list)  # (argument, check)
    problem: Optional[str] = None  # sequence classification: the loss to compute (see check_labels)


def _number(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.6g}"


def dtype_kind(dtype: str) -> str:
    """"bool", "int", "float" or "other" for a dtype name of either framework."""
    if dtype == "bool":
        return "bool"
    if dtype.startswith(("int", "uint")):
        return "int"
    if dtype.startswith(("float", "bfloat")) or dtype in ("half", "double"):
        return "float"
    return "other"


def _shape_text(shape: Shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _form_text(form: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in form) + "]"


class _Binder:
    """Binds the symbols of the forms (b, s, E, n, ...) to the axes of one reference argument."""

    def __init__(self, checks: Checks) -> None:
        self.checks = checks
        self.values: Dict[str, Optional[int]] = {}
        self.refs: Dict[str, Tuple[str, int]] = {}

    def bind(self, symbol: str, name: str, axis: int, value: Optional[int]) -> None:
        self.values[symbol] = value
        self.refs[symbol] = (name, axis)

    def constant(self, symbol: str, value: int) -> None:
        self.values[symbol] = value

    def binding_text(self, form: Sequence[Dim]) -> str:
        symbols = [d for d in dict.fromkeys(form) if isinstance(d, str)]
        return ", ".join(f"{d}={'?' if self.values.get(d) is None else self.values[d]}" for d in symbols)

    def match(self, name: str, info: TensorInfo, forms: Sequence[Sequence[Dim]], what: str = "") -> None:
        """Raise unless ``info`` fits one of ``forms``; add DimChecks for what only run time can tell."""
        expected = _form_text(forms[0]) + (
            f" (or {', '.join(_form_text(f) for f in forms[1:])})" if len(forms) > 1 else "")
        binding = self.binding_text([d for f in forms for d in f])
        context = f"{binding} ({what})" if what else binding
        if info.shape is None:
            raise ValueError(f"{name} must be {expected} with {context}; its rank is unknown (give it a static rank)")
        for form in forms:
            if len(form) != len(info.shape):
                continue
            pending = []
            for axis, (want, got) in enumerate(zip(form, info.shape)):
                value = want if isinstance(want, int) else self.values.get(want)
                if got is not None and value is not None:
                    if got != value:
                        break
                    continue
                target = value if value is not None else self.refs.get(want)
                if target is not None:
                    pending.append((axis, target))
            else:
                message = f"{name} must be {_form_text(form)} with {context}"
                self.checks.dims.extend(DimCheck(name, axis, target, "==", message) for axis, target in pending)
                return
        raise ValueError(f"{name} must be {expected} with {context}; got shape {_shape_text(info.shape)}")


def _require_dtype(name: str, info: TensorInfo, allowed: Sequence[str], expected: str) -> None:
    if info.dtype in allowed or dtype_kind(info.dtype) in allowed:
        return
    raise ValueError(f"{name} must be {expected}, got dtype {info.dtype}")


def _sizes(binder: _Binder, name: str, info: TensorInfo, config: DebertaConfig) -> None:
    """b >= 1, s >= 1, and s <= max_position_embeddings with absolute positions."""
    shape = info.shape
    for axis, symbol in ((0, "b"), (1, "s")):
        if shape[axis] is None:
            binder.checks.dims.append(DimCheck(name, axis, 1, ">=", f"{name} must hold at least one row of at least "
                                                                   f"one token (b >= 1, s >= 1)"))
        elif shape[axis] < 1:
            raise ValueError(f"{name} must hold at least one row of at least one token (b >= 1, s >= 1), got shape "
                             f"{_shape_text(shape)}")
    if config.position_biased_input:
        limit = config.max_position_embeddings
        message = (f"sequence length {{}} exceeds max_position_embeddings ({limit}), the size of the absolute "
                   f"position table (position_biased_input is on)")
        if shape[1] is None:
            binder.checks.dims.append(DimCheck(name, 1, limit, "<=", message.format("s")))
        elif shape[1] > limit:
            raise ValueError(message.format(shape[1]))


def check_model_inputs(config: DebertaConfig, infos: Mapping[str, Optional[TensorInfo]]) -> Checks:
    """The rules for DebertaModel's inputs (module docstring): raise ValueError for what the static facts
    decide; return the run-time checks. ``infos`` maps each of MODEL_INPUTS to its TensorInfo, or None when it
    was not given."""
    checks = Checks()
    given = {name: infos.get(name) for name in MODEL_INPUTS}
    if given["input_ids"] is not None and given["inputs_embeds"] is not None:
        raise ValueError("pass either input_ids or inputs_embeds, not both")
    if given["input_ids"] is None and given["inputs_embeds"] is None:
        raise ValueError("pass input_ids or inputs_embeds")
    main = "input_ids" if given["input_ids"] is not None else "inputs_embeds"
    info = given[main]
    binder = _Binder(checks)
    if main == "input_ids":
        if info.shape is None or len(info.shape) != 2:
            raise ValueError(f"input_ids must be [batch, sequence], got shape "
                             f"{'unknown' if info.shape is None else _shape_text(info.shape)}")
        _require_dtype(main, info, INDEX_DTYPES, "token indices of dtype int32 or int64")
        checks.values.append((main, ValueCheck(main, 0, config.vocab_size - 1, f"in [0, vocab_size={config.vocab_size})")))
    else:
        width = config.embedding_size
        if info.shape is None or len(info.shape) != 3 or info.shape[2] not in (None, width):
            raise ValueError(f"inputs_embeds must be [batch, sequence, embedding_size={width}], got shape "
                             f"{'unknown' if info.shape is None else _shape_text(info.shape)}")
        _require_dtype(main, info, ("float",), "floating (the word embeddings)")
        if info.shape[2] is None:
            checks.dims.append(DimCheck(main, 2, width, "==", f"inputs_embeds must be [batch, sequence, "
                                                              f"embedding_size={width}]"))
    _sizes(binder, main, info, config)
    binder.bind("b", main, 0, info.shape[0])
    binder.bind("s", main, 1, info.shape[1])
    what = f"from {main}"

    mask = given["attention_mask"]
    if mask is not None:
        binder.match("attention_mask", mask,
                     (("b", "s"), ("b", "s", "s"), ("b", 1, "s"), ("b", 1, "s", "s"), ("b", 1, 1, "s")), what)
        _require_dtype("attention_mask", mask, ("bool", "int", "float"), "bool, integer or floating")
        if dtype_kind(mask.dtype) != "bool":
            checks.values.append(("attention_mask", ValueCheck(
                "attention_mask", 0, 1, "0 (padding) or 1 (a token)", whole=dtype_kind(mask.dtype) == "float",
                hint="(an additive mask of 0 / -inf is not accepted)")))
    types = given["token_type_ids"]
    if types is not None:
        binder.match("token_type_ids", types, (("b", "s"),), what)
        _require_dtype("token_type_ids", types, INDEX_DTYPES, "token type indices of dtype int32 or int64")
        if config.type_vocab_size > 0:
            checks.values.append(("token_type_ids", ValueCheck(
                "token_type_ids", 0, config.type_vocab_size - 1, f"in [0, type_vocab_size={config.type_vocab_size})")))
    positions = given["position_ids"]
    if positions is not None:
        binder.match("position_ids", positions, (("b", "s"), (1, "s")), what)
        _require_dtype("position_ids", positions, INDEX_DTYPES, "position indices of dtype int32 or int64")
        if config.position_biased_input:
            checks.values.append(("position_ids", ValueCheck(
                "position_ids", 0, config.max_position_embeddings - 1,
                f"in [0, max_position_embeddings={config.max_position_embeddings})")))
    return checks


def check_labels(task: str, logits: TensorInfo, labels: Mapping[str, TensorInfo],
                 problem_type: Optional[str] = None) -> Checks:
    """The rules for the labels of ``task`` (one of LABEL_TASKS), given the logits they are scored against
    ([b, s, vocab] MaskedLM, [b, s, num_labels] token classification, [b, num_labels] sequence classification,
    start logits [b, s] question answering; the last axis gives vocab_size / num_labels). ``labels``:
    {"labels": info} or, for question answering, {"start_positions": info, "end_positions": info}.
    ``problem_type`` is the config's (sequence classification only). Sequence classification's ``problem`` in
    the result is the loss to compute: "regression", "single_label_classification",
    "multi_label_classification" or "soft_targets"."""
    if task not in LABEL_TASKS:
        raise ValueError(f"task must be one of {LABEL_TASKS}, got {task!r}")
    checks = Checks()
    binder = _Binder(checks)
    binder.bind("b", "logits", 0, logits.shape[0])
    what = "from the logits"
    if task in ("masked_lm", "token_classification"):
        info = labels["labels"]
        binder.bind("s", "logits", 1, logits.shape[1])
        binder.match("labels", info, (("b", "s"),), what)
        _require_dtype("labels", info, ("int",), "integer class indices (or -100 to ignore a position)")
        width, word = logits.shape[-1], ("vocab_size" if task == "masked_lm" else "num_labels")
        checks.values.append(("labels", ValueCheck("labels", 0, width - 1, f"in [0, {word}={width}) or -100 (ignored)",
                                                   ignore=IGNORE_INDEX)))
        return checks
    if task == "question_answering":
        for name in ("start_positions", "end_positions"):
            binder.match(name, labels[name], (("b",), ("b", 1)), what)
            _require_dtype(name, labels[name], ("int",), "integer token positions")
            checks.values.append((name, ValueCheck(
                name, 0, math.inf, "a position >= 0 (one at or beyond the sequence length is ignored)")))
        return checks
    info = labels["labels"]
    num_labels = logits.shape[-1]
    binder.constant("n", num_labels)
    problem = problem_type
    if problem is None:
        if num_labels == 1:
            problem = "regression"
        elif info.shape is not None and (len(info.shape) == 1 or (len(info.shape) == 2 and info.shape[1] == 1)):
            problem = "single_label_classification"
        else:
            problem = "soft_targets"
    checks.problem = problem
    unset = problem_type is None
    if problem == "regression":
        binder.match("labels", info, ((("b",), ("b", 1)) if num_labels == 1 else (("b", "n"),)),
                     "b from the logits, n = num_labels; regression")
        _require_dtype("labels", info, ("int", "float"), "numbers (regression targets)")
    elif problem == "single_label_classification":
        binder.match("labels", info, (("b",), ("b", 1)), "from the logits; single-label classification")
        _require_dtype("labels", info, ("int",), "integer class indices (single-label classification; float class "
                                                 "labels are not truncated)")
        checks.values.append(("labels", ValueCheck(
            "labels", 0, num_labels - 1,
            f"in [0, num_labels={num_labels}) or " + ("negative (ignored)" if unset else "-100 (ignored)"),
            ignore=IGNORE_INDEX, ignore_negative=unset)))
    elif problem == "multi_label_classification":
        binder.match("labels", info, (("b", "n"),), "b from the logits, n = num_labels; multi-label classification")
        _require_dtype("labels", info, ("bool", "int", "float"), "0/1 targets (multi-label classification)")
        if dtype_kind(info.dtype) != "bool":
            checks.values.append(("labels", ValueCheck("labels", 0, 1, "in [0, 1] (multi-label targets)")))
    else:  # soft targets
        binder.match("labels", info, (("b", "n"),), "b from the logits, n = num_labels; soft targets, problem_type unset")
        if dtype_kind(info.dtype) != "float":
            raise ValueError(
                f"labels of shape [b, num_labels] and dtype {info.dtype} with problem_type unset: the DeBERTa "
                f"reference reads [b, num_labels] labels as soft targets (a float distribution per row), and "
                f"integer ones are multi-hot targets; set problem_type='multi_label_classification' for 0/1 "
                f"targets, or give float soft targets"
            )
        checks.values.append(("labels", ValueCheck(
            "labels", 0, 1, "soft targets with problem_type unset: each row a distribution (>= 0, summing to 1)",
            distribution=True, hint="(for 0/1 multi-label targets set problem_type='multi_label_classification')")))
    return checks


__all__ = ["Checks", "DimCheck", "INDEX_DTYPES", "LABEL_TASKS", "MODEL_INPUTS", "SOFT_TARGET_ATOL", "TensorInfo",
           "ValueCheck", "check_labels", "check_model_inputs", "dtype_kind"]
