"""The tokenizer's files: the embedded deberta-base vocabulary, and readers of vocab.json, merges.txt,
tokenizer.json and the JSON configs, each refusing a bad file with a message that names it."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Tuple

from tokenizers import Tokenizer
from tokenizers.models import BPE

from ..files import MERGES_NAME, TOKENIZER_JSON_NAME, VOCAB_NAME

# The embedded default tokenizer (deberta-base vocab.json + merges.txt + NOTICE).
ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
# Names that load the embedded deberta-base files (no network, no cache).
EMBEDDED_NAMES = ("deberta-base",)
MERGES_VERSION_HEADER = "#version:"


def read_vocab(path: str) -> Dict[str, int]:
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


def read_merges(path: str) -> List[Tuple[str, str]]:
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


def bpe_from_files(vocab_file: str, merges_file: str) -> BPE:
    vocab = read_vocab(os.fspath(vocab_file))
    merges = read_merges(os.fspath(merges_file))
    try:
        return BPE(vocab=vocab, merges=merges, dropout=None, unk_token=None, continuing_subword_prefix="",
                   end_of_word_suffix="", fuse_unk=False)
    except Exception as err:  # the Rust side raises a bare Exception, e.g. a merge of unknown tokens
        raise ValueError(f"{merges_file!r} does not fit {vocab_file!r}: {err}") from None


def tokenizer_from_json(path: str) -> Tokenizer:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tokenizer file not found: {path!r} (expected a {TOKENIZER_JSON_NAME})")
    try:
        tok = Tokenizer.from_file(os.fspath(path))
    except Exception as err:  # Rust raises a bare Exception for bad JSON or an unknown layout
        raise ValueError(f"{path!r} is not a valid {TOKENIZER_JSON_NAME}: {err}") from None
    if not isinstance(tok.model, BPE):
        raise ValueError(f"{path!r}: expected a byte-level BPE model, got {type(tok.model).__name__}")
    return tok


def read_json_object(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path!r} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path!r}: expected a JSON object, got {type(data).__name__}")
    return data


def token_content(value: Any) -> Any:
    """A special token as written in tokenizer_config.json / special_tokens_map.json (str or {"content": ...})."""
    if isinstance(value, dict):
        return value.get("content")
    return value


__all__ = [
    "ASSETS_DIR", "EMBEDDED_NAMES", "MERGES_VERSION_HEADER", "bpe_from_files", "read_json_object", "read_merges",
    "read_vocab", "token_content", "tokenizer_from_json",
]
