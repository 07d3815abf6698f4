"""Shared pytest set-up, once for every test: the fixture paths (tests/fixtures/, never ../shared), and the one
set of tiny configs, variants, tolerances and batch builders, served as fixtures (``tiny_config``,
``tiny_inputs``, ``tiny_labels``) and importable where pytest needs plain values (``parametrize``: ``HEADS``,
``VARIANTS``). Batches are NumPy (deberta_core.batches); torch_helpers / tf_helpers turn them into tensors."""

import os
import pathlib
from typing import Dict, List

import numpy as np
import pytest

from conversion.parity import ATOL_FP32, GRAD_ATOL_FP32
from deberta_core import DebertaConfig
from deberta_core import batches

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
HF_FIXTURES = FIXTURES / "hf"
PT_V5 = HF_FIXTURES / "pt_v5"  # torch checkpoints written by the reference (v5), with expected.npz
TF_457 = HF_FIXTURES / "tf_457"  # tf_model.h5 written by the reference 4.57 TF classes, with expected_tf.npz
PT_BIN = HF_FIXTURES / "pt_457_bin"  # pytorch_model.bin written by the reference 4.57

# Keep the suite's thread use predictable on the 2-core CI machine.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The reference library would otherwise import TensorFlow next to torch in every torch test (slow, noisy).
# Tests that need the reference's TF classes run them in a subprocess with their own environment.
os.environ.setdefault("USE_TF", "0")

