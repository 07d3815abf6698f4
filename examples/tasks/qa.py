"""Extractive question answering (SQuAD v1.1 layout: id, context, question, answers{text, answer_start}).

Features: each question/context pair is cut into windows of at most --max-length tokens
(``[CLS] question [SEP] context-part [SEP]``), consecutive windows overlapping by --stride context tokens
(``truncation="only_second"``, ``return_overflowing_tokens``), and ``return_offsets_mapping`` ties every context
token to its characters. Training labels: the first and last token of the (first) answer when the whole answer
lies inside the window's context, else the [CLS] position 0 for both.

Answers: in every window the --n-best start and end logits form candidate spans (inside the context, start <= end,
at most --max-answer-length tokens) scored by start + end logit; the best candidate over all windows of a question
is mapped back to its characters in the context. Scores: the official SQuAD v1.1 exact match and F1 (answers
normalised by lower case, no punctuation, no articles a/an/the, single spaces; the best over the reference answers),
as percentages, against a model-free baseline that answers with the context sentence sharing the most words with
the question.
"""

from __future__ import annotations

import collections
import re
import string
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import common

NAME = "qa"
SCRIPT = "train_qa"
DESCRIPTION = "Fine-tune DeBERTa for extractive question answering"
DATA_NAME = "squad-v1.1-slice"
FILE_HELP = "JSONL, one question a row: id, context, question, answers {text: [...], answer_start: [...]}"
MAX_LENGTH = 256
BATCH_SIZE = 16

Span = Tuple[float, int, int]  # (score, first character, end character) of a candidate answer


def add_arguments(group) -> None:
    group.add_argument("--stride", type=int, default=64,
                       help="context tokens shared by consecutive windows of a long context")
    group.add_argument("--max-answer-length", type=int, default=30, help="longest answer considered, in tokens")
    group.add_argument("--n-best", type=int, default=20, help="start and end positions tried per window")


def validate_args(args) -> None:
    if not 0 <= args.stride < args.max_length:
        raise SystemExit(f"--stride must be in [0, --max-length), got {args.stride} with --max-length {args.max_length}")
    for name in ("max_answer_length", "n_best"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")


# -------------------------------------------------------------------------------------------------- windows
def encode_windows(tokenizer, questions: Sequence[str], contexts: Sequence[str], max_length: int, stride: int):
    """The windows of each question/context pair: a BatchEncoding with overflow_to_sample_mapping (window ->
    pair) and offset_mapping (token -> characters of its own text)."""
    try:
        return tokenizer([q.lstrip() for q in questions], list(contexts), truncation="only_second",
                         max_length=max_length, stride=stride, return_overflowing_tokens=True,
                         return_offsets_mapping=True, return_token_type_ids=True)
    except ValueError as err:
        raise SystemExit(f"cannot cut the contexts into windows of {max_length} tokens with stride {stride} "
                         f"(a question too long for the window?): {err}") from None


def context_offsets(encoded, window: int, context: str) -> List[Optional[Tuple[int, int]]]:
    """The window's character offsets into ``context``, None for every token that is not context (question,
    specials). A byte-level token carries the space before its word ('Ġfrom' -> ' from'; the reference tokenizer's
    offsets too): the start is moved past that whitespace so that answers come out without it."""
    sequence_ids = encoded.sequence_ids(window)
    offsets: List[Optional[Tuple[int, int]]] = []
    for i, (start, end) in enumerate(encoded["offset_mapping"][window]):
        if sequence_ids[i] != 1:
            offsets.append(None)
            continue
        while start < end - 1 and context[start].isspace():
            start += 1
        offsets.append((start, end))
    return offsets


def answer_positions(offsets: Sequence[Optional[Tuple[int, int]]], start_char: int, end_char: int) -> Tuple[int, int]:
    """(start token, end token) of the answer characters [start_char, end_char) in one window; (0, 0), the [CLS]
    position, when the window's context does not hold the whole answer."""
    context = [i for i, offset in enumerate(offsets) if offset is not None]
    if not context or offsets[context[0]][0] > start_char or offsets[context[-1]][1] < end_char:
        return 0, 0
    start = max(i for i in context if offsets[i][0] <= start_char)
    end = min(i for i in context if offsets[i][1] >= end_char)
    return start, end


# ------------------------------------------------------------------------------------------------ answers
def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, offsets: Sequence[Optional[Tuple[int, int]]],
               n_best: int, max_answer_length: int) -> List[Span]:
    """The best candidate answers of one window, best first: the n_best start x n_best end positions forming a
    span inside the context (start <= end, at most max_answer_length tokens), scored start + end logit.
    Logits beyond len(offsets) (batch padding) are ignored."""
    start_logits = np.asarray(start_logits)[: len(offsets)]
    end_logits = np.asarray(end_logits)[: len(offsets)]
    starts = np.argsort(-start_logits, kind="stable")[:n_best]
    ends = np.argsort(-end_logits, kind="stable")[:n_best]
    spans = []
    for s in starts:
        for e in ends:
            if offsets[s] is None or offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                continue
            spans.append((float(start_logits[s] + end_logits[e]), offsets[s][0], offsets[e][1]))
    spans.sort(key=lambda span: -span[0])
    return spans[:n_best]


