"""TokenizerBase: what every DeBERTa tokenizer shares, whatever its vocabulary format (the reference's calling
conventions, padding and truncation, BatchEncoding and tensors, special tokens, decoding, loading the JSON configs
of a folder, saving them, pickling).

A subclass says how its Rust pipeline and its files are built: ``__init__`` makes the ``tokenizers.Tokenizer``
and calls ``_setup``; ``_locate`` / ``_from_folder`` read a folder; ``_stage_vocabulary`` writes the vocabulary
files; ``_tokenizer_config`` adds its own keys to tokenizer_config.json; ``_call_backend_key`` / ``_make_variant``
choose (and build) the pipeline a call runs on. ``DebertaTokenizer`` (byte-level BPE, tokenizer.py) and
``DebertaV2Tokenizer`` (SentencePiece Unigram, tokenizer_v2.py) are the two.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from tokenizers import Tokenizer

from ..files import SPECIAL_TOKENS_MAP_NAME, TOKENIZER_CONFIG_NAME, TOKENIZER_JSON_NAME, Staging, resolve_checkpoint
from .batch_encoding import PAD_VALUES, BatchEncoding, as_lists, check_tensor_type
from .options import PreTokenizedInput, SIDES, TextInput, as_id_list, batch_inputs, resolve_strategies
from .vocab_files import read_json_object, token_content

logger = logging.getLogger("deberta_core.tokenizer")

# deberta-base was pre-trained with 512 positions; the reference hub config says the same.
DEFAULT_MODEL_MAX_LENGTH = 512
# attribute -> default token; ids come from the vocabulary ([PAD]=0 [CLS]=1 [SEP]=2 [UNK]=3 [MASK]=50264).
DEFAULT_SPECIAL_TOKENS = {
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "unk_token": "[UNK]",
    "mask_token": "[MASK]",
}
# The reference's order for all_special_tokens (bos/eos are [CLS]/[SEP] in DeBERTa).
SPECIAL_ORDER = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# tokenizer_config.json / special_tokens_map.json keys every tokenizer reads (a subclass adds its own).
COMMON_CONFIG_KEYS = ("model_max_length", "clean_up_tokenization_spaces", "padding_side", "truncation_side")


def clean_up_tokenization(text: str) -> str:
    """The reference's clean-up of spaces before punctuation and English contractions."""
    return (
        text.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
        .replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re")
    )




def check_common_options(model_max_length: Any, padding_side: Any, truncation_side: Any,
                         specials: Mapping[str, Any]) -> None:
    """The constructor arguments every tokenizer takes, checked (ValueError / TypeError naming the value)."""
    if not isinstance(model_max_length, int) or isinstance(model_max_length, bool) or model_max_length < 1:
        raise ValueError(f"model_max_length must be a positive int, got {model_max_length!r}")
    for name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
        if side not in SIDES:
            raise ValueError(f"{name} must be one of {SIDES}, got {side!r}")
    for name, token in specials.items():
        if not isinstance(token, str) or not token:
            raise TypeError(f"{name} must be a non-empty str, got {token!r}")


def special_token_ids(vocab: Mapping[str, int], specials: Mapping[str, str], source: str,
                      appended: Sequence[str] = ()) -> Dict[str, int]:
    """The id of each special token in ``vocab``; a token missing from it is a ValueError naming ``source``,
    except the attributes in ``appended`` (the caller appends those after the vocabulary; they get no id here)."""
    ids = {}
    for name, token in specials.items():
        if token in vocab:
            ids[name] = vocab[token]
        elif name not in appended:
            raise ValueError(f"{name} {token!r} is not in the vocabulary of {source!r} (expected it to have an id)")
    return ids


class _Backend:
    """One Rust tokenizer and the truncation/padding settings last put on it (set only when they change)."""

    __slots__ = ("tokenizer", "settings")

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.settings: Any = None



