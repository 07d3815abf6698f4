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
