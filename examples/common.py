"""Framework-neutral parts of the example scripts: the one command line they all share, the `Task` a runner
trains (what a task supplies: data, collation, model class, evaluation), dynamic padding, the learning-rate
schedule, model/tokenizer loading rules and the metrics/RESULT output.

Scripts and what they train (each task's data code lives once, in examples/tasks/):

    train_seqcls.py --framework F        text classification (tasks/seqcls.py)
    train_tokcls.py --framework F        token classification (tasks/tokcls.py)
    train_qa.py --framework F            extractive question answering (tasks/qa.py)
    pretrain_mlm.py --framework F        masked-LM pretraining (tasks/mlm.py)

Every script takes the same flags (built here by `build_arg_parser`) and hands its Task to one runner per
framework (runner_torch.py: a training loop, DDP under torchrun; runner_keras.py: `model.fit`, tf.distribute),
so a run moves between frameworks by changing `--framework`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from deberta_core import DebertaConfig, DebertaTokenizer
from deberta_core.files import CONFIG_NAME, atomic_write, scan_folder
from deberta_core.outputs import IGNORE_INDEX  # label of positions the loss and the metrics skip
from deberta_core.presets import PRESETS, preset_config

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
DEFAULT_PRESET = "deberta-demo-small"
FRAMEWORKS = ("torch", "keras")
# The inputs every model takes; anything else in a batch is a label (Task.label_names) or bookkeeping.
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.json"
RESULT_PREFIX = "RESULT "


# --------------------------------------------------------------------------------------------------- the task
class Task:
    """What a runner needs to train and evaluate one task; the runners know nothing else about it.

    A task supplies its examples (`train`, `eval`: one dict of fields per example, e.g. ``input_ids``,
    ``token_type_ids``, ``labels``, ``index``), `collate` (rows -> a batch of NumPy arrays), the model class
    (`model_class`, the torch name; the Keras runner uses ``"TF" + model_class``) with `config_overrides` for a
    fresh head, which batch keys are labels in training (`label_names`), which model outputs it reads
    (`output_names`), and the evaluation: `predictions` turns one batch's outputs into one small record per row,
    `evaluate` turns the records of the whole eval set, in order, into metrics (`export` into what
    predictions.json holds). `baseline` holds metrics of a model-free baseline on the same eval set.
    """

    name: str = ""
    model_class: str = ""
    label_names: Tuple[str, ...] = ("labels",)
    output_names: Tuple[str, ...] = ("logits",)

    def __init__(self, train: Sequence[dict], eval: Sequence[dict], pad_id: int,
                 config_overrides: Optional[Dict[str, Any]] = None, baseline: Optional[Dict[str, float]] = None):
        self.train = train
        self.eval = eval
        self.pad_id = pad_id
        self.config_overrides = dict(config_overrides or {})
        self.baseline = dict(baseline or {})

    def collate(self, rows: Sequence[dict], pad_to_multiple_of: int = 1) -> Dict[str, np.ndarray]:
        return collate(rows, self.pad_id, pad_to_multiple_of)

    def predictions(self, batch: Dict[str, np.ndarray], outputs: Dict[str, np.ndarray]) -> List[Any]:
        raise NotImplementedError

    def evaluate(self, predictions: List[Any]) -> Dict[str, float]:
        raise NotImplementedError

    def export(self, predictions: List[Any]) -> Any:
        """The predictions as JSON for predictions.json (label names, answer texts ...); None writes nothing."""
        return None

    @property
    def eval_examples(self) -> int:
        """How many examples the metrics are over (QA: questions, while `eval` holds their windows)."""
        return len(self.eval)


def collate(rows: Sequence[dict], pad_id: int, pad_to_multiple_of: int = 1) -> Dict[str, np.ndarray]:
    """Dynamic padding: list fields are right-padded to the longest row of this batch (rounded up to
    ``pad_to_multiple_of``) -- ``input_ids`` with the pad id, ``token_type_ids`` with 0, ``labels`` with -100 --
    and ``attention_mask`` (1 on real tokens) is made from them; int fields (a class label, a position, an
    index) are stacked into one int64 vector."""
    if not rows:
        raise ValueError("collate got no rows")
    pad_values = {"input_ids": pad_id, "token_type_ids": 0, "attention_mask": 0, "labels": IGNORE_INDEX}
    length = max(len(row["input_ids"]) for row in rows)
    length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
    batch: Dict[str, np.ndarray] = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        if not isinstance(values[0], (list, tuple, np.ndarray)):
            batch[key] = np.asarray(values, dtype=np.int64)
            continue
        if key not in pad_values:
            raise ValueError(f"collate: no padding value for the list field {key!r} (known: {sorted(pad_values)})")
        padded = np.full((len(rows), length), pad_values[key], dtype=np.int64)
        for i, value in enumerate(values):
            padded[i, : len(value)] = value
        batch[key] = padded
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for i, row in enumerate(rows):
        mask[i, : len(row["input_ids"])] = 1
    batch["attention_mask"] = mask
    return batch


# ------------------------------------------------------------------------------------------- the command line
def build_arg_parser(task_module) -> argparse.ArgumentParser:
    """The flags of every example script. ``task_module`` (one of examples/tasks/) names the task, its script and
    its data defaults and adds its own data flags."""
    parser = argparse.ArgumentParser(
        description=f"{task_module.DESCRIPTION} with PyTorch or Keras (--framework).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=(f"example: python -m examples.{task_module.SCRIPT} --framework torch --epochs 2 --output-dir "
                f"runs/{task_module.NAME}  (defaults: the embedded {task_module.DATA_NAME} data and the "
                f"{DEFAULT_PRESET} preset)"),
    )
    parser.add_argument("--framework", required=True, choices=FRAMEWORKS)
    data = parser.add_argument_group("data")
    data.add_argument("--train-file", default=os.path.join(DATA, task_module.DATA_NAME, "train.jsonl"),
                      help=task_module.FILE_HELP)
    data.add_argument("--test-file", default=os.path.join(DATA, task_module.DATA_NAME, "test.jsonl"),
                      help="evaluation data, same columns")
    data.add_argument("--max-length", type=int, default=task_module.MAX_LENGTH,
                      help="tokens per input: longer inputs are truncated (QA: contexts are cut into windows)")
    data.add_argument("--max-train-samples", type=int, default=None, help="use the first N training examples")
    data.add_argument("--max-eval-samples", type=int, default=None, help="evaluate on the first N test examples")
    task_module.add_arguments(data)
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=DEFAULT_PRESET,
                       help=f"a checkpoint folder, or a preset to train from scratch: {sorted(PRESETS)}")
    model.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the model folder, else embedded deberta-base)")
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--batch-size", type=int, default=task_module.BATCH_SIZE,
                       help="global batch size (split across replicas)")
    train.add_argument("--learning-rate", type=float, default=5e-4)
    train.add_argument("--warmup-ratio", type=float, default=0.1, help="fraction of steps with linear warmup")
    train.add_argument("--weight-decay", type=float, default=0.01)
    train.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    train.add_argument("--eval-only", action="store_true",
                       help="no training: evaluate --model (a checkpoint folder, either framework's weights) on the "
                            "test file and write the metrics to --output-dir")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--mixed-precision", choices=["no", "bf16", "fp16"], default="no")
    train.add_argument("--compile", action="store_true",
                       help="torch.compile the model / Keras jit_compile=True (XLA)")
    train.add_argument("--replicas", type=int, default=None,
                       help="data-parallel replicas. torch: launch with torchrun --nproc_per_node N (checked against it); "
                            "Keras: MirroredStrategy over N GPUs, or N logical CPU devices when there are fewer GPUs. "
                            "With TF_CONFIG set, Keras uses MultiWorkerMirroredStrategy")
    train.add_argument("--output-dir", default=None,
                       help="where the model, tokenizer, metrics.json and predictions.json go (default: "
                            f"runs/{task_module.NAME}-FRAMEWORK)")
    train.add_argument("--resume", action="store_true", help="continue from --output-dir/checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("-v", "--verbose", action="store_true",
                       help="show TensorFlow's own start-up and log lines (hidden by default)")
    parser.set_defaults(task_module=task_module)
    return parser


def parse_args(task_module, argv: Optional[List[str]]) -> argparse.Namespace:
    args = build_arg_parser(task_module).parse_args(argv)
    if args.output_dir is None:
        args.output_dir = os.path.join("runs", f"{task_module.NAME}-{args.framework}")
    validate_args(args)
    return args


def validate_args(args: argparse.Namespace) -> None:
    if args.replicas is not None and args.replicas < 1:
        raise SystemExit(f"--replicas must be >= 1, got {args.replicas}")
    for name in ("epochs", "batch_size", "max_length"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for name in ("max_steps", "max_train_samples", "max_eval_samples"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            hint = " (to evaluate without training, use --eval-only)" if name == "max_steps" else ""
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}{hint}")
    if not 0 <= args.warmup_ratio < 1:
        raise SystemExit(f"--warmup-ratio must be in [0, 1), got {args.warmup_ratio}")
    if args.eval_only and (args.resume or not os.path.isdir(args.model)):
        raise SystemExit(f"--eval-only evaluates a checkpoint folder: --model must be one (got {args.model!r})"
                         + (" and --resume does not apply" if args.resume else ""))
    for path in (args.test_file,) if args.eval_only else (args.train_file, args.test_file):
        if not os.path.isfile(path):
            raise SystemExit(f"data file not found: {path}")
    args.task_module.validate_args(args)


# ------------------------------------------------------------------------------------------------------ data
def read_rows(path: str, limit: Optional[int] = None) -> List[dict]:
    """Rows of a .jsonl / .json-lines or .csv file as dicts (the first ``limit`` rows when given)."""
    if path.endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return rows[:limit] if limit else rows
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if limit and len(rows) >= limit:
                break
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise SystemExit(f"{path}:{number}: not a JSON object ({err})") from None
    return rows


def require_columns(path: str, rows: Sequence[dict], columns: Sequence[str]) -> None:
    for number, row in enumerate(rows, 1):
        missing = [c for c in columns if c not in row]
        if missing:
            raise SystemExit(f"{path}: row {number} has no {missing[0]!r} column (it has {sorted(row)})")


def label_list(args, column: str, per_token: bool = False) -> Dict[int, str]:
    """id2label. Training: the sorted distinct labels of ``column`` in the whole training file (per row, or of
    every token with per_token). --eval-only: the checkpoint's own config.json id2label."""
    if args.eval_only:
        return DebertaConfig.from_json_file(os.path.join(args.model, CONFIG_NAME)).id2label
    rows = read_rows(args.train_file)
    require_columns(args.train_file, rows, [column])
    labels = sorted({str(x) for row in rows for x in (row[column] if per_token else [row[column]])})
    if len(labels) < 2:
        raise SystemExit(f"{args.train_file}: expected at least two distinct labels in {column!r}, got {labels}")
    return dict(enumerate(labels))


