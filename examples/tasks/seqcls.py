"""Text classification: JSONL/CSV rows with `text`, optional `text_pair`, and `label` -> one class per row,
scored by accuracy against the majority-class baseline of the test file."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

from .. import common

NAME = "seqcls"
SCRIPT = "train_seqcls"
DESCRIPTION = "Fine-tune DeBERTa for sequence classification"
DATA_NAME = "fortunes-topics"
FILE_HELP = "JSONL or CSV with text[, text_pair], label"
MAX_LENGTH = 128
BATCH_SIZE = 32


def add_arguments(group) -> None:
    group.add_argument("--text-column", default="text")
    group.add_argument("--text-pair-column", default="text_pair", help="used when the files have it")
    group.add_argument("--label-column", default="label")


def validate_args(args) -> None:
    pass


def encode(path: str, rows: Sequence[dict], tokenizer, label2id: Dict[str, int], args) -> List[dict]:
    """One feature dict per row: input_ids, token_type_ids, labels (the class id), index (the row number)."""
    common.require_columns(path, rows, (args.text_column, args.label_column))
    for number, row in enumerate(rows, 1):
        common.check_labels(path, [row[args.label_column]], label2id, f"row {number}")
    pairs = [row.get(args.text_pair_column) for row in rows]
    has_pairs = any(p is not None for p in pairs)
    encoded = tokenizer(
        [row[args.text_column] for row in rows], [p or "" for p in pairs] if has_pairs else None,
        truncation=True, max_length=args.max_length, return_token_type_ids=True,
    )
    return [{"input_ids": ids, "token_type_ids": types, "labels": label2id[str(row[args.label_column])], "index": i}
            for i, (ids, types, row) in enumerate(zip(encoded["input_ids"], encoded["token_type_ids"], rows))]


class SequenceClassification(common.Task):
    name = "text-classification"
    model_class = "DebertaForSequenceClassification"

    def predictions(self, batch: Dict[str, np.ndarray], outputs: Dict[str, np.ndarray]) -> List[Any]:
        return [int(i) for i in outputs["logits"].argmax(-1)]

    def evaluate(self, predictions: List[Any]) -> Dict[str, float]:
        labels = np.asarray([row["labels"] for row in self.eval])
        return {"accuracy": float(np.mean(np.asarray(predictions) == labels))}

    def export(self, predictions: List[Any]) -> List[str]:
        """The predicted label name of each test row."""
        return [self.config_overrides["id2label"][p] for p in predictions]


def build_task(args, tokenizer) -> SequenceClassification:
    id2label = common.label_list(args, args.label_column)
    label2id = {name: i for i, name in id2label.items()}
    test_rows = common.read_rows(args.test_file, args.max_eval_samples)
    test = encode(args.test_file, test_rows, tokenizer, label2id, args)
    train = [] if args.eval_only else encode(args.train_file, common.read_rows(args.train_file, args.max_train_samples),
                                             tokenizer, label2id, args)
    baseline = {"majority_baseline": common.majority_baseline(np.asarray([row["labels"] for row in test]))}
    return SequenceClassification(train, test, tokenizer.pad_token_id, {"id2label": id2label}, baseline)
