"""Pretrain a small DeBERTa as a masked language model, in PyTorch or Keras, optionally with the Enhanced Mask
Decoder (the original pretraining head, see docs/mlm.md).

    python -m examples.pretrain_mlm --framework torch --enhanced-mask-decoder --steps 300
    python -m examples.pretrain_mlm --framework keras --enhanced-mask-decoder --steps 300

The corpus is the `text` column of the bundled fortunes-topics data (train.jsonl to train, test.jsonl held
out), packed into [CLS] ... [SEP] sequences and masked dynamically (deberta_core.mlm: 15 %, 80/10/10). Every
--eval-every steps (and before the first) it reports the held-out masked-token loss, accuracy and perplexity
on a fixed masking of the held-out text. Writes the model with save_pretrained to --output-dir (loadable by
the fine-tuning scripts with --model) and metrics.json. The same seed gives the same initial weights'
distribution and the same batches in both frameworks.

Not here yet: mid-run checkpoints and --resume (issue 13).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Dict, Iterator, List

import numpy as np

from deberta_core.console import quiet_startup
from deberta_core.mlm import MLMBatches, MLMMasker, build_mlm_sequences
from deberta_core.presets import PRESETS, preset_config

from . import common


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--framework", choices=["torch", "keras"], required=True)
    parser.add_argument("--enhanced-mask-decoder", action="store_true",
                        help="MaskedLM logits from the Enhanced Mask Decoder (config.enhanced_mask_decoder)")
    parser.add_argument("--model", default="deberta-tiny", choices=sorted(PRESETS), help="architecture preset")
    parser.add_argument("--train-file", default=common.DEFAULT_TRAIN, help="JSONL or CSV with a text column")
    parser.add_argument("--eval-file", default=common.DEFAULT_TEST, help="held-out text, same format")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--max-length", type=int, default=64, help="tokens per packed sequence ([CLS] and [SEP] included)")
    parser.add_argument("--max-eval-sequences", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default=None, help="default: runs/pretrain_<framework>")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the frameworks' start-up messages")
    return parser


def validate_args(args: argparse.Namespace) -> None:
    for name in ("max_length", "max_eval_sequences", "batch_size", "steps", "eval_every"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.max_length < 3:
        raise SystemExit(f"--max-length must leave room for [CLS], a token and [SEP]: >= 3, got {args.max_length}")
    if not 0 <= args.warmup_ratio < 1:
        raise SystemExit(f"--warmup-ratio must be in [0, 1), got {args.warmup_ratio}")
    for path in (args.train_file, args.eval_file):
        if not os.path.isfile(path):
            raise SystemExit(f"data file not found: {path}")


def texts_of(path: str, column: str) -> List[str]:
    rows = common.read_rows(path)
    missing = [number for number, row in enumerate(rows, 1) if column not in row]
    if missing:
        raise SystemExit(f"{path}: rows {missing[:5]} have no {column!r} column")
    return [str(row[column]) for row in rows]


def prepare(args):
    """(config, training batches, the fixed held-out batches) from the flags."""
    tokenizer = common.load_tokenizer(argparse.Namespace(tokenizer=None, model=args.model))
    try:
        config = preset_config(args.model, legacy=False, enhanced_mask_decoder=args.enhanced_mask_decoder,
                               hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    except ValueError as err:
        raise SystemExit(f"--model {args.model} with --enhanced-mask-decoder: {err}") from None
    if args.max_length > config.max_position_embeddings:
        raise SystemExit(f"--max-length {args.max_length} exceeds the preset's max_position_embeddings "
                         f"({config.max_position_embeddings})")
    masker = MLMMasker.from_tokenizer(tokenizer, vocab_size=config.vocab_size, seed=args.seed)
    train = build_mlm_sequences(texts_of(args.train_file, args.text_column), tokenizer, max_length=args.max_length)
    held_out = build_mlm_sequences(texts_of(args.eval_file, args.text_column), tokenizer, max_length=args.max_length)
    held_out = {name: value[: args.max_eval_sequences] for name, value in held_out.items()}
    batches = MLMBatches(train, masker, args.batch_size, seed=args.seed)
    eval_batches = list(MLMBatches(held_out, masker, args.batch_size, shuffle=False, seed=args.seed + 1).epoch_batches(0))
    return config, batches, eval_batches


def endless(batches: MLMBatches) -> Iterator[Dict[str, np.ndarray]]:
    while True:  # each pass is the next epoch: reshuffled, re-masked
        yield from batches


def masked_token_stats(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """[summed cross-entropy, correct predictions, targets] over the positions whose label is not -100."""
    rows = labels != -100
    picked, targets = logits[rows].astype(np.float64), labels[rows]
    shifted = picked - picked.max(-1, keepdims=True)
    log_probs = shifted[np.arange(len(targets)), targets] - np.log(np.exp(shifted).sum(-1))
    return np.array([-log_probs.sum(), float((picked.argmax(-1) == targets).sum()), float(len(targets))])


def summary(stats: np.ndarray) -> Dict[str, float]:
    loss = stats[0] / max(stats[2], 1.0)
    return {"loss": float(loss), "accuracy": float(stats[1] / max(stats[2], 1.0)), "perplexity": float(math.exp(loss)),
            "targets": int(stats[2])}


def run_torch(args, config, batches, eval_batches) -> tuple:
    import torch

    from deberta_torch import DebertaForMaskedLM

    torch.manual_seed(args.seed)
    model = DebertaForMaskedLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    warmup = int(args.warmup_ratio * args.steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: common.lr_multiplier(s, args.steps, warmup))

    def evaluate() -> Dict[str, float]:
        model.eval()
        stats = np.zeros(3)
        with torch.no_grad():
            for batch in eval_batches:
                logits = model(torch.from_numpy(batch["input_ids"]), attention_mask=torch.from_numpy(batch["attention_mask"])).logits
                stats += masked_token_stats(logits.numpy(), batch["labels"])
        return summary(stats)

    def train_step(batch) -> float:
        model.train()
        loss = model(**{k: torch.from_numpy(v) for k, v in batch.items()}).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return float(loss.detach())

    return model, evaluate, train_step


def run_keras(args, config, batches, eval_batches) -> tuple:
    import keras
    import tensorflow as tf

    from deberta_tf import TFDebertaForMaskedLM

    keras.utils.set_random_seed(args.seed)
    model = TFDebertaForMaskedLM(config)
    model.build()
    optimizer = keras.optimizers.AdamW(learning_rate=args.learning_rate, weight_decay=args.weight_decay)
    warmup = int(args.warmup_ratio * args.steps)
    step_count = [0]

    def evaluate() -> Dict[str, float]:
        stats = np.zeros(3)
        for batch in eval_batches:
            logits = model(tf.constant(batch["input_ids"]), attention_mask=tf.constant(batch["attention_mask"])).logits
            stats += masked_token_stats(np.asarray(logits), batch["labels"])
        return summary(stats)

    @tf.function
    def apply(inputs):
        with tf.GradientTape() as tape:
            loss = model(inputs, training=True).loss
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def train_step(batch) -> float:
        # the torch script's schedule: LambdaLR multiplies after each step, starting from step 0's factor
        optimizer.learning_rate.assign(args.learning_rate * common.lr_multiplier(step_count[0], args.steps, warmup))
        step_count[0] += 1
        return float(apply({k: tf.constant(v) for k, v in batch.items()}))

    return model, evaluate, train_step


def main(argv=None) -> int:
    args = build_arg_parser().parse_args(argv)
    validate_args(args)
    quiet_startup(args.verbose)
    output_dir = args.output_dir or os.path.join("runs", f"pretrain_{args.framework}")
    common.seed_everything(args.seed)
    config, batches, eval_batches = prepare(args)
    model, evaluate, train_step = (run_torch if args.framework == "torch" else run_keras)(args, config, batches, eval_batches)
    decoder = "with the enhanced mask decoder" if config.enhanced_mask_decoder else "plain MLM head"
    print(f"pretraining {args.model} ({args.framework}, {decoder}): {args.steps} steps of {args.batch_size} x "
          f"{args.max_length} tokens; held-out: {sum(len(b['input_ids']) for b in eval_batches)} sequences", flush=True)
    history = [{"step": 0, **evaluate()}]
    print(f"step 0: held-out loss {history[0]['loss']:.3f}, accuracy {history[0]['accuracy']:.3f}", flush=True)
    started, losses = time.time(), []
    for step, batch in zip(range(1, args.steps + 1), endless(batches)):
        losses.append(train_step(batch))
        if step % args.eval_every == 0 or step == args.steps:
            history.append({"step": step, "train_loss": float(np.mean(losses[-args.eval_every:])), **evaluate()})
            last = history[-1]
            print(f"step {step}: train loss {last['train_loss']:.3f}, held-out loss {last['loss']:.3f}, accuracy "
                  f"{last['accuracy']:.3f}, perplexity {last['perplexity']:.1f} ({time.time() - started:.0f} s)",
                  flush=True)
    model.save_pretrained(output_dir)
    metrics = {"framework": args.framework, "model": args.model, "enhanced_mask_decoder": config.enhanced_mask_decoder,
               "steps": args.steps, "seconds": time.time() - started, "initial": history[0], "final": history[-1],
               "history": history}
    common.write_metrics(os.path.join(output_dir, "metrics.json"), metrics)
    print(f"saved to {output_dir}: held-out loss {history[0]['loss']:.3f} -> {history[-1]['loss']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
