"""DebertaTokenizer: DeBERTa (v1)'s byte-level BPE on the Rust ``tokenizers`` library, with the reference API.

The encoding behaviour is that of the reference library's 4.x ``DebertaTokenizerFast`` (same Rust pipeline:
ByteLevel pre-tokenizer, BPE model, ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` template with token types
0 for ``[CLS] A [SEP]`` and 1 for ``B [SEP]``, ``[MASK]`` absorbing the whitespace before it), with three
deliberate differences, all documented in docs/tokenizer.md:

- an empty ``text_pair`` is still a pair (``[CLS] A [SEP] [SEP]``), as in the original DeBERTa code and the
  reference slow tokenizer (the reference fast tokenizer silently drops an empty pair on single inputs);
- user mistakes raise ValueError/TypeError/FileNotFoundError instead of asserting, warning or being ignored
  (``max_length`` too small for the special tokens, ragged tensors, bad batch items, bad files);
- ``return_tensors='np'`` on ragged rows raises instead of building an object array.

Importing this module imports neither torch, TensorFlow nor transformers; ``return_tensors='pt'``/``'tf'``
import their framework inside the call that asks for it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE

from .files import (
    MERGES_NAME,
    SPECIAL_TOKENS_MAP_NAME,
    TOKENIZER_CONFIG_NAME,
    TOKENIZER_JSON_NAME,
    VOCAB_NAME,
    resolve_checkpoint,
)

logger = logging.getLogger(__name__)

ASSETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
# Names that load the embedded deberta-base files (no network, no cache).
EMBEDDED_NAMES = ("deberta-base",)
# deberta-base was pre-trained with 512 positions; the reference hub config says the same.
DEFAULT_MODEL_MAX_LENGTH = 512
MERGES_VERSION_HEADER = "#version:"

# attribute -> default token; ids come from the vocabulary ([PAD]=0 [CLS]=1 [SEP]=2 [UNK]=3 [MASK]=50264).
DEFAULT_SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "unk_token": "[UNK]",
    "mask_token": "[MASK]",
}
# The reference's order for all_special_tokens (bos/eos are [CLS]/[SEP] in DeBERTa).
_SPECIAL_ORDER = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
TENSOR_TYPES = ("np", "pt", "tf")
SIDES = ("right", "left")

TextInput = str
PreTokenizedInput = Sequence[str]


# ---------------------------------------------------------------------------------------------------------------
# BatchEncoding
# ---------------------------------------------------------------------------------------------------------------


def _to_tensor(key: str, value: Any, tensor_type: str) -> Any:
    """One output field as a tensor of ``tensor_type`` (ids: 'np' and 'pt' int64, 'tf' int32 as the reference;
    float fields such as regression labels: float32)."""
    if value and isinstance(value[0], (list, tuple)):
        lengths = sorted({len(row) for row in value})
        if len(lengths) > 1:
            raise ValueError(
                f"cannot make a rectangular {tensor_type!r} tensor of {key!r}: expected rows of equal length, "
                f"got lengths {lengths}; pass padding=True (and truncation=True for texts longer than max_length)"
            )
    array = np.asarray(value)
    floating = array.dtype.kind == "f"  # float fields pad() passes through (regression / multi-label labels)
    array = array.astype(np.float32 if floating else np.int64)
    if tensor_type == "np":
        return array
    if tensor_type == "pt":
        import torch  # only when asked for

        return torch.from_numpy(array)
    import tensorflow as tf  # only when asked for

    return tf.constant(array, dtype=tf.float32 if floating else tf.int32)


def _check_tensor_type(tensor_type: Any) -> Optional[str]:
    if tensor_type is None:
        return None
    value = getattr(tensor_type, "value", tensor_type)  # accepts the reference's TensorType enum too
    if value not in TENSOR_TYPES:
        raise ValueError(f"return_tensors must be one of {TENSOR_TYPES} or None, got {tensor_type!r}")
    return value


# How pad() fills each field it knows (input_ids take the tokenizer's pad id); other fields pass through.
_PAD_VALUES = {"input_ids": None, "attention_mask": 0, "token_type_ids": 0, "special_tokens_mask": 1}


def _as_lists(value: Any) -> Any:
    """NumPy / torch / tf tensors as (nested) Python lists; lists as they are."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) if hasattr(v, "tolist") or isinstance(v, (list, tuple)) else v for v in value]
    return value


