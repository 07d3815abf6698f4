"""BatchEncoding: the tokenizer's output (a dict of fields with attribute access and the Rust encodings behind it),
and the conversion of its fields to NumPy / torch / TensorFlow tensors (the framework imported only when asked)."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple, Union

import numpy as np

TENSOR_TYPES = ("np", "pt", "tf")


def to_tensor(key: str, value: Any, tensor_type: str) -> Any:
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
    if array.size == 0 and array.ndim == 1 and (key in PAD_VALUES or key == "offset_mapping"):
        # An empty batch: keep the batch and sequence axes ([0, 0], offsets [0, 0, 2]) so the result has the rank
        # a model or collator expects and fails there with a message about the batch, not about the rank.
        array = np.zeros((0, 0, 2) if key == "offset_mapping" else (0, 0), dtype=np.int64)
    floating = array.dtype.kind == "f"  # float fields pad() passes through (regression / multi-label labels)
    array = array.astype(np.float32 if floating else np.int64)
    if tensor_type == "np":
        return array
    if tensor_type == "pt":
        import torch  # only when asked for

        return torch.from_numpy(array)
    import tensorflow as tf  # only when asked for

    return tf.constant(array, dtype=tf.float32 if floating else tf.int32)


def check_tensor_type(tensor_type: Any) -> Optional[str]:
    if tensor_type is None:
        return None
    value = getattr(tensor_type, "value", tensor_type)  # accepts the reference's TensorType enum too
    if value not in TENSOR_TYPES:
        raise ValueError(f"return_tensors must be one of {TENSOR_TYPES} or None, got {tensor_type!r}")
    return value


# How pad() fills each field it knows (input_ids take the tokenizer's pad id); other fields pass through.
PAD_VALUES = {"input_ids": None, "attention_mask": 0, "token_type_ids": 0, "special_tokens_mask": 1}


def as_lists(value: Any) -> Any:
    """NumPy / torch / tf tensors as (nested) Python lists; lists as they are."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [as_lists(v) if hasattr(v, "tolist") or isinstance(v, (list, tuple)) else v for v in value]
    return value


