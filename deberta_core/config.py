"""DebertaConfig: every knob of the model, declared, validated, and round-tripped through config.json.

The field names and defaults are those of the reference implementation's ``DebertaConfig`` so that a
``config.json`` written by it loads here and one written here loads there. Keys we do not know are kept
and written back unchanged.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import json
import logging
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from .files import CONFIG_NAME, HUB_KWARGS, CheckpointFiles, atomic_write, resolve_checkpoint
from .relative_position import max_relative_span

logger = logging.getLogger(__name__)

# Names accepted for ``hidden_act`` / ``pooler_hidden_act``. Each backend implements exactly this set
# (deberta_torch/ and deberta_tf/ test that they do), with the reference's definitions:
#   gelu              exact erf GELU
#   gelu_new / gelu_pytorch_tanh / gelu_fast   tanh approximation of GELU
#   quick_gelu        x * sigmoid(1.702 x)
#   relu, tanh, sigmoid, silu (= swish), mish, linear (identity)
ACTIVATIONS = (
    "gelu",
    "gelu_new",
    "gelu_pytorch_tanh",
    "gelu_fast",
    "quick_gelu",
    "relu",
    "tanh",
    "sigmoid",
    "silu",
    "swish",
    "mish",
    "linear",
)

POS_ATT_TYPES = ("c2p", "p2c")
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")

# The model-specific fields, in the reference's order, with its defaults.
MODEL_FIELDS: Dict[str, Any] = {
    "vocab_size": 50265,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 0,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-7,
    "relative_attention": False,
    "max_relative_positions": -1,
    "pad_token_id": 0,
    "position_biased_input": True,
    "pos_att_type": None,
    "pooler_dropout": 0.0,
    "pooler_hidden_act": "gelu",
    # None = "not stated": the MaskedLM head uses the reference's `cls.predictions` naming, except that a
    # checkpoint holding only the original `lm_predictions` keys selects that naming when it is loaded.
    "legacy": None,
    # None = same as hidden_size / the encoder's width (resolved in __init__).
    "embedding_size": None,
    "pooler_hidden_size": None,
    # Dropout before the sequence-classification layer; None = hidden_dropout_prob (as the reference).
    "cls_dropout": None,
}

# Fields of this package the reference does not have (keyword-only), with their defaults: written to config.json
# only when they differ from the default (a default config.json stays the reference's).
#   enhanced_mask_decoder: MaskedLM logits from the original pretraining code's Enhanced Mask Decoder (two
#   query-stream passes of the last layer, see docs/mlm.md).
OWN_FIELDS: Dict[str, Any] = {
    "enhanced_mask_decoder": False,
}

# Generic fields every model config carries (the ones the heads and the forward defaults read).
GENERIC_FIELDS: Dict[str, Any] = {
    "architectures": None,
    "problem_type": None,
    "output_attentions": False,
    "output_hidden_states": False,
    "return_dict": True,
    "tie_word_embeddings": True,
}

# Keys the reference's PretrainedConfig writes into every config.json (generation settings, bookkeeping) that a
# DeBERTa encoder does not use: kept and written back like any unknown key, but expected, so not reported.
# Read off transformers 4.57.6 ``PretrainedConfig().to_dict()``, plus names older releases wrote.
REFERENCE_GENERIC_KEYS = frozenset("""
    _name_or_path add_cross_attention bad_words_ids begin_suppress_tokens bos_token_id chunk_size_feed_forward
    cross_attention_hidden_size decoder_start_token_id diversity_penalty do_sample dtype early_stopping
    encoder_no_repeat_ngram_size eos_token_id exponential_decay_length_penalty finetuning_task forced_bos_token_id
    forced_eos_token_id is_decoder is_encoder_decoder length_penalty max_length min_length no_repeat_ngram_size
    num_beam_groups num_beams num_return_sequences output_scores prefix pruned_heads remove_invalid_values
    repetition_penalty return_dict_in_generate sep_token_id suppress_tokens task_specific_params temperature
    tf_legacy_loss tie_encoder_decoder tokenizer_class top_k top_p torchscript transformers_version typical_p
    use_bfloat16 torch_dtype gradient_checkpointing use_cache output_past xla_device