class BatchEncoding(dict):
    """The tokenizer's output: a dict of fields (``input_ids`` ...) with attribute access, plus the Rust
    ``Encoding`` objects behind it for alignment queries (``word_ids``, ``char_to_token`` ...)."""

    def __init__(
        self,
        data: Optional[Mapping[str, Any]] = None,
        encodings: Optional[List[Any]] = None,
        tensor_type: Any = None,
        prepend_batch_axis: bool = False,
    ):
        super().__init__(data or {})
        self._encodings = encodings
        self.convert_to_tensors(tensor_type, prepend_batch_axis=prepend_batch_axis)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no field {name!r}; fields: {list(self.keys())}") from None

    def __getitem__(self, key: Union[str, int]) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        if isinstance(key, (int, np.integer)):
            return self._require_encodings()[key]
        raise KeyError(f"index a BatchEncoding with a field name (str) or a batch index (int), got {key!r}")

    def __getstate__(self) -> dict:
        return {"data": dict(self), "encodings": self._encodings}

    def __setstate__(self, state: dict) -> None:
        self.update(state["data"])
        self._encodings = state["encodings"]

    def __reduce__(self):
        return (BatchEncoding, (), self.__getstate__())

    @property
    def encodings(self) -> Optional[List[Any]]:
        """The Rust ``tokenizers.Encoding`` of each row (overflow windows included), or None."""
        return self._encodings

    @property
    def is_fast(self) -> bool:
        return self._encodings is not None

    def _require_encodings(self) -> List[Any]:
        if self._encodings is None:
            raise ValueError("this BatchEncoding carries no encodings (it was built from plain data)")
        return self._encodings

    def tokens(self, batch_index: int = 0) -> List[str]:
        """The token strings of row ``batch_index``."""
        return self._require_encodings()[batch_index].tokens

    def word_ids(self, batch_index: int = 0) -> List[Optional[int]]:
        """For each token of row ``batch_index``, the index of the word it came from (None for special and
        padding tokens): with ``is_split_into_words=True`` the index into the given word list."""
        return self._require_encodings()[batch_index].word_ids

    def sequence_ids(self, batch_index: int = 0) -> List[Optional[int]]:
        """For each token, 0 (first text), 1 (text_pair) or None (special and padding tokens)."""
        return self._require_encodings()[batch_index].sequence_ids

    def token_to_word(self, batch_or_token_index: int, token_index: Optional[int] = None) -> Optional[int]:
        batch_index, token_index = (0, batch_or_token_index) if token_index is None else (batch_or_token_index, token_index)
        return self._require_encodings()[batch_index].word_ids[token_index]

    def token_to_chars(self, batch_or_token_index: int, token_index: Optional[int] = None) -> Optional[Tuple[int, int]]:
        """The (start, end) character span of a token in its own text, or None for special tokens."""
        batch_index, token_index = (0, batch_or_token_index) if token_index is None else (batch_or_token_index, token_index)
        return self._require_encodings()[batch_index].token_to_chars(token_index)

    def char_to_token(
        self, batch_or_char_index: int, char_index: Optional[int] = None, sequence_index: int = 0
    ) -> Optional[int]:
        """The index of the token covering character ``char_index`` of text ``sequence_index`` (0 or 1)."""
        batch_index, char_index = (0, batch_or_char_index) if char_index is None else (batch_or_char_index, char_index)
        return self._require_encodings()[batch_index].char_to_token(char_index, sequence_index)

    def word_to_tokens(
        self, batch_or_word_index: int, word_index: Optional[int] = None, sequence_index: int = 0
    ) -> Optional[Tuple[int, int]]:
        """The (start, end) token span of word ``word_index`` of text ``sequence_index``."""
        batch_index, word_index = (0, batch_or_word_index) if word_index is None else (batch_or_word_index, word_index)
        return self._require_encodings()[batch_index].word_to_tokens(word_index, sequence_index)

    def convert_to_tensors(self, tensor_type: Any = None, prepend_batch_axis: bool = False) -> "BatchEncoding":
        """Turn every field into a tensor of ``tensor_type`` ('np', 'pt', 'tf'); None leaves lists."""
        tensor_type = _check_tensor_type(tensor_type)
        if tensor_type is None:
            return self
        for key, value in self.items():
            if isinstance(value, (list, tuple)):
                self[key] = _to_tensor(key, [value] if prepend_batch_axis else value, tensor_type)
        return self

    def to(self, device: Any) -> "BatchEncoding":
        """Move torch tensors to ``device`` (other values are left alone)."""
        for key, value in self.items():
            if hasattr(value, "to") and not isinstance(value, (list, tuple, str)):
                self[key] = value.to(device)
        return self


# ---------------------------------------------------------------------------------------------------------------
# Reading the vocabulary files
# ---------------------------------------------------------------------------------------------------------------


def _read_vocab(path: str) -> Dict[str, int]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"vocabulary file not found: {path!r} (expected a {VOCAB_NAME} mapping token -> id)")
    try:
        with open(path, encoding="utf-8") as handle:
            vocab = json.load(handle)
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path!r} is not valid JSON (expected an object mapping token -> id): {err}") from None
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError(f"{path!r}: expected a non-empty JSON object mapping token -> id, got {type(vocab).__name__}")
    for token, index in vocab.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"{path!r}: expected a non-negative integer id for every token, got {token!r}: {index!r}")
    return vocab


def _read_merges(path: str) -> List[Tuple[str, str]]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"merges file not found: {path!r} (expected a {MERGES_NAME} of 'left right' lines)")
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path!r} is not UTF-8 text (expected a {MERGES_NAME} of 'left right' lines): {err}") from None
    merges = []
    for number, line in enumerate(lines, start=1):
        if not line or (number == 1 and line.startswith(MERGES_VERSION_HEADER)):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{path!r} line {number}: expected two space-separated tokens, got {line[:80]!r}")
        merges.append((parts[0], parts[1]))
    if not merges:
        raise ValueError(f"{path!r}: expected at least one merge rule, got none")
    return merges


def _bpe_from_files(vocab_file: str, merges_file: str) -> BPE:
    vocab = _read_vocab(os.fspath(vocab_file))
    merges = _read_merges(os.fspath(merges_file))
    try:
        return BPE(vocab=vocab, merges=merges, dropout=None, unk_token=None, continuing_subword_prefix="",
                   end_of_word_suffix="", fuse_unk=False)
    except Exception as err:  # the Rust side raises a bare Exception, e.g. a merge of unknown tokens
        raise ValueError(f"{merges_file!r} does not fit {vocab_file!r}: {err}") from None


def _tokenizer_from_json(path: str) -> Tokenizer:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tokenizer file not found: {path!r} (expected a {TOKENIZER_JSON_NAME})")
    try:
        tok = Tokenizer.from_file(os.fspath(path))
    except Exception as err:  # Rust raises a bare Exception for bad JSON or an unknown layout
        raise ValueError(f"{path!r} is not a valid {TOKENIZER_JSON_NAME}: {err}") from None
    if not isinstance(tok.model, BPE):
        raise ValueError(f"{path!r}: expected a byte-level BPE model, got {type(tok.model).__name__}")
    return tok


def _read_json_object(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path!r} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path!r}: expected a JSON object, got {type(data).__name__}")
    return data


