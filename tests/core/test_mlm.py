"""deberta_core.mlm: masking statistics, special/padding tokens, whole words, reproducibility, corpus sequences,
epoch batches and error messages."""

from __future__ import annotations

import numpy as np
import pytest

from deberta_core import DebertaTokenizer
from deberta_core.mlm import IGNORE_INDEX, MLMBatches, MLMMasker, build_mlm_sequences, whitespace_flags

# Synthetic vocabulary: specials scattered through the id range so "never special" is not "never small".
VOCAB = 1000
PAD, CLS, SEP, UNK, MASK = 0, 1, 2, 3, 4
SPECIALS = [PAD, CLS, SEP, UNK, MASK, 500, 999]

# Statistics are counted over ~150k maskable tokens (~22k selected). The selection budget per row has a spread
# below one token, so the selection rate is exact to ~2e-4; the 80/10/10 split is binomial over ~22k draws
# (one standard deviation: 0.27 points for 80 %, 0.2 for 10 %). Tolerances are > 5 standard deviations.
RATE_TOL = 0.005
SPLIT_TOL = 0.015

TEXTS = [
    "The quick brown fox jumps over the lazy dog, twice.\nThen it sleeps: unbelievably, incomprehensibly tired!",
    "Internationalization of antidisestablishmentarianism is   hard;\ttabs\tand  spaces.",
    "Short.",
    "Every little picofarad has a nanohenry all its own. -- Don Vonada",
]


def random_batch(rng, batch=16, seq=64, min_len=4):
    """[CLS] random ids [SEP] + padding, the ids avoiding SPECIALS; returns (ids, attention_mask)."""
    normal = np.setdiff1d(np.arange(VOCAB), SPECIALS)
    ids = normal[rng.integers(0, normal.size, size=(batch, seq))]
    lengths = rng.integers(min_len, seq + 1, size=batch)
    attention = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    ids[:, 0] = CLS
    ids[np.arange(batch), lengths - 1] = SEP
    ids[attention == 0] = PAD
    return ids, attention


def make_masker(**kwargs):
    return MLMMasker(VOCAB, MASK, SPECIALS, pad_token_id=PAD, **kwargs)


@pytest.fixture(scope="module")
def tokenizer():
    return DebertaTokenizer()


def test_selection_rate_and_80_10_10_split_over_many_batches():
    masker = make_masker(seed=0)
    data_rng = np.random.default_rng(1)
    counts = dict(maskable=0, selected=0, masked=0, random=0, kept=0)
    random_ids = []
    for _ in range(300):
        ids, attention = random_batch(data_rng)
        out = masker.mask(ids, attention)
        selected = out["labels"] != IGNORE_INDEX
        maskable = attention.astype(bool) & ~np.isin(ids, SPECIALS)
        assert not (selected & ~maskable).any()
        assert (out["labels"][selected] == ids[selected]).all()
        assert (out["input_ids"][~selected] == ids[~selected]).all()
        new = out["input_ids"][selected]
        old = ids[selected]
        counts["maskable"] += maskable.sum()
        counts["selected"] += selected.sum()
        counts["masked"] += (new == MASK).sum()
        counts["kept"] += (new == old).sum()
        changed = (new != MASK) & (new != old)
        counts["random"] += changed.sum()
        random_ids.append(new[changed])
    random_ids = np.concatenate(random_ids)
    assert counts["selected"] > 20000
    assert abs(counts["selected"] / counts["maskable"] - 0.15) < RATE_TOL
    assert abs(counts["masked"] / counts["selected"] - 0.8) < SPLIT_TOL
    # a random draw equal to the original token counts as kept (probability 1/993: negligible here)
    assert abs(counts["random"] / counts["selected"] - 0.1) < SPLIT_TOL
    assert abs(counts["kept"] / counts["selected"] - 0.1) < SPLIT_TOL
    assert not np.isin(random_ids, SPECIALS).any()
    assert len(np.unique(random_ids)) > 800  # drawn from the whole non-special vocabulary


def test_configured_probabilities_are_used():
    masker = make_masker(mlm_probability=0.4, mask_replace_prob=0.5, random_replace_prob=0.5, seed=3)
    ids, attention = random_batch(np.random.default_rng(0), batch=64, seq=128)
    out = masker.mask(ids, attention)
    selected = out["labels"] != IGNORE_INDEX
    maskable = attention.astype(bool) & ~np.isin(ids, SPECIALS)
    assert abs(selected.sum() / maskable.sum() - 0.4) < 0.01
    new = out["input_ids"][selected]
    assert abs((new == MASK).mean() - 0.5) < 0.05
    assert ((new == MASK) | (new != ids[selected])).mean() > 0.99  # no "keep" share left (up to equal draws)


