"""Running the shipped scripts as a user does, in a subprocess from the repository root: one environment and one
runner for every end-to-end test."""

import os
import pathlib
import subprocess
import sys
from typing import Optional, Sequence

ROOT = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT_S = 600
# A refused flag is caught before any model is built.
REFUSAL_TIMEOUT_S = 120


def script_env(threads: Optional[int] = 1) -> dict:
    """os.environ with the repository importable and TensorFlow's native logging at warnings; ``threads`` intra-op
    threads per process (1: several scripts may run at once; None: as the environment says)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run(command: Sequence[str], timeout: float = TIMEOUT_S, threads: Optional[int] = 1) -> subprocess.CompletedProcess:
    """Run ``command`` and require exit status 0 (the failure shows the ends of both streams)."""
    done = subprocess.run([str(part) for part in command], cwd=ROOT, env=script_env(threads), capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def run_module(module: str, *args: str, timeout: float = TIMEOUT_S,
               threads: Optional[int] = 1) -> subprocess.CompletedProcess:
    """``python -m module args``, required to succeed."""
    return run([sys.executable, "-m", module, *args], timeout=timeout, threads=threads)


def refusal(module: str, *args: str) -> str:
    """``python -m module args``, required to fail; its stderr."""
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=script_env(), capture_output=True,
                          text=True, timeout=REFUSAL_TIMEOUT_S)
    assert done.returncode != 0, f"{module} {' '.join(args)} exited 0:\n{done.stdout[-2000:]}"
    return done.stderr