def _token_content(value: Any) -> Any:
    """A special token as written in tokenizer_config.json / special_tokens_map.json (str or {"content": ...})."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def clean_up_tokenization(text: str) -> str:
    """The reference's clean-up of spaces before punctuation and English contractions."""
    return (
        text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
        .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re")
    )


# ---------------------------------------------------------------------------------------------------------------
# The tokenizer
# ---------------------------------------------------------------------------------------------------------------


class _Backend:
    """One Rust tokenizer and the truncation/padding settings last put on it (set only when they change)."""

    __slots__ = ("tokenizer", "settings")

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.settings: Any = None


class DebertaTokenizer:
    """DeBERTa (v1) byte-level BPE tokenizer, on the Rust ``tokenizers`` library.

    ``DebertaTokenizer()`` loads the embedded deberta-base files; ``DebertaTokenizer(vocab_file, merges_file)``
    or ``DebertaTokenizer(tokenizer_file=...)`` loads others; ``from_pretrained`` loads a folder or hub id.
    """

    vocab_files_names = {"vocab_file": VOCAB_NAME, "merges_file": MERGES_NAME, "tokenizer_file": TOKENIZER_JSON_NAME}
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    is_fast = True
    pad_token_type_id = 0

    def __init__(
        self,
        vocab_file: Optional[str] = None,
        merges_file: Optional[str] = None,
        tokenizer_file: Optional[str] = None,
        *,
        add_prefix_space: bool = False,
        model_max_length: int = DEFAULT_MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces: bool = False,
        padding_side: str = "right",
        truncation_side: str = "right",
        pad_token: str = DEFAULT_SPECIAL_TOKENS["pad_token"],
        cls_token: str = DEFAULT_SPECIAL_TOKENS["cls_token"],
        sep_token: str = DEFAULT_SPECIAL_TOKENS["sep_token"],
        unk_token: str = DEFAULT_SPECIAL_TOKENS["unk_token"],
        mask_token: str = DEFAULT_SPECIAL_TOKENS["mask_token"],
        name_or_path: Optional[str] = None,
    ):
        if (vocab_file is None) != (merges_file is None):
            raise ValueError(
                f"vocab_file and merges_file go together: expected both or neither, got "
                f"vocab_file={vocab_file!r}, merges_file={merges_file!r}"
            )
        if not isinstance(add_prefix_space, bool):
            raise TypeError(f"add_prefix_space must be a bool, got {add_prefix_space!r}")
        if not isinstance(model_max_length, int) or isinstance(model_max_length, bool) or model_max_length < 1:
            raise ValueError(f"model_max_length must be a positive int, got {model_max_length!r}")
        for name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
            if side not in SIDES:
                raise ValueError(f"{name} must be one of {SIDES}, got {side!r}")
        specials = {"pad_token": pad_token, "cls_token": cls_token, "sep_token": sep_token,
                    "unk_token": unk_token, "mask_token": mask_token}
        for name, token in specials.items():
            if not isinstance(token, str) or not token:
                raise TypeError(f"{name} must be a non-empty str, got {token!r}")

        if tokenizer_file is not None:
            source = os.fspath(tokenizer_file)
            tok = _tokenizer_from_json(source)
        else:
            if vocab_file is None:
                vocab_file, merges_file = os.path.join(ASSETS_DIR, VOCAB_NAME), os.path.join(ASSETS_DIR, MERGES_NAME)
                name_or_path = name_or_path or "deberta-base"
            source = os.fspath(vocab_file)
            tok = Tokenizer(_bpe_from_files(vocab_file, merges_file))

        vocab = tok.get_vocab(with_added_tokens=True)
        ids = {}
        for name, token in specials.items():
            if token not in vocab:
                raise ValueError(f"{name} {token!r} is not in the vocabulary of {source!r} (expected it to have an id)")
            ids[name] = vocab[token]

        # The reference 4.x pipeline (DebertaTokenizerFast's tokenizer.json), set explicitly so a tokenizer.json
        # written by another version (e.g. the reference v5 with its all-zero pair token types) behaves the same.
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, trim_offsets=True, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls_token}:0 $A:0 {sep_token}:0",
            pair=f"{cls_token}:0 $A:0 {sep_token}:0 $B:1 {sep_token}:1",
            special_tokens=[(cls_token, ids["cls_token"]), (sep_token, ids["sep_token"])],
        )
        tok.no_truncation()
        tok.no_padding()
        # The mask token absorbs the whitespace before it (lstrip), as in the pre-v5 reference: "is [MASK]."
        # gives "is" then [MASK], the way the model saw masks in pre-training.
        added = [
            AddedToken(specials[name], lstrip=name == "mask_token", rstrip=False, single_word=False,
                       normalized=name == "mask_token", special=True)
            for name in sorted(specials, key=lambda name: ids[name])  # in id order, as the reference lists them
        ]
        tok.add_special_tokens(added)

        self._specials = specials
        self._special_ids = ids
        self._backends: Dict[bool, _Backend] = {add_prefix_space: _Backend(tok)}
        self._lock = threading.Lock()
        self._warned_too_long = False
        self.add_prefix_space = add_prefix_space
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.name_or_path = name_or_path or source

    # -- loading and saving ---------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str,
        *,
        cache_dir: Optional[str] = None,
        revision: Optional[str] = None,
        token: Optional[str] = None,
        local_files_only: bool = False,
        **kwargs: Any,
    ) -> "DebertaTokenizer":
        """Load from a folder (tokenizer.json, else vocab.json + merges.txt; tokenizer_config.json if present),
        from ``"deberta-base"`` (the embedded files, offline), or from a hub id (needs the [hub] extra).
        Keyword arguments override tokenizer_config.json."""
        path = os.fspath(pretrained_model_name_or_path)
        if not os.path.isdir(path) and path in EMBEDDED_NAMES:
            folder = ASSETS_DIR
            found = {name: os.path.join(ASSETS_DIR, name) for name in (VOCAB_NAME, MERGES_NAME)}
        else:
            files = resolve_checkpoint(path, require_weights=False, cache_dir=cache_dir, revision=revision,
                                       token=token, local_files_only=local_files_only)
            folder, found = files.folder, files.tokenizer

        init: Dict[str, Any] = {}
        for config_name in (SPECIAL_TOKENS_MAP_NAME, TOKENIZER_CONFIG_NAME):  # the config wins over the map
            if config_name in found:
                config = _read_json_object(found[config_name])
                for key in ("add_prefix_space", "model_max_length", "clean_up_tokenization_spaces",
                            "padding_side", "truncation_side"):
                    if key in config and config[key] is not None:
                        init[key] = config[key]
                for key in DEFAULT_SPECIAL_TOKENS:
                    if key in config and _token_content(config[key]) is not None:
                        init[key] = _token_content(config[key])
        init.update(kwargs)
        init.setdefault("name_or_path", path)

        if TOKENIZER_JSON_NAME in found:
            return cls(tokenizer_file=found[TOKENIZER_JSON_NAME], **init)
        if VOCAB_NAME in found and MERGES_NAME in found:
            return cls(found[VOCAB_NAME], found[MERGES_NAME], **init)
        raise FileNotFoundError(
            f"no tokenizer files in {folder!r}: expected {TOKENIZER_JSON_NAME}, or {VOCAB_NAME} and {MERGES_NAME}; "
            f"found {sorted(found) or 'none of them'}"
        )

    def save_vocabulary(self, save_directory: str, filename_prefix: Optional[str] = None) -> Tuple[str, ...]:
        """Write vocab.json and merges.txt (optionally ``{prefix}-vocab.json`` ...) into an existing folder."""
        save_directory = os.fspath(save_directory)
        if not os.path.isdir(save_directory):
            raise FileNotFoundError(f"save_vocabulary needs an existing folder, got {save_directory!r}")
        return tuple(self._backend(self.add_prefix_space).tokenizer.model.save(save_directory, filename_prefix))

    def save_pretrained(self, save_directory: str, filename_prefix: Optional[str] = None) -> Tuple[str, ...]:
        """Write tokenizer_config.json, special_tokens_map.json, vocab.json, merges.txt and tokenizer.json:
        files that this class and the reference 4.x tokenizers (slow and fast) load."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise FileExistsError(f"save_pretrained needs a folder, got the file {save_directory!r}")
        os.makedirs(save_directory, exist_ok=True)
        prefix = f"{filename_prefix}-" if filename_prefix else ""

        added = self._backend(self.add_prefix_space).tokenizer.get_added_tokens_decoder()
        added_tokens_decoder = {
            str(index): {"content": t.content, "lstrip": t.lstrip, "normalized": t.normalized, "rstrip": t.rstrip,
                         "single_word": t.single_word, "special": t.special}
            for index, t in sorted(added.items())
        }
        config = {
            "add_bos_token": False,
            "add_prefix_space": self.add_prefix_space,
            "added_tokens_decoder": added_tokens_decoder,
            "bos_token": self.bos_token,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            "cls_token": self.cls_token,
            "eos_token": self.eos_token,
            "errors": "replace",
            "mask_token": self.mask_token,
            "model_max_length": self.model_max_length,
            "pad_token": self.pad_token,
            "padding_side": self.padding_side,
            "sep_token": self.sep_token,
            "tokenizer_class": "DebertaTokenizer",
            "truncation_side": self.truncation_side,
            "unk_token": self.unk_token,
        }
        special_map = {}
        for name in _SPECIAL_ORDER:
            token = getattr(self, name)
            is_mask = name == "mask_token"
            special_map[name] = {"content": token, "lstrip": is_mask, "normalized": is_mask, "rstrip": False,
                                 "single_word": False}
        written = []
        for name, data in ((TOKENIZER_CONFIG_NAME, config), (SPECIAL_TOKENS_MAP_NAME, special_map)):
            path = os.path.join(save_directory, prefix + name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            written.append(path)
        written.extend(self.save_vocabulary(save_directory, filename_prefix))
        path = os.path.join(save_directory, prefix + TOKENIZER_JSON_NAME)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self._clean_json())
        written.append(path)
        return tuple(written)

    def _clean_json(self) -> str:
        """tokenizer.json of the default backend with no truncation or padding baked in."""
        with self._lock:
            data = json.loads(self._backend(self.add_prefix_space).tokenizer.to_str())
        data["truncation"] = None
        data["padding"] = None
        return json.dumps(data, ensure_ascii=False)

    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_backends")}
        state["_tokenizer_json"] = self._clean_json()
        return state

    def __setstate__(self, state: dict) -> None:
        tok = Tokenizer.from_str(state.pop("_tokenizer_json"))
        self.__dict__.update(state)
        self._backends = {self.add_prefix_space: _Backend(tok)}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"DebertaTokenizer(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"model_max_length={self.model_max_length}, add_prefix_space={self.add_prefix_space})")

    # -- vocabulary and special tokens ----------------------------------------------------------------------------

    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The Rust ``tokenizers.Tokenizer`` (shared: its truncation/padding change with each call's arguments)."""
        return self._backend(self.add_prefix_space).tokenizer

    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary (without tokens added later), as the reference."""
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> Dict[str, int]:
        return self.backend_tokenizer.get_vocab(with_added_tokens=True)

    @property
    def pad_token(self) -> str:
        return self._specials["pad_token"]

    @property
    def cls_token(self) -> str:
        return self._specials["cls_token"]

    @property
    def sep_token(self) -> str:
        return self._specials["sep_token"]

    @property
    def unk_token(self) -> str:
        return self._specials["unk_token"]

    @property
    def mask_token(self) -> str:
        return self._specials["mask_token"]

    @property
    def bos_token(self) -> str:
        return self._specials["cls_token"]

    @property
    def eos_token(self) -> str:
        return self._specials["sep_token"]

    @property
    def pad_token_id(self) -> int:
        return self._special_ids["pad_token"]

    @property
    def cls_token_id(self) -> int:
        return self._special_ids["cls_token"]

    @property
    def sep_token_id(self) -> int:
        return self._special_ids["sep_token"]

    @property
    def unk_token_id(self) -> int:
        return self._special_ids["unk_token"]

    @property
    def mask_token_id(self) -> int:
        return self._special_ids["mask_token"]

    @property
    def bos_token_id(self) -> int:
        return self._special_ids["cls_token"]

    @property
    def eos_token_id(self) -> int:
        return self._special_ids["sep_token"]

    @property
    def special_tokens_map(self) -> Dict[str, str]:
        return {name: getattr(self, name) for name in _SPECIAL_ORDER}

    @property
    def all_special_tokens(self) -> List[str]:
        return list(dict.fromkeys(getattr(self, name) for name in _SPECIAL_ORDER))

    @property
    def all_special_ids(self) -> List[int]:
        return [self.backend_tokenizer.token_to_id(token) for token in self.all_special_tokens]

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many special tokens the template adds: 2 for ``[CLS] A [SEP]``, 3 for a pair."""
        return 3 if pair else 2

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]) -> Union[int, List[int]]:
        """Token string(s) to id(s); unknown tokens give the [UNK] id."""
        tok = self.backend_tokenizer
        if isinstance(tokens, str):
            index = tok.token_to_id(tokens)
            return self.unk_token_id if index is None else index
        result = []
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"convert_tokens_to_ids expects str tokens, got {type(token).__name__}: {token!r}")
            index = tok.token_to_id(token)
            result.append(self.unk_token_id if index is None else index)
        return result

    def convert_ids_to_tokens(
        self, ids: Union[int, Sequence[int]], skip_special_tokens: bool = False
    ) -> Union[Optional[str], List[Optional[str]]]:
        """Id(s) to token string(s) (None for an id outside the vocabulary, as the reference)."""
        tok = self.backend_tokenizer
        if isinstance(ids, (int, np.integer)):
            return tok.id_to_token(int(ids))
        special = set(self.all_special_ids) if skip_special_tokens else ()
        return [tok.id_to_token(index) for index in _as_id_list(ids) if index not in special]

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Byte-level tokens back to text."""
        return self.backend_tokenizer.decoder.decode(list(tokens))

    def build_inputs_with_special_tokens(self, token_ids_0: List[int], token_ids_1: Optional[List[int]] = None) -> List[int]:
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``."""
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + list(token_ids_0) + sep
        return cls + list(token_ids_0) + sep + list(token_ids_1) + sep

    def get_special_tokens_mask(
        self, token_ids_0: List[int], token_ids_1: Optional[List[int]] = None, already_has_special_tokens: bool = False
    ) -> List[int]:
        """1 where the template puts a special token, 0 elsewhere; with ``already_has_special_tokens``,
        1 for every special id in ``token_ids_0`` ([MASK] included, as the reference)."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("already_has_special_tokens=True expects one sequence (token_ids_1=None), got two")
            special = set(self.all_special_ids)
            return [1 if index in special else 0 for index in token_ids_0]
        if token_ids_1 is None:
            return [1] + [0] * len(token_ids_0) + [1]
        return [1] + [0] * len(token_ids_0) + [1] + [0] * len(token_ids_1) + [1]

    def create_token_type_ids_from_sequences(
        self, token_ids_0: List[int], token_ids_1: Optional[List[int]] = None
    ) -> List[int]:
        """0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]`` (the original DeBERTa and reference 4.x convention)."""
        first = [0] * (len(token_ids_0) + 2)
        if token_ids_1 is None:
            return first
        return first + [1] * (len(token_ids_1) + 1)

    # -- encoding -------------------------------------------------------------------------------------------------

    def _backend(self, add_prefix_space: bool) -> _Backend:
        backend = self._backends.get(add_prefix_space)
        if backend is None:
            base = next(iter(self._backends.values())).tokenizer
            tok = Tokenizer.from_str(base.to_str())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, trim_offsets=True,
                                                         use_regex=True)
            backend = self._backends.setdefault(add_prefix_space, _Backend(tok))
        return backend

    def _strategies(
        self, padding: Any, truncation: Any, max_length: Optional[int], pad_to_multiple_of: Optional[int]
    ) -> Tuple[str, str, Optional[int]]:
        """The reference's resolution of padding/truncation/max_length into (padding, truncation, max_length)."""
        if max_length is not None and (not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 0):
            raise ValueError(f"max_length must be a non-negative int or None, got {max_length!r}")
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"  # the reference's rule: a max_length alone means truncate to it
        padding = getattr(padding, "value", padding)
        truncation = getattr(truncation, "value", truncation)
        if padding is True:
            padding_strategy = "longest"
        elif padding is False or padding is None:
            padding_strategy = "do_not_pad"
        elif padding in PADDING_STRATEGIES:
            padding_strategy = padding
        else:
            raise ValueError(f"padding must be True, False, or one of {PADDING_STRATEGIES}, got {padding!r}")
        if truncation is True:
            truncation_strategy = "longest_first"
        elif truncation is False or truncation is None:
            truncation_strategy = "do_not_truncate"
        elif truncation in TRUNCATION_STRATEGIES:
            truncation_strategy = truncation
        else:
            raise ValueError(f"truncation must be True, False, or one of {TRUNCATION_STRATEGIES}, got {truncation!r}")
        if max_length is None and (padding_strategy == "max_length" or truncation_strategy != "do_not_truncate"):
            max_length = self.model_max_length
        if pad_to_multiple_of is not None:
            if not isinstance(pad_to_multiple_of, int) or isinstance(pad_to_multiple_of, bool) or pad_to_multiple_of < 1:
                raise ValueError(f"pad_to_multiple_of must be a positive int or None, got {pad_to_multiple_of!r}")
            if (truncation_strategy != "do_not_truncate" and padding_strategy != "do_not_pad"
                    and max_length % pad_to_multiple_of != 0):
                raise ValueError(
                    f"with truncation and padding, max_length must be a multiple of pad_to_multiple_of: "
                    f"got max_length={max_length}, pad_to_multiple_of={pad_to_multiple_of}"
                )
        return padding_strategy, truncation_strategy, max_length

    def __call__(
        self,
        text: Union[TextInput, PreTokenizedInput, Sequence[TextInput], Sequence[PreTokenizedInput], None] = None,
        text_pair: Union[TextInput, PreTokenizedInput, Sequence[TextInput], Sequence[PreTokenizedInput], None] = None,
        *,
        add_special_tokens: bool = True,
        padding: Union[bool, str] = False,
        truncation: Union[bool, str, None] = None,
        max_length: Optional[int] = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: Optional[int] = None,
        padding_side: Optional[str] = None,
        return_tensors: Optional[str] = None,
        return_token_type_ids: Optional[bool] = None,
        return_attention_mask: Optional[bool] = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        add_prefix_space: Optional[bool] = None,
        verbose: bool = True,
    ) -> BatchEncoding:
        """Encode a text, a pair, a batch of texts or a batch of pairs (see docs/tokenizer.md).

        ``text`` may be a str, a list of str (batch), a list of (text, text_pair) tuples (batch of pairs), or
        with ``is_split_into_words=True`` a list of words or a list of such lists. ``text_pair`` matches it.
        Returns a BatchEncoding: lists (one row, or one per batch item / overflow window), or tensors of
        ``return_tensors`` ('np', 'pt', 'tf'; always with a batch axis).
        """
        add_prefix_space = self.add_prefix_space if add_prefix_space is None else add_prefix_space
        if not isinstance(add_prefix_space, bool):
            raise TypeError(f"add_prefix_space must be a bool or None, got {add_prefix_space!r}")
        if is_split_into_words and not add_prefix_space:
            raise ValueError(
                "is_split_into_words=True needs add_prefix_space=True (each word is encoded as if it followed a "
                "space, as the reference fast tokenizer requires); got add_prefix_space=False: create the tokenizer "
                "with DebertaTokenizer(add_prefix_space=True) or pass add_prefix_space=True"
            )
        inputs, is_batched = _batch_inputs(text, text_pair, is_split_into_words)
        tensor_type = _check_tensor_type(return_tensors)
        if not isinstance(stride, int) or isinstance(stride, bool) or stride < 0:
            raise ValueError(f"stride must be a non-negative int, got {stride!r}")
        padding_side = self.padding_side if padding_side is None else padding_side
        if padding_side not in SIDES:
            raise ValueError(f"padding_side must be one of {SIDES}, got {padding_side!r}")
        padding_strategy, truncation_strategy, max_length = self._strategies(
            padding, truncation, max_length, pad_to_multiple_of
        )
        if truncation_strategy != "do_not_truncate" and add_special_tokens:
            has_pair = any(isinstance(item, tuple) for item in inputs)
            needed = self.num_special_tokens_to_add(pair=has_pair)
            if max_length < needed:
                raise ValueError(
                    f"max_length={max_length} is too small: the special tokens of "
                    f"{'[CLS] A [SEP] B [SEP]' if has_pair else '[CLS] A [SEP]'} alone need {needed}"
                )

        truncation_settings = None
        if truncation_strategy != "do_not_truncate":
            truncation_settings = (max_length, stride, truncation_strategy, self.truncation_side)
        padding_settings = None
        if padding_strategy != "do_not_pad":
            padding_settings = (max_length if padding_strategy == "max_length" else None, padding_side,
                                pad_to_multiple_of)

        backend = self._backend(add_prefix_space)
        tok = backend.tokenizer
        with self._lock:
            settings = (truncation_settings, padding_settings)
            if backend.settings != settings:
                if truncation_settings is None:
                    tok.no_truncation()
                else:
                    tok.enable_truncation(max_length, stride=stride, strategy=truncation_strategy,
                                          direction=self.truncation_side)
                if padding_settings is None:
                    tok.no_padding()
                else:
                    tok.enable_padding(direction=padding_side, pad_id=self.pad_token_id, pad_type_id=0,
                                       pad_token=self.pad_token, length=padding_settings[0],
                                       pad_to_multiple_of=pad_to_multiple_of)
                backend.settings = settings
            try:
                encodings = tok.encode_batch(inputs, add_special_tokens=add_special_tokens,
                                             is_pretokenized=is_split_into_words)
            except Exception as err:  # Rust raises bare Exceptions (e.g. a pair too short for only_second)
                raise ValueError(f"could not encode the input with truncation={truncation_strategy!r}, "
                                 f"max_length={max_length}, stride={stride}: {err}") from None

        if return_overflowing_tokens:
            rows, sample_mapping = [], []
            for index, encoding in enumerate(encodings):
                rows.append(encoding)
                sample_mapping.append(index)
                for window in encoding.overflowing:
                    rows.append(window)
                    sample_mapping.append(index)
        else:
            rows = encodings
        data: Dict[str, Any] = {"input_ids": [e.ids for e in rows]}
        if return_token_type_ids is None or return_token_type_ids:
            data["token_type_ids"] = [e.type_ids for e in rows]
        if return_attention_mask is None or return_attention_mask:
            data["attention_mask"] = [e.attention_mask for e in rows]
        if return_special_tokens_mask:
            data["special_tokens_mask"] = [e.special_tokens_mask for e in rows]
        if return_offsets_mapping:
            data["offset_mapping"] = [e.offsets for e in rows]
        if return_length:
            data["length"] = [len(e.ids) for e in rows]
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = sample_mapping
        if verbose and truncation_settings is None and not self._warned_too_long:
            longest = max((len(ids) for ids in data["input_ids"]), default=0)
            if longest > self.model_max_length:
                self._warned_too_long = True
                logger.warning("sequence of %d tokens is longer than model_max_length=%d; the model will fail on "
                               "it unless you pass truncation=True", longest, self.model_max_length)

        if not is_batched and tensor_type is None and not return_overflowing_tokens:
            # one input, as the reference: drop the batch level of list-of-list fields ('length' stays [n]).
            data = {k: (v[0] if v and isinstance(v[0], list) else v) for k, v in data.items()}
        return BatchEncoding(data, rows, tensor_type=tensor_type)

    def encode(
        self,
        text: Union[TextInput, PreTokenizedInput],
        text_pair: Union[TextInput, PreTokenizedInput, None] = None,
        *,
        add_special_tokens: bool = True,
        **kwargs: Any,
    ) -> Any:
        """The ``input_ids`` of one text or pair (list of ints, or a tensor with ``return_tensors``)."""
        if not isinstance(text, str) and not kwargs.get("is_split_into_words"):
            raise TypeError(f"encode expects one text (str), got {type(text).__name__}; use __call__ for batches")
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    def encode_plus(self, text: Any, text_pair: Any = None, **kwargs: Any) -> BatchEncoding:
        """Same as calling the tokenizer on one text or pair."""
        return self(text, text_pair, **kwargs)

    def batch_encode_plus(self, batch_text_or_text_pairs: Sequence[Any], **kwargs: Any) -> BatchEncoding:
        """Same as calling the tokenizer on a batch."""
        if not isinstance(batch_text_or_text_pairs, (list, tuple)):
            raise TypeError(f"batch_encode_plus expects a list of texts or pairs, got {type(batch_text_or_text_pairs).__name__}")
        return self(batch_text_or_text_pairs, **kwargs)

    def pad(
        self,
        encoded_inputs: Any,
        padding: Any = True,
        max_length: Optional[int] = None,
        pad_to_multiple_of: Optional[int] = None,
        padding_side: Optional[str] = None,
        return_attention_mask: Optional[bool] = None,
        return_tensors: Any = None,
    ) -> BatchEncoding:
        """Pad examples that are already encoded (what data collators call): a list of dicts (one per example),
        a dict of lists, or a BatchEncoding. ``input_ids`` get the pad id, ``attention_mask`` 0 (it is created
        when missing; ``return_attention_mask=False`` leaves it out, where the reference would keep a given mask
        unpadded), ``token_type_ids`` 0, ``special_tokens_mask`` 1;
        any other field (labels ...) is passed through unchanged, as the reference does."""
        if isinstance(encoded_inputs, (list, tuple)):
            if not encoded_inputs:
                raise ValueError("pad expects at least one example, got an empty list")
            for index, item in enumerate(encoded_inputs):
                if not isinstance(item, Mapping):
                    raise TypeError(f"pad expects a list of dicts of fields; item {index} is a {type(item).__name__}")
            keys = list(encoded_inputs[0].keys())
            encoded_inputs = {key: [item[key] for item in encoded_inputs] for key in keys}
        if not isinstance(encoded_inputs, Mapping) or "input_ids" not in encoded_inputs:
            raise ValueError(
                f"pad expects examples holding 'input_ids' (a list of dicts or a dict of lists), "
                f"got {type(encoded_inputs).__name__} with fields {list(encoded_inputs) if isinstance(encoded_inputs, Mapping) else None}"
            )
        data = {key: _as_lists(value) for key, value in encoded_inputs.items()}
        ids = data["input_ids"]
        single = bool(ids) and not isinstance(ids[0], list)
        if single:  # one example: fields are flat lists
            data = {key: [value] if key in _PAD_VALUES or key == "attention_mask" else value for key, value in data.items()}
            ids = data["input_ids"]
        padding_strategy, _, max_length = self._strategies(padding, False, max_length, pad_to_multiple_of)
        padding_side = self.padding_side if padding_side is None else padding_side
        if padding_side not in SIDES:
            raise ValueError(f"padding_side must be one of {SIDES}, got {padding_side!r}")
        if return_attention_mask is not False and "attention_mask" not in data:
            data["attention_mask"] = [[1] * len(row) for row in ids]
        if return_attention_mask is False:
            # The reference keeps a given mask unpadded (ragged) here; we leave it out instead.
            data.pop("attention_mask", None)
        target = None
        if padding_strategy == "longest":
            target = max(len(row) for row in ids)
        elif padding_strategy == "max_length":
            target = max_length
        if target is not None and pad_to_multiple_of:
            target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
        if target is not None:
            pad_values = dict(_PAD_VALUES, input_ids=self.pad_token_id)
            for key in list(data):
                if key not in pad_values:
                    continue
                rows = []
                for row in data[key]:
                    filler = [pad_values[key]] * max(0, target - len(row))
                    rows.append(row + filler if padding_side == "right" else filler + row)
                data[key] = rows
        if single:
            data = {key: value[0] if key in _PAD_VALUES else value for key, value in data.items()}
        return BatchEncoding(data, tensor_type=return_tensors)

    def tokenize(self, text: str, pair: Optional[str] = None, add_special_tokens: bool = False, **kwargs: Any) -> List[str]:
        """The vocabulary tokens of a text (or pair), without special tokens unless asked.

        Returns vocabulary strings (``convert_tokens_to_ids`` inverts it), as the reference slow tokenizer;
        the reference fast one returns the matched text for added tokens (``' [MASK]'``, not in the vocabulary).
        """
        if not isinstance(text, str):
            raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
        ids = self(text, pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]
        return self.convert_ids_to_tokens(ids)

    # -- decoding -------------------------------------------------------------------------------------------------

    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: Optional[bool] = None,
    ) -> str:
        """Ids (list, int, NumPy/torch/TF 1-D tensor) back to text; invalid UTF-8 becomes U+FFFD."""
        ids = _as_id_list(token_ids)
        text = self.backend_tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        if self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces:
            text = clean_up_tokenization(text)
        return text

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: Optional[bool] = None,
    ) -> List[str]:
        """``decode`` for each row of a batch (list of lists, or a 2-D tensor)."""
        if hasattr(sequences, "numpy") and not isinstance(sequences, np.ndarray):
            sequences = sequences.numpy() if not hasattr(sequences, "detach") else sequences.detach().cpu().numpy()
        rows = [_as_id_list(row) for row in sequences]
        texts = self.backend_tokenizer.decode_batch(rows, skip_special_tokens=skip_special_tokens)
        if self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces:
            texts = [clean_up_tokenization(text) for text in texts]
        return texts

    clean_up_tokenization = staticmethod(clean_up_tokenization)


