"""The suite's own options: ``--no-skips`` (make test) turns a skipped test into a failed run."""

import os
import shutil
import subprocess
import sys

SAMPLE = '''
import pytest

def test_needs_a_missing_module():
    pytest.importorskip("a_module_that_is_not_installed")

def test_plain():
    pass
'''


def _run(tmp_path, *options):
    shutil.copy(os.path.join(os.path.dirname(__file__), "conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, "test_sample.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_no_skips_fails_a_run_with_a_skip_and_names_it(tmp_path):
    strict = _run(tmp_path, "--no-skips")
    assert strict.returncode == 1, strict.stdout
    assert "test_sample.py::test_needs_a_missing_module" in strict.stdout
    assert "a_module_that_is_not_installed" in strict.stdout
    assert _run(tmp_path).returncode == 0  # without the option a skip is a skip


def test_make_test_runs_with_no_skips():
    with open(os.path.join(os.path.dirname(__file__), "..", "Makefile"), encoding="utf-8") as handle:
        assert "pytest -q --no-skips" in handle.read()