def test_short_rows_are_masked_at_the_rate_on_average():
    # rows with 3 maskable tokens: a rounded budget would select nothing; the expected count is 0.45.
    masker = make_masker(seed=5)
    ids = np.array([[CLS, 10, 11, 12, SEP]] * 4000)
    selected = (masker.mask(ids)["labels"] != IGNORE_INDEX).sum(axis=1)
    assert set(np.unique(selected)) <= {0, 1}
    assert abs(selected.mean() - 0.45) < 0.03  # binomial std over 4000 rows: 0.008


def test_specials_padding_and_special_tokens_mask_are_never_selected():
    masker = make_masker(mlm_probability=1.0, seed=0)  # select everything that may be selected
    ids = np.array([[CLS, 10, 500, 11, MASK, 12, SEP, PAD, PAD], [CLS, 20, 21, 22, 23, 24, 25, 26, SEP]])
    attention = np.array([[1, 1, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 0, 0, 0]])  # row 1: tail is padding
    special = np.zeros_like(ids)
    special[1, 3] = 1  # the caller marks one more token special
    out = masker.mask(ids, attention, special)
    expected = np.array([[0, 1, 0, 1, 0, 1, 0, 0, 0], [0, 1, 1, 0, 1, 1, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(out["labels"] != IGNORE_INDEX, expected)
    np.testing.assert_array_equal(out["input_ids"][~expected], ids[~expected])
    # without an attention mask the padding id alone keeps padding out
    out = masker.mask(ids[:1])
    assert (out["labels"][0, 7:] == IGNORE_INDEX).all()


def test_same_seed_same_batch_different_seed_different_batch():
    ids, attention = random_batch(np.random.default_rng(0))
    first = make_masker(seed=11).mask(ids, attention)
    again = make_masker(seed=11).mask(ids, attention)
    other = make_masker(seed=12).mask(ids, attention)
    for name in ("input_ids", "labels"):
        np.testing.assert_array_equal(first[name], again[name])
    assert (first["labels"] != other["labels"]).any()
    # an explicit generator overrides the masker's own
    masker = make_masker(seed=99)
    np.testing.assert_array_equal(masker.mask(ids, attention, rng=np.random.default_rng(11))["labels"], first["labels"])


# ------------------------------------------------------------------------------------------- whole words
def words_by_decoding(tokenizer, ids):
    """Independent word segmentation for the test: decode each token and start a word where the text has
    whitespace (before the token or at the end of the previous one) or after a special token."""
    specials = set(tokenizer.all_special_ids)
    words, current, previous_text = [], [], None
    for position, token in enumerate(ids):
        if token in specials:
            if current:
                words.append(current)
            current, previous_text = [], None
            continue
        text = tokenizer.decode([token])
        if current and (text[:1].isspace() or previous_text[-1:].isspace()):
            words.append(current)
            current = []
        current.append(position)
        previous_text = text
    if current:
        words.append(current)
    return words


def test_whitespace_flags_match_the_decoded_tokens(tokenizer):
    ids = list(range(len(tokenizer)))
    begins, ends = whitespace_flags(tokenizer.convert_ids_to_tokens(ids))
    specials = set(tokenizer.all_special_ids)
    for index in range(0, len(ids), 97):  # a sample across the vocabulary
        if index in specials:
            continue
        text = tokenizer.decode([index])
        assert begins[index] == text[:1].isspace() and ends[index] == text[-1:].isspace(), (index, repr(text))
    assert begins[tokenizer.convert_tokens_to_ids("Ġthe")] and not begins[tokenizer.convert_tokens_to_ids("the")]
    assert begins[tokenizer.convert_tokens_to_ids("Ċ")] and ends[tokenizer.convert_tokens_to_ids("Ċ")]


def test_whole_word_masking_keeps_words_whole_and_counts_tokens(tokenizer):
    masker = MLMMasker.from_tokenizer(tokenizer, whole_word_mask=True, seed=0)
    batch = tokenizer(TEXTS * 8, padding=True, return_tensors="np")
    ids = batch["input_ids"]
    words = [words_by_decoding(tokenizer, row) for row in ids.tolist()]
    assert any(len(word) > 1 for row in words for word in row)  # the texts do have multi-token words
    selected_total = maskable_total = 0
    for _ in range(60):
        out = masker.mask(ids, batch["attention_mask"])
        selected = out["labels"] != IGNORE_INDEX
        for row, row_words in enumerate(words):
            for word in row_words:
                assert selected[row, word].all() or not selected[row, word].any(), (row, word)
            n = sum(len(word) for word in row_words)
            assert selected[row].sum() <= np.floor(0.15 * n) + 1  # the token budget is never exceeded
        selected_total += selected.sum()
        maskable_total += sum(len(word) for row_words in words for word in row_words)
    # Words that do not fit what is left of the budget are skipped: the rate is at most 15 %, a little under.
    assert 0.12 < selected_total / maskable_total <= 0.15 + RATE_TOL


def test_whole_word_masking_from_word_ids(tokenizer):
    masker = MLMMasker.from_tokenizer(tokenizer, whole_word_mask=True, mlm_probability=0.5, seed=1)
    batch = tokenizer(TEXTS, padding=True)
    word_ids = [batch.word_ids(i) for i in range(len(TEXTS))]
    for _ in range(20):
        out = masker(dict(batch, word_ids=word_ids))
        selected = np.asarray(out["labels"]) != IGNORE_INDEX
        for row, row_word_ids in enumerate(word_ids):
            groups = {}
            for position, word in enumerate(row_word_ids):
                if word is not None:
                    groups.setdefault(word, []).append(position)
            for positions in groups.values():
                assert selected[row, positions].all() or not selected[row, positions].any()
    # the pre-tokenizer splits punctuation off ("dog" and ","), the whitespace rule keeps "dog," together
    tokens = batch.tokens(0)
    dog, comma = tokens.index("Ġdog"), tokens.index(",")
    assert comma == dog + 1 and word_ids[0][dog] != word_ids[0][comma]
    ids = np.asarray(batch["input_ids"])
    starts = masker.word_starts(ids, masker.maskable(ids, np.asarray(batch["attention_mask"])))
    assert starts[0, dog] and not starts[0, comma]


def test_collator_outputs(tokenizer):
    masker = MLMMasker.from_tokenizer(tokenizer, seed=0)
    examples = [tokenizer(text, return_special_tokens_mask=True) for text in TEXTS]
    padded = tokenizer.pad(examples)
    out = masker(padded, return_tensors="np")
    assert set(out) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert all(value.dtype == np.int64 and value.shape == np.asarray(padded["input_ids"]).shape for value in out.values())
    plain = masker([[1, 100, 200, 2], [1, 300, 400, 2]])
    assert set(plain) == {"input_ids", "labels"} and plain["input_ids"].shape == (2, 4)
    with pytest.raises(ValueError, match=r"rows of equal length.*tokenizer.pad"):
        masker(examples)


# ------------------------------------------------------------------------------------------- corpus and batches
def test_build_mlm_sequences_packed_keeps_every_token_in_order(tokenizer):
    out = build_mlm_sequences(TEXTS + [""], tokenizer, max_length=16)
    ids, attention = out["input_ids"], out["attention_mask"]
    assert ids.shape[1] == 16 and ids.dtype == np.int64 and attention.dtype == np.int64
    inner = []
    for row, mask in zip(ids, attention):
        length = int(mask.sum())
        assert mask[:length].all() and not mask[length:].any()
        assert row[0] == tokenizer.cls_token_id and row[length - 1] == tokenizer.sep_token_id
        assert (row[length:] == tokenizer.pad_token_id).all()
        inner.extend(row[1:length - 1].tolist())
    expected = []
    for text in TEXTS:
        expected.extend(tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.sep_token_id])
    assert inner == expected
    assert attention[:-1].all()  # only the last block is padded


def test_build_mlm_sequences_does_not_depend_on_the_tokenisation_batch_size(tokenizer):
    for packing in (True, False):
        whole = build_mlm_sequences(TEXTS * 3, tokenizer, max_length=16, packing=packing)
        pieces = build_mlm_sequences(TEXTS * 3, tokenizer, max_length=16, packing=packing, batch_size=2)
        for name in whole:
            np.testing.assert_array_equal(whole[name], pieces[name])


def test_build_mlm_sequences_one_document_per_row(tokenizer):
    out = build_mlm_sequences(TEXTS, tokenizer, max_length=12, packing=False)
    rows = [row[1:int(mask.sum()) - 1].tolist() for row, mask in zip(out["input_ids"], out["attention_mask"])]
    expected = []
    for text in TEXTS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        expected.extend(ids[start:start + 10] for start in range(0, len(ids), 10))
    assert rows == expected


def test_mlm_batches_epochs_are_reproducible_and_different():
    ids, attention = random_batch(np.random.default_rng(0), batch=10, seq=32)
    sequences = {"input_ids": ids, "attention_mask": attention}
    batches = MLMBatches(sequences, make_masker(), batch_size=4, seed=7)
    assert len(batches) == 3 and len(MLMBatches(sequences, make_masker(), 4, drop_last=True)) == 2
    epoch0 = list(batches)
    epoch1 = list(batches)
    assert batches.epoch == 2
    assert [b["input_ids"].shape[0] for b in epoch0] == [4, 4, 2]
    resumed = list(MLMBatches(sequences, make_masker(seed=123), batch_size=4, seed=7, epoch=1))
    for a, b in zip(epoch1, resumed):  # the epoch, not the masker's own seed, decides
        assert a.keys() == b.keys() == {"input_ids", "attention_mask", "labels"}
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
    assert any((a["labels"] != b["labels"]).any() for a, b in zip(epoch0, epoch1))
    restored = np.concatenate([np.where(b["labels"] != IGNORE_INDEX, b["labels"], b["input_ids"]) for b in epoch0])
    order = [int(np.flatnonzero((ids == row).all(axis=1))[0]) for row in restored]
    assert sorted(order) == list(range(10)) and order != list(range(10))  # each sequence once, shuffled
    unshuffled = next(iter(MLMBatches(sequences, make_masker(), 4, shuffle=False)))
    np.testing.assert_array_equal(unshuffled["attention_mask"], attention[:4])


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, error, message", [
    (dict(mlm_probability=1.5), ValueError, r"mlm_probability must be in \[0, 1\], got 1.5"),
    (dict(mlm_probability=-0.1), ValueError, r"mlm_probability must be in \[0, 1\]"),
    (dict(mask_replace_prob="0.8"), TypeError, r"mask_replace_prob must be a number"),
    (dict(random_replace_prob=True), TypeError, r"random_replace_prob must be a number"),
    (dict(mask_replace_prob=0.8, random_replace_prob=0.3), ValueError, r"mask_replace_prob \+ random_replace_prob must be <= 1"),
    (dict(random_token_ids=[10, 500]), ValueError, r"must not contain special, mask or padding ids, got \[500\]"),
    (dict(random_token_ids=[10, 1000]), ValueError, r"random_token_ids must lie in \[0, 1000\)"),
    (dict(begins_word=np.zeros(5, dtype=bool)), ValueError, r"begins_word must be a bool array of shape \(1000,\)"),
    (dict(whole_word_mask=1), TypeError, r"whole_word_mask must be a bool"),
])
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_masker(**kwargs)