DebertaTokenizerFast = DebertaTokenizer


def _as_id_list(token_ids: Any) -> List[int]:
    """One sequence of ids as a list of Python ints (from int, list, NumPy, torch or TF)."""
    if isinstance(token_ids, (int, np.integer)) and not isinstance(token_ids, bool):
        return [int(token_ids)]
    if not isinstance(token_ids, (list, tuple, np.ndarray)):
        if hasattr(token_ids, "detach"):  # torch
            token_ids = token_ids.detach().cpu().numpy()
        elif hasattr(token_ids, "numpy"):  # TensorFlow
            token_ids = token_ids.numpy()
    array = np.asarray(token_ids)
    if array.ndim == 0 and array.dtype.kind in "iu":
        return [int(array)]
    if array.ndim != 1:
        raise ValueError(f"expected one sequence of ids (1-D), got an array of shape {array.shape}; "
                         f"use batch_decode for a batch")
    if array.size and array.dtype.kind not in "iu":
        raise TypeError(f"expected integer token ids, got dtype {array.dtype} ({list(token_ids)[:5]}...)")
    return [int(index) for index in array.tolist()]


def _check_words(words: Any, where: str) -> Any:
    if not isinstance(words, (list, tuple)):
        raise TypeError(f"{where}: with is_split_into_words=True expected a list of words (str), "
                        f"got {type(words).__name__}")
    for i, word in enumerate(words):
        if not isinstance(word, str):
            raise TypeError(f"{where}[{i}]: expected a word (str), got {type(word).__name__}: {word!r}")
    return list(words)


