"""The framework-neutral task logic of the examples, hand-checked: word/label alignment for token classification,
QA windows with their labels, span extraction over windows, and the SQuAD v1.1 metric."""

import numpy as np
import pytest

from deberta_core import DebertaTokenizer
from examples import common
from examples.tasks import qa, tokcls

IGNORED = common.IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer():
    return DebertaTokenizer()


# ------------------------------------------------------------------------------------- token classification
WORDS = ["Unbelievably", ",", "DeBERTa", "tokenizes", "words", "."]
TAGS = [2, 12, 11, 15, 7, 12]  # ADV PUNCT PROPN VERB NOUN PUNCT (ids in ud-ewt-pos' sorted tag list)


def test_alignment_puts_the_tag_on_the_first_sub_token_of_each_word(tokenizer):
    encoded = tokenizer([WORDS], is_split_into_words=True, add_prefix_space=True)
    assert encoded.tokens(0) == ["[CLS]", "ĠUn", "bel", "iev", "ably", "Ġ,", "ĠDe", "BER", "Ta", "Ġtoken", "izes",
                                 "Ġwords", "Ġ.", "[SEP]"]
    assert encoded.word_ids(0) == [None, 0, 0, 0, 0, 1, 2, 2, 2, 3, 3, 4, 5, None]
    assert tokcls.align_labels(encoded.word_ids(0), TAGS) == [
        IGNORED, 2, IGNORED, IGNORED, IGNORED, 12, 11, IGNORED, IGNORED, 15, IGNORED, 7, 12, IGNORED]


def test_word_predictions_read_the_first_sub_token_only(tokenizer):
    word_ids = tokenizer([WORDS], is_split_into_words=True, add_prefix_space=True).word_ids(0)
    logits = np.zeros((len(word_ids), 17))
    for position, tag in [(1, 2), (5, 12), (6, 11), (9, 15), (11, 7), (12, 12)]:  # first sub-tokens
        logits[position, tag] = 1.0
    for position in (2, 3, 4, 7, 8, 10):  # other sub-tokens and specials say something else
        logits[position, 0] = 5.0
    logits[0, 3] = logits[13, 3] = 9.0
    assert tokcls.word_predictions(word_ids, logits, len(WORDS)) == TAGS


def test_words_cut_off_by_max_length_get_no_prediction_and_count_as_wrong(tokenizer):
    encoded = tokenizer([WORDS], is_split_into_words=True, add_prefix_space=True, truncation=True, max_length=8)
    assert encoded.word_ids(0) == [None, 0, 0, 0, 0, 1, 2, None]  # "DeBERTa" keeps its first sub-token only
    predicted = tokcls.word_predictions(encoded.word_ids(0), np.eye(17)[[0, 2, 0, 0, 0, 12, 11, 0]], len(WORDS))
    assert predicted == [2, 12, 11, -1, -1, -1]
    metrics = tokcls.word_metrics(TAGS, predicted)
    assert metrics["accuracy"] == 0.5


def test_word_metrics_by_hand():
    # tag 0: tp 1, fp 0, fn 1 -> 2/3; tag 1: tp 1, fp 1, fn 0 -> 2/3; tag 2: tp 0, fn 1 -> 0; -1 is no tag.
    metrics = tokcls.word_metrics([0, 0, 1, 2], [0, 1, 1, -1])
    assert metrics["accuracy"] == 0.5
    assert metrics["macro_f1"] == pytest.approx(4 / 9)
    # A predicted tag that is nowhere in the gold tags takes part in the average with F1 0.
    assert tokcls.word_metrics([0, 0], [0, 3])["macro_f1"] == pytest.approx((2 / 3 + 0) / 2)
    with pytest.raises(ValueError, match="equally many"):
        tokcls.word_metrics([0, 1], [0])


# ----------------------------------------------------------------------------------------- QA: windows, labels
CONTEXT = "The Rhine flows from the Swiss Alps to the North Sea. It is about 1,230 km long."
QUESTION = "Where does the Rhine end?"
ANSWER = "the North Sea"
START = CONTEXT.index(ANSWER)


@pytest.fixture(scope="module")
def windows(tokenizer):
    # 20 tokens: [CLS] + 7 question tokens + [SEP] + 10 context tokens + [SEP]; 4 context tokens overlap.
    encoded = qa.encode_windows(tokenizer, [QUESTION], [CONTEXT], max_length=20, stride=4)
    return encoded, [qa.context_offsets(encoded, w, CONTEXT) for w in range(len(encoded["input_ids"]))]


