"""Masked-language-model data, framework-neutral (NumPy): masking, corpus to training sequences, epoch batches.

Three pieces, each usable alone:

- :class:`MLMMasker` -- BERT-style dynamic masking of a batch of token ids. A fraction ``mlm_probability``
  (15 %) of the maskable tokens is selected; of those, ``mask_replace_prob`` (80 %) become the mask token,
  ``random_replace_prob`` (10 %) a random token of the vocabulary (never a special token) and the rest (10 %)
  stay. Special tokens and padding are never selected. ``labels`` hold the original id at the selected
  positions and -100 (:data:`IGNORE_INDEX`) everywhere else. ``masker(examples, return_tensors='pt')`` is a
  data collator; ``masker.mask(input_ids, ...)`` works on arrays.
- :func:`build_mlm_sequences` -- tokenises a corpus of texts into fixed-length sequences ``[CLS] ... [SEP]``,
  packed across documents (``packing=True``) or one document per sequence (long ones split, short ones padded).
- :class:`MLMBatches` -- shuffled, masked batches of those sequences, re-masked every epoch and reproducible
  from ``(seed, epoch)``; the twins turn it into a torch ``IterableDataset`` or a ``tf.data.Dataset``
  (``deberta_torch.mlm.mlm_dataset`` / ``deberta_tf.mlm.mlm_dataset``).

How many tokens are selected: per row, ``n`` maskable tokens give a budget of ``floor(p * n + u)`` tokens
(``u`` uniform in [0, 1)), whose expectation is exactly ``p * n`` and whose spread is below one token; the
budget is filled uniformly at random without replacement. Short rows are therefore masked at rate ``p`` on
average (a fixed ``round(p * n)`` would mask nothing in rows of 3 tokens and 20 % of rows of 5).

Whole-word masking (``whole_word_mask=True``) selects words, not tokens: words in random order are taken
whole while they fit in the row's token budget (a word longer than what is left is skipped, as BERT's
``create_pretraining_data`` does), so the budget still counts tokens and is never exceeded; the 80/10/10
replacement is then drawn per token, as in BERT and the reference library. Word boundaries:

- by default from the byte-level BPE vocabulary itself: a word starts at a token that begins with a
  whitespace byte ('Ġ' for a space, 'Ċ' for a newline ...), after a token that ends with one, and after a
  special or padding token. Words are thus the whitespace-separated pieces of the text, punctuation attached
  ("Hello," is one word). This needs nothing but the ids, so it also works on packed sequences.
- or, when given, from ``word_ids`` ([b, s], -1 or None for no word): consecutive tokens with the same id form
  one word. ``BatchEncoding.word_ids(i)`` gives the pre-tokenizer's words, which split punctuation off
  ("Hello" and "," are two words). Use it when the batch comes straight from the tokenizer.

Randomness: every method draws from a ``numpy.random.Generator``: the masker's own (``seed=``), or the one
passed as ``rng=``; a given generator state and batch always give the same result.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np

from .outputs import IGNORE_INDEX
from .tokenizer import BatchEncoding

NO_WORD = -1  # word id of tokens that belong to no word (special tokens, padding)

# The byte-level alphabet's characters for the ASCII whitespace bytes (GPT-2's bytes_to_unicode): space,
# \t, \n, \x0b, \x0c, \r map to 'Ġ', 'ĉ', 'Ċ', 'ċ', 'Č', 'č'.
_WHITESPACE_BYTE_CHARS = frozenset(chr(256 + byte) for byte in (0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D))

IdArray = Union[np.ndarray, Sequence[Sequence[int]]]


def _probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(value).__name__} {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return float(value)


def _int_array(name: str, value: Any, shape: Optional[tuple] = None) -> np.ndarray:
    """A 2-D integer array from an array, tensor (anything with .numpy()) or list of equal-length rows."""
    if hasattr(value, "detach"):  # torch
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # TensorFlow
        value = value.numpy()
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple, np.ndarray)):
        lengths = sorted({len(row) for row in value})
        if len(lengths) > 1:
            raise ValueError(f"{name}: expected rows of equal length, got lengths {lengths}; pad the batch first "
                             f"(tokenizer(..., padding=True) or tokenizer.pad(examples))")
    array = np.asarray(value)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D [batch, sequence], got an array of shape {array.shape}")
    if array.size and array.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} must have the shape of input_ids {shape}, got {array.shape}")
    return array.astype(np.int64, copy=False)


def whitespace_flags(tokens: Sequence[Optional[str]]) -> tuple:
    """For byte-level BPE vocabulary strings: (begins with a whitespace byte, ends with one), two bool arrays.
    None entries (ids with no token) get False."""
    begins = np.array([bool(t) and t[0] in _WHITESPACE_BYTE_CHARS for t in tokens], dtype=bool)
    ends = np.array([bool(t) and t[-1] in _WHITESPACE_BYTE_CHARS for t in tokens], dtype=bool)
    return begins, ends


class MLMMasker:
    """Dynamic masking for masked-language-model training (see the module docstring for the rules).

    Args:
        vocab_size: ids must lie in ``[0, vocab_size)``.
        mask_token_id: the id written at the positions chosen for [MASK].
        special_token_ids: ids never selected and never used as random replacements ([CLS], [SEP], [PAD] ...).
        pad_token_id: padding id (never selected, also where ``attention_mask`` is missing); None: no padding id.
        mlm_probability: fraction of the maskable tokens selected per row (default 0.15).
        mask_replace_prob: fraction of the selected tokens replaced by the mask token (default 0.8).
        random_replace_prob: fraction replaced by a random token (default 0.1); the rest keep their id.
        random_token_ids: the ids random replacements are drawn from (uniformly); default: every id in ``[0,
            vocab_size)`` that is not special.
        whole_word_mask: select whole words (needs ``begins_word``/``ends_word``, or ``word_ids`` per batch).
        begins_word: bool array [vocab_size]: the token begins with whitespace (see :func:`whitespace_flags`;
            :meth:`from_tokenizer` fills it).
        ends_word: bool array [vocab_size]: the token ends with whitespace (as ``begins_word``).
        seed: seed of the masker's own ``numpy.random.Generator`` (None: fresh entropy).

    Raises:
        ValueError: an id outside ``[0, vocab_size)``, a probability outside [0, 1], ``mask_replace_prob +
            random_replace_prob > 1``, special ids among ``random_token_ids``, or word flags of the wrong shape.
        TypeError: ``whole_word_mask`` is not a bool.
    """

    def __init__(
        self,
        vocab_size: int,
        mask_token_id: int,
        special_token_ids: Iterable[int],
        *,
        pad_token_id: Optional[int] = None,
        mlm_probability: float = 0.15,
        mask_replace_prob: float = 0.8,
        random_replace_prob: float = 0.1,
        random_token_ids: Optional[Iterable[int]] = None,
        whole_word_mask: bool = False,
        begins_word: Optional[np.ndarray] = None,
        ends_word: Optional[np.ndarray] = None,
        seed: Optional[int] = None,
    ) -> None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive int, got {vocab_size!r}")
        self.vocab_size = int(vocab_size)
        self.special_token_ids = np.array(sorted({int(i) for i in special_token_ids}), dtype=np.int64)
        for name, value in (("mask_token_id", mask_token_id), ("pad_token_id", pad_token_id)):
            if value is None and name == "pad_token_id":  # no padding id: attention_mask alone marks padding
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < vocab_size:
                raise ValueError(f"{name} must be an id in [0, {vocab_size}), got {value!r}")
        bad = self.special_token_ids[(self.special_token_ids < 0) | (self.special_token_ids >= vocab_size)]
        if bad.size:
            raise ValueError(f"special_token_ids must lie in [0, {vocab_size}), got {bad.tolist()}")
        self.mask_token_id = int(mask_token_id)
        self.pad_token_id = None if pad_token_id is None else int(pad_token_id)
        self.mlm_probability = _probability("mlm_probability", mlm_probability)
        self.mask_replace_prob = _probability("mask_replace_prob", mask_replace_prob)
        self.random_replace_prob = _probability("random_replace_prob", random_replace_prob)
        if self.mask_replace_prob + self.random_replace_prob > 1.0 + 1e-12:
            raise ValueError(f"mask_replace_prob + random_replace_prob must be <= 1 (the rest keep their token), "
                             f"got {mask_replace_prob} + {random_replace_prob}")
        # Never selectable: the special ids, the mask id itself and the padding id.
        unmaskable = set(self.special_token_ids.tolist()) | {self.mask_token_id}
        if self.pad_token_id is not None:
            unmaskable.add(self.pad_token_id)
        self._unmaskable = np.zeros(self.vocab_size, dtype=bool)
        self._unmaskable[sorted(unmaskable)] = True
        if random_token_ids is None:
            pool = np.flatnonzero(~self._unmaskable)
        else:
            pool = np.unique(np.asarray(list(random_token_ids), dtype=np.int64))
            if pool.size and (pool.min() < 0 or pool.max() >= vocab_size):
                raise ValueError(f"random_token_ids must lie in [0, {vocab_size}), got ids from {pool.min()} to {pool.max()}")
            special_in_pool = pool[self._unmaskable[pool]] if pool.size else pool
            if special_in_pool.size:
                raise ValueError(f"random_token_ids must not contain special, mask or padding ids, got {special_in_pool.tolist()}")
        if pool.size == 0 and self.random_replace_prob > 0:
            raise ValueError("random_replace_prob > 0 needs at least one non-special id to draw random tokens from")
        self.random_token_ids = pool
        if not isinstance(whole_word_mask, bool):
            raise TypeError(f"whole_word_mask must be a bool, got {whole_word_mask!r}")
        self.whole_word_mask = whole_word_mask
        self.begins_word = self._flags("begins_word", begins_word)
        self.ends_word = self._flags("ends_word", ends_word)
        self.rng = np.random.default_rng(seed)

    def _flags(self, name: str, flags: Optional[np.ndarray]) -> Optional[np.ndarray]:
        if flags is None:
            return None
        flags = np.asarray(flags)
        if flags.shape != (self.vocab_size,) or flags.dtype != bool:
            raise ValueError(f"{name} must be a bool array of shape ({self.vocab_size},), got {flags.dtype} {flags.shape}")
        return flags

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, *, vocab_size: Optional[int] = None, **kwargs: Any) -> "MLMMasker":
        """A masker for a DebertaTokenizer: its mask, padding and special ids; random tokens from its vocabulary (minus
        specials); word boundaries from its byte-level tokens.

        Args:
            tokenizer: the tokenizer (a ``DebertaTokenizer``).
            vocab_size: default the tokenizer's; pass the model's ``config.vocab_size`` when it is larger.
            **kwargs: the constructor's other arguments (``mlm_probability``, ``whole_word_mask``, ``seed``, ...).

        Raises:
            ValueError: ``vocab_size`` is smaller than the tokenizer's ids.
        """
        vocab = tokenizer.get_vocab()
        vocab_size = len(tokenizer) if vocab_size is None else vocab_size
        if max(vocab.values()) >= vocab_size:
            raise ValueError(f"vocab_size ({vocab_size}) is smaller than the tokenizer's ids (up to {max(vocab.values())})")
        specials = set(tokenizer.all_special_ids)
        tokens: List[Optional[str]] = [None] * vocab_size
        for token, index in vocab.items():
            tokens[index] = token
        begins, ends = whitespace_flags(tokens)
        kwargs.setdefault("random_token_ids", sorted(i for i in vocab.values() if i not in specials))
        return cls(vocab_size, tokenizer.mask_token_id, specials, pad_token_id=tokenizer.pad_token_id,
                   begins_word=begins, ends_word=ends, **kwargs)

    # ------------------------------------------------------------------------------------------------ masking
    def maskable(self, input_ids: np.ndarray, attention_mask: Optional[np.ndarray] = None,
                 special_tokens_mask: Optional[np.ndarray] = None) -> np.ndarray:
        """Bool [b, s]: the tokens that may be selected (not special, mask or padding id; attention_mask 1;
        special_tokens_mask 0).

        Args:
            input_ids: token ids [b, s] in ``[0, vocab_size)``.
            attention_mask: 1 for a token, 0 for padding, [b, s]; None: every position.
            special_tokens_mask: 1 for a special token, [b, s] (added to the vocabulary's special ids); None: none.
        """
        allowed = ~self._unmaskable[input_ids]
        if attention_mask is not None:
            allowed &= attention_mask != 0
        if special_tokens_mask is not None:
            allowed &= special_tokens_mask == 0
        return allowed

    def mask(
        self,
        input_ids: IdArray,
        attention_mask: Optional[IdArray] = None,
        special_tokens_mask: Optional[IdArray] = None,
        word_ids: Optional[Any] = None,
        *,
        rng: Optional[np.random.Generator] = None,
    ) -> Dict[str, np.ndarray]:
        """Mask one batch. Returns ``{'input_ids': masked ids, 'labels': original id or -100}`` (int64 [b, s]).

        Args:
            input_ids: token ids [b, s] (array, tensor or equal-length lists) in ``[0, vocab_size)``.
            attention_mask: 1 for a token, 0 for padding, [b, s].
            special_tokens_mask: 1 for a special token, [b, s] (added to the vocabulary's special ids).
            word_ids: word index per token [b, s] (-1 or None: none), for whole-word masking only.
            rng: the generator to draw from; default the masker's own.

        Raises:
            ValueError: ids outside ``[0, vocab_size)``, arrays of different shapes, or ``word_ids`` without
                ``whole_word_mask``.
            TypeError: ``rng`` is not a ``numpy.random.Generator``.
        """
        ids = _int_array("input_ids", input_ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = ids[(ids < 0) | (ids >= self.vocab_size)]
            raise ValueError(f"input_ids must lie in [0, {self.vocab_size}), got {bad[:5].tolist()}")
        attn = None if attention_mask is None else _int_array("attention_mask", attention_mask, ids.shape)
        special = None if special_tokens_mask is None else _int_array("special_tokens_mask", special_tokens_mask, ids.shape)
        words = None if word_ids is None else self._word_ids(word_ids, ids.shape)
        if words is not None and not self.whole_word_mask:
            raise ValueError("word_ids are only used with whole_word_mask=True; build the masker with it")
        rng = self.rng if rng is None else rng
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")

        allowed = self.maskable(ids, attn, special)
        budget = np.floor(self.mlm_probability * allowed.sum(axis=1) + rng.random(ids.shape[0])).astype(np.int64)
        if self.whole_word_mask:
            selected = self._select_words(ids, allowed, words, budget, rng)
        else:
            scores = np.where(allowed, rng.random(ids.shape), 2.0)  # not allowed: after every allowed token
            ranks = np.argsort(np.argsort(scores, axis=1, kind="stable"), axis=1, kind="stable")
            selected = ranks < budget[:, None]
        action = rng.random(ids.shape)
        replace_mask = selected & (action < self.mask_replace_prob)
        replace_random = selected & ~replace_mask & (action < self.mask_replace_prob + self.random_replace_prob)
        random_ids = self.random_token_ids[rng.integers(0, max(self.random_token_ids.size, 1), size=ids.shape)] \
            if self.random_token_ids.size else np.zeros_like(ids)
        masked = np.where(replace_mask, self.mask_token_id, ids)
        masked = np.where(replace_random, random_ids, masked)
        labels = np.where(selected, ids, IGNORE_INDEX)
        return {"input_ids": masked.astype(np.int64), "labels": labels.astype(np.int64)}

    def _word_ids(self, word_ids: Any, shape: tuple) -> np.ndarray:
        if isinstance(word_ids, (list, tuple)):
            word_ids = [[NO_WORD if w is None else w for w in row] for row in word_ids]
        return _int_array("word_ids", word_ids, shape)

    def word_starts(self, input_ids: np.ndarray, allowed: np.ndarray, word_ids: Optional[np.ndarray] = None) -> np.ndarray:
        """Bool [b, s]: the maskable tokens that begin a word (see the module docstring).

        Args:
            input_ids: token ids [b, s].
            allowed: the maskable tokens, bool [b, s] (``maskable``).
            word_ids: word index per token [b, s] (-1: none); default: the boundaries from ``begins_word`` /
                ``ends_word``.

        Raises:
            ValueError: neither ``word_ids`` nor the masker's word flags.
        """
        previous_allowed = np.zeros_like(allowed)
        previous_allowed[:, 1:] = allowed[:, :-1]
        if word_ids is not None:
            previous = np.full_like(word_ids, NO_WORD - 1)
            previous[:, 1:] = word_ids[:, :-1]
            boundary = (word_ids != previous) | (word_ids == NO_WORD)
        else:
            if self.begins_word is None or self.ends_word is None:
                raise ValueError("whole_word_mask needs word boundaries: build the masker with from_tokenizer(...) "
                                 "(or begins_word/ends_word), or pass word_ids")
            ends = np.zeros_like(allowed)
            ends[:, 1:] = self.ends_word[input_ids[:, :-1]]
            boundary = self.begins_word[input_ids] | ends
        return allowed & (boundary | ~previous_allowed)

    def _select_words(self, ids, allowed, words, budget, rng) -> np.ndarray:
        starts = self.word_starts(ids, allowed, words)
        word_index = np.cumsum(starts, axis=1) - 1  # [b, s]: index of the word each token is in (per row)
        selected = np.zeros_like(allowed)
        for row in range(ids.shape[0]):
            n_words = int(starts[row].sum())
            if n_words == 0 or budget[row] == 0:
                continue
            members = word_index[row][allowed[row]]
            lengths = np.bincount(members, minlength=n_words)
            chosen = np.zeros(n_words, dtype=bool)
            left = int(budget[row])
            for word in rng.permutation(n_words):
                if lengths[word] <= left:
                    chosen[word] = True
                    left -= int(lengths[word])
                    if left == 0:
                        break
            selected[row] = allowed[row] & chosen[np.clip(word_index[row], 0, n_words - 1)]
        return selected

    # ------------------------------------------------------------------------------------------------ collator
    def __call__(self, examples: Any, return_tensors: Optional[str] = None) -> BatchEncoding:
        """Collate and mask a batch (the data collator of a training loop).

        Args:
            examples: a list of dicts (``input_ids`` and optionally ``attention_mask``, ``token_type_ids``,
                ``special_tokens_mask``, ``word_ids``), a list of id sequences, or one mapping of fields (a padded
                ``BatchEncoding``). Rows must have equal length s (pad first).
            return_tensors: ``"np"``, ``"pt"`` or ``"tf"``; None for NumPy arrays.

        Returns:
            A ``BatchEncoding`` with ``input_ids`` [b, s] (masked), ``labels`` [b, s] (the original id where a
            token was selected, -100 elsewhere) and the other model inputs given; ``special_tokens_mask`` and
            ``word_ids`` are consumed.
        """
        fields = _collate_fields(examples)
        ids = _int_array("input_ids", fields.pop("input_ids"))
        special = fields.pop("special_tokens_mask", None)
        words = fields.pop("word_ids", None)
        masked = self.mask(ids, fields.get("attention_mask"), special, words)
        data = {"input_ids": masked["input_ids"]}
        for name, value in fields.items():
            data[name] = _int_array(name, value, ids.shape)
        data["labels"] = masked["labels"]
        if return_tensors is None:
            return BatchEncoding(data)
        return BatchEncoding({name: value.tolist() for name, value in data.items()}, tensor_type=return_tensors)


def _collate_fields(examples: Any) -> Dict[str, Any]:
    if isinstance(examples, Mapping):
        if "input_ids" not in examples:
            raise ValueError(f"expected a mapping with 'input_ids', got fields {list(examples)}")
        return dict(examples)
    if not isinstance(examples, (list, tuple)) or not examples:
        raise ValueError(f"expected a non-empty list of examples or a mapping of fields, got {type(examples).__name__}")
    if isinstance(examples[0], Mapping):
        keys = list(examples[0])
        if "input_ids" not in keys:
            raise ValueError(f"each example must hold 'input_ids', got fields {keys}")
        for index, example in enumerate(examples):
            if not isinstance(example, Mapping) or set(example) != set(keys):
                raise ValueError(f"example {index} must be a mapping with the fields of example 0 {keys}, got "
                                 f"{list(example) if isinstance(example, Mapping) else type(example).__name__}")
        return {key: [_as_row(example[key]) for example in examples] for key in keys}
    return {"input_ids": [_as_row(example) for example in examples]}


def _as_row(value: Any) -> Any:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return [NO_WORD if v is None else v for v in value]


# ---------------------------------------------------------------------------------------------------- corpus
def build_mlm_sequences(
    texts: Iterable[str],
    tokenizer: Any,
    max_length: int = 128,
    *,
    packing: bool = True,
    batch_size: int = 1000,
) -> Dict[str, np.ndarray]:
    """Tokenise a corpus into fixed-length training sequences ``[CLS] tokens [SEP]`` (+ padding).

    Empty texts are skipped. Returns ``{'input_ids', 'attention_mask'}``, int64 [n, max_length].

    Args:
        texts: the documents, one str each.
        tokenizer: a ``DebertaTokenizer`` (its [CLS], [SEP] and padding ids are used).
        max_length: the sequence length, [CLS] and [SEP] included (at least 3).
        packing: ``True``: the documents' tokens are concatenated, each document followed by [SEP], and cut into
            blocks of ``max_length - 2`` tokens (so a block may hold the end of one document and the start of the
            next; only the last block is padded). ``False``: one document per sequence; a document longer than
            ``max_length - 2`` tokens is split into several sequences (nothing is dropped), short ones are padded.
        batch_size: how many texts are tokenised per tokenizer call (memory, not the result).

    Raises:
        ValueError: ``max_length`` is not an int >= 3.
        TypeError: ``texts`` is a single str, or holds something else.
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
        raise ValueError(f"max_length must be an int >= 3 ([CLS], one token, [SEP]), got {max_length!r}")
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be an iterable of str (one document each), got a single str")
    body = max_length - 2
    cls_id, sep_id, pad_id = tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id
    chunks: List[List[int]] = []
    stream: List[int] = []
    for batch in _batched(texts, batch_size):
        encoded = tokenizer(batch, add_special_tokens=False, return_attention_mask=False,
                            return_token_type_ids=False, verbose=False)  # long documents are cut below
        for ids in encoded["input_ids"]:
            if not ids:
                continue
            if packing:
                stream.extend(ids)
                stream.append(sep_id)
            else:
                chunks.extend(ids[start:start + body] for start in range(0, len(ids), body))
        if packing:
            whole = len(stream) // body * body
            chunks.extend(stream[start:start + body] for start in range(0, whole, body))
            stream = stream[whole:]
    if packing and stream:
        chunks.append(stream)
    input_ids = np.full((len(chunks), max_length), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(chunks), max_length), dtype=np.int64)
    for row, chunk in enumerate(chunks):
        input_ids[row, : len(chunk) + 2] = [cls_id, *chunk, sep_id]
        attention_mask[row, : len(chunk) + 2] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _batched(texts: Iterable[str], size: int) -> Iterator[List[str]]:
    batch: List[str] = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] must be a str, got {type(text).__name__}")
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------------------------------------------- batches
class MLMBatches:
    """Masked batches over fixed-length sequences, one pass per iteration, freshly shuffled and masked each epoch. Epoch
    ``e`` draws everything from ``numpy.random.default_rng([seed, e])``, so it is the same batch sequence whoever
    iterates it and whenever (resume at epoch e with ``epoch=e``). Each ``iter()`` runs the current epoch and then
    advances it. Yields dicts of int64 NumPy arrays: ``input_ids``, ``attention_mask`` (and any other [n, s] field
    given), ``labels``.

    Args:
        sequences: int arrays [n, s] by name, with ``input_ids`` (as ``build_mlm_sequences`` returns).
        masker: the ``MLMMasker`` that masks each batch.
        batch_size: b, sequences per batch (>= 1).
        shuffle: a new order of the sequences each epoch (else their order).
        seed: the seed of every epoch's generator (>= 0).
        epoch: the epoch the first iteration runs (>= 0).
        drop_last: leave out a last batch smaller than ``batch_size``.

    Raises:
        ValueError: ``sequences`` without ``input_ids`` or with arrays of different shapes, or a bad ``batch_size``,
            ``seed`` or ``epoch``.
        TypeError: ``masker`` is not an ``MLMMasker``.
    """

    def __init__(
        self,
        sequences: Mapping[str, np.ndarray],
        masker: MLMMasker,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        drop_last: bool = False,
    ) -> None:
        if not isinstance(sequences, Mapping) or "input_ids" not in sequences:
            raise ValueError("sequences must be a mapping with 'input_ids' (as build_mlm_sequences returns)")
        ids = _int_array("sequences['input_ids']", sequences["input_ids"])
        self.sequences = {name: _int_array(f"sequences[{name!r}]", value, ids.shape) for name, value in sequences.items()}
        if not isinstance(masker, MLMMasker):
            raise TypeError(f"masker must be an MLMMasker, got {type(masker).__name__}")
        for name, value in (("batch_size", batch_size), ("seed", seed), ("epoch", epoch)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (1 if name == "batch_size" else 0):
                raise ValueError(f"{name} must be an int >= {1 if name == 'batch_size' else 0}, got {value!r}")
        self.masker = masker
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.drop_last = drop_last

    @property
    def num_sequences(self) -> int:
        return self.sequences["input_ids"].shape[0]

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self.num_sequences // self.batch_size
        return -(-self.num_sequences // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration runs (as torch's DistributedSampler.set_epoch).

        Args:
            epoch: the epoch number.
        """
        self.epoch = int(epoch)

    def epoch_batches(self, epoch: int) -> Iterator[Dict[str, np.ndarray]]:
        """The batches of epoch ``epoch`` (does not change ``self.epoch``).

        Args:
            epoch: the epoch number (its generator: ``default_rng([seed, epoch])``).
        """
        rng = np.random.default_rng([self.seed, int(epoch)])
        order = rng.permutation(self.num_sequences) if self.shuffle else np.arange(self.num_sequences)
        for index in range(len(self)):
            rows = order[index * self.batch_size: (index + 1) * self.batch_size]
            batch = {name: value[rows] for name, value in self.sequences.items()}
            masked = self.masker.mask(batch["input_ids"], batch.get("attention_mask"), rng=rng)
            batch["input_ids"] = masked["input_ids"]
            batch["labels"] = masked["labels"]
            yield batch

    def __iter__(self) -> Iterator[Dict[str, np.ndarray]]:
        epoch = self.epoch
        self.epoch += 1
        return self.epoch_batches(epoch)


__all__ = ["IGNORE_INDEX", "MLMMasker", "MLMBatches", "build_mlm_sequences", "whitespace_flags"]