class BatchEncoding(dict):
    """The tokenizer's output: a dict of fields (``input_ids`` ...) with attribute access, plus the Rust ``Encoding``
    objects behind it for alignment queries (``word_ids``, ``char_to_token`` ...). ``encoding[i]`` (an int) is row
    i's ``Encoding``.

    Args:
        data: the fields by name: lists of ids per row ([b, s]), or tensors.
        encodings: the Rust ``tokenizers.Encoding`` of each row, or None (no alignment queries).
        tensor_type: convert the list fields to ``'np'``, ``'pt'`` or ``'tf'`` tensors; None keeps lists.
        prepend_batch_axis: wrap each field in a batch of one first (a single text's fields).
    """

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

    def _row_and_index(self, batch_or_index: int, index: Optional[int]) -> Tuple[Any, int]:
        """(the row's Encoding, the index within it) for the reference's two call forms: (index), on row 0, and
        (row, index)."""
        batch_index, index = (0, batch_or_index) if index is None else (batch_or_index, index)
        return self._require_encodings()[batch_index], index

    def tokens(self, batch_index: int = 0) -> List[str]:
        """The token strings of row ``batch_index``.

        Args:
            batch_index: the row.

        Raises:
            ValueError: the BatchEncoding carries no encodings (it was built from plain data).
        """
        return self._require_encodings()[batch_index].tokens

    def word_ids(self, batch_index: int = 0) -> List[Optional[int]]:
        """For each token of row ``batch_index``, the index of the word it came from (None for special and padding
        tokens): with ``is_split_into_words=True`` the index into the given word list.

        Args:
            batch_index: the row.

        Raises:
            ValueError: the BatchEncoding carries no encodings (it was built from plain data).
        """
        return self._require_encodings()[batch_index].word_ids

    def sequence_ids(self, batch_index: int = 0) -> List[Optional[int]]:
        """For each token, 0 (first text), 1 (text_pair) or None (special and padding tokens).

        Args:
            batch_index: the row.

        Raises:
            ValueError: the BatchEncoding carries no encodings (it was built from plain data).
        """
        return self._require_encodings()[batch_index].sequence_ids

    def token_to_word(self, batch_or_token_index: int, token_index: Optional[int] = None) -> Optional[int]:
        """The index of the word a token came from, or None (special and padding tokens).

        Args:
            batch_or_token_index: the token index (row 0) or, with ``token_index``, the row.
            token_index: the token index within row ``batch_or_token_index``.

        Raises:
            ValueError: the BatchEncoding carries no encodings (it was built from plain data).
        """
        encoding, token_index = self._row_and_index(batch_or_token_index, token_index)
        return encoding.word_ids[token_index]

    def token_to_chars(self, batch_or_token_index: int, token_index: Optional[int] = None) -> Optional[Tuple[int, int]]:
        """The (start, end) character span of a token in its own text, or None for special tokens.

        Args:
            batch_or_token_index: the token index (row 0) or, with ``token_index``, the row.
            token_index: the token index within row ``batch_or_token_index``.

        Raises:
            ValueError: the BatchEncoding carries no encodings (it was built from plain data).
        """
        encoding, token_index = self._row_and_index(batch_or_token_index, token_index)
        return encoding.token_to_chars(token_index)

    def char_to_token(
        self, batch_or_char_index: int, char_index: Optional[int] = None, sequence_index: int = 0
    ) -> Optional[int]:
        """The index of the token covering character ``char_index`` of text ``sequence_index`` (0 or 1).

        Args:
            batch_or_char_index: the character index (row 0) or, with ``char_index``, the row.
            char_index: the character index within row ``batch_or_char_index``.
            sequence_index: 0 for the first text, 1 for text_pair.

        Raises:
            ValueError: the BatchEncoding carries no encodings (it was built from plain data).
        """
        encoding, char_index = self._row_and_index(batch_or_char_index, char_index)
        return encoding.char_to_token(char_index, sequence_index)

    def word_to_tokens(
        self, batch_or_word_index: int, word_index: Optional[int] = None, sequence_index: int = 0
    ) -> Optional[Tuple[int, int]]:
        """The (start, end) token span of word ``word_index`` of text ``sequence_index``.

        Args:
            batch_or_word_index: the word index (row 0) or, with ``word_index``, the row.
            word_index: the word index within row ``batch_or_word_index``.
            sequence_index: 0 for the first text, 1 for text_pair.

        Raises:
            ValueError: the BatchEncoding carries no encodings (it was built from plain data).
        """
        encoding, word_index = self._row_and_index(batch_or_word_index, word_index)
        return encoding.word_to_tokens(word_index, sequence_index)

    def convert_to_tensors(self, tensor_type: Any = None, prepend_batch_axis: bool = False) -> "BatchEncoding":
        """Turn every list field into a tensor of ``tensor_type`` in place; return self.

        Ids become int64 ('np', 'pt') or int32 ('tf', as the reference); float fields (regression labels) float32.

        Args:
            tensor_type: ``'np'``, ``'pt'`` or ``'tf'`` (or the reference's ``TensorType``); None leaves lists.
            prepend_batch_axis: wrap each field in a batch of one first.

        Raises:
            ValueError: an unknown ``tensor_type``, or rows of different lengths (pad first).
        """
        tensor_type = check_tensor_type(tensor_type)
        if tensor_type is None:
            return self
        for key, value in self.items():
            if isinstance(value, (list, tuple)):
                self[key] = to_tensor(key, [value] if prepend_batch_axis else value, tensor_type)
        return self

    def to(self, device: Any) -> "BatchEncoding":
        """Move torch tensors to ``device`` (other values are left alone); return self.

        Args:
            device: a torch device or its name (``"cuda"``).
        """
        for key, value in self.items():
            if hasattr(value, "to") and not isinstance(value, (list, tuple, str)):
                self[key] = value.to(device)
        return self


__all__ = ["BatchEncoding", "PAD_VALUES", "TENSOR_TYPES", "as_lists", "check_tensor_type", "to_tensor"]