def _batch_inputs(text: Any, text_pair: Any, is_split_into_words: bool) -> Tuple[list, bool]:
    """Validate the inputs and put them in the Rust form: (list of str / (a, b) tuples / word lists, batched)."""
    expected = ("a str, a list of str (batch), or a list of (text, text_pair) tuples (batch of pairs)"
                if not is_split_into_words else "a list of words (list[str]) or a batch of them (list[list[str]])")
    if text is None:
        raise ValueError(f"text is required: expected {expected}, got None")
    if is_split_into_words:
        if isinstance(text, str) or not isinstance(text, (list, tuple)):
            raise TypeError(f"text: with is_split_into_words=True expected {expected}, got {type(text).__name__}")
        is_batched = len(text) > 0 and isinstance(text[0], (list, tuple))
    else:
        if isinstance(text, str):
            is_batched = False
        elif isinstance(text, (list, tuple)):
            is_batched = True
        else:
            raise TypeError(f"text: expected {expected}, got {type(text).__name__}: {text!r:.80}")

    if not is_batched:
        if is_split_into_words:
            first = _check_words(text, "text")
            if text_pair is None:
                return [first], False
            return [(first, _check_words(text_pair, "text_pair"))], False
        if text_pair is None:
            return [text], False
        if not isinstance(text_pair, str):
            raise TypeError(f"text_pair: for a single text expected a str, got {type(text_pair).__name__}")
        return [(text, text_pair)], False

    if text_pair is not None:
        if isinstance(text_pair, str) or not isinstance(text_pair, (list, tuple)):
            raise TypeError(f"text_pair: for a batch of {len(text)} texts expected a list of {len(text)} "
                            f"{'word lists' if is_split_into_words else 'str'}, got {type(text_pair).__name__}")
        if len(text_pair) != len(text):
            raise ValueError(f"text and text_pair must have the same number of items: got {len(text)} texts "
                             f"and {len(text_pair)} pairs")
    inputs: list = []
    if is_split_into_words:
        for i, words in enumerate(text):
            first = _check_words(words, f"text[{i}]")
            inputs.append(first if text_pair is None else (first, _check_words(text_pair[i], f"text_pair[{i}]")))
        return inputs, True
    for i, item in enumerate(text):
        if isinstance(item, str):
            if text_pair is None:
                inputs.append(item)
            else:
                second = text_pair[i]
                if not isinstance(second, str):
                    raise TypeError(f"text_pair[{i}]: expected a str, got {type(second).__name__}: {second!r:.80}")
                inputs.append((item, second))
        elif isinstance(item, (list, tuple)) and text_pair is None:
            if len(item) != 2 or not all(isinstance(part, str) for part in item):
                raise TypeError(f"text[{i}]: expected a str or a (text, text_pair) pair of two str, got "
                                f"{type(item).__name__} {item!r:.80}")
            inputs.append((item[0], item[1]))
        else:
            raise TypeError(f"text[{i}]: expected a str, got {type(item).__name__}: {item!r:.80}")
    return inputs, True


__all__ = ["DebertaTokenizer", "DebertaTokenizerFast", "BatchEncoding", "clean_up_tokenization"]