# ---------------------------------------------------------------------------------------------------- hypothesis
# Property tests: "ci" (the default, what make test runs) is derandomized, so a run is reproducible and a failure
# is the same failure on every machine; "long" (HYPOTHESIS_PROFILE=long) explores with fresh random draws and
# PROPERTY_LONG_FACTOR times the examples, for a local search before a release. A test whose examples are costly
# sets its own count with ``property_examples(n)``, which scales the same way.
PROPERTY_LONG_FACTOR = 20
_PROPERTY_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
try:
    from hypothesis import HealthCheck, settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
    _hypothesis_settings.register_profile("long", max_examples=60 * PROPERTY_LONG_FACTOR, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
    _hypothesis_settings.load_profile(_PROPERTY_PROFILE)
except ImportError:  # hypothesis is in [dev]; without it only the property tests fail to import
    pass


def property_examples(n: int) -> int:
    """``n`` examples under the "ci" profile, ``n * PROPERTY_LONG_FACTOR`` under "long"."""
    return n * PROPERTY_LONG_FACTOR if _PROPERTY_PROFILE == "long" else n


# ---------------------------------------------------------------------------------------------------- tolerances
# ATOL_FP32 (imported above): same fp32 math, different kernels (SDPA / oneDNN / fused LayerNorm, gather order).
# GRAD_ATOL_FP32: gradients accumulate over more operations (and over the MLM vocabulary).
# Both are the library's named constants (conversion.parity), so the tests and `deberta-convert check` agree.
TOLERANCES = {"ATOL_FP32": ATOL_FP32, "GRAD_ATOL_FP32": GRAD_ATOL_FP32}

# ---------------------------------------------------------------------------------------------------- configs
HEADS = ["DebertaModel", "DebertaForMaskedLM", "DebertaForSequenceClassification",
         "DebertaForTokenClassification", "DebertaForQuestionAnswering"]
# The main output of each head (the first field after the loss).
MAIN_OUTPUT = {"DebertaModel": "last_hidden_state", "DebertaForMaskedLM": "logits",
               "DebertaForSequenceClassification": "logits", "DebertaForTokenClassification": "logits",
               "DebertaForQuestionAnswering": "start_logits"}
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
LABEL_NAMES = ("labels", "start_positions", "end_positions")

# Small enough for the 2-core machine, odd sizes (37) so no dimension hides another. Dropout is on (0.1): tests
# that need it off in training say so.
TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
# Relative attention on/off, c2p / p2c / both, clamping, absolute positions on/off, token types 0/2,
# embedding_size != hidden_size: every condition of the weight map and the attention code.
VARIANTS: Dict[str, dict] = {
    "rel_both": dict(relative_attention=True, pos_att_type="c2p|p2c", position_biased_input=False),
    "rel_c2p_clamp": dict(relative_attention=True, pos_att_type=["c2p"], max_relative_positions=4, type_vocab_size=2),
    "rel_p2c_abs": dict(relative_attention=True, pos_att_type=["p2c"], max_relative_positions=6, hidden_act="gelu_new"),
    "abs_only_types": dict(relative_attention=False, type_vocab_size=2, pooler_hidden_act="tanh", layer_norm_eps=1e-12),
    "embproj": dict(relative_attention=True, pos_att_type="c2p|p2c", embedding_size=16, type_vocab_size=2,
                    position_biased_input=False, max_relative_positions=5),
    "embproj_abs": dict(relative_attention=True, pos_att_type=["c2p"], embedding_size=24, type_vocab_size=2),
}
LENGTHS = (11, 7, 3)  # the default batch: three right-padded rows


def make_config(variant: str = "rel_both", **overrides) -> DebertaConfig:
    return DebertaConfig(**{**TINY, **VARIANTS[variant], **overrides})


def make_inputs(config: DebertaConfig, lengths=LENGTHS, seed: int = 0) -> Dict[str, np.ndarray]:
    """A right-padded NumPy batch (rows of ``lengths`` valid tokens), token types where the config has them."""
    return batches.make_batch(config, "DebertaModel", lengths=lengths, seed=seed, labels=False)


def make_labels(architecture: str, config: DebertaConfig, inputs, seed: int = 1) -> Dict[str, np.ndarray]:
    """The labels of ``architecture``'s loss for ``inputs`` (padding ignored), as NumPy."""
    mask = np.asarray(inputs["attention_mask"])
    rng = np.random.default_rng(seed)
    return batches.make_labels(config, architecture, mask, rng, np.asarray(inputs["input_ids"]))


# ---------------------------------------------------------------------------------------------------- fixtures files
def fixture_names(kind: pathlib.Path) -> List[str]:
    """Model folders of one fixture kind (PT_V5, TF_457, PT_BIN), sorted."""
    return sorted(p.name for p in kind.iterdir() if p.is_dir())


_SUFFIX_HEAD = {"model": "DebertaModel", "mlm": "DebertaForMaskedLM", "seqcls": "DebertaForSequenceClassification",
                "tokcls": "DebertaForTokenClassification", "qa": "DebertaForQuestionAnswering"}


def fixture_architecture(name: str) -> str:
    """``p1_rel_c2p_p2c__seqcls_multilabel`` -> ``DebertaForSequenceClassification``."""
    return _SUFFIX_HEAD[name.split("__")[1].split("_")[0]]


def load_npz(path) -> Dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def split_npz(data) -> tuple:
    """(inputs, labels) of an expected*.npz."""
    return ({k: data[k] for k in INPUT_NAMES if k in data}, {k: data[k] for k in LABEL_NAMES if k in data})


# ---------------------------------------------------------------------------------------------------- interrupted writes
def folder_bytes(folder: pathlib.Path) -> Dict[str, object]:
    """Every entry of ``folder`` (hidden ones too) -> its bytes ("folder" for a folder), to prove a failed write
    changed nothing."""
    return {p.name: p.read_bytes() if p.is_file() else "folder" for p in sorted(folder.iterdir())}


def fail_after_first_write(monkeypatch, writer_class, error: BaseException) -> List[str]:
    """Make ``writer_class.write`` write one tensor, then raise ``error`` (a full disk, Ctrl-C) on the next call;
    returns the list of names written (to prove the failure came mid-write)."""
    real_write, written = writer_class.write, []

    def write_one_then_fail(self, name, array):
        if written:
            raise error
        written.append(name)
        real_write(self, name, array)

    monkeypatch.setattr(writer_class, "write", write_one_then_fail)
    return written


_PAUSE_AFTER = """
import functools, sys, time
def pause_after(owner, name):
    real = getattr(owner, name)
    @functools.wraps(real)
    def write_then_pause(*args, **kwargs):
        result = real(*args, **kwargs)
        print("writing", flush=True)
        time.sleep(120)
        return result
    setattr(owner, name, write_then_pause)
"""


def kill_mid_write(body: str) -> None:
    """Run ``body`` in a fresh Python process (tests/ importable, ``pause_after(owner, "method")`` defined: the
    method does its work, then the process waits) and SIGKILL it as soon as the first patched write is done."""
    import signal
    import subprocess
    import sys

    tests = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")]),
               TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, "-c", _PAUSE_AFTER + body], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing", "the script ended before its first write"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def hf_fixtures() -> pathlib.Path:
    return HF_FIXTURES


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(variant="rel_both", **overrides)``: a DebertaConfig of the shared TINY size and a VARIANT."""
    return make_config


@pytest.fixture(scope="session")
def tiny_inputs():
    """``tiny_inputs(config, lengths=(11, 7, 3), seed=0)``: a padded NumPy batch for ``config``."""
    return make_inputs


@pytest.fixture(scope="session")
def tiny_labels():
    """``tiny_labels(architecture, config, inputs, seed=1)``: the labels of the head's loss, NumPy."""
    return make_labels


