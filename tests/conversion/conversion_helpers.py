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
