"""deberta_core.console: which start-up lines are dropped, and the TF_CPP_MIN_LOG_LEVEL rules (no TensorFlow
import here: tests/e2e/test_quiet.py runs the entry points)."""

import os
import subprocess
import sys

from deberta_core.console import drop_startup_lines

# Lines as TensorFlow 2.21 writes them on a CPU-only machine (absl format, before absl is initialised).
STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796049226.346466   12924 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
I0000 00:00:1796049226.346823   12924 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796049226.404339   12924 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
W0000 00:00:1796049226.404400   12924 some_op.cc:12] a warning
E0000 00:00:1796049229.197324   12924 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""
REAL_ERROR = "E0512 10:11:12.123456   12924 op_kernel.cc:1830] OP_REQUIRES failed at whatever: INVALID_ARGUMENT\n"
PYTHON_WARNING = "/x/y.py:3: UserWarning: something of ours\n  warnings.warn('something of ours')\n"


def test_startup_noise_is_dropped_and_everything_else_kept():
    assert drop_startup_lines(STARTUP) == ""
    assert drop_startup_lines(STARTUP + REAL_ERROR) == REAL_ERROR  # a real error passes
    # A Python warning after a dropped record is not taken for its continuation.
    assert drop_startup_lines(STARTUP + PYTHON_WARNING) == PYTHON_WARNING
    assert drop_startup_lines("plain text\n") == "plain text\n"


def _env_after(code: str, **env) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DEBERTA_QUIET_STARTUP_LEVEL")}
    done = subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_levels_the_user_set_are_kept_and_children_inherit_ours():
    show = ("import os, sys; from deberta_core.console import quiet_startup; quiet_startup({}); "
            "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), type(sys.meta_path[0]).__name__)")
    assert _env_after(show.format("")) == "2 _QuietImport"
    assert _env_after(show.format("verbose=True")).startswith("0 ")
    assert _env_after(show.format(""), TF_CPP_MIN_LOG_LEVEL="1").split()[0] == "1"  # the user's
    assert _env_after(show.format("verbose=True"), TF_CPP_MIN_LOG_LEVEL="3").split()[0] == "3"
    # A child entry point run by one of ours (the demo runs deberta-convert) may choose again.
    assert _env_after(show.format("verbose=True"), TF_CPP_MIN_LOG_LEVEL="2",
                      DEBERTA_QUIET_STARTUP_LEVEL="2").split()[0] == "0"


def test_importing_the_packages_changes_nothing():
    code = ("import os, sys; import deberta_core.console, conversion.cli, examples.common, deberta_torch; "
            "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), any(type(f).__name__ == '_QuietImport' for f in sys.meta_path))")
    assert _env_after(code) == "None False"
