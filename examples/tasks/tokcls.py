"""Token classification (part-of-speech tagging on UD English EWT by default): rows of pre-split words with one
tag per word. Words are tokenised with ``is_split_into_words=True``; each word's tag goes on its first sub-token
and -100 (ignored by the loss) on its other sub-tokens and on [CLS]/[SEP]. The prediction for a word is the
argmax at its first sub-token; accuracy and macro-F1 are computed over words (a word cut off by --max-length
counts as wrong) against the majority-tag baseline (the training file's most frequent tag for every word)."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import common

NAME = "tokcls"
SCRIPT = "train_tokcls"
DESCRIPTION = "Fine-tune DeBERTa for token classification (one tag per word)"
DATA_NAME = "ud-ewt-pos"
FILE_HELP = "JSONL, one sentence a row: a list of words and a list of tags of the same length"
MAX_LENGTH = 128
BATCH_SIZE = 32


def add_arguments(group) -> None:
    group.add_argument("--words-column", default="tokens", help="the list of words of a row")
    group.add_argument("--tags-column", default="upos", help="the list of tags of a row, one per word")


def validate_args(args) -> None:
    pass


def first_subtokens(word_ids: Sequence[Optional[int]]) -> List[Tuple[int, int]]:
    """(token position, word index) of the first sub-token of each word; special tokens (word id None) have none."""
    firsts, previous = [], None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous:
            firsts.append((position, word))
        previous = word
    return firsts


def align_labels(word_ids: Sequence[Optional[int]], word_labels: Sequence[int]) -> List[int]:
    """Token labels from word labels: the word's label on its first sub-token, -100 on the rest."""
    labels = [common.IGNORE_INDEX] * len(word_ids)
    for position, word in first_subtokens(word_ids):
        labels[position] = word_labels[word]
    return labels


def word_predictions(word_ids: Sequence[Optional[int]], logits: np.ndarray, num_words: int) -> List[int]:
    """The predicted label of each word: the argmax at its first sub-token; -1 for a word with no token (cut off)."""
    predicted = [-1] * num_words
    for position, word in first_subtokens(word_ids):
        predicted[word] = int(logits[position].argmax())
    return predicted


