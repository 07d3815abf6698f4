"""Option resolution for the tokenizer: padding / truncation / max_length as the reference resolves them, and the
validation of its inputs (texts, pairs, word lists, ids) into the forms the Rust tokenizer takes."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
SIDES = ("right", "left")

TextInput = str
PreTokenizedInput = Sequence[str]


def resolve_strategies(
    padding: Any, truncation: Any, max_length: Optional[int], pad_to_multiple_of: Optional[int], model_max_length: int
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
        max_length = model_max_length
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


def as_id_list(token_ids: Any) -> List[int]:
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


def check_words(words: Any, where: str) -> Any:
    if not isinstance(words, (list, tuple)):
        raise TypeError(f"{where}: with is_split_into_words=True expected a list of words (str), "
                        f"got {type(words).__name__}")
    for i, word in enumerate(words):
        if not isinstance(word, str):
            raise TypeError(f"{where}[{i}]: expected a word (str), got {type(word).__name__}: {word!r}")
    return list(words)


def batch_inputs(text: Any, text_pair: Any, is_split_into_words: bool) -> Tuple[list, bool]:
    """Validate the inputs and put them in the Rust form: (list of str / (a, b) tuples / word lists, batched). A
    text with a lone surrogate (not valid Unicode, so not encodable as UTF-8) is a ValueError naming its place."""
    inputs, is_batched = rust_inputs(text, text_pair, is_split_into_words)
    for i, item in enumerate(inputs):
        for j, part in enumerate(item if isinstance(item, tuple) else (item,)):
            for k, piece in enumerate([part] if isinstance(part, str) else part):
                try:
                    piece.encode("utf-8")
                except UnicodeEncodeError as error:
                    where = ("text" if j == 0 else "text_pair") + (f"[{i}]" if is_batched else "")
                    where += f"[{k}]" if is_split_into_words else ""
                    raise ValueError(
                        f"{where} is not valid Unicode: a lone surrogate {piece[error.start]!r} at character "
                        f"{error.start} (decode bytes with errors='replace' or drop it before tokenizing)"
                    ) from None
    return inputs, is_batched


def rust_inputs(text: Any, text_pair: Any, is_split_into_words: bool) -> Tuple[list, bool]:
    """batch_inputs without the Unicode check: the shapes and types of the call forms."""
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
            first = check_words(text, "text")
            if text_pair is None:
                return [first], False
            return [(first, check_words(text_pair, "text_pair"))], False
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
            first = check_words(words, f"text[{i}]")
            inputs.append(first if text_pair is None else (first, check_words(text_pair[i], f"text_pair[{i}]")))
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


__all__ = [
    "PADDING_STRATEGIES", "SIDES", "TRUNCATION_STRATEGIES", "PreTokenizedInput", "TextInput", "as_id_list",
    "batch_inputs", "check_words", "resolve_strategies",
]
