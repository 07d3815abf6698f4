"""Distributed training in torch: DDP-averaged gradients equal one process on the combined batch, and the
text-classification script runs under torchrun (2 processes, gloo on CPU), then resumes."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORKER = pathlib.Path(__file__).with_name("ddp_worker.py")
# Two halves reduced by all-reduce vs one batch: float32 summation order only.
ATOL_DDP = 1e-5


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT), USE_TF="0", OMP_NUM_THREADS="1")


def test_ddp_averaged_gradients_equal_single_process_on_combined_batch(tmp_path):
    sys.path.insert(0, str(WORKER.parent))
    import ddp_worker

    config, batch = ddp_worker.fixed_batch()
    model = ddp_worker.build_model(config)
    model(**batch).loss.backward()
    single = ddp_worker.gradients(model)

    out = tmp_path / "grads.npz"
    init = tmp_path / "rendezvous"
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(rank), "2", str(init), str(out)], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in range(2)]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-2000:]
    finally:  # a rank left waiting on a failed peer must not outlive the test
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    averaged = np.load(out)
    assert set(averaged.files) == set(single)
    worst = max(float(np.abs(averaged[name] - single[name]).max()) for name in single)
    assert worst <= ATOL_DDP, worst


def _run(args, **kwargs):
    done = subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


SCRIPT = ["-m", "examples.train_seqcls", "--framework", "torch"]
SMALL = ["--model", "deberta-tiny", "--max-train-samples", "48", "--max-eval-samples", "32", "--max-length", "32",
         "--batch-size", "16", "--quiet"]


def test_train_torch_under_torchrun_two_processes(tmp_path):
    torchrun = pathlib.Path(sys.executable).with_name("torchrun")
    _run([str(torchrun), "--standalone", "--nproc_per_node", "2", *SCRIPT, *SMALL,
          "--epochs", "1", "--output-dir", str(tmp_path)])
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 3  # 48 examples / (16 // 2 per rank * 2 ranks)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "vocab.json").exists()


def test_train_torch_resumes_from_checkpoint(tmp_path):
    _run([sys.executable, *SCRIPT, *SMALL, "--epochs", "1", "--output-dir", str(tmp_path)])
    first = json.loads((tmp_path / "metrics.json").read_text())
    assert first["steps"] == 3
    _run([sys.executable, *SCRIPT, *SMALL, "--epochs", "2", "--resume", "--output-dir", str(tmp_path)])
    second = json.loads((tmp_path / "metrics.json").read_text())
    assert second["steps"] == 6 and [h["epoch"] for h in second["history"]] == [2]
    with pytest.raises(AssertionError, match="no checkpoint"):
        _run([sys.executable, *SCRIPT, *SMALL, "--resume", "--output-dir", str(tmp_path / "none")])
