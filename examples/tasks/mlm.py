"""Masked-language-model pretraining on a text corpus: documents packed into fixed-length sequences
(deberta_core.mlm.build_mlm_sequences), masked afresh in every training batch (MLMMasker: 15 %, 80/10/10), and
scored on held-out text masked once with a fixed seed: masked-token accuracy, MLM loss and perplexity, against a
model-free unigram baseline (the training corpus's token frequencies) on the same masked positions."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from deberta_core.mlm import IGNORE_INDEX, MLMMasker, build_mlm_sequences

from .. import common

NAME = "mlm"
SCRIPT = "pretrain_mlm"
DESCRIPTION = "Pretrain DeBERTa as a masked language model"
DATA_NAME = "fortunes-topics"
FILE_HELP = "JSONL or CSV with a text column (the corpus; other columns are ignored)"
MAX_LENGTH = 64
BATCH_SIZE = 16
# The held-out masks are drawn once, from this seed offset from --seed, so every evaluation (and every framework)
# scores the same positions.
EVAL_MASK_SEED_OFFSET = 1_000_003


def add_arguments(group) -> None:
    group.add_argument("--text-column", default="text")
    group.add_argument("--mlm-probability", type=float, default=0.15, help="fraction of tokens selected per row")
    group.add_argument("--whole-word-mask", action="store_true", help="select whole words (byte-level word starts)")
    group.add_argument("--enhanced-mask-decoder", action="store_true",
                       help="train with DeBERTa's Enhanced Mask Decoder (config enhanced_mask_decoder=True)")


def validate_args(args) -> None:
    if not 0 < args.mlm_probability < 1:
        raise SystemExit(f"--mlm-probability must be in (0, 1), got {args.mlm_probability}")
    if args.max_length < 3:
        raise SystemExit(f"--max-length must be >= 3 ([CLS], a token, [SEP]), got {args.max_length}")


def _texts(path: str, rows: Sequence[dict], column: str) -> List[str]:
    common.require_columns(path, rows, [column])
    return [str(row[column]) for row in rows]


def _rows(sequences: Dict[str, np.ndarray], labels: Optional[np.ndarray] = None) -> List[dict]:
    """One example per packed sequence: its unpadded ids (collate pads per batch), its position and, for held-out
    rows, its fixed ``labels``."""
    rows = []
    for i, n in enumerate(sequences["attention_mask"].sum(axis=1)):
        row = {"input_ids": sequences["input_ids"][i, :n].tolist(), "index": i}
        if labels is not None:
            row["labels"] = labels[i, :n].tolist()
        rows.append(row)
    return rows


def unigram_log_probs(sequences: Dict[str, np.ndarray], tokenizer) -> np.ndarray:
    """Log-frequencies of the tokens of ``sequences`` over the vocabulary (add-one smoothed; special ids, never a
    masked target, get -inf)."""
    counts = np.ones(len(tokenizer), dtype=np.float64)
    ids = sequences["input_ids"][sequences["attention_mask"] == 1]
    counts += np.bincount(ids, minlength=len(counts))[: len(counts)]
    counts[list(tokenizer.all_special_ids)] = 0
    return np.log(counts / counts.sum(), where=counts > 0, out=np.full_like(counts, -np.inf))


class MaskedLanguageModeling(common.Task):
    name = "masked-lm"
    model_class = "DebertaForMaskedLM"

    def __init__(self, train, eval, pad_id: int, masker: MLMMasker, config_overrides=None, baseline=None):
        super().__init__(train, eval, pad_id, config_overrides, baseline)
        self.masker = masker

    def collate(self, rows: Sequence[dict], pad_to_multiple_of: int = 1) -> Dict[str, np.ndarray]:
        """Held-out rows carry their fixed masks (``labels``); training rows are masked here, afresh per batch."""
        batch = common.collate(rows, self.pad_id, pad_to_multiple_of)
        if "labels" not in batch:
            batch.update(self.masker.mask(batch["input_ids"], batch["attention_mask"]))
        return batch

    def predictions(self, batch: Dict[str, np.ndarray], outputs: Dict[str, np.ndarray]) -> List[Any]:
        """Per row: (summed negative log-likelihood of the masked tokens, how many, how many predicted right)."""
        records = []
        for logits, labels in zip(outputs["logits"], batch["labels"]):
            where = labels != IGNORE_INDEX
            picked, targets = logits[where].astype(np.float64), labels[where]
            peak = picked.max(axis=-1, keepdims=True)
            log_norm = peak[:, 0] + np.log(np.exp(picked - peak).sum(axis=-1))
            nll = float((log_norm - picked[np.arange(len(targets)), targets]).sum())
            records.append((nll, int(where.sum()), int((picked.argmax(-1) == targets).sum())))
        return records

    def evaluate(self, predictions: List[Any]) -> Dict[str, float]:
        return masked_lm_metrics(*(sum(column) for column in zip(*predictions)))


def masked_lm_metrics(nll: float, count: int, correct: int) -> Dict[str, float]:
    if count == 0:
        raise ValueError("no masked tokens in the evaluation set")
    loss = nll / count
    return {"masked_accuracy": correct / count, "mlm_loss": loss, "perplexity": math.exp(min(loss, 700.0))}


def unigram_baseline(eval_rows: Sequence[dict], log_probs: np.ndarray) -> Dict[str, float]:
    """Scores of always predicting the training corpus's token distribution (add-one smoothed)."""
    labels = np.concatenate([np.asarray(row["labels"]) for row in eval_rows])
    labels = labels[labels != IGNORE_INDEX]
    metrics = masked_lm_metrics(float(-log_probs[labels].sum()), len(labels),
                                int((labels == int(log_probs.argmax())).sum()))
    return {f"unigram_{name}": value for name, value in metrics.items()}


def build_task(args, tokenizer) -> MaskedLanguageModeling:
    masker = MLMMasker.from_tokenizer(tokenizer, mlm_probability=args.mlm_probability,
                                      whole_word_mask=args.whole_word_mask, seed=args.seed)
    test_texts = _texts(args.test_file, common.read_rows(args.test_file, args.max_eval_samples), args.text_column)
    held_out = build_mlm_sequences(test_texts, tokenizer, max_length=args.max_length)
    fixed = masker.mask(held_out["input_ids"], held_out["attention_mask"],
                        rng=np.random.default_rng(args.seed + EVAL_MASK_SEED_OFFSET))
    eval_rows = _rows({"input_ids": fixed["input_ids"], "attention_mask": held_out["attention_mask"]},
                      fixed["labels"])
    train_rows: List[dict] = []
    baseline: Dict[str, float] = {}
    if not args.eval_only:
        train_texts = _texts(args.train_file, common.read_rows(args.train_file, args.max_train_samples),
                             args.text_column)
        train = build_mlm_sequences(train_texts, tokenizer, max_length=args.max_length)
        train_rows = _rows(train)
        baseline = unigram_baseline(eval_rows, unigram_log_probs(train, tokenizer))
    overrides = {"enhanced_mask_decoder": True} if args.enhanced_mask_decoder else {}
    return MaskedLanguageModeling(train_rows, eval_rows, tokenizer.pad_token_id, masker, overrides, baseline)
