"""DebertaTokenizer: DeBERTa (v1)'s byte-level BPE pipeline and its files (vocab.json + merges.txt, or
tokenizer.json; the embedded deberta-base files). The API is TokenizerBase's (base.py).

See the package docstring (deberta_core/tokenizer/__init__.py) for the behaviour and its deliberate differences
from the reference."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors

from ..files import MERGES_NAME, TOKENIZER_JSON_NAME, VOCAB_NAME, Staging
from .base import (
    DEFAULT_MODEL_MAX_LENGTH, DEFAULT_SPECIAL_TOKENS, SPECIAL_ORDER, TokenizerBase, check_common_options,
    clean_up_tokenization, special_token_ids,
)
from .vocab_files import ASSETS_DIR, EMBEDDED_NAMES, bpe_from_files, tokenizer_from_json


class DebertaTokenizer(TokenizerBase):
    """DeBERTa (v1) byte-level BPE tokenizer, on the Rust ``tokenizers`` library.

    ``DebertaTokenizer()`` loads the embedded deberta-base files; ``DebertaTokenizer(vocab_file, merges_file)`` or
    ``DebertaTokenizer(tokenizer_file=...)`` loads others; ``from_pretrained`` loads a folder or hub id.

    Args:
        vocab_file: a GPT-2 style vocab.json (with ``merges_file``).
        merges_file: the BPE merges.txt (with ``vocab_file``).
        tokenizer_file: a tokenizer.json instead of the two files (its pipeline is replaced by the reference 4.x
            one).
        add_prefix_space: treat the text as if it started with a space (needed with ``is_split_into_words``).
        model_max_length: the longest sequence the model takes (``truncation`` and ``padding="max_length"`` default
            to it).
        clean_up_tokenization_spaces: ``decode`` removes spaces before punctuation by default.
        padding_side: ``"right"`` or ``"left"``.
        truncation_side: ``"right"`` or ``"left"``.
        pad_token: the padding token (must be in the vocabulary, as every special token).
        cls_token: the token that starts every sequence.
        sep_token: the token that ends each text.
        unk_token: the token of unknown strings.
        mask_token: the masked-LM token (it absorbs the whitespace before it).
        name_or_path: what ``name_or_path`` reports; default the source file (or ``"deberta-base"``).

    Raises:
        ValueError: only one of ``vocab_file`` / ``merges_file``, a bad ``model_max_length`` or side, or a special
            token missing from the vocabulary.
        TypeError: ``add_prefix_space`` not a bool, or a special token not a non-empty str.
    """

    vocab_files_names = {"vocab_file": VOCAB_NAME, "merges_file": MERGES_NAME, "tokenizer_file": TOKENIZER_JSON_NAME}
    config_keys = ("add_prefix_space",)

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
        specials = {"pad_token": pad_token, "cls_token": cls_token, "sep_token": sep_token,
                    "unk_token": unk_token, "mask_token": mask_token}
        check_common_options(model_max_length, padding_side, truncation_side, specials)

        if tokenizer_file is not None:
            source = os.fspath(tokenizer_file)
            tok = tokenizer_from_json(source)
        else:
            if vocab_file is None:
                vocab_file, merges_file = os.path.join(ASSETS_DIR, VOCAB_NAME), os.path.join(ASSETS_DIR, MERGES_NAME)
                name_or_path = name_or_path or "deberta-base"
            source = os.fspath(vocab_file)
            tok = Tokenizer(bpe_from_files(vocab_file, merges_file))

        ids = special_token_ids(tok.get_vocab(with_added_tokens=True), specials, source)

        # The reference 4.x pipeline (DebertaTokenizerFast's tokenizer.json), set explicitly so a tokenizer.json
        # written by another version (e.g. the reference v5 with its all-zero pair token types) behaves the same.
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, trim_offsets=True, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls_token}:0 $A:0 {sep_token}:0",
            pair=f"{cls_token}:0 $A:0 {sep_token}:0 $B:1 {sep_token}:1",
            special_tokens=[(cls_token, ids["cls_token"]), (sep_token, ids["sep_token"])],
        )
        # The mask token absorbs the whitespace before it (lstrip), as in the pre-v5 reference: "is [MASK]."
        # gives "is" then [MASK], the way the model saw masks in pre-training.
        added = [
            AddedToken(specials[name], lstrip=name == "mask_token", rstrip=False, single_word=False,
                       normalized=name == "mask_token", special=True)
            for name in sorted(specials, key=lambda name: ids[name])  # in id order, as the reference lists them
        ]
        tok.add_special_tokens(added)

        self.add_prefix_space = add_prefix_space
        self._setup(tok, specials, ids, model_max_length=model_max_length,
                    clean_up_tokenization_spaces=clean_up_tokenization_spaces, padding_side=padding_side,
                    truncation_side=truncation_side, name_or_path=name_or_path or source)

    # -- the hooks of TokenizerBase -------------------------------------------------------------------------------

    def _make_variant(self, add_prefix_space: bool) -> Tokenizer:
        tok = Tokenizer.from_str(self.backend_tokenizer.to_str())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, trim_offsets=True,
                                                     use_regex=True)
        return tok

    def _call_backend_key(self, add_prefix_space: Optional[bool], is_split_into_words: bool) -> bool:
        add_prefix_space = self.add_prefix_space if add_prefix_space is None else add_prefix_space
        if not isinstance(add_prefix_space, bool):
            raise TypeError(f"add_prefix_space must be a bool or None, got {add_prefix_space!r}")
        if is_split_into_words and not add_prefix_space:
            raise ValueError(
                "is_split_into_words=True needs add_prefix_space=True (each word is encoded as if it followed a "
                "space, as the reference fast tokenizer requires); got add_prefix_space=False: create the tokenizer "
                "with DebertaTokenizer(add_prefix_space=True) or pass add_prefix_space=True"
            )
        return add_prefix_space

    @classmethod
    def _locate(cls, path: str, **hub: Any) -> Tuple[str, Dict[str, str]]:
        if not os.path.isdir(path) and path in EMBEDDED_NAMES:
            return ASSETS_DIR, {name: os.path.join(ASSETS_DIR, name) for name in (VOCAB_NAME, MERGES_NAME)}
        return super()._locate(path, **hub)

    @classmethod
    def _from_folder(cls, folder: str, found: Dict[str, str], init: Dict[str, Any]) -> "DebertaTokenizer":
        if TOKENIZER_JSON_NAME in found:
            return cls(tokenizer_file=found[TOKENIZER_JSON_NAME], **init)
        if VOCAB_NAME in found and MERGES_NAME in found:
            return cls(found[VOCAB_NAME], found[MERGES_NAME], **init)
        raise FileNotFoundError(
            f"no tokenizer files in {folder!r}: expected {TOKENIZER_JSON_NAME}, or {VOCAB_NAME} and {MERGES_NAME}; "
            f"found {sorted(found) or 'none of them'}"
        )

    def _stage_vocabulary(self, staging: Staging, filename_prefix: Optional[str]) -> List[str]:
        written = self._backend(self.add_prefix_space).tokenizer.model.save(staging.folder, filename_prefix)
        return [os.path.basename(path) for path in written]

    def _tokenizer_config(self) -> Dict[str, Any]:
        return {"add_bos_token": False, "add_prefix_space": self.add_prefix_space, "errors": "replace",
                "tokenizer_class": "DebertaTokenizer"}


DebertaTokenizerFast = DebertaTokenizer


__all__ = [
    "DEFAULT_MODEL_MAX_LENGTH", "DEFAULT_SPECIAL_TOKENS", "SPECIAL_ORDER", "DebertaTokenizer", "DebertaTokenizerFast",
    "clean_up_tokenization",
]