def _window_text(offsets):
    spans = [o for o in offsets if o is not None]
    return CONTEXT[spans[0][0]:spans[-1][1]]


def test_long_context_is_cut_into_overlapping_windows(windows):
    encoded, offsets = windows
    assert encoded["overflow_to_sample_mapping"] == [0, 0, 0]
    assert [_window_text(o) for o in offsets] == [
        "The Rhine flows from the Swiss Alps to the",
        "Swiss Alps to the North Sea. It is about",
        ". It is about 1,230 km long.",
    ]
    # Offsets skip the space a byte-level token carries: 'ĠSwiss' is "Swiss", not " Swiss".
    assert encoded.tokens(1)[9] == "ĠSwiss" and CONTEXT[slice(*offsets[1][9])] == "Swiss"
    assert offsets[1][:9] == [None] * 9 and offsets[1][-1] is None  # question and specials are not context


def test_answer_split_across_two_windows_is_labelled_in_the_window_holding_all_of_it(windows):
    encoded, offsets = windows
    labels = [qa.answer_positions(o, START, START + len(ANSWER)) for o in offsets]
    # Window 0 ends inside the answer ("... to the" | "North Sea"), window 2 starts after it: both point at [CLS].
    assert labels == [(0, 0), (12, 14), (0, 0)]
    assert encoded.tokens(1)[12:15] == ["Ġthe", "ĠNorth", "ĠSea"]


def test_span_extraction_takes_the_best_span_over_all_windows(windows):
    _, offsets = windows
    n_best, max_answer_length = 20, 30
    start = [np.zeros(20, np.float32) for _ in offsets]
    end = [np.zeros(20, np.float32) for _ in offsets]
    start[0][3] = end[0][3] = 100.0  # a question token ('Ġthe'): never an answer
    start[0][18] = 9.0  # window 0: the answer's start at its edge ...
    end[0][18] = 1.0  # ... but its end is not in window 0: "the" scores 10
    start[1][12], end[1][14] = 6.0, 6.5  # window 1: "the North Sea" scores 12.5
    start[2][:], end[2][:] = -10.0, -10.0
    start[2][10], end[2][9] = 20.0, 20.0  # window 2: its best start is after its best end: no span pairs them
    spans = [qa.best_spans(s, e, o, n_best, max_answer_length) for s, e, o in zip(start, end, offsets)]
    assert spans[0][0] == (10.0, CONTEXT.index("the North"), CONTEXT.index("the North") + 3)
    assert spans[1][0] == (12.5, START, START + len(ANSWER))
    assert spans[2][0][0] == 10.0 and all(e > s for _, s, e in spans[2])
    assert qa.extract_answer(CONTEXT, spans) == ANSWER
    # Only window 0 known: the best it has is "the".
    assert qa.extract_answer(CONTEXT, spans[:1]) == "the"
    # max_answer_length counts tokens: a 3-token answer is not a candidate at 2.
    assert (12.5, START, START + len(ANSWER)) not in qa.best_spans(start[1], end[1], offsets[1], n_best, 2)
    assert qa.extract_answer(CONTEXT, [[], []]) == ""


def test_best_spans_by_hand_ignoring_the_logits_of_batch_padding():
    offsets = [None, (0, 3), (4, 9), None]  # [CLS] two context tokens [SEP]
    start = np.array([0.0, 1.0, 0.0, 0.0, 50.0, 50.0])  # positions 4 and 5: padding of a longer row in the batch
    end = np.array([0.0, 0.0, 2.0, 0.0, 50.0, 50.0])
    assert qa.best_spans(start, end, offsets, 20, 30) == [(3.0, 0, 9), (2.0, 4, 9), (1.0, 0, 3)]
    assert qa.best_spans(start, end, offsets, 1, 30) == [(3.0, 0, 9)]  # n_best=1: one start, one end