def check_labels(path: str, labels: Sequence[str], label2id: Dict[str, int], where: str) -> None:
    for label in labels:
        if str(label) not in label2id:
            raise SystemExit(f"{path}: {where} has label {label!r}, not one of the model's labels "
                             f"(the training data's, or the checkpoint's with --eval-only): {sorted(label2id)}")


# --------------------------------------------------------------------------------------------- the schedule
def lr_multiplier(step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warmup to 1 over warmup_steps, then linear decay to 0 at total_steps (as the reference's
    get_linear_schedule_with_warmup)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def total_steps(num_examples: int, batch_size: int, epochs: int, max_steps: Optional[int]) -> int:
    steps = math.ceil(num_examples / batch_size) * epochs
    return min(steps, max_steps) if max_steps else steps


# ------------------------------------------------------------------------------------- models and tokenizers
def make_config(args, overrides: Dict[str, Any]) -> Optional[DebertaConfig]:
    """A fresh config for a preset name (with the task's head settings); None when --model is a folder."""
    if os.path.isdir(args.model):
        return None
    if args.model not in PRESETS:
        raise SystemExit(f"--model {args.model!r} is neither a folder nor a preset ({sorted(PRESETS)})")
    return preset_config(args.model, **overrides)


def checkpoint_formats(folder: str) -> List[str]:
    """The weight formats a checkpoint folder holds (deberta_core.files names: safetensors, tf_h5, ...)."""
    formats = scan_folder(folder).formats
    if not formats:
        raise SystemExit(f"{folder}: no weights (expected model.safetensors, pytorch_model.bin or tf_model.h5)")
    return formats


def load_tokenizer(args) -> DebertaTokenizer:
    source = args.tokenizer or (args.model if os.path.isdir(args.model) and scan_folder(args.model).tokenizer else None)
    return DebertaTokenizer.from_pretrained(source) if source else DebertaTokenizer()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)


