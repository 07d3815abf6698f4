"""The one declarative weight map: torch state-dict key <-> Keras / reference-h5 weight name.

Each row is ``(torch_key_template, keras_name_template, op)`` plus the torch shape (symbolic dimensions, see
``DIMENSIONS``) and the condition under which the weight exists (see ``CONDITIONS``). ``{i}`` stands for the
encoder layer index. The same rows drive both directions (``op`` is inverted for Keras -> torch) and the
``deberta-convert dump-map`` table.

Naming conventions (the reference's, see docs/weight_map.md):

* torch keys are the reference ``state_dict`` names. Rows of the base groups are written without the base
  prefix; ``expand`` adds ``deberta.`` for the head models and nothing for ``DebertaModel``.
* Keras names are the reference ``tf_model.h5`` weight names without the ``<layer group>/<model name>/`` prefix
  and the ``:0`` suffix, e.g. ``deberta/encoder/layer_._0/attention/self/in_proj/kernel``. They are the same for
  every architecture (the base model always lives under ``deberta/``).
* ``transpose``: Dense kernels are ``[in, out]`` in Keras, torch ``Linear.weight`` is ``[out, in]``.

Pure Python + NumPy: imports no framework.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np

from .config import DebertaConfig
from .errors import WeightMapError

# ---------------------------------------------------------------------------------------------------- ops
# A closed set of invertible array ops: name -> (forward torch->keras, inverse keras->torch).
OPS: Dict[str, Tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "identity": (lambda a: a, lambda a: a),
    "transpose": (lambda a: np.ascontiguousarray(a.T), lambda a: np.ascontiguousarray(a.T)),
}


def apply_op(op: str, array: np.ndarray, *, inverse: bool = False) -> np.ndarray:
    """Apply ``op`` (torch -> Keras), or its inverse (Keras -> torch) when ``inverse``."""
    if op not in OPS:
        raise ValueError(f"unknown weight-map op {op!r}; expected one of {sorted(OPS)}")
    forward, backward = OPS[op]
    return backward(array) if inverse else forward(array)


def op_shape(op: str, shape: Tuple[int, ...]) -> Tuple[int, ...]:
    return tuple(reversed(shape)) if op == "transpose" else tuple(shape)


# ---------------------------------------------------------------------------------------------------- table
class Row(NamedTuple):
    """One weight: torch key template, Keras name template, op, torch shape (dimension names), condition."""

    torch: str
    keras: str
    op: str
    shape: Tuple[str, ...]
    when: str = "always"


# Symbolic dimensions used in ``Row.shape``, resolved from a config.
DIMENSIONS: Dict[str, Callable[[DebertaConfig], int]] = {
    "vocab": lambda c: c.vocab_size,
    "embedding": lambda c: c.embedding_size,
    "hidden": lambda c: c.hidden_size,
    "all_heads": lambda c: c.num_attention_heads * c.head_dim,
    "3*all_heads": lambda c: 3 * c.num_attention_heads * c.head_dim,
    "intermediate": lambda c: c.intermediate_size,
    "positions": lambda c: c.max_position_embeddings,
    "token_types": lambda c: c.type_vocab_size,
    "2*max_relative": lambda c: 2 * c.max_relative_span,
    "pooler": lambda c: c.pooler_hidden_size,
    "labels": lambda c: c.num_labels,
}

# Conditions under which a row exists (the reference builds the weight only then).
CONDITIONS: Dict[str, Callable[[DebertaConfig], bool]] = {
    "always": lambda c: True,
    "type_vocab_size > 0": lambda c: c.type_vocab_size > 0,
    "position table": lambda c: c.has_position_table,  # position_biased_input or enhanced_mask_decoder
    "embedding_size != hidden_size": lambda c: c.embedding_size != c.hidden_size,
    "relative_attention": lambda c: c.relative_attention,
    "relative_attention and c2p": lambda c: c.relative_attention and "c2p" in c.pos_att_types,
    "relative_attention and p2c": lambda c: c.relative_attention and "p2c" in c.pos_att_types,
}

# Row groups, in the reference TF build order (the order of the h5 ``weight_names``).
# Base groups: torch templates without the base prefix.
EMBEDDINGS: Tuple[Row, ...] = (
    Row("embeddings.word_embeddings.weight", "deberta/embeddings/word_embeddings/weight", "identity", ("vocab", "embedding")),
    Row("embeddings.token_type_embeddings.weight", "deberta/embeddings/token_type_embeddings/embeddings", "identity",
        ("token_types", "embedding"), "type_vocab_size > 0"),
    Row("embeddings.position_embeddings.weight", "deberta/embeddings/position_embeddings/embeddings", "identity",
        ("positions", "embedding"), "position table"),
    Row("embeddings.embed_proj.weight", "deberta/embeddings/embed_proj/kernel", "transpose", ("hidden", "embedding"),
        "embedding_size != hidden_size"),
    Row("embeddings.LayerNorm.weight", "deberta/embeddings/LayerNorm/gamma", "identity", ("hidden",)),
    Row("embeddings.LayerNorm.bias", "deberta/embeddings/LayerNorm/beta", "identity", ("hidden",)),
)
ENCODER: Tuple[Row, ...] = (
    Row("encoder.rel_embeddings.weight", "deberta/encoder/rel_embeddings.weight", "identity",
        ("2*max_relative", "hidden"), "relative_attention"),
)
_L = "encoder.layer.{i}."
_K = "deberta/encoder/layer_._{i}/"
LAYER: Tuple[Row, ...] = (
    Row(_L + "attention.self.q_bias", _K + "attention/self/q_bias", "identity", ("all_heads",)),
    Row(_L + "attention.self.v_bias", _K + "attention/self/v_bias", "identity", ("all_heads",)),
    Row(_L + "attention.self.in_proj.weight", _K + "attention/self/in_proj/kernel", "transpose", ("3*all_heads", "hidden")),
    Row(_L + "attention.self.pos_proj.weight", _K + "attention/self/pos_proj/kernel", "transpose",
        ("all_heads", "hidden"), "relative_attention and c2p"),
    Row(_L + "attention.self.pos_q_proj.weight", _K + "attention/self/pos_q_proj/kernel", "transpose",
        ("all_heads", "hidden"), "relative_attention and p2c"),
    Row(_L + "attention.self.pos_q_proj.bias", _K + "attention/self/pos_q_proj/bias", "identity",
        ("all_heads",), "relative_attention and p2c"),
    Row(_L + "attention.output.dense.weight", _K + "attention/output/dense/kernel", "transpose", ("hidden", "hidden")),
    Row(_L + "attention.output.dense.bias", _K + "attention/output/dense/bias", "identity", ("hidden",)),
    Row(_L + "attention.output.LayerNorm.weight", _K + "attention/output/LayerNorm/gamma", "identity", ("hidden",)),
    Row(_L + "attention.output.LayerNorm.bias", _K + "attention/output/LayerNorm/beta", "identity", ("hidden",)),
    Row(_L + "intermediate.dense.weight", _K + "intermediate/dense/kernel", "transpose", ("intermediate", "hidden")),
    Row(_L + "intermediate.dense.bias", _K + "intermediate/dense/bias", "identity", ("intermediate",)),
    Row(_L + "output.dense.weight", _K + "output/dense/kernel", "transpose", ("hidden", "intermediate")),
    Row(_L + "output.dense.bias", _K + "output/dense/bias", "identity", ("hidden",)),
    Row(_L + "output.LayerNorm.weight", _K + "output/LayerNorm/gamma", "identity", ("hidden",)),
    Row(_L + "output.LayerNorm.bias", _K + "output/LayerNorm/beta", "identity", ("hidden",)),
)
# Head groups: absolute torch keys. The legacy MLM decoder is tied to the word embeddings (and its bias to
# cls.predictions.bias): no row, see TORCH_TOLERATED.
MLM_LEGACY: Tuple[Row, ...] = (
    Row("cls.predictions.bias", "cls/predictions/bias", "identity", ("vocab",)),
    Row("cls.predictions.transform.dense.weight", "cls/predictions/transform/dense/kernel", "transpose", ("embedding", "hidden")),
    Row("cls.predictions.transform.dense.bias", "cls/predictions/transform/dense/bias", "identity", ("embedding",)),
    Row("cls.predictions.transform.LayerNorm.weight", "cls/predictions/transform/LayerNorm/gamma", "identity", ("embedding",)),
    Row("cls.predictions.transform.LayerNorm.bias", "cls/predictions/transform/LayerNorm/beta", "identity", ("embedding",)),
)
# The original (hub) MLM head. The reference TF has no such head: these Keras names are ours, in the same style.
MLM_ORIGINAL: Tuple[Row, ...] = (
    Row("lm_predictions.lm_head.bias", "lm_predictions/lm_head/bias", "identity", ("vocab",)),
    # Sized by embedding_size, as the legacy head: its output meets the tied word embeddings, which are
    # embedding_size wide (equal to hidden_size in every released checkpoint, where both agree).
    Row("lm_predictions.lm_head.dense.weight", "lm_predictions/lm_head/dense/kernel", "transpose", ("embedding", "hidden")),
    Row("lm_predictions.lm_head.dense.bias", "lm_predictions/lm_head/dense/bias", "identity", ("embedding",)),
    Row("lm_predictions.lm_head.LayerNorm.weight", "lm_predictions/lm_head/LayerNorm/gamma", "identity", ("embedding",)),
    Row("lm_predictions.lm_head.LayerNorm.bias", "lm_predictions/lm_head/LayerNorm/beta", "identity", ("embedding",)),
)
SEQUENCE_CLASSIFICATION: Tuple[Row, ...] = (
    Row("pooler.dense.weight", "pooler/dense/kernel", "transpose", ("pooler", "pooler")),
    Row("pooler.dense.bias", "pooler/dense/bias", "identity", ("pooler",)),
    # The reference sizes the classifier input by ContextPooler.output_dim, which is hidden_size.
    Row("classifier.weight", "classifier/kernel", "transpose", ("labels", "hidden")),
    Row("classifier.bias", "classifier/bias", "identity", ("labels",)),
)
TOKEN_CLASSIFICATION: Tuple[Row, ...] = (
    Row("classifier.weight", "classifier/kernel", "transpose", ("labels", "hidden")),
    Row("classifier.bias", "classifier/bias", "identity", ("labels",)),
)
QUESTION_ANSWERING: Tuple[Row, ...] = (
    Row("qa_outputs.weight", "qa_outputs/kernel", "transpose", ("labels", "hidden")),
    Row("qa_outputs.bias", "qa_outputs/bias", "identity", ("labels",)),
)

GROUPS: Dict[str, Tuple[Row, ...]] = {
    "embeddings": EMBEDDINGS,
    "encoder": ENCODER,
    "layer": LAYER,
    "mlm_legacy": MLM_LEGACY,
    "mlm_original": MLM_ORIGINAL,
    "sequence_classification": SEQUENCE_CLASSIFICATION,
    "token_classification": TOKEN_CLASSIFICATION,
    "question_answering": QUESTION_ANSWERING,
}
BASE_GROUPS = ("embeddings", "encoder", "layer")

ARCHITECTURES: Tuple[str, ...] = (
    "DebertaModel",
    "DebertaForMaskedLM",
    "DebertaForSequenceClassification",
    "DebertaForTokenClassification",
    "DebertaForQuestionAnswering",
)
# The head group(s) of each architecture. DebertaForMaskedLM picks one by config.use_legacy_mlm_head.
HEAD_GROUPS: Dict[str, Tuple[str, ...]] = {
    "DebertaModel": (),
    "DebertaForMaskedLM": ("mlm_legacy", "mlm_original"),
    "DebertaForSequenceClassification": ("sequence_classification",),
    "DebertaForTokenClassification": ("token_classification",),
    "DebertaForQuestionAnswering": ("question_answering",),
}
BASE_MODEL_PREFIX = "deberta."  # the reference base_model_prefix, torch side


class Tolerated(NamedTuple):
    """A torch key that may be present without a row (template with ``{base}``), and why it is dropped.

    ``tied_to``: the key may only be dropped when it equals that tensor (a tied copy).
    ``unless``: the key is not tolerated when this condition holds (then it is a real weight with a row).
    ``keras``: the canonical Keras name of the same weight where a Keras checkpoint may carry it too.
    """

    torch: str
    reason: str
    architectures: Tuple[str, ...] = ARCHITECTURES
    tied_to: Optional[str] = None
    unless: Optional[str] = None
    keras: Optional[str] = None


# The allow-list of benign extras on the torch side (reference checkpoints carry them).
TORCH_TOLERATED: Tuple[Tolerated, ...] = (
    Tolerated("cls.predictions.decoder.weight", "tied copy of the word embeddings (pytorch_model.bin stores it)",
              ("DebertaForMaskedLM",), tied_to="{base}embeddings.word_embeddings.weight"),
    Tolerated("cls.predictions.decoder.bias", "tied copy of cls.predictions.bias (pytorch_model.bin stores it)",
              ("DebertaForMaskedLM",), tied_to="cls.predictions.bias"),
    Tolerated("{base}embeddings.position_embeddings.weight",
              "unused when position_biased_input and enhanced_mask_decoder are false (the microsoft/deberta-* hub "
              "checkpoints carry it for the decoder, as does a decoder checkpoint of either framework loaded with "
              "the decoder off)", unless="position table", keras="deberta/embeddings/position_embeddings/embeddings"),
    Tolerated("{base}embeddings.position_ids", "buffer, not a weight (older checkpoints saved it)"),
)


# ---------------------------------------------------------------------------------------------------- expansion
@dataclass(frozen=True)
class MapEntry:
    """One row expanded for a config: concrete names and shapes."""

    torch_key: str
    keras_name: str
    op: str
    torch_shape: Tuple[int, ...]
    keras_shape: Tuple[int, ...]
    group: str


def normalize_architecture(architecture: str) -> str:
    """``"TFDebertaForMaskedLM"`` / ``"DebertaForMaskedLM"`` -> ``"DebertaForMaskedLM"``; error if unknown."""
    name = architecture[2:] if isinstance(architecture, str) and architecture.startswith("TFDeberta") else architecture
    if name not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {architecture!r}; expected one of {list(ARCHITECTURES)} (optionally with a 'TF' prefix)"
        )
    return name


def torch_base_prefix(architecture: str) -> str:
    """The torch key prefix of the base model: '' for DebertaModel, 'deberta.' for the head models."""
    return "" if normalize_architecture(architecture) == "DebertaModel" else BASE_MODEL_PREFIX


def groups_for(config: DebertaConfig, architecture: str) -> Tuple[str, ...]:
    """The row groups that make up ``architecture`` under ``config``."""
    arch = normalize_architecture(architecture)
    heads = HEAD_GROUPS[arch]
    if arch == "DebertaForMaskedLM":
        heads = ("mlm_legacy",) if config.use_legacy_mlm_head else ("mlm_original",)
    return BASE_GROUPS + heads


def _shape(row: Row, config: DebertaConfig) -> Tuple[int, ...]:
    return tuple(DIMENSIONS[dim](config) for dim in row.shape)


def expand(config: DebertaConfig, architecture: str) -> List[MapEntry]:
    """Every weight of ``architecture`` built from ``config``, in the reference TF order."""
    if not isinstance(config, DebertaConfig):
        raise TypeError(f"expand needs a deberta_core.DebertaConfig, got {type(config).__name__}")
    prefix = torch_base_prefix(architecture)
    entries: List[MapEntry] = []
    for group in groups_for(config, architecture):
        base = group in BASE_GROUPS
        indices: Iterable[Optional[int]] = range(config.num_hidden_layers) if group == "layer" else (None,)
        for i in indices:
            for row in GROUPS[group]:
                if not CONDITIONS[row.when](config):
                    continue
                torch_key = (prefix if base else "") + (row.torch.format(i=i) if i is not None else row.torch)
                keras_name = row.keras.format(i=i) if i is not None else row.keras
                torch_shape = _shape(row, config)
                entries.append(
                    MapEntry(torch_key, keras_name, row.op, torch_shape, op_shape(row.op, torch_shape), group)
                )
    return entries


# ---------------------------------------------------------------------------------------------------- name rules
def tolerated_torch_keys(
    keys: Iterable[str], config: DebertaConfig, architecture: str
) -> Tuple[List[str], List[Tuple[str, str]]]:
    """The given torch keys that are on the allow-list (``TORCH_TOLERATED``) for this config and architecture:
    (keys dropped as they are, [(tied copy, key it must equal to be dropped)])."""
    arch = normalize_architecture(architecture)
    prefix = torch_base_prefix(arch)
    present = set(keys)
    plain: List[str] = []
    tied: List[Tuple[str, str]] = []
    for item in TORCH_TOLERATED:
        if arch not in item.architectures or (item.unless is not None and CONDITIONS[item.unless](config)):
            continue
        key = item.torch.format(base=prefix)
        if key not in present:
            continue
        if item.tied_to is None:
            plain.append(key)
        else:
            tied.append((key, item.tied_to.format(base=prefix)))
    return plain, tied


def tolerated_keras_names(names: Iterable[str], config: DebertaConfig, architecture: str) -> List[str]:
    """The given canonical Keras names that are on the allow-list (``TORCH_TOLERATED`` entries with a Keras name)
    for this config and architecture: dropped as they are."""
    arch = normalize_architecture(architecture)
    present = set(names)
    return [item.keras for item in TORCH_TOLERATED
            if item.keras in present and arch in item.architectures
            and not (item.unless is not None and CONDITIONS[item.unless](config))]


HEAD_ROOTS = ("cls", "lm_predictions", "pooler", "classifier", "qa_outputs")
_HEAD_WEIGHT = re.compile(r"^(%s)[./]" % "|".join(HEAD_ROOTS))


def is_head_weight(name: str) -> bool:
    """Whether a torch key or a canonical Keras name belongs to a task head (not to the base model).

    Loaders treat such weights as warnings (a fresh head on a base checkpoint, another task's head left
    unused), never as errors: that is the normal fine-tuning path."""
    return _HEAD_WEIGHT.match(name) is not None


# ---------------------------------------------------------------------------------------------------- torch key layout
@dataclass(frozen=True)
class TorchLayout:
    """What a torch state dict's keys say about its naming.

    ``base_prefixed``: base keys carry ``deberta.`` (a head-model checkpoint); None when there are no base keys.
    ``mlm_head``: ``"legacy"`` (``cls.predictions.*``), ``"original"`` (``lm_predictions.lm_head.*``) or None.
    """

    base_prefixed: Optional[bool]
    mlm_head: Optional[str]

    @property
    def legacy(self) -> Optional[bool]:
        """The config ``legacy`` value this layout implies (None: no MLM head)."""
        return None if self.mlm_head is None else self.mlm_head == "legacy"


def detect_torch_layout(keys: Iterable[str]) -> TorchLayout:
    """Classify torch state-dict keys: base-model prefix or not, legacy or original MLM head (if any)."""
    keys = list(keys)
    base_roots = ("embeddings.", "encoder.")
    prefixed = any(k.startswith(BASE_MODEL_PREFIX + r) for k in keys for r in base_roots)
    bare = any(k.startswith(base_roots) for k in keys)
    if prefixed and bare:
        raise ValueError(
            "the state dict mixes base-model keys with and without the 'deberta.' prefix "
            f"(e.g. {next(k for k in keys if k.startswith(BASE_MODEL_PREFIX))!r} and "
            f"{next(k for k in keys if k.startswith(base_roots))!r}); expected one convention"
        )
    legacy = any(k.startswith("cls.predictions.") for k in keys)
    original = any(k.startswith("lm_predictions.lm_head.") for k in keys)
    if legacy and original:
        raise ValueError(
            "the state dict holds both MLM head layouts ('cls.predictions.*' and 'lm_predictions.lm_head.*'); "
            "expected one of them"
        )
    return TorchLayout(
        base_prefixed=True if prefixed else (False if bare else None),
        mlm_head="legacy" if legacy else ("original" if original else None),
    )


_MLM_ORIGINAL_NAME = re.compile(r"^lm_predictions[./]")
_MLM_LEGACY_NAME = re.compile(r"^cls[./]predictions[./]")


def mlm_config_for_weights(config: DebertaConfig, names: Iterable[str]) -> DebertaConfig:
    """The config to load MaskedLM weights with (torch keys or Keras names alike).

    Weights holding only the original ``lm_predictions.lm_head.*`` head select it (``legacy=False``) when the
    config leaves ``legacy`` unset; a config that states the other naming than the weights hold raises
    ValueError. Weights with neither or both namings leave the config as it is (the map reports them)."""
    names = list(names)
    has_original = any(_MLM_ORIGINAL_NAME.match(n) for n in names)
    has_legacy = any(_MLM_LEGACY_NAME.match(n) for n in names)
    if has_original == has_legacy:
        return config
    if config.legacy is None:
        return config.copy(legacy=False) if has_original else config
    if config.use_legacy_mlm_head != has_legacy:
        held = "lm_predictions.lm_head.* (legacy=False)" if has_original else "cls.predictions.* (legacy=True)"
        raise ValueError(
            f"the config asks for the {'cls.predictions' if config.use_legacy_mlm_head else 'lm_predictions'} "
            f"MaskedLM head (legacy={config.legacy}) but the checkpoint holds {held}; "
            f"set legacy to match, or leave it unset to follow the checkpoint"
        )
    return config


def torch_prefix_renames(keys: Iterable[str], architecture: str) -> Tuple[Dict[str, str], List[str]]:
    """How the reference loader renames base keys for ``architecture``: ({name for the model: name in the
    checkpoint}, checkpoint keys dropped).

    A head-model checkpoint loaded as ``DebertaModel``: ``deberta.`` is stripped and the head keys are dropped. A
    base checkpoint loaded as a head model: ``deberta.`` is added (the head weights are then missing, which the
    planner reports). Otherwise every key keeps its name.
    """
    arch = normalize_architecture(architecture)
    keys = list(keys)
    layout = detect_torch_layout(keys)
    if arch == "DebertaModel" and layout.base_prefixed:
        kept = {k[len(BASE_MODEL_PREFIX):]: k for k in keys if k.startswith(BASE_MODEL_PREFIX)}
        return kept, [k for k in keys if not k.startswith(BASE_MODEL_PREFIX)]
    if arch != "DebertaModel" and layout.base_prefixed is False:
        return {(BASE_MODEL_PREFIX + k if k.startswith(("embeddings.", "encoder.")) else k): k for k in keys}, []
    return {k: k for k in keys}, []


def adapt_torch_prefix(
    tensors: Mapping[str, np.ndarray], architecture: str
) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """``tensors`` renamed to the convention of ``architecture`` (see ``torch_prefix_renames``), and the keys
    dropped."""
    renames, dropped = torch_prefix_renames(tensors, architecture)
    return {new: tensors[old] for new, old in renames.items()}, dropped


# ---------------------------------------------------------------------------------------------------- h5 ordering
def _keras_patterns() -> List[Tuple[re.Pattern, int, int]]:
    patterns = []
    for g, (group, rows) in enumerate(GROUPS.items()):
        for r, row in enumerate(rows):
            regex = "^" + re.escape(row.keras).replace(re.escape("{i}"), r"(\d+)") + "$"
            patterns.append((re.compile(regex), g, r))
    return patterns


_KERAS_PATTERNS = _keras_patterns()


def keras_sort_key(name: str) -> Tuple[int, int, int]:
    """Position of a canonical Keras name in the reference TF order: (group, layer index, row).

    Raises ValueError for a name that matches no row.
    """
    for pattern, g, r in _KERAS_PATTERNS:
        match = pattern.match(name)
        if match:
            return (g, int(match.group(1)) if match.groups() else -1, r)
    raise ValueError(f"{name!r} matches no row of the weight map (expected names such as "
                     f"'deberta/encoder/layer_._0/attention/self/in_proj/kernel')")


# ---------------------------------------------------------------------------------------------------- dump
def dump(config: DebertaConfig, architecture: str) -> str:
    """The expanded table as aligned text: torch key, op, Keras name, shapes; then the tolerated extras."""
    arch = normalize_architecture(architecture)
    entries = expand(config, arch)
    header = ("torch key", "op", "keras name", "torch shape", "keras shape")
    rows = [(e.torch_key, e.op, e.keras_name, str(list(e.torch_shape)), str(list(e.keras_shape))) for e in entries]
    widths = [max(len(r[c]) for r in rows + [header]) for c in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [
        f"# weight map for {arch} ({len(entries)} weights; groups: {', '.join(groups_for(config, arch))})",
        fmt.format(*header).rstrip(),
    ]
    lines += [fmt.format(*r).rstrip() for r in rows]
    prefix = torch_base_prefix(arch)
    tolerated = [t for t in TORCH_TOLERATED if arch in t.architectures
                 and not (t.unless is not None and CONDITIONS[t.unless](config))]
    if tolerated:
        lines.append("# tolerated torch extras (dropped, reported as ignored):")
        lines += [f"#   {t.torch.format(base=prefix)}: {t.reason}" for t in tolerated]
    return "\n".join(lines) + "\n"


__all__ = [
    "ARCHITECTURES", "CONDITIONS", "DIMENSIONS", "GROUPS", "OPS", "TORCH_TOLERATED", "MapEntry", "Row",
    "TorchLayout", "Tolerated", "WeightMapError", "adapt_torch_prefix", "apply_op", "detect_torch_layout", "dump",
    "expand", "groups_for", "HEAD_ROOTS", "is_head_weight", "keras_sort_key", "mlm_config_for_weights",
    "normalize_architecture", "op_shape", "tolerated_keras_names", "tolerated_torch_keys", "torch_base_prefix", "torch_prefix_renames",
]
