"""`make demo` at smoke size: every stage runs, the two frameworks agree, the report is written, and none of
TensorFlow's start-up lines reach the console."""

import json
import pathlib
import subprocess
import sys

from quiet_helpers import tensorflow_startup_lines, user_env

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_demo_smoke(tmp_path):
    env = user_env()  # as `make demo` runs: no TF_CPP_MIN_LOG_LEVEL set
    done = subprocess.run(
        [sys.executable, "-m", "examples.demo", "--epochs", "1", "--max-train-samples", "64", "--torch-steps", "2",
         "--max-length", "32", "--no-accuracy-check", "--output-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "deberta-dual demo report" in done.stdout
    assert tensorflow_startup_lines(done.stdout + done.stderr) == [], done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["test_examples"] == 709
    assert report["torch_accuracy_after_conversion"] == report["keras_accuracy_after_fit"]
    assert report["keras_accuracy_after_converting_back"] == report["torch_accuracy_after_more_training"]
    assert report["parity_check_max_abs_diff"] <= 1e-5
    assert report["torch_steps"] == 2
