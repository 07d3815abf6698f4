"""`make demo`: the main job of deberta-dual end to end, offline, in a few minutes on a 2-core CPU.

1. build a small DeBERTa (preset deberta-demo-small: 4 layers, hidden 256, relative attention c2p|p2c) with the
   embedded deberta-base tokenizer, and fine-tune it with Keras `model.fit` on the embedded fortunes-topics data;
2. convert the result to PyTorch with `deberta-convert` (its parity check printed);
3. evaluate it in PyTorch (the accuracy must equal the Keras one);
4. continue training a little in the PyTorch loop;
5. convert back to Keras with `deberta-convert` and evaluate there (again equal to the torch accuracy);
6. print a report: accuracies from both frameworks against the majority-class baseline, parity max |diff|,
   time per stage.

Usage: python -m examples.demo [--epochs 3] [--torch-steps 40] [--output-dir runs/demo]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from typing import Dict, List

import numpy as np

from deberta_core.console import quiet_startup

from . import common
from .tasks import seqcls

# Predictions of the two frameworks agree exactly unless two logits tie within float32 round-off.
MAX_DISAGREEING_PREDICTIONS = 0


def _cli(args: List[str]) -> str:
    """Run deberta-convert as a user would, print its report, return it."""
    command = [sys.executable, "-m", "conversion", *args]
    print("$ deberta-convert " + " ".join(args), flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    print(done.stdout.rstrip(), flush=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"deberta-convert exited with {done.returncode}")
    return done.stdout


def _parity_from_report(text: str) -> float:
    """The max |diff| of the outputs from deberta-convert's parity report (it exits 1 when the check fails)."""
    match = re.search(r"outputs:.*max \|diff\| ([0-9.eE+-]+)", text)
    if match is None:
        raise SystemExit(f"no parity report in deberta-convert's output:\n{text}")
    return float(match.group(1))


def _test_batches(folder: str, args) -> tuple:
    """The test set, tokenised once: batches of model inputs and the labels (the seqcls task's data code)."""
    task_args = common.parse_args(seqcls, ["--framework", "torch", "--model", folder, "--eval-only",
                                           "--max-length", str(args.max_length)])
    task = seqcls.build_task(task_args, common.load_tokenizer(task_args))
    batches = []
    for i in range(0, len(task.eval), 64):
        batch = task.collate(task.eval[i:i + 64])
        batches.append({k: batch[k] for k in common.MODEL_INPUTS})
    return batches, np.asarray([row["labels"] for row in task.eval])


def torch_predictions(folder: str, batches) -> np.ndarray:
    import torch

    from deberta_torch import DebertaForSequenceClassification

    model = DebertaForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        return np.concatenate([model(**{k: torch.from_numpy(v) for k, v in b.items()}).logits.numpy() for b in batches])


def keras_predictions(folder: str, batches) -> np.ndarray:
    from deberta_tf import TFDebertaForSequenceClassification

    model = TFDebertaForSequenceClassification.from_pretrained(folder)
    return np.concatenate([np.asarray(model(b, training=False).logits) for b in batches])


def _agree(a: np.ndarray, b: np.ndarray, what: str) -> Dict[str, float]:
    disagree = int(np.sum(a.argmax(-1) != b.argmax(-1)))
    diff = float(np.abs(a - b).max())
    if disagree > MAX_DISAGREEING_PREDICTIONS:
        raise SystemExit(f"{what}: {disagree} test predictions differ between the frameworks (max |logit diff| {diff:.2e})")
    return {"max_abs_logit_diff": diff, "disagreeing_predictions": disagree}


