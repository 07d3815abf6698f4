"""`make pretrain`: pretrain a small DeBERTa with the Enhanced Mask Decoder on the fortunes text, then fine-tune
fortunes-topics classification from that checkpoint and from scratch (same preset, steps, seed and data), and
report both accuracies. Offline; every step is one of the example scripts, run as a subprocess:

    python -m examples.pretrain_mlm --framework F --enhanced-mask-decoder ... --output-dir OUT/mlm
    python -m examples.train_seqcls --framework F --model OUT/mlm ...   --output-dir OUT/from-pretrained
    python -m examples.train_seqcls --framework F --model PRESET ...    --output-dir OUT/from-scratch

Writes OUT/comparison.json and prints a table. Sizes are flags, so a bigger run is one command line away.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import List

from deberta_core.console import quiet_startup

from . import common


def _run(command: List[str]) -> dict:
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        raise SystemExit(f"step failed (exit {done.returncode}): {' '.join(command)}")
    return common.parse_result(done.stdout)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--framework", choices=common.FRAMEWORKS, default="torch")
    parser.add_argument("--model", default=common.DEFAULT_PRESET, help="the preset both runs start from")
    parser.add_argument("--pretrain-steps", type=int, default=200)
    parser.add_argument("--pretrain-learning-rate", type=float, default=1e-3)
    parser.add_argument("--finetune-steps", type=int, default=100)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default=os.path.join("runs", "pretrain"))
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    quiet_startup(args.verbose)
    for name in ("pretrain_steps", "finetune_steps", "max_length"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    python, out, seed = sys.executable, args.output_dir, ["--seed", str(args.seed), "--quiet"]
    pretrained = os.path.join(out, "mlm")
    mlm = _run([python, "-m", "examples.pretrain_mlm", "--framework", args.framework, "--enhanced-mask-decoder",
                "--model", args.model, "--max-length", str(args.max_length), "--epochs", "100",
                "--max-steps", str(args.pretrain_steps), "--learning-rate", str(args.pretrain_learning_rate),
                "--output-dir", pretrained, *seed])
    finetune = [python, "-m", "examples.train_seqcls", "--framework", args.framework, "--max-length",
                str(args.max_length), "--epochs", "100", "--max-steps", str(args.finetune_steps), *seed]
    scores = {}
    for name, start in (("from-pretrained", pretrained), ("from-scratch", args.model)):
        scores[name] = _run([*finetune, "--model", start, "--output-dir", os.path.join(out, name)])
    comparison = {
        "framework": args.framework, "preset": args.model, "seed": args.seed, "max_length": args.max_length,
        "pretrain": {"steps": mlm["steps"], "seconds": mlm["seconds"], **{k: mlm[k] for k in mlm if
                     k.startswith(("eval_", "unigram_"))}},
        "finetune_steps": args.finetune_steps,
        **{name: {"accuracy": r["eval_accuracy"], "seconds": r["seconds"]} for name, r in scores.items()},
        "majority_baseline": scores["from-scratch"].get("majority_baseline"),
    }
    common.write_json(os.path.join(out, "comparison.json"), comparison)
    print(f"\npretraining ({mlm['steps']} steps, enhanced mask decoder): held-out masked accuracy "
          f"{mlm['eval_masked_accuracy']:.3f}, loss {mlm['eval_mlm_loss']:.3f} (unigram baseline "
          f"{mlm['unigram_masked_accuracy']:.3f} / {mlm['unigram_mlm_loss']:.3f})")
    print(f"fine-tuning fortunes-topics, {args.finetune_steps} steps: from pretrained "
          f"{comparison['from-pretrained']['accuracy']:.4f}, from scratch {comparison['from-scratch']['accuracy']:.4f}, "
          f"majority class {comparison['majority_baseline']:.4f}")
    return comparison


if __name__ == "__main__":
    main()
