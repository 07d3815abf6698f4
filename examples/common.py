"""Framework-neutral parts of the training examples: the shared command line, data loading (JSONL/CSV with
`text`, optional `text_pair`, `label`), tokenisation, dynamic padding and the learning-rate schedule.

`train_keras.py` and `train_torch.py` take exactly the same flags (built here) so a run can move between
frameworks by changing the script name.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from deberta_core import DebertaConfig, DebertaTokenizer
from deberta_core.presets import PRESETS, preset_config

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "data", "fortunes-topics")
DEFAULT_TRAIN = os.path.join(DEFAULT_DATA, "train.jsonl")
DEFAULT_TEST = os.path.join(DEFAULT_DATA, "test.jsonl")
DEFAULT_PRESET = "deberta-demo-small"


def build_arg_parser(framework: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=f"Fine-tune DeBERTa for sequence classification with {framework}.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=(
            "example: python -m examples.train_%s --epochs 2 --output-dir runs/%s  "
            "(defaults: the embedded fortunes-topics data and the %s preset)" % (framework, framework, DEFAULT_PRESET)
        ),
    )
    data = parser.add_argument_group("data")
    data.add_argument("--train-file", default=DEFAULT_TRAIN, help="JSONL or CSV with text[, text_pair], label")
    data.add_argument("--test-file", default=DEFAULT_TEST, help="evaluation data, same columns")
    data.add_argument("--text-column", default="text")
    data.add_argument("--text-pair-column", default="text_pair", help="used when the files have it")
    data.add_argument("--label-column", default="label")
    data.add_argument("--max-length", type=int, default=128, help="truncate longer inputs (tokens)")
    data.add_argument("--max-train-samples", type=int, default=None)
    data.add_argument("--max-eval-samples", type=int, default=None)
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=DEFAULT_PRESET,
                       help=f"a checkpoint folder, or a preset to train from scratch: {sorted(PRESETS)}")
    model.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the model folder, else embedded deberta-base)")
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--batch-size", type=int, default=32, help="global batch size (split across replicas)")
    train.add_argument("--learning-rate", type=float, default=5e-4)
    train.add_argument("--warmup-ratio", type=float, default=0.1, help="fraction of steps with linear warmup")
    train.add_argument("--weight-decay", type=float, default=0.01)
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--mixed-precision", choices=["no", "bf16", "fp16"], default="no")
    train.add_argument("--compile", action="store_true",
                       help="torch.compile the model / Keras jit_compile=True (XLA)")
    train.add_argument("--replicas", type=int, default=None,
                       help="data-parallel replicas. torch: launch with torchrun --nproc_per_node N (checked against it); "
                            "Keras: MirroredStrategy over N GPUs, or N logical CPU devices when there are fewer GPUs. "
                            "With TF_CONFIG set, Keras uses MultiWorkerMirroredStrategy")
    train.add_argument("--output-dir", default=os.path.join("runs", framework))
    train.add_argument("--resume", action="store_true", help="continue from --output-dir/checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("-v", "--verbose", action="store_true",
                       help="show TensorFlow's own start-up and log lines (hidden by default)")
    return parser


def validate_args(args: argparse.Namespace) -> None:
    if args.replicas is not None and args.replicas < 1:
        raise SystemExit(f"--replicas must be >= 1, got {args.replicas}")
    for name in ("epochs", "batch_size", "max_length"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not 0 <= args.warmup_ratio < 1:
        raise SystemExit(f"--warmup-ratio must be in [0, 1), got {args.warmup_ratio}")
    for path in (args.train_file, args.test_file):
        if not os.path.isfile(path):
            raise SystemExit(f"data file not found: {path}")


def read_rows(path: str) -> List[dict]:
    """Rows of a .jsonl / .json-lines or .csv file as dicts."""
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise SystemExit(f"{path}:{number}: not a JSON object ({err})") from None
    return rows


@dataclass
class Dataset:
    input_ids: List[List[int]]
    token_type_ids: List[List[int]]
    labels: np.ndarray  # [n] int64

    def __len__(self) -> int:
        return len(self.labels)


def load_split(path: str, tokenizer: DebertaTokenizer, label2id: Dict[str, int], args, limit: Optional[int]) -> Dataset:
    rows = read_rows(path)[:limit] if limit else read_rows(path)
    for number, row in enumerate(rows, 1):
        for column in (args.text_column, args.label_column):
            if column not in row:
                raise SystemExit(f"{path}: row {number} has no {column!r} column (it has {sorted(row)})")
        if str(row[args.label_column]) not in label2id:
            raise SystemExit(f"{path}: row {number} has label {row[args.label_column]!r}, not seen in the training data")
    texts = [row[args.text_column] for row in rows]
    pairs = [row.get(args.text_pair_column) for row in rows]
    has_pairs = any(p is not None for p in pairs)
    encoded = tokenizer(
        texts, [p or "" for p in pairs] if has_pairs else None,
        truncation=True, max_length=args.max_length, return_token_type_ids=True,
    )
    labels = np.asarray([label2id[str(row[args.label_column])] for row in rows], dtype=np.int64)
    return Dataset(list(encoded["input_ids"]), list(encoded["token_type_ids"]), labels)


def label_maps(path: str, label_column: str):
    labels = sorted({str(row[label_column]) for row in read_rows(path) if label_column in row})
    if len(labels) < 2:
        raise SystemExit(f"{path}: expected at least two distinct labels in {label_column!r}, got {labels}")
    return {i: name for i, name in enumerate(labels)}, {name: i for i, name in enumerate(labels)}


def pad_batch(ids: Sequence[List[int]], types: Sequence[List[int]], pad_id: int) -> Dict[str, np.ndarray]:
    """Dynamic padding: pad to the longest row of this batch (right padding, mask 0 on pads)."""
    length = max(len(row) for row in ids)
    input_ids = np.full((len(ids), length), pad_id, dtype=np.int64)
    token_type_ids = np.zeros((len(ids), length), dtype=np.int64)
    attention_mask = np.zeros((len(ids), length), dtype=np.int64)
    for i, (row, row_types) in enumerate(zip(ids, types)):
        input_ids[i, : len(row)] = row
        token_type_ids[i, : len(row)] = row_types
        attention_mask[i, : len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}


def lr_multiplier(step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warmup to 1 over warmup_steps, then linear decay to 0 at total_steps (as the reference's
    get_linear_schedule_with_warmup)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def total_steps(num_examples: int, batch_size: int, epochs: int, max_steps: Optional[int]) -> int:
    steps = math.ceil(num_examples / batch_size) * epochs
    return min(steps, max_steps) if max_steps else steps


def make_config(args, id2label: Dict[int, str]) -> Optional[DebertaConfig]:
    """A fresh config for a preset name; None when --model is a checkpoint folder."""
    if os.path.isdir(args.model):
        return None
    if args.model not in PRESETS:
        raise SystemExit(f"--model {args.model!r} is neither a folder nor a preset ({sorted(PRESETS)})")
    return preset_config(args.model, id2label=id2label)


def load_tokenizer(args) -> DebertaTokenizer:
    source = args.tokenizer or (args.model if os.path.isdir(args.model) and _has_tokenizer(args.model) else None)
    return DebertaTokenizer.from_pretrained(source) if source else DebertaTokenizer()


def _has_tokenizer(folder: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, name)) for name in ("vocab.json", "tokenizer.json"))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)


def majority_baseline(labels: np.ndarray) -> float:
    return float(np.bincount(labels).max() / len(labels))


def write_metrics(path: str, metrics: dict) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=2)