def word_metrics(gold: Sequence[int], predicted: Sequence[int]) -> Dict[str, float]:
    """Accuracy and macro-F1 over words. Macro-F1 averages the per-tag F1 = 2 tp / (2 tp + fp + fn) over the tags
    that occur in the gold or the predicted tags (as scikit-learn's f1_score(average='macro')); a word without a
    prediction (-1) is a miss of its gold tag."""
    gold = np.asarray(gold, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if gold.shape != predicted.shape or gold.size == 0:
        raise ValueError(f"word_metrics needs equally many gold and predicted tags (> 0), got {gold.size} and {predicted.size}")
    tags = sorted(set(gold.tolist()) | (set(predicted.tolist()) - {-1}))
    f1 = []
    for tag in tags:
        tp = np.sum((predicted == tag) & (gold == tag))
        fp = np.sum((predicted == tag) & (gold != tag))
        fn = np.sum((predicted != tag) & (gold == tag))
        f1.append(2 * tp / (2 * tp + fp + fn))
    return {"accuracy": float(np.mean(predicted == gold)), "macro_f1": float(np.mean(f1))}


def encode(path: str, rows: Sequence[dict], tokenizer, label2id: Dict[str, int], args) -> Tuple[List[dict], List[list]]:
    """Features (input_ids, token_type_ids, labels aligned to sub-tokens, index) and each row's word ids."""
    common.require_columns(path, rows, (args.words_column, args.tags_column))
    for number, row in enumerate(rows, 1):
        words, tags = row[args.words_column], row[args.tags_column]
        if not isinstance(words, list) or not isinstance(tags, list) or len(words) != len(tags) or not words:
            raise SystemExit(f"{path}: row {number}: expected non-empty lists of words and tags of the same length, "
                             f"got {len(words) if isinstance(words, list) else type(words).__name__} words and "
                             f"{len(tags) if isinstance(tags, list) else type(tags).__name__} tags")
        common.check_labels(path, tags, label2id, f"row {number}")
    # Byte-level BPE needs add_prefix_space=True for pre-split words: each word is encoded as if after a space.
    encoded = tokenizer([row[args.words_column] for row in rows], is_split_into_words=True, add_prefix_space=True,
                        truncation=True, max_length=args.max_length, return_token_type_ids=True)
    features, word_ids = [], []
    for i, row in enumerate(rows):
        ids = encoded.word_ids(i)
        labels = align_labels(ids, [label2id[str(tag)] for tag in row[args.tags_column]])
        features.append({"input_ids": encoded["input_ids"][i], "token_type_ids": encoded["token_type_ids"][i],
                         "labels": labels, "index": i})
        word_ids.append(ids)
    return features, word_ids


class TokenClassification(common.Task):
    name = "token-classification"
    model_class = "DebertaForTokenClassification"

    def __init__(self, train, eval, pad_id, config_overrides, baseline, eval_word_ids, eval_gold):
        super().__init__(train, eval, pad_id, config_overrides, baseline)
        self.eval_word_ids = eval_word_ids
        self.eval_gold = eval_gold  # per row, the gold label id of each word

    def predictions(self, batch: Dict[str, np.ndarray], outputs: Dict[str, np.ndarray]) -> List[Any]:
        return [word_predictions(self.eval_word_ids[index], logits, len(self.eval_gold[index]))
                for index, logits in zip(batch["index"], outputs["logits"])]

    def evaluate(self, predictions: List[Any]) -> Dict[str, float]:
        gold = [tag for row in self.eval_gold for tag in row]
        predicted = [tag for row in predictions for tag in row]
        return {**word_metrics(gold, predicted), "words_cut_off": int(sum(tag == -1 for tag in predicted))}

    def export(self, predictions: List[Any]) -> List[List[Optional[str]]]:
        """The predicted tag of each word of each test sentence (None for a word cut off by --max-length)."""
        id2label = self.config_overrides["id2label"]
        return [[id2label[tag] if tag >= 0 else None for tag in row] for row in predictions]


def majority_tag_baseline(train_rows: Sequence[dict], gold: Sequence[Sequence[int]], label2id: Dict[str, int],
                          tags_column: str) -> Dict[str, float]:
    counts: Dict[str, int] = {}
    for row in train_rows:
        for tag in row[tags_column]:
            counts[str(tag)] = counts.get(str(tag), 0) + 1
    majority = max(sorted(counts), key=counts.get)
    if majority not in label2id:  # --eval-only of a checkpoint trained on other tags
        return {}
    flat = [tag for row in gold for tag in row]
    metrics = word_metrics(flat, [label2id[majority]] * len(flat))
    return {f"majority_baseline_{k}": v for k, v in metrics.items()}


def build_task(args, tokenizer) -> TokenClassification:
    id2label = common.label_list(args, args.tags_column, per_token=True)
    label2id = {name: i for i, name in id2label.items()}
    test_rows = common.read_rows(args.test_file, args.max_eval_samples)
    test, test_word_ids = encode(args.test_file, test_rows, tokenizer, label2id, args)
    gold = [[label2id[str(tag)] for tag in row[args.tags_column]] for row in test_rows]
    train = []
    if not args.eval_only:
        train, _ = encode(args.train_file, common.read_rows(args.train_file, args.max_train_samples), tokenizer,
                          label2id, args)
    baseline = {}
    if os.path.isfile(args.train_file):  # the majority tag of the whole training file, whatever was trained on
        train_rows = common.read_rows(args.train_file)
        common.require_columns(args.train_file, train_rows, [args.tags_column])
        baseline = majority_tag_baseline(train_rows, gold, label2id, args.tags_column)
    return TokenClassification(train, test, tokenizer.pad_token_id, {"id2label": id2label}, baseline,
                               test_word_ids, gold)