# ------------------------------------------------------------------------------------------------ evaluation
def predict_batches(task: Task, batch_size: int, rank: int = 0, world_size: int = 1,
                    pad_to_multiple_of: int = 1) -> Iterator[Tuple[List[int], Dict[str, np.ndarray]]]:
    """One replica's share of the eval set, in batches of similar length (sorted, so little padding):
    yields (positions of the rows in task.eval, collated batch)."""
    order = sorted(range(len(task.eval)), key=lambda i: len(task.eval[i]["input_ids"]))[rank::world_size]
    for start in range(0, len(order), batch_size):
        positions = order[start:start + batch_size]
        yield positions, task.collate([task.eval[i] for i in positions], pad_to_multiple_of)


def evaluate_pieces(task: Task, pieces: Iterable[Tuple[List[int], List[Any]]]) -> Tuple[Dict[str, float], List[Any]]:
    """(task.evaluate(records), records): the records of (positions, task.predictions records) pieces from any
    replicas, put back in eval-set order."""
    records: List[Any] = [None] * len(task.eval)
    seen = 0
    for positions, batch_records in pieces:
        if len(positions) != len(batch_records):
            raise ValueError(f"{type(task).__name__}.predictions returned {len(batch_records)} records for a batch "
                             f"of {len(positions)} rows")
        for position, record in zip(positions, batch_records):
            records[position] = record
        seen += len(positions)
    if seen != len(task.eval):
        raise ValueError(f"predictions for {seen} of {len(task.eval)} eval rows")
    return task.evaluate(records), records