def main(argv: List[str] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2, help="Keras fine-tuning epochs")
    parser.add_argument("--torch-steps", type=int, default=40, help="extra optimizer steps in the torch loop")
    parser.add_argument("--max-length", type=int, default=64, help="tokens per quotation (most are shorter)")
    parser.add_argument("--max-train-samples", type=int, default=None)
    parser.add_argument("--output-dir", default=os.path.join("runs", "demo"))
    parser.add_argument("--no-accuracy-check", action="store_true",
                        help="do not fail when the accuracy does not beat the majority baseline (smoke runs)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's own start-up and log lines")
    args = parser.parse_args(argv)
    quiet_startup(args.verbose)
    out = {name: os.path.join(args.output_dir, name) for name in ("keras", "torch", "torch_continued", "keras_final")}
    timings: Dict[str, float] = {}
    shared = ["--max-length", str(args.max_length), "--quiet"]
    if args.max_train_samples:
        shared += ["--max-train-samples", str(args.max_train_samples)]

    def stage(name):
        class Timer:
            def __enter__(self):
                print(f"\n=== {name}", flush=True)
                self.start = time.time()

            def __exit__(self, *exc):
                timings[name] = time.time() - self.start

        return Timer()

    from . import train_seqcls

    with stage("1. Keras model.fit (from scratch, deberta-demo-small)"):
        keras_metrics = train_seqcls.main(["--framework", "keras", "--epochs", str(args.epochs),
                                           "--output-dir", out["keras"], *shared])
    with stage("2. deberta-convert keras -> torch (with parity check)"):
        parity_1 = _parity_from_report(_cli([out["keras"], out["torch"], "--to", "torch", "--force"]))
    with stage("3. evaluate in PyTorch"):
        batches, labels = _test_batches(out["keras"], args)  # tokenised once, fed to every evaluation
        torch_logits = torch_predictions(out["torch"], batches)
        keras_logits = keras_predictions(out["keras"], batches)
        agreement_1 = _agree(keras_logits, torch_logits, "after conversion")
        torch_accuracy = float(np.mean(torch_logits.argmax(-1) == labels))
    with stage("4. continue training in the PyTorch loop"):
        torch_metrics = train_seqcls.main(["--framework", "torch", "--model", out["torch"], "--epochs", "1",
                                           "--max-steps", str(args.torch_steps), "--learning-rate", "1e-4",
                                           "--output-dir", out["torch_continued"], *shared])
    with stage("5. deberta-convert torch -> keras, evaluate in Keras"):
        parity_2 = _parity_from_report(_cli([out["torch_continued"], out["keras_final"], "--to", "tf", "--force"]))
        final_torch_logits = torch_predictions(out["torch_continued"], batches)
        final_keras_logits = keras_predictions(out["keras_final"], batches)
        agreement_2 = _agree(final_torch_logits, final_keras_logits, "after converting back")

    baseline = common.majority_baseline(labels)
    report = {
        "test_examples": int(len(labels)),
        "majority_baseline": baseline,
        "keras_accuracy_after_fit": keras_metrics["eval_accuracy"],
        "torch_accuracy_after_conversion": torch_accuracy,
        "torch_accuracy_after_more_training": float(np.mean(final_torch_logits.argmax(-1) == labels)),
        "keras_accuracy_after_converting_back": float(np.mean(final_keras_logits.argmax(-1) == labels)),
        "parity_check_max_abs_diff": max(parity_1, parity_2),
        "test_logits_keras_vs_torch": agreement_1,
        "test_logits_torch_vs_keras_final": agreement_2,
        "torch_steps": torch_metrics["steps"],
        "seconds_per_stage": {k: round(v, 1) for k, v in timings.items()},
    }
    _print_report(report)
    with open(os.path.join(args.output_dir, "report.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    beaten = min(report["keras_accuracy_after_fit"], report["torch_accuracy_after_more_training"]) > baseline
    if not beaten and not args.no_accuracy_check:
        raise SystemExit("the fine-tuned model does not beat the majority-class baseline")
    return report


def _print_report(r: dict) -> None:
    pct = lambda x: f"{100 * x:5.1f} %"  # noqa: E731
    lines = [
        "",
        "================ deberta-dual demo report ================",
        f"test set: fortunes-topics, {r['test_examples']} quotations, 6 topics",
        f"majority-class baseline                 {pct(r['majority_baseline'])}",
        f"Keras model.fit                         {pct(r['keras_accuracy_after_fit'])}",
        f"  -> converted to PyTorch               {pct(r['torch_accuracy_after_conversion'])}"
        f"   (max |logit diff| {r['test_logits_keras_vs_torch']['max_abs_logit_diff']:.1e})",
        f"PyTorch loop, +{r['torch_steps']:<3d} steps                {pct(r['torch_accuracy_after_more_training'])}",
        f"  -> converted back to Keras            {pct(r['keras_accuracy_after_converting_back'])}"
        f"   (max |logit diff| {r['test_logits_torch_vs_keras_final']['max_abs_logit_diff']:.1e})",
        f"deberta-convert parity checks (both conversions): max |diff| {r['parity_check_max_abs_diff']:.1e}, passed",
        "time per stage:",
        *[f"  {name:55s} {seconds:7.1f} s" for name, seconds in r["seconds_per_stage"].items()],
        "==========================================================",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
