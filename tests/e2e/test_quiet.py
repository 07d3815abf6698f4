"""Quiet by default: deberta-convert and the training scripts, run as a user runs them (no TF_CPP_MIN_LOG_LEVEL in
the environment), print none of TensorFlow's start-up lines; with -v they are let through. The demo's own test
(test_demo.py) checks `make demo` the same way."""

import pathlib
import re
import subprocess
import sys

import pytest

from quiet_helpers import tensorflow_startup_lines, user_env

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "hf" / "tf_457" / "p3_abs_bertlike__tokcls"
TINY_RUN = ["--model", "deberta-tiny", "--max-train-samples", "16", "--max-eval-samples", "16", "--max-length", "24",
            "--batch-size", "16", "--epochs", "1"]


def _run(args, **env):
    done = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=user_env(**env), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def tensorflow_says_something():
    """Whether TensorFlow prints start-up lines on this machine at all when everything is shown (it does on a CPU-only
    machine: CUDA probing, CPU features); where it does not, only the quiet side can be checked."""
    done = _run(["-c", "import tensorflow as tf; tf.config.list_physical_devices()"], TF_CPP_MIN_LOG_LEVEL="0")
    return bool(tensorflow_startup_lines(done.stderr))


def test_cli_is_quiet_and_verbose_with_v(tmp_path, tensorflow_says_something):
    quiet = _run(["-m", "conversion", FIXTURE, tmp_path / "quiet", "--to", "torch"])
    assert "parity PASSED" in quiet.stdout
    assert tensorflow_startup_lines(quiet.stderr) == [], quiet.stderr
    loud = _run(["-m", "conversion", FIXTURE, tmp_path / "loud", "--to", "torch", "-v"])
    assert "parity PASSED" in loud.stdout
    assert bool(tensorflow_startup_lines(loud.stderr)) == tensorflow_says_something, loud.stderr


def test_cli_leaves_a_level_the_user_set_alone(tmp_path, tensorflow_says_something):
    done = _run(["-m", "conversion", FIXTURE, tmp_path / "out", "--to", "torch"], TF_CPP_MIN_LOG_LEVEL="0")
    assert bool(tensorflow_startup_lines(done.stderr)) == tensorflow_says_something, done.stderr


def test_keras_training_script_is_quiet_and_shows_its_progress(tmp_path):
    done = _run(["-m", "examples.train_seqcls", "--framework", "keras", *TINY_RUN, "--output-dir", tmp_path])
    assert tensorflow_startup_lines(done.stderr) == [], done.stderr
    assert re.search(r"1/1\S* .*loss: ", done.stdout) and "eval accuracy" in done.stdout  # Keras' progress, ours


def test_torch_training_script_is_quiet(tmp_path):
    done = _run(["-m", "examples.train_seqcls", "--framework", "torch", *TINY_RUN, "--output-dir", tmp_path, "--quiet"])
    assert tensorflow_startup_lines(done.stderr) == [], done.stderr
    assert "eval accuracy" in done.stdout