# ---------------------------------------------------------------------------------------------------- bad inputs
# Every user error the package detects is a test marked ``bad_input(description, error, fragment)``:
#   description  the bad input, in words ("attention_mask of shape [b, 1]")
#   error        the exception class raised (ValueError, ...), a Warning class (warned), or "log:LEVEL" (logged
#                at that level, e.g. "log:WARNING") for inputs that are accepted but reported
#   fragment     a fragment of the message that must appear in it (matched literally)
# The test runs the bad call inside ``with expect_bad_input():``, so what the catalogue (docs/errors.md,
# generated by tests/error_catalogue.py) says is exactly what the test asserts. On a pytest.param, put the marker
# in ``marks=`` to catalogue each case.
def pytest_addoption(parser):
    parser.addoption("--error-catalogue", default=None, metavar="PATH",
                     help="with --collect-only: write the bad_input tests as JSON rows to PATH")
    parser.addoption("--no-skips", action="store_true",
                     help="a skipped test fails the run (make test: the [dev] venv has every optional dependency, "
                          "so a skip there means an import broke, not that a check does not apply)")


def _skipped_reports(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return list(reporter.stats.get("skipped", [])) if reporter is not None else []


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config.getoption("--no-skips") and _skipped_reports(config):
        terminalreporter.section("skipped tests fail this run (--no-skips)", red=True)
        for report in _skipped_reports(config):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            terminalreporter.line(f"{report.nodeid}: {reason}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if session.config.getoption("--no-skips") and exitstatus == 0 and _skipped_reports(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def bad_input_marker(item):
    marker = item.get_closest_marker("bad_input")
    if marker is None:
        return None
    if len(marker.args) != 3 or marker.kwargs:
        raise pytest.UsageError(f"{item.nodeid}: bad_input takes (description, error, fragment), got {marker.args}")
    description, error, fragment = marker.args
    is_log = isinstance(error, str) and error.startswith("log:")
    if not (is_log or (isinstance(error, type) and issubclass(error, BaseException))):
        raise pytest.UsageError(f"{item.nodeid}: bad_input error must be an exception/warning class or "
                                f"'log:LEVEL', got {error!r}")
    if not isinstance(description, str) or not isinstance(fragment, str) or not description or not fragment:
        raise pytest.UsageError(f"{item.nodeid}: bad_input description and fragment must be non-empty strings")
    return description, error, fragment


def pytest_collection_finish(session):
    path = session.config.getoption("--error-catalogue")
    if not path:
        return
    import json

    rows = []
    for item in session.items:
        found = bad_input_marker(item)
        if found is not None:
            description, error, fragment = found
            rows.append({"test": item.nodeid, "description": description,
                         "error": error if isinstance(error, str) else error.__name__, "fragment": fragment})
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(rows, handle, indent=1)


@pytest.fixture
def expect_bad_input(request, caplog):
    """``with expect_bad_input(): <the bad call>`` asserts what the test's bad_input marker declares."""
    import contextlib
    import logging
    import re

    found = bad_input_marker(request.node)
    if found is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses expect_bad_input without a bad_input marker")
    _, error, fragment = found
    if isinstance(error, str):
        level = getattr(logging, error.split(":", 1)[1])

        @contextlib.contextmanager
        def logged():
            caplog.clear()
            with caplog.at_level(level):
                yield
            messages = [r.getMessage() for r in caplog.records if r.levelno == level]
            assert any(fragment in m for m in messages), \
                f"expected a {logging.getLevelName(level)} log containing {fragment!r}, got {messages}"

        return logged
    if issubclass(error, Warning):
        return lambda: pytest.warns(error, match=re.escape(fragment))
    return lambda: pytest.raises(error, match=re.escape(fragment))