""".split())
# Unknown config.json keys already reported in this process (each is reported once).
_REPORTED_UNKNOWN_KEYS: set = set()

# num_labels / id2label / label2id: resolved together (see _set_labels); None means "not given".
LABEL_FIELDS = ("num_labels", "id2label", "label2id")
# Every constructor argument, in the order of the reference's signature (positional arguments follow it).
FIELDS = (*MODEL_FIELDS, *GENERIC_FIELDS, *LABEL_FIELDS)

_INT_POSITIVE = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "embedding_size",
    "pooler_hidden_size",
)
_PROBABILITIES = ("hidden_dropout_prob", "attention_probs_dropout_prob", "pooler_dropout")


def _parse_pos_att_type(value: Union[None, str, Iterable[str]]) -> Optional[List[str]]:
    """The reference accepts a list or a ``"c2p|p2c"`` string; normalise both to a list."""
    if value is None:
        return None
    if isinstance(value, str):
        return [part.strip().lower() for part in value.split("|") if part.strip()]
    if isinstance(value, (list, tuple)):
        return [str(part).strip().lower() for part in value]
    raise ValueError(f"pos_att_type must be a list such as ['c2p', 'p2c'] or a string such as 'c2p|p2c', got {value!r}")


class DebertaConfig:
    """Configuration of a DeBERTa (v1) model.

    Accepts every field of the reference ``DebertaConfig`` (see ``MODEL_FIELDS`` and ``GENERIC_FIELDS``) plus
    ``num_labels`` / ``id2label`` / ``label2id``. Unknown keyword arguments are kept as attributes and written
    back by ``to_dict``. Invalid values raise ``ValueError`` naming the value.
    """

    model_type = "deberta"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Every field's default is written once, in MODEL_FIELDS / GENERIC_FIELDS (LABEL_FIELDS default to None);
        # positional arguments follow FIELDS, the reference constructor's order.
        if len(args) > len(FIELDS):
            raise TypeError(f"DebertaConfig takes at most {len(FIELDS)} positional arguments ({len(args)} given)")
        for name, value in zip(FIELDS, args):
            if name in kwargs:
                raise TypeError(f"DebertaConfig got multiple values for argument {name!r}")
            kwargs[name] = value
        for name, default in {**MODEL_FIELDS, **GENERIC_FIELDS, **OWN_FIELDS}.items():
            setattr(self, name, kwargs.pop(name, default))
        self.pos_att_type = _parse_pos_att_type(self.pos_att_type)
        self.embedding_size = self.hidden_size if self.embedding_size is None else self.embedding_size
        self.pooler_hidden_size = self.hidden_size if self.pooler_hidden_size is None else self.pooler_hidden_size
        if self.architectures is not None and (
                not isinstance(self.architectures, (list, tuple))
                or not all(isinstance(name, str) for name in self.architectures)):
            raise ValueError(f"architectures must be a list of class names (e.g. [\"DebertaForMaskedLM\"]), "
                             f"got {self.architectures!r}")
        self.architectures = list(self.architectures) if self.architectures is not None else None
        self._set_labels(*(kwargs.pop(name, None) for name in LABEL_FIELDS))
        # Keys we do not model (transformers_version, dtype, task_specific_params, ...): kept verbatim.
        kwargs.pop("model_type", None)
        self._extra: Dict[str, Any] = {key: copy.deepcopy(value) for key, value in kwargs.items()}
        self.validate()

    # ------------------------------------------------------------------ labels
    def _set_labels(self, num_labels, id2label, label2id) -> None:
        for name, value in (("id2label", id2label), ("label2id", label2id)):
            if value is not None and not isinstance(value, Mapping):
                example = '{0: "negative", 1: "positive"}' if name == "id2label" else '{"negative": 0, "positive": 1}'
                raise ValueError(f"{name} must be a dict (e.g. {example}), got {type(value).__name__} {value!r}")
        if id2label is not None:
            id2label = {int(k): str(v) for k, v in dict(id2label).items()}
            if num_labels is not None and int(num_labels) != len(id2label):
                raise ValueError(
                    f"num_labels ({num_labels}) disagrees with id2label, which has {len(id2label)} entries "
                    f"({id2label}); pass one of them, or make them agree"
                )
            if sorted(id2label) != list(range(len(id2label))):
                raise ValueError(f"id2label keys must be 0..{len(id2label) - 1}, got {sorted(id2label)}")
        else:
            n = 2 if num_labels is None else num_labels
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ValueError(f"num_labels must be a positive integer, got {n!r}")
            id2label = {i: f"LABEL_{i}" for i in range(n)}
        if label2id is not None:
            label2id = {str(k): int(v) for k, v in dict(label2id).items()}
            if len(label2id) != len(id2label):
                raise ValueError(
                    f"label2id has {len(label2id)} entries but id2label has {len(id2label)}: "
                    f"label2id={label2id}, id2label={id2label}"
                )
        else:
            label2id = {name: i for i, name in id2label.items()}
        self.id2label = id2label
        self.label2id = label2id

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, value: int) -> None:
        if value != self.num_labels:
            self._set_labels(value, None, None)

    # ------------------------------------------------------------------ derived values
    @property
    def head_dim(self) -> int:
        """Width of one attention head (``d`` in the shape legend)."""
        return self.hidden_size // self.num_attention_heads

    @property
    def pos_att_types(self) -> List[str]:
        """``pos_att_type`` as a list ([] when unset)."""
        return list(self.pos_att_type or [])

    @property
    def max_relative_span(self) -> int:
        """Half the number of rows of ``rel_embeddings``: max_relative_positions, or
        max_position_embeddings when max_relative_positions < 1 (as the reference)."""
        return max_relative_span(self.max_relative_positions, self.max_position_embeddings)

    @property
    def attention_scale_factor(self) -> int:
        """``1 + len(pos_att_type)``: the reference divides scores by sqrt(head_dim * this), counting
        pos_att_type entries even when relative_attention is off (it is the code the checkpoints used)."""
        return 1 + len(self.pos_att_types)

    @property
    def classifier_dropout(self) -> float:
        """Dropout before the sequence-classification layer: cls_dropout, else hidden_dropout_prob."""
        return self.hidden_dropout_prob if self.cls_dropout is None else self.cls_dropout

    @property
    def has_position_table(self) -> bool:
        """Whether the model has the absolute position table: for the input (position_biased_input) or as the
        enhanced mask decoder's query stream (enhanced_mask_decoder)."""
        return self.position_biased_input or self.enhanced_mask_decoder

    @property
    def use_legacy_mlm_head(self) -> bool:
        return True if self.legacy is None else bool(self.legacy)

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ValueError naming the first invalid value."""
        for name in _INT_POSITIVE:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("type_vocab_size",):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not isinstance(self.max_relative_positions, int) or isinstance(self.max_relative_positions, bool):
            raise ValueError(
                f"max_relative_positions must be an integer (< 1 means max_position_embeddings), "
                f"got {self.max_relative_positions!r}"
            )
        if (not isinstance(self.pad_token_id, int) or isinstance(self.pad_token_id, bool)
                or not 0 <= self.pad_token_id < self.vocab_size):
            raise ValueError(f"pad_token_id must be an integer in [0, vocab_size={self.vocab_size}), got {self.pad_token_id!r}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads})"
            )
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
        if (not isinstance(self.layer_norm_eps, (int, float)) or isinstance(self.layer_norm_eps, bool)
                or not self.layer_norm_eps > 0):
            raise ValueError(f"layer_norm_eps must be a positive number, got {self.layer_norm_eps!r}")
        if (not isinstance(self.initializer_range, (int, float)) or isinstance(self.initializer_range, bool)
                or self.initializer_range < 0):
            raise ValueError(f"initializer_range must be a non-negative number, got {self.initializer_range!r}")
        for name in ("hidden_act", "pooler_hidden_act"):
            value = getattr(self, name)
            if value not in ACTIVATIONS:
                raise ValueError(f"{name} {value!r} is not a known activation; expected one of {list(ACTIVATIONS)}")
        for entry in self.pos_att_types:
            if entry not in POS_ATT_TYPES:
                raise ValueError(
                    f"pos_att_type entry {entry!r} is not supported; expected entries from {list(POS_ATT_TYPES)} "
                    f"(got pos_att_type={self.pos_att_type!r})"
                )
        if len(set(self.pos_att_types)) != len(self.pos_att_types):
            raise ValueError(f"pos_att_type has a repeated entry: {self.pos_att_type!r}")
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type {self.problem_type!r} is not one of {[None, *PROBLEM_TYPES]}")
        for name in ("relative_attention", "position_biased_input", "output_attentions", "output_hidden_states",
                     "return_dict", "tie_word_embeddings", "enhanced_mask_decoder"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.cls_dropout is not None and (
            not isinstance(self.cls_dropout, (int, float)) or isinstance(self.cls_dropout, bool)
            or not 0.0 <= self.cls_dropout < 1.0
        ):
            raise ValueError(f"cls_dropout must be a probability in [0, 1) or unset, got {self.cls_dropout!r}")
        if self._extra.get("talking_head"):
            raise ValueError(
                "talking_head=True (head_logits_proj / head_weights_proj) is not supported by deberta-dual; "
                "no released DeBERTa v1 checkpoint uses it"
            )
        if self.legacy is not None and not isinstance(self.legacy, bool):
            raise ValueError(f"legacy must be true, false or unset, got {self.legacy!r}")
        if self.enhanced_mask_decoder:
            self._validate_enhanced_mask_decoder()

    def validate_pooler(self) -> None:
        """What the pooler of the classification heads needs; both twins' ``ContextPooler`` call it (the bare model
        has no pooler, so a config with another ``pooler_hidden_size`` still serves it, as in the reference).

        Raises:
            ValueError: ``pooler_hidden_size`` differs from ``hidden_size`` (the reference fails at the first
                forward with a matrix-shape error).
        """
        if self.pooler_hidden_size != self.hidden_size:
            raise ValueError(
                f"pooler_hidden_size ({self.pooler_hidden_size}) must equal hidden_size ({self.hidden_size}) for a "
                f"head with a pooler: its dense layer reads the first token's hidden state"
            )

    def _validate_enhanced_mask_decoder(self) -> None:
        """What the enhanced mask decoder needs (the original code skips it or fails with a shape error)."""
        if self.position_biased_input:
            raise ValueError(
                "enhanced_mask_decoder=True needs position_biased_input=False: the decoder feeds the absolute "
                "positions in late, as its query stream, and the original code silently skips the decoder when "
                "the input already carries them; set position_biased_input=False (as deberta-base does) or turn "
                "the decoder off"
            )
        if self.embedding_size != self.hidden_size:
            raise ValueError(
                f"enhanced_mask_decoder=True adds the raw position embeddings (embedding_size "
                f"{self.embedding_size}) to hidden states (hidden_size {self.hidden_size}): they must be equal"
            )
        if self.num_hidden_layers < 2:
            raise ValueError(
                f"enhanced_mask_decoder=True reads the second-to-last encoder layer's output: it needs "
                f"num_hidden_layers >= 2, got {self.num_hidden_layers}"
            )

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> Dict[str, Any]:
        """Plain-JSON dict in the reference's layout (``model_type`` first, id2label keys as strings)."""
        out: Dict[str, Any] = {"model_type": self.model_type}
        if self.architectures is not None:
            out["architectures"] = list(self.architectures)
        for name in MODEL_FIELDS:
            value = getattr(self, name)
            if name in ("legacy", "cls_dropout") and value is None:
                continue  # unset: the reference's default applies when it reads the file
            out[name] = copy.deepcopy(value)
        for name in GENERIC_FIELDS:
            if name == "architectures":
                continue
            out[name] = getattr(self, name)
        for name, default in OWN_FIELDS.items():
            if getattr(self, name) != default:
                out[name] = copy.deepcopy(getattr(self, name))
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        out["label2id"] = dict(self.label2id)
        for key, value in self._extra.items():
            out[key] = copy.deepcopy(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **overrides: Any) -> "DebertaConfig":
        """A config from a mapping of field names to values (``to_dict``'s form, or a config.json's), with fields
        overridden by keyword. Overriding ``num_labels`` without ``id2label`` drops the mapping's label names;
        overriding ``id2label`` recomputes ``label2id`` and ``num_labels`` from it.

        Args:
            data: the fields; a ``model_type`` other than ``"deberta"`` is refused.
            **overrides: fields to set instead of ``data``'s.

        Returns:
            The config (validated as the constructor validates).

        Raises:
            ValueError: ``data`` is not a mapping, names another ``model_type``, or holds an invalid value.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a config must be a mapping of field names to values, got {type(data).__name__}")
        merged = dict(data)
        model_type = merged.get("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ValueError(f"config model_type is {model_type!r}; this package implements {cls.model_type!r}")
        merged.update(overrides)
        if "num_labels" in overrides and "id2label" not in overrides:
            merged.pop("id2label", None)
            merged.pop("label2id", None)
        if "id2label" in overrides:  # new labels: the file's label2id / num_labels described the old ones
            for name in ("label2id", "num_labels"):
                if name not in overrides:
                    merged.pop(name, None)
        return cls(**merged)

    def to_json_string(self) -> str:
        """The config as config.json holds it: ``to_dict()`` as indented JSON, with a final newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    def save_pretrained(self, save_directory: Union[str, os.PathLike]) -> str:
        """Write ``config.json`` into ``save_directory`` (created if needed), atomically; return its path.

        Args:
            save_directory: the folder.

        Returns:
            The path of the written config.json.

        Raises:
            ValueError: ``save_directory`` is a file.
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_pretrained expects a directory, got the file {save_directory!r}")
        os.makedirs(save_directory, exist_ok=True)
        path = os.path.join(save_directory, CONFIG_NAME)
        with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
            handle.write(self.to_json_string())
        return path

    @classmethod
    def from_json_file(cls, path: Union[str, os.PathLike], **overrides: Any) -> "DebertaConfig":
        """Read a config.json. Keys this package does not use are kept (and written back); they are logged once as a
        warning, since a misspelt field would otherwise fall back to its default silently.

        Args:
            path: the JSON file.
            **overrides: fields to set instead of the file's (as ``from_dict``).

        Returns:
            The config.

        Raises:
            FileNotFoundError: there is no file at ``path``.
            ValueError: the file is not valid JSON, or holds an invalid config.
        """
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise FileNotFoundError(f"no config file at {path!r}") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{path!r} is not valid JSON: {err}") from None
        config = cls.from_dict(data, **overrides)
        unknown = sorted(set(config._extra) - REFERENCE_GENERIC_KEYS - _REPORTED_UNKNOWN_KEYS)
        if unknown:
            # Forward compatibility: a newer writer's keys are kept (and written back), but a misspelt field
            # ("num_hiden_layers") would otherwise fall back to its default without a word.
            _REPORTED_UNKNOWN_KEYS.update(unknown)
            logger.warning("%s has keys this package does not use (kept, written back unchanged; a misspelt "
                           "field falls back to its default): %s", path, ", ".join(unknown))
        return config

    @classmethod
    def from_pretrained(cls, path_or_id: Union[str, os.PathLike], **kwargs: Any) -> "DebertaConfig":
        """Load from a ``config.json`` path, a folder holding one, or (with the [hub] extra) a hub id.

        Args:
            path_or_id: a config.json file, a checkpoint folder, or a hub id ``owner/name``.
            **kwargs: config fields to override the file's values (``num_labels=3``); ``cache_dir``, ``revision``,
                ``token`` and ``local_files_only`` are passed to the hub resolver.

        Returns:
            The config.

        Raises:
            TypeError: a keyword that is neither a config field nor a hub option (the message names the closest one).
            FileNotFoundError: no config.json where ``path_or_id`` points.
        """
        path = os.fspath(path_or_id)
        check_keywords([k for k in kwargs if k not in HUB_KWARGS], override_keywords(_json_keys(path)),
                       f"{cls.__name__}.from_pretrained()")
        if os.path.isfile(path):
            return cls.from_json_file(path, **kwargs)
        hub_kwargs = {k: kwargs.pop(k) for k in HUB_KWARGS if k in kwargs}
        files = resolve_checkpoint(path, require_weights=False, **hub_kwargs)
        if files.config is None:
            raise FileNotFoundError(f"no {CONFIG_NAME} in {files.folder!r}")
        return cls.from_json_file(files.config, **kwargs)

    # ------------------------------------------------------------------ python protocol
    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes not set in __init__: expose the unknown keys we keep.
        extra = self.__dict__.get("_extra")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DebertaConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def copy(self, **overrides: Any) -> "DebertaConfig":
        """A validated copy with some fields changed."""
        return type(self).from_dict(self.to_dict(), **overrides)


def check_keywords(given: Iterable[str], accepted: Iterable[str], where: str) -> None:
    """Refuse keyword arguments that ``where`` does not take (a misspelt ``num_label=5`` must not be dropped
    silently): TypeError naming each unknown one, the closest accepted name, and every accepted name."""
    accepted = sorted(set(accepted))
    unknown = [name for name in given if name not in accepted]
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, accepted, n=1, cutoff=0.6)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TypeError(
        f"{where} got unexpected keyword argument{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
        f"it accepts {', '.join(accepted)}"
    )


def override_keywords(config_keys: Iterable[str] = ()) -> List[str]:
    """The keyword arguments that override a config: its declared fields and the extra keys the loaded config
    already holds (the reference lets from_pretrained override any attribute of the config)."""
    return [*FIELDS, *OWN_FIELDS, *config_keys]


def resolve_pretrained(
    path_or_id: Union[str, os.PathLike], config: Optional[DebertaConfig] = None, *, caller: Any = None,
    **kwargs: Any
) -> Tuple[CheckpointFiles, DebertaConfig]:
    """What both twins' ``from_pretrained`` do first: resolve the folder (or hub id: ``HUB_KWARGS`` go to the
    resolver) and the config, from its config.json unless ``config`` is given; the other keyword arguments
    override config fields (``num_labels=3``). A keyword that is neither a config field (nor a key of the loaded
    config) nor an option is a TypeError naming the closest valid one; ``caller`` (the from_pretrained method)
    names the options in that message."""
    hub_kwargs = {k: kwargs.pop(k) for k in HUB_KWARGS if k in kwargs}
    options = [] if caller is None else [n for n, p in inspect.signature(caller).parameters.items()
                                         if p.kind == p.KEYWORD_ONLY]
    owner = getattr(getattr(caller, "__self__", None), "__name__", None)  # the class of a bound classmethod
    where = f"{owner}.from_pretrained()" if owner else "from_pretrained()"
    if config is None:
        check_keywords(kwargs, [*options, *HUB_KWARGS, *override_keywords(_json_keys(path_or_id))], where)
    else:
        check_keywords(kwargs, [*options, *HUB_KWARGS, *override_keywords(config.to_dict())], where)
    files = resolve_checkpoint(os.fspath(path_or_id), **hub_kwargs)
    if config is None:
        if files.config is None:
            raise FileNotFoundError(f"no {CONFIG_NAME} in {files.folder!r}; pass config= explicitly")
        config = DebertaConfig.from_json_file(files.config, **kwargs)
    elif kwargs:
        config = config.copy(**kwargs)
    return files, config


def _json_keys(path_or_folder: Union[str, os.PathLike]) -> List[str]:
    """The top-level keys of a local config.json (or of the one in a local folder); none for a hub id or a file
    that cannot be read (loading it reports that)."""
    path = os.fspath(path_or_folder)
    if os.path.isdir(path):
        path = os.path.join(path, CONFIG_NAME)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return []
    return list(data) if isinstance(data, dict) else []


# help(DebertaConfig) and IDEs show every field with its default, from the same tables.
DebertaConfig.__init__.__signature__ = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
       for name, default in {**MODEL_FIELDS, **GENERIC_FIELDS, **dict.fromkeys(LABEL_FIELDS)}.items()]
    + [inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)]
)
