"""The conversion tests' helpers: fixture copies, weight comparison, tree snapshots (the fixture paths and the
shared configs are in tests/conftest.py)."""

from __future__ import annotations

import os
import pathlib
import shutil
from typing import Dict, List

import numpy as np


def copy_fixture(src: pathlib.Path, dst: pathlib.Path, keep=("config.json", "model.safetensors", "tf_model.h5",
                                                              "pytorch_model.bin")) -> pathlib.Path:
    """A writable copy of a fixture folder (weights + config only)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in keep:
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    return dst


def assert_same_arrays(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray], what: str = "") -> None:
    """Same names, dtypes, shapes and bytes."""
    assert sorted(a) == sorted(b), f"{what}: names differ: only left {sorted(set(a) - set(b))}, only right {sorted(set(b) - set(a))}"
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert x.dtype == y.dtype and x.shape == y.shape, f"{what}: {name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
        assert x.tobytes() == y.tobytes(), f"{what}: {name}: values differ (max |diff| {np.abs(x - y).max()})"


def tree(folder: pathlib.Path) -> Dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) -> its bytes, to prove nothing changed."""
    out = {}
    if not folder.exists():
        return out
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = pathlib.Path(root) / name
            out[str(path.relative_to(folder))] = path.read_bytes()
    return out


def leftovers(parent: pathlib.Path) -> List[str]:
    """Staging folders/files left behind anywhere under ``parent``."""
    return [str(p) for p in parent.rglob("*") if ".deberta-convert-" in p.name or p.name.endswith(".tmp")]


class CLIExit(Exception):
    """deberta-convert exited with a non-zero code; the message is ``exit N: <what it printed on stderr>``."""


def raise_for_exit(proc) -> None:
    """Turn a finished deberta-convert run into CLIExit when it failed, so that a CLI error is a ``bad_input``
    test like any other (the catalogue then shows the exit code and the message). A failure must be one message
    of ours on stderr, never a traceback."""
    if proc.returncode == 0:
        return
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    ours = [i for i, line in enumerate(lines) if line.startswith("deberta-convert: ")]
    # above our message: argparse's usage lines, or TensorFlow's C++ start-up lines (which no setting silences)
    assert ours, proc.stderr
    raise CLIExit(f"exit {proc.returncode}: " + "\n".join(lines[ours[0]:]))


# One interpreter for many deberta-convert runs: each run is ``conversion.cli.main(argv)`` with sys.stdout and
# sys.stderr captured, its exit code what ``sys.exit(main())`` would give. TensorFlow and torch are imported once
# instead of once per run (seconds each); checks about the process itself (``python -m conversion``, which
# frameworks an import pulls in) keep their own subprocess.
_CLI_WORKER = r"""
import contextlib, io, json, sys, traceback
channel = sys.stdout
from conversion.cli import main
for line in sys.stdin:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(json.loads(line))
        except SystemExit as exit:  # argparse: --help (0) and usage errors (2)
            code = exit.code
        except BaseException:
            traceback.print_exc()
            code = 1
        if isinstance(code, str):
            print(code, file=sys.stderr)
            code = 1
    channel.write(json.dumps([0 if code is None else code, out.getvalue(), err.getvalue()]) + "\n")
    channel.flush()
"""


class CLIWorker:
    """A Python process running ``deberta-convert`` command lines one after another (see _CLI_WORKER); ``run``
    returns a ``subprocess.CompletedProcess`` like ``subprocess.run(..., capture_output=True, text=True)``."""

    def __init__(self, env: Dict[str, str]):
        import subprocess
        import sys
        import tempfile

        self._log = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen([sys.executable, "-c", _CLI_WORKER], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)

    def run(self, args: List[str]):
        import json
        import subprocess

        self._proc.stdin.write(json.dumps(args) + "\n")
        self._proc.stdin.flush()
        reply = self._proc.stdout.readline()
        if not reply:
            self._log.seek(0)
            raise RuntimeError(f"the deberta-convert worker died (exit {self._proc.wait()}): {self._log.read()[-3000:]}")
        code, stdout, stderr = json.loads(reply)
        return subprocess.CompletedProcess(["deberta-convert", *args], code, stdout, stderr)

    def close(self) -> None:
        self._proc.stdin.close()
        self._proc.stdout.close()
        try:
            self._proc.wait(timeout=60)
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._log.close()
