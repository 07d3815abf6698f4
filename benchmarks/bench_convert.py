"""Wall time and peak memory of converting a deberta-base-sized checkpoint, both directions, against its size.

Run: ``python -m benchmarks.bench_convert`` (``--keep DIR`` keeps the files; ``--no-check-run`` skips the run
with the parity check). A random deberta-base-shaped checkpoint (vocab 50265, hidden 768, 12 layers, relative
attention c2p|p2c, MaskedLM head: ~139M parameters, ~0.56 GB of float32) is written once with NumPy (no
framework); each conversion then runs in a fresh subprocess so its peak RSS (``VmHWM``) is its own. The
interpreter's RSS after imports and before converting is reported too, so ``peak_rss - base_rss`` is what the
conversion itself held. The streaming safetensors <-> h5 paths should hold about one tensor (the 154 MB word
embeddings), well under the model size; ``.keras`` and the parity check build whole models (one copy per
framework).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np

ARCHITECTURE = "DebertaForMaskedLM"
# deberta-base's shape (microsoft/deberta-base config.json), with the reference's MLM head naming.
BASE_CONFIG = dict(
    vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
    max_position_embeddings=512, relative_attention=True, pos_att_type="c2p|p2c", max_relative_positions=-1,
    position_biased_input=False, type_vocab_size=0, architectures=[ARCHITECTURE],
)
SEED = 0

# (name, source sub-folder, --to, extra options); each runs in its own process.
CASES = [
    ("safetensors -> tf_model.h5", "pt", "tf", ["--no-check"]),
    ("tf_model.h5 -> safetensors", "tf", "torch", ["--no-check"]),
    ("safetensors -> model.keras", "pt", "keras", ["--no-check"]),
    ("safetensors -> tf_model.h5 + parity check", "pt", "tf", ["--check"]),
]

# Peak RSS from /proc/self/status VmHWM (per address space, so reset by exec; ru_maxrss on Linux survives exec
# and would report the parent's peak); ru_maxrss where /proc is missing.
_CHILD = r"""
import json, resource, sys, time
def peak_rss():
    try:
        with open("/proc/self/status") as handle:
            return next(int(l.split()[1]) * 1024 for l in handle if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
import conversion.convert, conversion.parity, h5py, safetensors, numpy  # the imports every run pays
base = peak_rss()
from conversion.cli import main
start = time.perf_counter()
code = main(sys.argv[1:] + ["--quiet"])
wall = time.perf_counter() - start
peak = peak_rss()
print("BENCH " + json.dumps({"exit": code, "wall_s": wall, "base_rss": base, "peak_rss": peak}))
"""


def write_random_checkpoint(folder: str) -> Dict[str, Any]:
    """A deberta-base-shaped MaskedLM checkpoint (config.json + model.safetensors) from seeded NumPy weights."""
    from deberta_core.checkpoint_io import SafetensorsStreamWriter
    from deberta_core import DebertaConfig
    from deberta_core.weight_map import expand

    os.makedirs(folder, exist_ok=True)
    config = DebertaConfig(**BASE_CONFIG)
    config.save_pretrained(folder)
    entries = expand(config, ARCHITECTURE)
    rng = np.random.default_rng(SEED)
    writer = SafetensorsStreamWriter(os.path.join(folder, "model.safetensors"),
                                     [(e.torch_key, e.torch_shape, np.dtype("float32")) for e in entries])
    for e in entries:  # one tensor in memory at a time
        writer.write(e.torch_key, (rng.standard_normal(e.torch_shape, dtype=np.float32) * 0.02))
    writer.close()
    params = int(sum(np.prod(e.torch_shape) for e in entries))
    return {"parameters": params, "size_bytes": os.path.getsize(os.path.join(folder, "model.safetensors"))}


def _run_case(src: str, dst: str, to: str, extra: List[str]) -> Dict[str, Any]:
    # TF_ENABLE_ONEDNN_OPTS=0: what deberta-convert sets before it imports TensorFlow (plain fp32 kernels for the
    # parity check); set here because the child imports TensorFlow before it calls the CLI.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    proc = subprocess.run([sys.executable, "-c", _CHILD, src, dst, "--to", to, *extra],
                          capture_output=True, text=True, env=env)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("BENCH ")), None)
    if line is None or proc.returncode != 0:
        raise RuntimeError(f"conversion {src} -> {dst} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
    result = json.loads(line[6:])
    result["output_bytes"] = sum(os.path.getsize(os.path.join(dst, f)) for f in os.listdir(dst))
    return result


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", default=None, help="work in this folder and keep the files")
    parser.add_argument("--no-check-run", action="store_true", help="skip the run that includes the parity check")
    parser.add_argument("--no-keras", action="store_true", help="skip the .keras run (needs TensorFlow)")
    args = parser.parse_args(argv)
    work = args.keep or tempfile.mkdtemp(prefix="bench_convert_")
    try:
        start = time.perf_counter()
        model = write_random_checkpoint(os.path.join(work, "pt"))
        model["write_random_s"] = time.perf_counter() - start
        results: Dict[str, Any] = {"model": {**model, "architecture": ARCHITECTURE, **{
            k: BASE_CONFIG[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers")}}, "runs": {}}
        # the h5 source of the second case is the output of the first
        outputs = {"pt": os.path.join(work, "pt")}
        for name, src_key, to, extra in CASES:
            if args.no_check_run and "--check" in extra or args.no_keras and to == "keras":
                continue
            dst = os.path.join(work, f"out_{len(results['runs'])}_{to}")
            shutil.rmtree(dst, ignore_errors=True)
            run = _run_case(outputs[src_key], dst, to, extra)
            if to == "tf" and "tf" not in outputs:
                outputs["tf"] = dst
            size = model["size_bytes"]
            run.update(peak_rss_over_model_size=run["peak_rss"] / size,
                       conversion_rss_over_model_size=(run["peak_rss"] - run["base_rss"]) / size,
                       throughput_mb_s=size / 1e6 / run["wall_s"])
            results["runs"][name] = run
        return results
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def suite(quick: bool = False) -> Dict[str, Any]:
    """What `make bench` runs (in a worker process of its own, each conversion in a child of it); ``quick``
    skips the run with the parity check."""
    return main(["--no-check-run"] if quick else [])


def _report(results: Dict[str, Any]) -> str:
    model = results["model"]
    lines = [f"model: {ARCHITECTURE}, {model['parameters'] / 1e6:.1f}M parameters, "
             f"{model['size_bytes'] / 1e6:.0f} MB on disk (float32)"]
    lines.append(f"{'case':<44} {'wall s':>7} {'MB/s':>6} {'base RSS MB':>11} {'peak RSS MB':>11} "
                 f"{'(peak-base)/size':>16}")
    for name, run in results["runs"].items():
        lines.append(f"{name:<44} {run['wall_s']:>7.2f} {run['throughput_mb_s']:>6.0f} {run['base_rss'] / 1e6:>11.0f} "
                     f"{run['peak_rss'] / 1e6:>11.0f} {run['conversion_rss_over_model_size']:>16.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    outcome = main()
    print(_report(outcome))
    print(json.dumps(outcome, indent=2))
