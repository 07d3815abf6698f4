"""Import isolation: the core imports no framework; each twin imports only its own."""

import subprocess
import sys

import pytest

CASES = [
    ("deberta_core", ["torch", "tensorflow", "keras"]),
    ("deberta_core.tokenizer", ["torch", "tensorflow", "keras", "transformers"]),
    ("deberta_core.weight_map", ["torch", "tensorflow", "keras"]),
    ("deberta_core.weight_plan", ["torch", "tensorflow", "keras"]),
    ("deberta_core.checkpoint_io", ["torch", "tensorflow", "keras"]),
    ("deberta_torch", ["tensorflow", "keras"]),
    ("deberta_tf", ["torch"]),
]


@pytest.mark.parametrize("module, forbidden", CASES, ids=[c[0] for c in CASES])
def test_import_does_not_pull_other_frameworks(module, forbidden):
    script = (
        "import importlib, sys, json;"
        f"importlib.import_module({module!r});"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and f"No module named '{module}'" in done.stderr:
        pytest.fail(f"{module} is missing: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not loaded & set(forbidden), f"importing {module} imported {sorted(loaded & set(forbidden))}"
