"""DebertaV2Tokenizer: the DeBERTa-v2/v3 (and mDeBERTa-v3) SentencePiece tokenizer, read from ``spm.model``
without ``sentencepiece`` or ``protobuf`` (spm_model.py decodes the file) and run on the Rust ``tokenizers``
library. The API is TokenizerBase's (base.py); this module builds the pipeline and reads and writes the files.

The pipeline is the one the reference library's 4.x ``DebertaV2TokenizerFast`` builds from the same file (its
``DebertaV2Converter``), so the ids are the same (docs/tokenizer.md lists where the slow sentencepiece tokenizer
and the reference 5.x differ):

- normalizer: Lowercase (``do_lower_case``), Strip, Precompiled(the model's ``precompiled_charsmap``, when it has
  one), Replace(`` {2,}`` -> ``" "``);
- pre-tokenizer: Punctuation("isolated") (``split_by_punct``), then Metaspace("▁", prepend always);
- model: Unigram over the pieces and scores, the model's unknown piece as unk id;
- added tokens: the control pieces (special) and user-defined pieces of the model, not normalized; the tokens of
  added_tokens.json / ``added_tokens_decoder``; then the special tokens the vocabulary lacks (``[MASK]``, appended
  after it) and ``[UNK]`` (matched after normalization);
- template ``[CLS] $A [SEP]`` / ``[CLS] $A [SEP] $B [SEP]``, token types 0 / 1; decoder Metaspace.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from ..errors import CheckpointError
from ..files import ADDED_TOKENS_NAME, SPM_NAME, TOKENIZER_JSON_NAME, Staging
from .base import (
    DEFAULT_MODEL_MAX_LENGTH, DEFAULT_SPECIAL_TOKENS, SPECIAL_ORDER, TokenizerBase, check_common_options,
    special_token_ids,
)
from .spm_model import CONTROL, MODEL_TYPES, UNIGRAM, UNKNOWN, USER_DEFINED, ModelProto, read_model
from .vocab_files import read_json_object

logger = logging.getLogger("deberta_core.tokenizer")

METASPACE = "▁"
# AddedToken flags as tokenizer_config.json's added_tokens_decoder writes them.
ADDED_TOKEN_FLAGS = ("lstrip", "normalized", "rstrip", "single_word", "special")


def check_model(model: ModelProto, source: str) -> None:
    """Refuse what the pipeline cannot express (naming the file and what it holds): a model type other than
    Unigram, byte fallback, an unknown-piece id that is not the model's UNKNOWN piece, a piece listed twice.

    Args:
        model: the decoded model.
        source: its file, for the messages.

    Raises:
        CheckpointError: the model cannot be run as the reference 4.x fast tokenizer runs it.
    """
    spec = model.trainer_spec
    if spec.model_type != UNIGRAM:
        kind = MODEL_TYPES.get(spec.model_type, f"unknown ({spec.model_type})")
        raise CheckpointError(
            f"{source!r} is a SentencePiece {kind} model; DebertaV2Tokenizer supports UNIGRAM models only (the "
            f"DeBERTa-v2/v3 type; BPE, WORD and CHAR models are refused rather than tokenized differently from "
            f"sentencepiece)"
        )
    if spec.byte_fallback:
        raise CheckpointError(
            f"{source!r} was trained with byte_fallback=True; DebertaV2Tokenizer refuses it (sentencepiece emits "
            f"byte pieces <0x..> for unknown characters where the reference fast tokenizer gives [UNK]: the two "
            f"disagree, and neither would be silently chosen)"
        )
    count = len(model.pieces)
    if not 0 <= spec.unk_id < count or model.pieces[spec.unk_id].type != UNKNOWN:
        found = repr(model.pieces[spec.unk_id].piece) if 0 <= spec.unk_id < count else "no such piece"
        raise CheckpointError(
            f"{source!r}: trainer_spec.unk_id is {spec.unk_id}, expected the id of the model's UNKNOWN piece "
            f"among its {count} pieces; got {found}"
        )
    seen: Dict[str, int] = {}
    for index, piece in enumerate(model.pieces):
        if piece.piece in seen:
            raise CheckpointError(f"{source!r}: piece {piece.piece!r} is listed twice (ids {seen[piece.piece]} and "
                                  f"{index}); expected each piece once")
        seen[piece.piece] = index


def extra_added_tokens(added_tokens: Optional[Mapping[str, Any]], added_tokens_decoder: Optional[Mapping[Any, Any]],
                       specials: Mapping[str, str], source: str) -> List[Tuple[int, AddedToken]]:
    """(id, AddedToken) of the tokens a folder adds to the model, in id order: ``added_tokens_decoder`` (from
    tokenizer_config.json, with its flags) or else added_tokens.json (token -> id; a special token is not
    normalized, any other is), as the reference reads them.

    Args:
        added_tokens: added_tokens.json's mapping, or None.
        added_tokens_decoder: tokenizer_config.json's ``added_tokens_decoder``, or None (it wins when given).
        specials: the special tokens (attribute -> token).
        source: the file named by the messages.

    Raises:
        ValueError: an entry that is not a token with an integer id (and, for ``added_tokens_decoder``, its flags).
    """
    out = []
    if added_tokens_decoder:
        for key, entry in added_tokens_decoder.items():
            if not isinstance(entry, Mapping) or not isinstance(entry.get("content"), str) or not str(key).isdigit():
                raise ValueError(f"{source!r}: added_tokens_decoder expects 'id': {{'content': str, ...}} entries, "
                                 f"got {key!r}: {entry!r:.80}")
            flags = {name: bool(entry[name]) for name in ADDED_TOKEN_FLAGS if name in entry}
            out.append((int(key), AddedToken(entry["content"], **flags)))
        return sorted(out, key=lambda item: item[0])
    special_values = set(specials.values())
    for token, index in (added_tokens or {}).items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"{source!r}: expected a non-negative integer id for every token, got {token!r}: {index!r}")
        special = token in special_values
        out.append((index, AddedToken(token, rstrip=False, lstrip=False, normalized=not special, special=special)))
    return sorted(out, key=lambda item: item[0])


class DebertaV2Tokenizer(TokenizerBase):
    """DeBERTa-v2/v3 SentencePiece (Unigram) tokenizer, read from ``spm.model`` without sentencepiece, on the Rust
    ``tokenizers`` library; the ids of the reference 4.x ``DebertaV2TokenizerFast`` (see docs/tokenizer.md).

    ``DebertaV2Tokenizer("spm.model")`` loads a model file; ``from_pretrained(folder)`` a hub-like folder
    (spm.model, tokenizer_config.json, special_tokens_map.json, added_tokens.json; a tokenizer.json there is not
    read: the pipeline is always built from spm.model).

    Args:
        vocab_file: the SentencePiece model (``spm.model``).
        do_lower_case: lower-case the text before the model.
        split_by_punct: split punctuation marks off as words of their own.
        model_max_length: the longest sequence the model takes (``truncation`` and ``padding="max_length"`` default
            to it).
        clean_up_tokenization_spaces: ``decode`` removes spaces before punctuation by default.
        padding_side: ``"right"`` or ``"left"``.
        truncation_side: ``"right"`` or ``"left"``.
        pad_token: the padding token (must be a piece of the model, as every special token but the mask).
        cls_token: the token that starts every sequence.
        sep_token: the token that ends each text.
        unk_token: the token of unknown strings.
        mask_token: the masked-LM token (appended after the vocabulary when the model lacks it).
        added_tokens: added_tokens.json's mapping token -> id (ids after the model's pieces, in order).
        added_tokens_decoder: tokenizer_config.json's ``added_tokens_decoder`` (id -> token and flags); it wins
            over ``added_tokens``.
        name_or_path: what ``name_or_path`` reports; default the model file.

    Raises:
        FileNotFoundError: ``vocab_file`` does not exist.
        CheckpointError: ``vocab_file`` is not a SentencePiece model, or one the pipeline cannot run (BPE, WORD,
            CHAR, byte fallback).
        ValueError: a bad ``model_max_length`` or side, a special token (other than the mask) missing from the
            model, or an added token whose id does not follow the vocabulary.
        TypeError: ``do_lower_case`` / ``split_by_punct`` not a bool, or a special token not a non-empty str.
    """

    vocab_files_names = {"vocab_file": SPM_NAME, "tokenizer_file": TOKENIZER_JSON_NAME}
    config_keys = ("do_lower_case", "split_by_punct", "added_tokens_decoder")
    add_prefix_space = True  # Metaspace always prepends "▁"

    def __init__(
        self,
        vocab_file: str,
        *,
        do_lower_case: bool = False,
        split_by_punct: bool = False,
        model_max_length: int = DEFAULT_MODEL_MAX_LENGTH,
        clean_up_tokenization_spaces: bool = False,
        padding_side: str = "right",
        truncation_side: str = "right",
        pad_token: str = DEFAULT_SPECIAL_TOKENS["pad_token"],
        cls_token: str = DEFAULT_SPECIAL_TOKENS["cls_token"],
        sep_token: str = DEFAULT_SPECIAL_TOKENS["sep_token"],
        unk_token: str = DEFAULT_SPECIAL_TOKENS["unk_token"],
        mask_token: str = DEFAULT_SPECIAL_TOKENS["mask_token"],
        added_tokens: Optional[Mapping[str, int]] = None,
        added_tokens_decoder: Optional[Mapping[Any, Any]] = None,
        name_or_path: Optional[str] = None,
    ):
        for name, value in (("do_lower_case", do_lower_case), ("split_by_punct", split_by_punct)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, got {value!r}")
        specials = {"pad_token": pad_token, "cls_token": cls_token, "sep_token": sep_token,
                    "unk_token": unk_token, "mask_token": mask_token}
        check_common_options(model_max_length, padding_side, truncation_side, specials)
        source = os.fspath(vocab_file)
        model, self._spm_bytes = read_model(source)
        check_model(model, source)

        # The reference's DebertaV2Converter: Unigram over every piece, control and user-defined pieces added.
        tok = Tokenizer(Unigram([(p.piece, p.score) for p in model.pieces], unk_id=model.trainer_spec.unk_id,
                                byte_fallback=False))
        tok.add_tokens([AddedToken(p.piece, normalized=False, special=p.type == CONTROL)
                        for p in model.pieces if p.type in (CONTROL, USER_DEFINED)])
        steps = [normalizers.Lowercase()] if do_lower_case else []
        steps.append(normalizers.Strip())
        if model.normalizer_spec.precompiled_charsmap:
            steps.append(normalizers.Precompiled(model.normalizer_spec.precompiled_charsmap))
        steps.append(normalizers.Replace(Regex(" {2,}"), " "))
        tok.normalizer = normalizers.Sequence(steps)
        splits = [pre_tokenizers.Punctuation("isolated")] if split_by_punct else []
        splits.append(pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always"))
        tok.pre_tokenizer = pre_tokenizers.Sequence(splits)
        tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")

        # Then the reference fast tokenizer's own additions: the folder's added tokens, then each special token
        # that is not an added token yet ([UNK] matched after normalization, as the reference's slow class makes it).
        for index, token in extra_added_tokens(added_tokens, added_tokens_decoder, specials, source):
            self._add_at(tok, token, index, source)
        have = {t.content for t in tok.get_added_tokens_decoder().values()}
        for name in SPECIAL_ORDER:
            attribute = {"bos_token": "cls_token", "eos_token": "sep_token"}.get(name, name)
            token = specials[attribute]
            if token in have or (tok.token_to_id(token) is None and attribute != "mask_token"):
                continue  # an added token already, or missing: special_token_ids names it below
            have.add(token)
            tok.add_tokens([AddedToken(token, normalized=attribute == "unk_token", special=True)])
        found = {token: tok.token_to_id(token) for token in specials.values()}
        ids = special_token_ids({token: index for token, index in found.items() if index is not None}, specials,
                                source)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{cls_token}:0 $A:0 {sep_token}:0",
            pair=f"{cls_token}:0 $A:0 {sep_token}:0 $B:1 {sep_token}:1",
            special_tokens=[(cls_token, ids["cls_token"]), (sep_token, ids["sep_token"])],
        )

        self.vocab_file = source
        self.do_lower_case = do_lower_case
        self.split_by_punct = split_by_punct
        self._setup(tok, specials, ids, model_max_length=model_max_length,
                    clean_up_tokenization_spaces=clean_up_tokenization_spaces, padding_side=padding_side,
                    truncation_side=truncation_side, name_or_path=name_or_path or source)

    @staticmethod
    def _add_at(tok: Tokenizer, token: AddedToken, index: int, source: str) -> None:
        """Add ``token``, which must get ``index``: its piece's id, or the next id after the vocabulary."""
        current = tok.token_to_id(token.content)
        expected = tok.get_vocab_size(with_added_tokens=True) if current is None else current
        if index != expected:
            raise ValueError(
                f"{source!r}: added token {token.content!r} is given id {index}, expected {expected} "
                f"({'its id in the model' if current is not None else 'the next id after the vocabulary'})"
            )
        tok.add_tokens([token])

    # -- the hooks of TokenizerBase -------------------------------------------------------------------------------

    def _call_backend_key(self, add_prefix_space: Optional[bool], is_split_into_words: bool) -> bool:
        if add_prefix_space is not None and not isinstance(add_prefix_space, bool):
            raise TypeError(f"add_prefix_space must be a bool or None, got {add_prefix_space!r}")
        if add_prefix_space is False:
            raise ValueError("DebertaV2Tokenizer always prepends '▁' to the text (Metaspace, prepend_scheme "
                             "'always', as the reference); add_prefix_space=False is not supported, got False")
        return True

    @classmethod
    def _from_folder(cls, folder: str, found: Dict[str, str], init: Dict[str, Any]) -> "DebertaV2Tokenizer":
        spm = os.path.join(folder, SPM_NAME)
        if not os.path.isfile(spm):
            raise FileNotFoundError(
                f"no {SPM_NAME} in {folder!r}: DebertaV2Tokenizer reads the SentencePiece model (a "
                f"{TOKENIZER_JSON_NAME} alone is not read); found {sorted(found) or 'no tokenizer files'}"
            )
        if TOKENIZER_JSON_NAME in found:
            logger.info("%s: building the pipeline from %s; %s is not read", folder, SPM_NAME, TOKENIZER_JSON_NAME)
        added = os.path.join(folder, ADDED_TOKENS_NAME)
        if os.path.isfile(added) and "added_tokens" not in init:
            init["added_tokens"] = read_json_object(added)
        return cls(spm, **init)

    def _stage_vocabulary(self, staging: Staging, filename_prefix: Optional[str]) -> List[str]:
        name = f"{filename_prefix}-{SPM_NAME}" if filename_prefix else SPM_NAME
        with open(staging.path(name), "wb") as handle:
            handle.write(self._spm_bytes)
        return [name]

    def _tokenizer_config(self) -> Dict[str, Any]:
        return {"do_lower_case": self.do_lower_case, "split_by_punct": self.split_by_punct, "sp_model_kwargs": {},
                "tokenizer_class": "DebertaV2Tokenizer", "vocab_type": "spm"}

    def _repr_options(self) -> str:
        return f"do_lower_case={self.do_lower_case}, split_by_punct={self.split_by_punct}"


DebertaV2TokenizerFast = DebertaV2Tokenizer

__all__ = ["ADDED_TOKENS_NAME", "DebertaV2Tokenizer", "DebertaV2TokenizerFast", "check_model", "extra_added_tokens"]
