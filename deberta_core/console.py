"""A quiet console for our entry points (the ``deberta-convert`` CLI, the example scripts, ``make demo``).

TensorFlow prints start-up lines before anything of ours: CUDA probing on a machine without a GPU, the oneDNN
notice, CPU-feature notices. Most come from its native logging before it reads ``TF_CPP_MIN_LOG_LEVEL``, so the
variable alone does not hold them back. ``quiet_startup()`` keeps TensorFlow at errors only unless the user set
``TF_CPP_MIN_LOG_LEVEL``, and ``quiet_startup(verbose=True)`` (``-v``) shows everything.

Only entry points call it, first thing (before TensorFlow is imported); importing this module changes nothing,
and no library module calls it.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from typing import Iterator, List

TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
ERRORS_ONLY = "2"  # TF_CPP_MIN_LOG_LEVEL: 0 all, 1 no INFO, 2 no WARNING, 3 no ERROR
SHOW_ALL = "0"
# The TF_CPP_MIN_LOG_LEVEL value quiet_startup chose, so that a child entry point does not take it for the user's.
LEVEL_CHOSEN_BY_US = "DEBERTA_QUIET_STARTUP_LEVEL"

# A native (absl / glog format) log line: severity, MMDD, time (absl before its initialisation writes
# "00:00:<epoch seconds>"), thread, file:line]
NATIVE_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\]\s]+:\d+\] ")
SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# What absl prints once, before its first line, when TensorFlow logs before initialising absl.
ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# Errors TensorFlow logs while probing for CUDA where there is no usable GPU: start-up noise, not failures.
CUDA_PROBING = ("failed call to cuInit", "Unable to register cuDNN factory", "Unable to register cuFFT factory",
                "Unable to register cuBLAS factory", "could not retrieve CUDA device count")
# A Python-level line that ends a dropped native record's continuation lines.
_PYTHON_LINE = re.compile(r"^(Traceback \(most recent call last\)|\S+:\d+: \w*(Warning|Error)\b)")


def quiet_startup(verbose: bool = False) -> None:
    """Keep TensorFlow's start-up lines off the console, or (``verbose``) let everything through.

    Default: ``TF_CPP_MIN_LOG_LEVEL=2`` (errors only); while ``tensorflow`` is first imported (and its devices
    found), its native INFO/WARNING lines and the CUDA-probing errors of a machine without a GPU are dropped from
    stderr, every other line is passed on. Child processes inherit the level (the demo's deberta-convert runs). When
    the user set ``TF_CPP_MIN_LOG_LEVEL`` themselves, TensorFlow's logging is left to it.

    Args:
        verbose: ``TF_CPP_MIN_LOG_LEVEL=0`` and nothing is filtered (the entry points' ``-v``).
    """
    level = os.environ.get(TF_LOG_LEVEL)
    if level is not None and level != os.environ.get(LEVEL_CHOSEN_BY_US):
        return  # the user's setting
    level = SHOW_ALL if verbose else ERRORS_ONLY
    os.environ[TF_LOG_LEVEL] = os.environ[LEVEL_CHOSEN_BY_US] = level
    if not verbose and "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def drop_startup_lines(text: str) -> str:
    """``text`` (what went to stderr during TensorFlow's start-up) without native INFO/WARNING lines, the
    CUDA-probing errors, absl's preamble and the continuation lines of dropped records."""
    kept: List[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        if line.startswith(ABSL_PREAMBLE):
            continue
        record = NATIVE_LOG_LINE.match(line)
        if record:
            dropping = SEVERITY[record.group(1)] < int(ERRORS_ONLY) or any(noise in line for noise in CUDA_PROBING)
        elif dropping and _PYTHON_LINE.match(line):
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Capture what is written to file descriptor 2 (native code and Python alike) and pass on what
    drop_startup_lines keeps. Without a usable descriptor 2, nothing is captured."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = drop_startup_lines(captured.read().decode("utf-8", errors="replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


class _QuietImport(importlib.abc.MetaPathFinder):
    """One-shot import hook: the first ``import tensorflow`` (wherever it happens) runs inside filtered_stderr,
    with device discovery (where CUDA is probed) in the same window."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


class _FilteredLoader(importlib.abc.Loader):
    def __init__(self, loader) -> None:
        self.loader = loader

    def __getattr__(self, name):  # get_resource_reader, is_package, ...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with filtered_stderr():
            self.loader.exec_module(module)
            module.config.list_physical_devices()
        module.__loader__ = module.__spec__.loader = self.loader