class TokenizerBase:
    """The API every DeBERTa tokenizer shares: the reference's call forms, padding and truncation, alignment,
    tensors, decoding, special tokens, ``from_pretrained`` / ``save_pretrained``. Subclasses build the pipeline
    (``DebertaTokenizer``, ``DebertaV2Tokenizer``); this class is not created directly."""

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    is_fast = True
    pad_token_type_id = 0
    # tokenizer_config.json keys the subclass reads besides COMMON_CONFIG_KEYS and the special tokens.
    config_keys: Tuple[str, ...] = ()
    add_prefix_space = True

    def _setup(self, tok: Tokenizer, specials: Dict[str, str], ids: Dict[str, int], *, model_max_length: int,
               clean_up_tokenization_spaces: bool, padding_side: str, truncation_side: str,
               name_or_path: str) -> None:
        """Keep the built pipeline (as the default variant) and the options every tokenizer has."""
        tok.no_truncation()
        tok.no_padding()
        self._specials = specials
        self._special_ids = ids
        self._backends: Dict[Any, _Backend] = {self._default_key(): _Backend(tok)}
        self._lock = threading.Lock()
        self._warned_too_long = False
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.name_or_path = name_or_path

    # -- hooks of the subclasses ----------------------------------------------------------------------------------

    def _default_key(self) -> Any:
        """The key of the pipeline variant calls use by default."""
        return self.add_prefix_space

    def _make_variant(self, key: Any) -> Tokenizer:
        raise ValueError(f"{type(self).__name__} has a single pipeline; got a request for variant {key!r}")

    def _call_backend_key(self, add_prefix_space: Optional[bool], is_split_into_words: bool) -> Any:
        """The pipeline variant of one call (checks the call's ``add_prefix_space``)."""
        raise NotImplementedError

    def _stage_vocabulary(self, staging: Staging, filename_prefix: Optional[str]) -> List[str]:
        raise NotImplementedError

    def _tokenizer_config(self) -> Dict[str, Any]:
        """The class's own tokenizer_config.json keys."""
        raise NotImplementedError

    @classmethod
    def _locate(cls, path: str, **hub: Any) -> Tuple[str, Dict[str, str]]:
        """(folder, file name -> path) of the tokenizer files ``path`` names."""
        files = resolve_checkpoint(path, require_weights=False, **hub)
        return files.folder, dict(files.tokenizer)

    @classmethod
    def _from_folder(cls, folder: str, found: Dict[str, str], init: Dict[str, Any]) -> "TokenizerBase":
        raise NotImplementedError

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
    ) -> "TokenizerBase":
        """Load from a folder (its tokenizer files; tokenizer_config.json and special_tokens_map.json if present)
        or from a hub id (needs the [hub] extra). The files each class reads: ``DebertaTokenizer`` tokenizer.json,
        else vocab.json + merges.txt (or ``"deberta-base"``, the embedded files); ``DebertaV2Tokenizer`` spm.model.

        Args:
            pretrained_model_name_or_path: a folder, or a hub id ``owner/name``.
            cache_dir: the hub's download cache (hub ids only).
            revision: the hub branch, tag or commit.
            token: the hub token (private repositories).
            local_files_only: use only what the hub cache already holds.
            **kwargs: constructor arguments; they override tokenizer_config.json.

        Raises:
            FileNotFoundError: the folder holds no tokenizer files, or cannot be found or fetched.
        """
        path = os.fspath(pretrained_model_name_or_path)
        folder, found = cls._locate(path, cache_dir=cache_dir, revision=revision, token=token,
                                    local_files_only=local_files_only)
        init: Dict[str, Any] = {}
        for config_name in (SPECIAL_TOKENS_MAP_NAME, TOKENIZER_CONFIG_NAME):  # the config wins over the map
            if config_name in found:
                config = read_json_object(found[config_name])
                for key in cls.config_keys + COMMON_CONFIG_KEYS:
                    if key in config and config[key] is not None:
                        init[key] = config[key]
                for key in DEFAULT_SPECIAL_TOKENS:
                    if key in config and token_content(config[key]) is not None:
                        init[key] = token_content(config[key])
        init.update(kwargs)
        init.setdefault("name_or_path", path)
        return cls._from_folder(folder, found, init)

    def save_vocabulary(self, save_directory: str, filename_prefix: Optional[str] = None) -> Tuple[str, ...]:
        """Write the vocabulary files (``DebertaTokenizer``: vocab.json and merges.txt; ``DebertaV2Tokenizer``:
        spm.model; optionally ``{prefix}-vocab.json`` ...) into an existing folder, all or none (staged, then moved
        in).

        Args:
            save_directory: an existing folder.
            filename_prefix: prepended to the file names, with a ``-``.

        Returns:
            The paths written.

        Raises:
            FileNotFoundError: ``save_directory`` is not an existing folder.
        """
        save_directory = os.fspath(save_directory)
        if not os.path.isdir(save_directory):
            raise FileNotFoundError(f"save_vocabulary needs an existing folder, got {save_directory!r}")
        with Staging(save_directory) as staging:
            names = self._stage_vocabulary(staging, filename_prefix)
            staging.commit()
        return tuple(os.path.join(save_directory, name) for name in names)

    def save_pretrained(self, save_directory: str, filename_prefix: Optional[str] = None) -> Tuple[str, ...]:
        """Write tokenizer_config.json, special_tokens_map.json, the vocabulary files (see ``save_vocabulary``) and
        tokenizer.json: files that this class and the reference 4.x tokenizers load. All or nothing: the files are written to a
        staging folder and moved in at the end (an error leaves the folder as it was).

        Args:
            save_directory: the folder (created if missing).
            filename_prefix: prepended to the file names, with a ``-``.

        Returns:
            The paths written.

        Raises:
            FileExistsError: ``save_directory`` is a file.
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise FileExistsError(f"save_pretrained needs a folder, got the file {save_directory!r}")
        prefix = f"{filename_prefix}-" if filename_prefix else ""

        added = self._backend(self._default_key()).tokenizer.get_added_tokens_decoder()
        added_tokens_decoder = {
            str(index): {"content": t.content, "lstrip": t.lstrip, "normalized": t.normalized, "rstrip": t.rstrip,
                         "single_word": t.single_word, "special": t.special}
            for index, t in sorted(added.items())
        }
        config = {
            "added_tokens_decoder": added_tokens_decoder,
            "bos_token": self.bos_token,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            "cls_token": self.cls_token,
            "eos_token": self.eos_token,
            "mask_token": self.mask_token,
            "model_max_length": self.model_max_length,
            "pad_token": self.pad_token,
            "padding_side": self.padding_side,
            "sep_token": self.sep_token,
            "truncation_side": self.truncation_side,
            "unk_token": self.unk_token,
            **self._tokenizer_config(),
        }
        special_map = {}
        for name in SPECIAL_ORDER:
            token = added_tokens_decoder[str(self.convert_tokens_to_ids(getattr(self, name)))]
            special_map[name] = {key: token[key] for key in ("content", "lstrip", "normalized", "rstrip", "single_word")}
        names = []
        with Staging(save_directory, parents=True) as staging:  # every file or none: staged, then moved in
            for name, data in ((TOKENIZER_CONFIG_NAME, config), (SPECIAL_TOKENS_MAP_NAME, special_map)):
                names.append(prefix + name)
                with open(staging.path(names[-1]), "w", encoding="utf-8") as handle:
                    handle.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            names.extend(self._stage_vocabulary(staging, filename_prefix))
            names.append(prefix + TOKENIZER_JSON_NAME)
            with open(staging.path(names[-1]), "w", encoding="utf-8") as handle:
                handle.write(self._clean_json())
            staging.commit()
        return tuple(os.path.join(save_directory, name) for name in names)

    def _clean_json(self) -> str:
        """tokenizer.json of the default backend with no truncation or padding baked in."""
        with self._lock:
            data = json.loads(self._backend(self._default_key()).tokenizer.to_str())
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
        self._backends = {self._default_key(): _Backend(tok)}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
                f"model_max_length={self.model_max_length}, {self._repr_options()})")

    def _repr_options(self) -> str:
        return f"add_prefix_space={self.add_prefix_space}"

    # -- vocabulary and special tokens ----------------------------------------------------------------------------

    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The Rust ``tokenizers.Tokenizer`` (shared: its truncation/padding change with each call's arguments)."""
        return self._backend(self._default_key()).tokenizer

    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary (without tokens added later), as the reference."""
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> Dict[str, int]:
        """Token string -> id, special tokens included."""
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
        return {name: getattr(self, name) for name in SPECIAL_ORDER}

    @property
    def all_special_tokens(self) -> List[str]:
        return list(dict.fromkeys(getattr(self, name) for name in SPECIAL_ORDER))

    @property
    def all_special_ids(self) -> List[int]:
        return [self.backend_tokenizer.token_to_id(token) for token in self.all_special_tokens]

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many special tokens the template adds: 2 for ``[CLS] A [SEP]``, 3 for a pair.

        Args:
            pair: for a pair of texts.
        """
        return 3 if pair else 2

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]) -> Union[int, List[int]]:
        """Token string(s) to id(s); unknown tokens give the [UNK] id.

        Args:
            tokens: one token string, or a sequence of them.

        Raises:
            TypeError: a token in the sequence is not a str.
        """
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
        """Id(s) to token string(s) (None for an id outside the vocabulary, as the reference).

        Args:
            ids: one id, or a sequence / 1-D tensor of them.
            skip_special_tokens: leave special tokens out (sequences only).
        """
        tok = self.backend_tokenizer
        if isinstance(ids, (int, np.integer)):
            return tok.id_to_token(int(ids))
        special = set(self.all_special_ids) if skip_special_tokens else ()
        return [tok.id_to_token(index) for index in as_id_list(ids) if index not in special]

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Byte-level tokens back to text.

        Args:
            tokens: vocabulary token strings.
        """
        return self.backend_tokenizer.decoder.decode(list(tokens))

    def build_inputs_with_special_tokens(self, token_ids_0: List[int], token_ids_1: Optional[List[int]] = None) -> List[int]:
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``.

        Args:
            token_ids_0: the ids of the first text, without special tokens.
            token_ids_1: the ids of the second text, or None.
        """
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + list(token_ids_0) + sep
        return cls + list(token_ids_0) + sep + list(token_ids_1) + sep

    def get_special_tokens_mask(
        self, token_ids_0: List[int], token_ids_1: Optional[List[int]] = None, already_has_special_tokens: bool = False
    ) -> List[int]:
        """1 where the template puts a special token, 0 elsewhere; with ``already_has_special_tokens``, 1 for every
        special id in ``token_ids_0`` ([MASK] included, as the reference).

        Args:
            token_ids_0: the ids of the first text (with special tokens when ``already_has_special_tokens``).
            token_ids_1: the ids of the second text, or None.
            already_has_special_tokens: ``token_ids_0`` is a whole encoded sequence.

        Raises:
            ValueError: ``already_has_special_tokens`` with ``token_ids_1``.
        """
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
        """0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]`` (the original DeBERTa and reference 4.x convention).

        Args:
            token_ids_0: the ids of the first text, without special tokens.
            token_ids_1: the ids of the second text, or None.
        """
        first = [0] * (len(token_ids_0) + 2)
        if token_ids_1 is None:
            return first
        return first + [1] * (len(token_ids_1) + 1)

    # -- encoding -------------------------------------------------------------------------------------------------

    def _backend(self, key: Any) -> _Backend:
        backend = self._backends.get(key)
        if backend is None:
            backend = self._backends.setdefault(key, _Backend(self._make_variant(key)))
        return backend

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

        Args:
            text: a str, a list of str (a batch), a list of (text, text_pair) tuples (a batch of pairs), or with
                ``is_split_into_words=True`` a list of words or a list of such lists.
            text_pair: the second texts, shaped like ``text`` (a str for a str, a list for a batch), or None.
            add_special_tokens: add ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]``.
            padding: False / ``"do_not_pad"``; True / ``"longest"`` (to the longest row of the batch);
                ``"max_length"`` (to ``max_length``, else ``model_max_length``).
            truncation: True / ``"longest_first"``, ``"only_first"``, ``"only_second"``, False /
                ``"do_not_truncate"``; None truncates only when ``max_length`` is given without padding (the
                reference's rule).
            max_length: the length to truncate or pad to; None: ``model_max_length`` where one is needed.
            stride: tokens shared by consecutive overflow windows (with ``return_overflowing_tokens``).
            is_split_into_words: ``text`` holds words, each encoded as if it followed a space (``DebertaTokenizer``
                needs ``add_prefix_space=True``).
            pad_to_multiple_of: round the padded length up to a multiple of this.
            padding_side: ``"right"`` or ``"left"``; None: the tokenizer's ``padding_side``.
            return_tensors: ``"np"``, ``"pt"`` or ``"tf"`` for int tensors [b, s] (always with a batch axis);
                None for Python lists.
            return_token_type_ids: include ``token_type_ids`` [b, s] (0 for the first segment, 1 for the
                second); None or True include them.
            return_attention_mask: include ``attention_mask`` [b, s] (1 for a token, 0 for padding); None or True
                include it.
            return_overflowing_tokens: return every truncation window as a row of its own, and
                ``overflow_to_sample_mapping`` [rows] (the input each row came from).
            return_special_tokens_mask: include ``special_tokens_mask`` [b, s] (1 at ``[CLS]`` / ``[SEP]`` /
                padding).
            return_offsets_mapping: include ``offset_mapping`` [b, s, 2] (character span of each token in its
                text; (0, 0) for special tokens).
            return_length: include ``length`` [b] (tokens per row, padding included).
            add_prefix_space: encode the first word as if a space preceded it; None: the tokenizer's setting
                (``DebertaV2Tokenizer`` always does: only None or True).
            verbose: log once when a row is longer than ``model_max_length`` and nothing truncates.

        Returns:
            A ``BatchEncoding``: lists (one row for a single input, else one per batch item or overflow window),
            or tensors of ``return_tensors``.

        Raises:
            ValueError: an unknown padding / truncation / tensor type or side, a negative ``stride`` or
                ``max_length``, a ``max_length`` shorter than the special tokens, a text the backend cannot
                truncate as asked, or ``is_split_into_words`` without ``add_prefix_space`` (``DebertaTokenizer``), or
                ``add_prefix_space=False`` (``DebertaV2Tokenizer``).
            TypeError: ``add_prefix_space`` that is not a bool or None.
        """
        backend_key = self._call_backend_key(add_prefix_space, is_split_into_words)
        inputs, is_batched = batch_inputs(text, text_pair, is_split_into_words)
        tensor_type = check_tensor_type(return_tensors)
        if not isinstance(stride, int) or isinstance(stride, bool) or stride < 0:
            raise ValueError(f"stride must be a non-negative int, got {stride!r}")
        padding_side = self.padding_side if padding_side is None else padding_side
        if padding_side not in SIDES:
            raise ValueError(f"padding_side must be one of {SIDES}, got {padding_side!r}")
        padding_strategy, truncation_strategy, max_length = resolve_strategies(
            padding, truncation, max_length, pad_to_multiple_of, self.model_max_length
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

        backend = self._backend(backend_key)
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
        """The ``input_ids`` of one text or pair (list of ints, or a tensor with ``return_tensors``).

        Args:
            text: one text (or, with ``is_split_into_words=True``, its words).
            text_pair: the second text of a pair, or None.
            add_special_tokens: add ``[CLS]`` / ``[SEP]``.
            **kwargs: the tokenizer call's other options (``padding``, ``truncation``, ``max_length``,
                ``return_tensors`` ...).

        Raises:
            TypeError: ``text`` is not a single text (use the tokenizer call for batches).
        """
        if not isinstance(text, str) and not kwargs.get("is_split_into_words"):
            raise TypeError(f"encode expects one text (str), got {type(text).__name__}; use __call__ for batches")
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    def encode_plus(self, text: Any, text_pair: Any = None, **kwargs: Any) -> BatchEncoding:
        """Same as calling the tokenizer on one text or pair.

        Args:
            text: one text.
            text_pair: the second text of a pair, or None.
            **kwargs: the tokenizer call's other options (``padding``, ``truncation``, ``max_length``,
                ``return_tensors`` ...).
        """
        return self(text, text_pair, **kwargs)

    def batch_encode_plus(self, batch_text_or_text_pairs: Sequence[Any], **kwargs: Any) -> BatchEncoding:
        """Same as calling the tokenizer on a batch.

        Args:
            batch_text_or_text_pairs: a list of texts, or of (text, text_pair) tuples.
            **kwargs: the tokenizer call's other options (``padding``, ``truncation``, ``max_length``,
                ``return_tensors`` ...).

        Raises:
            TypeError: the batch is not a list or tuple.
        """
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
        """Pad examples that are already encoded (what data collators call): a list of dicts (one per example), a dict
        of lists, or a BatchEncoding. ``input_ids`` get the pad id, ``attention_mask`` 0 (it is created when missing;
        ``return_attention_mask=False`` leaves it out, where the reference would keep a given mask unpadded),
        ``token_type_ids`` 0, ``special_tokens_mask`` 1; any other field (labels ...) is passed through unchanged, as
        the reference does.

        Args:
            encoded_inputs: the examples (each field a list of ids, or a tensor).
            padding: ``True`` / ``"longest"``: to the longest row; ``"max_length"``: to ``max_length`` (default
                ``model_max_length``); ``False`` / ``"do_not_pad"``: no padding.
            max_length: the length of ``padding="max_length"``.
            pad_to_multiple_of: round the padded length up to a multiple of this.
            padding_side: ``"right"`` or ``"left"``; default the tokenizer's.
            return_attention_mask: ``False`` leaves the mask out; otherwise it is made (or padded).
            return_tensors: ``'np'``, ``'pt'``, ``'tf'`` or None (lists).

        Returns:
            A BatchEncoding of the padded fields, [b, s] each.

        Raises:
            ValueError: no examples, no ``input_ids``, or a bad padding option.
            TypeError: a list item that is not a dict.
        """
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
        data = {key: as_lists(value) for key, value in encoded_inputs.items()}
        ids = data["input_ids"]
        single = bool(ids) and not isinstance(ids[0], list)
        if single:  # one example: fields are flat lists
            data = {key: [value] if key in PAD_VALUES or key == "attention_mask" else value for key, value in data.items()}
            ids = data["input_ids"]
        padding_strategy, _, max_length = resolve_strategies(padding, False, max_length, pad_to_multiple_of,
                                                              self.model_max_length)
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
            target = max((len(row) for row in ids), default=0)
        elif padding_strategy == "max_length":
            target = max_length
        if target is not None and pad_to_multiple_of:
            target = -(-target // pad_to_multiple_of) * pad_to_multiple_of
        if target is not None:
            pad_values = dict(PAD_VALUES, input_ids=self.pad_token_id)
            for key in list(data):
                if key not in pad_values:
                    continue
                rows = []
                for row in data[key]:
                    filler = [pad_values[key]] * max(0, target - len(row))
                    rows.append(row + filler if padding_side == "right" else filler + row)
                data[key] = rows
        if single:
            data = {key: value[0] if key in PAD_VALUES else value for key, value in data.items()}
        return BatchEncoding(data, tensor_type=return_tensors)

    def tokenize(self, text: str, pair: Optional[str] = None, add_special_tokens: bool = False, **kwargs: Any) -> List[str]:
        """The vocabulary tokens of a text (or pair), without special tokens unless asked.

        Returns vocabulary strings (``convert_tokens_to_ids`` inverts it), as the reference slow tokenizer; the
        reference fast one returns the matched text for added tokens (``' [MASK]'``, not in the vocabulary).

        Args:
            text: one text.
            pair: the second text of a pair, or None.
            add_special_tokens: add ``[CLS]`` / ``[SEP]``.
            **kwargs: the tokenizer call's other options.

        Raises:
            TypeError: ``text`` is not a str.
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
        """Ids (list, int, NumPy/torch/TF 1-D tensor) back to text; invalid UTF-8 becomes U+FFFD.

        Args:
            token_ids: the ids of one sequence [s].
            skip_special_tokens: leave the special tokens out.
            clean_up_tokenization_spaces: remove spaces before punctuation; default the tokenizer's setting.

        Raises:
            ValueError: an id outside the vocabulary ``[0, len(self))`` (the backend would drop it without a word).
        """
        ids = self._check_ids_in_vocabulary(as_id_list(token_ids))
        text = self.backend_tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        if self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces:
            text = clean_up_tokenization(text)
        return text

    def _check_ids_in_vocabulary(self, ids: List[int], row: Optional[int] = None) -> List[int]:
        size = len(self)
        bad = [index for index in ids if not 0 <= index < size]
        if bad:
            where = "" if row is None else f" in row {row}"
            raise ValueError(f"cannot decode token ids outside the vocabulary [0, {size}){where}: got {bad[:5]}"
                             f"{' ...' if len(bad) > 5 else ''} (a model with a larger vocab_size than this "
                             f"tokenizer, or ids that are not token ids, such as -100 labels?)")
        return ids

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: Optional[bool] = None,
    ) -> List[str]:
        """``decode`` for each row of a batch (list of lists, or a 2-D tensor [b, s]).

        Args:
            sequences: the ids of each row.
            skip_special_tokens: leave the special tokens out.
            clean_up_tokenization_spaces: remove spaces before punctuation; default the tokenizer's setting.

        Raises:
            ValueError: an id outside the vocabulary (the message names the row).
        """
        if hasattr(sequences, "numpy") and not isinstance(sequences, np.ndarray):
            sequences = sequences.numpy() if not hasattr(sequences, "detach") else sequences.detach().cpu().numpy()
        rows = [self._check_ids_in_vocabulary(as_id_list(row), row_index) for row_index, row in enumerate(sequences)]
        texts = self.backend_tokenizer.decode_batch(rows, skip_special_tokens=skip_special_tokens)
        if self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces:
            texts = [clean_up_tokenization(text) for text in texts]
        return texts

    clean_up_tokenization = staticmethod(clean_up_tokenization)



__all__ = [
    "COMMON_CONFIG_KEYS", "DEFAULT_MODEL_MAX_LENGTH", "DEFAULT_SPECIAL_TOKENS", "SPECIAL_ORDER", "TokenizerBase",
    "check_common_options", "clean_up_tokenization", "special_token_ids",
]