# ----------------------------------------------------------------------------------------- metrics and output
def majority_baseline(labels: np.ndarray) -> float:
    return float(np.bincount(labels).max() / len(labels))


def epoch_record(epoch: int, step: int, train_loss: Optional[float], metrics: Dict[str, float]) -> dict:
    """One entry of metrics['history']: the epoch, the optimizer step, the mean training loss, eval_* metrics."""
    return {"epoch": epoch, "step": step, "train_loss": train_loss, **{f"eval_{k}": v for k, v in metrics.items()}}


def describe_epoch(record: dict) -> str:
    """'epoch 2 (step 250): train loss 0.8123, eval accuracy 0.8012, eval macro_f1 0.6120' for the log."""
    parts = [f"epoch {record['epoch']} (step {record['step']}): train loss "
             + ("-" if record["train_loss"] is None else f"{record['train_loss']:.4f}")]
    parts += [f"eval {k[5:]} {v:.4f}" if isinstance(v, float) else f"eval {k[5:]} {v}"
              for k, v in record.items() if k.startswith("eval_")]
    return ", ".join(parts)


def final_metrics(task: Task, framework: str, steps: int, eval_metrics: Dict[str, float], history: List[dict],
                  seconds: float, **extra: Any) -> dict:
    return {"task": task.name, "framework": framework, **extra, "steps": steps,
            **{f"eval_{k}": v for k, v in eval_metrics.items()}, **task.baseline,
            "eval_examples": task.eval_examples, "history": history, "seconds": seconds}


def write_json(path: str, metrics: Any) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_write(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(metrics, handle, indent=2)


def finish(metrics: dict, output_dir: str, task: Task, predictions: List[Any]) -> None:
    """Write metrics.json (and predictions.json when the task exports them) to output_dir and print the one
    RESULT line: the metrics without the history, as JSON."""
    write_json(os.path.join(output_dir, METRICS_FILE), metrics)
    exported = task.export(predictions)
    if exported is not None:
        write_json(os.path.join(output_dir, PREDICTIONS_FILE), exported)
    summary = {k: v for k, v in metrics.items() if k != "history"}
    print(RESULT_PREFIX + json.dumps(summary), flush=True)


def parse_result(stdout: str) -> dict:
    """The RESULT line of a script's output, parsed (exactly one is expected)."""
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if len(lines) != 1:
        raise ValueError(f"expected exactly one {RESULT_PREFIX.strip()} line, found {len(lines)}")
    return json.loads(lines[0][len(RESULT_PREFIX):])