# ------------------------------------------------------------------------------------------ the SQuAD metric
def test_squad_normalisation_and_scores_by_hand():
    assert qa.normalize_answer("The  Rhine's source, in the ALPS!") == "rhines source in alps"
    assert qa.normalize_answer("an apple a day") == "apple day"
    assert qa.normalize_answer("theatre") == "theatre"  # articles only as whole words
    assert qa.exact_match_score("the North Sea.", "North  sea") == 1.0
    # "north sea coast" vs "north sea": 2 shared tokens, precision 2/3, recall 1 -> F1 0.8
    assert qa.f1_score("North Sea coast", "the North Sea") == pytest.approx(0.8)
    assert qa.f1_score("", "the North Sea") == 0.0
    metrics = qa.squad_metrics(["North Sea coast", "1,230 km"], [["the North Sea", "North Sea coast"], ["1230 km"]])
    assert metrics == {"exact_match": 100.0, "f1": 100.0}  # best over references; "1,230" -> "1230"
    metrics = qa.squad_metrics(["North Sea coast", "Alps"], [["the North Sea"], ["1230 km"]])
    assert metrics["exact_match"] == 0.0 and metrics["f1"] == pytest.approx(40.0)
    with pytest.raises(ValueError, match="one prediction per question"):
        qa.squad_metrics(["a"], [])


def test_overlap_baseline_answers_with_the_sentence_sharing_most_question_words():
    context = "The Rhine is a river. It ends in the North Sea. Its source is in the Alps."
    assert qa.overlap_baseline("Where does the river have its source?", context) == "Its source is in the Alps."
    assert qa.overlap_baseline("What?", context) == "The Rhine is a river."  # a tie: the first sentence


# --------------------------------------------------------------------------------------------------- collate
def test_collate_pads_each_field_with_its_own_value():
    rows = [{"input_ids": [1, 5, 2], "token_type_ids": [0, 0, 0], "labels": [-100, 3, -100], "index": 0},
            {"input_ids": [1, 2], "token_type_ids": [0, 0], "labels": [-100, -100], "index": 1}]
    batch = common.collate(rows, pad_id=0, pad_to_multiple_of=4)
    assert batch["input_ids"].tolist() == [[1, 5, 2, 0], [1, 2, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 3, -100, -100], [-100, -100, -100, -100]]
    assert batch["index"].tolist() == [0, 1] and batch["index"].dtype == np.int64
    with pytest.raises(ValueError, match="no padding value for the list field 'offsets'"):
        common.collate([{"input_ids": [1], "offsets": [(0, 1)]}], pad_id=0)


def test_qa_batches_mask_keys_per_query_so_padding_is_not_an_all_zero_vector(tokenizer):
    """The QA loss reads padded positions; with a 2-D mask they are all-zero vectors at every LayerNorm of a fresh
    model and their gradient grows by 1/sqrt(layer_norm_eps) per LayerNorm. The QA collate's [b, s, s] mask keeps
    the gradients ordinary and leaves the real positions' logits exactly as they were."""
    import torch

    import deberta_torch
    from deberta_core.presets import preset_config

    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert qa.key_mask_per_query(mask).tolist() == [[[1, 1, 1, 0]] * 4, [[1, 1, 0, 0]] * 4]

    encoded = qa.encode_windows(tokenizer, [QUESTION, "Where?"], [CONTEXT, "In the Alps."], 48, 8)
    rows = [{"input_ids": ids, "token_type_ids": types, "start_positions": 1, "end_positions": 2}
            for ids, types in zip(encoded["input_ids"], encoded["token_type_ids"])]
    task = qa.QuestionAnswering([], [], tokenizer.pad_token_id, {}, [], [], [], 20, 30)
    batch = task.collate(rows)
    plain = common.collate(rows, tokenizer.pad_token_id)
    assert (plain["attention_mask"] == 0).any() and batch["attention_mask"].shape == plain["attention_mask"].shape + (
        plain["attention_mask"].shape[1],)
    torch.manual_seed(0)
    model = deberta_torch.DebertaForQuestionAnswering(preset_config(
        "deberta-tiny", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))

    def largest_gradient_and_logits(b):
        model.zero_grad()
        out = model(**{k: torch.from_numpy(v) for k, v in b.items()})
        out.loss.backward()
        return max(float(p.grad.abs().max()) for p in model.parameters()), out.start_logits.detach().numpy()

    plain_gradient, plain_logits = largest_gradient_and_logits(plain)
    gradient, logits = largest_gradient_and_logits(batch)
    assert plain_gradient > 1e6 and gradient < 1e2, (plain_gradient, gradient)  # seen: 9.7e11 vs 1.7
    real = plain["attention_mask"] == 1
    np.testing.assert_array_equal(logits[real], plain_logits[real])