def test_id_errors():
    with pytest.raises(ValueError, match=r"mask_token_id must be an id in \[0, 1000\), got 1000"):
        MLMMasker(VOCAB, 1000, SPECIALS)
    with pytest.raises(ValueError, match=r"special_token_ids must lie in \[0, 1000\), got \[-1\]"):
        MLMMasker(VOCAB, MASK, [-1])


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m.mask(np.array([1, 5, 2])), ValueError, r"input_ids must be 2-D \[batch, sequence\], got an array of shape \(3,\)"),
    (lambda m: m.mask(np.array([[1, 5.0, 2]])), TypeError, r"input_ids must hold integers, got dtype float64"),
    (lambda m: m.mask(np.array([[1, 5, 1000]])), ValueError, r"input_ids must lie in \[0, 1000\), got \[1000\]"),
    (lambda m: m.mask([[1, 5, 2], [1, 2]]), ValueError, r"rows of equal length, got lengths \[2, 3\]"),
    (lambda m: m.mask(np.ones((2, 3), int), np.ones((2, 4), int)), ValueError, r"attention_mask must have the shape of input_ids \(2, 3\), got \(2, 4\)"),
    (lambda m: m.mask(np.ones((2, 3), int), word_ids=np.zeros((2, 3), int)), ValueError, r"word_ids are only used with whole_word_mask=True"),
    (lambda m: m.mask(np.ones((2, 3), int), rng=0), TypeError, r"rng must be a numpy.random.Generator, got int"),
    (lambda m: m([]), ValueError, r"expected a non-empty list of examples"),
    (lambda m: m([{"attention_mask": [1]}]), ValueError, r"each example must hold 'input_ids'"),
])
def test_mask_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(make_masker())


def test_whole_word_mask_without_boundaries_is_an_error():
    with pytest.raises(ValueError, match=r"whole_word_mask needs word boundaries: build the masker with from_tokenizer"):
        make_masker(whole_word_mask=True).mask(np.array([[CLS, 10, 11, SEP]]))


def test_corpus_and_batches_errors(tokenizer):
    with pytest.raises(ValueError, match=r"max_length must be an int >= 3"):
        build_mlm_sequences(TEXTS, tokenizer, max_length=2)
    with pytest.raises(TypeError, match=r"texts must be an iterable of str .* got a single str"):
        build_mlm_sequences("one text", tokenizer)
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str, got int"):
        build_mlm_sequences(["a", 3], tokenizer)
    sequences = {"input_ids": np.ones((4, 5), int)}
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 0"):
        MLMBatches(sequences, make_masker(), 0)
    with pytest.raises(TypeError, match=r"masker must be an MLMMasker"):
        MLMBatches(sequences, object(), 2)
    with pytest.raises(ValueError, match=r"attention_mask'\] must have the shape of input_ids \(4, 5\), got \(4, 6\)"):
        MLMBatches({"input_ids": np.ones((4, 5), int), "attention_mask": np.ones((4, 6), int)}, make_masker(), 2)