def extract_answer(context: str, window_spans: Sequence[Sequence[Span]]) -> str:
    """The text of the best candidate over all windows of one question ('' when no window has one)."""
    candidates = [span for spans in window_spans for span in spans]
    if not candidates:
        return ""
    _, start, end = max(candidates, key=lambda span: span[0])
    return context[start:end]


# ------------------------------------------------------------------------------------ the SQuAD v1.1 metric
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation: lower case, punctuation removed, articles removed, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match_score(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1_score(prediction: str, truth: str) -> float:
    predicted, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    same = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_metrics(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> Dict[str, float]:
    """Exact match and F1 in percent, each the best over a question's reference answers, averaged over questions."""
    if len(predictions) != len(references) or not predictions:
        raise ValueError(f"squad_metrics needs one prediction per question (> 0): got {len(predictions)} predictions "
                         f"for {len(references)} questions")
    em = [max(exact_match_score(p, t) for t in truths) for p, truths in zip(predictions, references)]
    f1 = [max(f1_score(p, t) for t in truths) for p, truths in zip(predictions, references)]
    return {"exact_match": 100.0 * float(np.mean(em)), "f1": 100.0 * float(np.mean(f1))}


def overlap_baseline(question: str, context: str) -> str:
    """A model-free answer: the context sentence sharing the most distinct normalised words with the question
    (the first such sentence on a tie)."""
    words = set(normalize_answer(question).split())
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", context) if s.strip()] or [context]
    return max(sentences, key=lambda s: len(words & set(normalize_answer(s).split())))


# -------------------------------------------------------------------------------------------------- the task
def key_mask_per_query(attention_mask: np.ndarray) -> np.ndarray:
    """[b, s] padding mask -> [b, s, s]: row i (query) = the key mask, for padded queries too.

    Why: the QA loss is a softmax over every position of the window, padding included (the reference's loss).
    With the usual 2-D mask a padded query row is fully masked and gets all-zero attention, so in a fresh model
    (zero biases) a padded position is an all-zero vector at every LayerNorm, whose gradient there is scaled by
    1/sqrt(layer_norm_eps) ~ 3e3 per LayerNorm: ~1e25 after the 8 LayerNorms of deberta-demo-small, which overflows
    the global gradient norm (torch's clipping then zeroes every update; Keras' makes the weights NaN). With this
    mask padded positions attend the real tokens and are ordinary vectors; real positions compute exactly what
    the 2-D mask gives (they never attend padding either way), so predictions do not change."""
    return np.repeat(attention_mask[:, None, :], attention_mask.shape[1], axis=1)


def read_examples(path: str, limit: Optional[int]) -> List[dict]:
    rows = common.read_rows(path, limit)
    common.require_columns(path, rows, ("context", "question", "answers"))
    for number, row in enumerate(rows, 1):
        answers = row["answers"]
        if (not isinstance(answers, dict) or not answers.get("text")
                or len(answers["text"]) != len(answers.get("answer_start", []))):
            raise SystemExit(f"{path}: row {number}: expected answers = {{'text': [...], 'answer_start': [...]}} with "
                             f"one start per text (at least one), got {answers!r}")
    return rows


def train_features(rows: Sequence[dict], tokenizer, args) -> List[dict]:
    """One feature per window: input_ids, token_type_ids, start_positions, end_positions (the first answer)."""
    encoded = encode_windows(tokenizer, [r["question"] for r in rows], [r["context"] for r in rows],
                             args.max_length, args.stride)
    features = []
    for window, example in enumerate(encoded["overflow_to_sample_mapping"]):
        answers = rows[example]["answers"]
        start_char = int(answers["answer_start"][0])
        offsets = context_offsets(encoded, window, rows[example]["context"])
        start, end = answer_positions(offsets, start_char, start_char + len(answers["text"][0]))
        features.append({"input_ids": encoded["input_ids"][window], "token_type_ids": encoded["token_type_ids"][window],
                         "start_positions": start, "end_positions": end})
    return features


class QuestionAnswering(common.Task):
    name = "question-answering"
    model_class = "DebertaForQuestionAnswering"
    label_names = ("start_positions", "end_positions")
    output_names = ("start_logits", "end_logits")

    def __init__(self, train, eval, pad_id, baseline, examples, window_example, window_offsets, n_best,
                 max_answer_length):
        super().__init__(train, eval, pad_id, {}, baseline)
        self.examples = examples
        self.window_example = window_example
        self.window_offsets = window_offsets
        self.n_best = n_best
        self.max_answer_length = max_answer_length

    def collate(self, rows: Sequence[dict], pad_to_multiple_of: int = 1) -> Dict[str, np.ndarray]:
        """common.collate with the padding mask widened to ``[b, s, s]`` (query i may attend key j): every query,
        padding included, attends the real tokens only (see key_mask_per_query)."""
        batch = super().collate(rows, pad_to_multiple_of)
        batch["attention_mask"] = key_mask_per_query(batch["attention_mask"])
        return batch

    def predictions(self, batch: Dict[str, np.ndarray], outputs: Dict[str, np.ndarray]) -> List[Any]:
        return [best_spans(start, end, self.window_offsets[index], self.n_best, self.max_answer_length)
                for index, start, end in zip(batch["index"], outputs["start_logits"], outputs["end_logits"])]

    def answers(self, predictions: List[Any]) -> List[str]:
        """The answer text of each question from the candidate spans of each window (in eval order)."""
        per_example: List[List[List[Span]]] = [[] for _ in self.examples]
        for window, spans in enumerate(predictions):
            per_example[self.window_example[window]].append(spans)
        return [extract_answer(row["context"], spans) for row, spans in zip(self.examples, per_example)]

    @property
    def eval_examples(self) -> int:
        return len(self.examples)

    def evaluate(self, predictions: List[Any]) -> Dict[str, float]:
        return squad_metrics(self.answers(predictions), [row["answers"]["text"] for row in self.examples])

    def export(self, predictions: List[Any]) -> Dict[str, str]:
        """{question id: answer text}, the prediction file of the official SQuAD evaluation script."""
        return {str(row.get("id", number)): answer
                for number, (row, answer) in enumerate(zip(self.examples, self.answers(predictions)))}


def build_task(args, tokenizer) -> QuestionAnswering:
    examples = read_examples(args.test_file, args.max_eval_samples)
    encoded = encode_windows(tokenizer, [r["question"] for r in examples], [r["context"] for r in examples],
                             args.max_length, args.stride)
    mapping = list(encoded["overflow_to_sample_mapping"])
    test = [{"input_ids": encoded["input_ids"][w], "token_type_ids": encoded["token_type_ids"][w], "index": w}
            for w in range(len(mapping))]
    offsets = [context_offsets(encoded, w, examples[mapping[w]]["context"]) for w in range(len(mapping))]
    train = [] if args.eval_only else train_features(
        read_examples(args.train_file, args.max_train_samples), tokenizer, args)
    references = [row["answers"]["text"] for row in examples]
    baseline = squad_metrics([overlap_baseline(r["question"], r["context"]) for r in examples], references)
    baseline = {f"overlap_baseline_{k}": v for k, v in baseline.items()}
    return QuestionAnswering(train, test, tokenizer.pad_token_id, baseline, examples, mapping, offsets, args.n_best,
                             args.max_answer_length)
