"""What a TensorFlow start-up line looks like (written independently of deberta_core.console, which the tests
check), and the environment of a user who set no TensorFlow variable."""

import os
import pathlib
import re
from typing import List

ROOT = pathlib.Path(__file__).resolve().parents[2]
# A native log line (absl / glog: severity + MMDD + time), absl's preamble, and the notices TensorFlow prints at
# start-up (oneDNN, CUDA probing, CPU features).
STARTUP_LINE = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d|absl::InitializeLog|oneDNN custom operations|cuda|cuInit|TensorFlow binary is optimized",
    re.IGNORECASE,
)


def tensorflow_startup_lines(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if STARTUP_LINE.search(line)]


def user_env(**extra) -> dict:
    """os.environ without what the test session sets for itself (tests/conftest.py sets TF_CPP_MIN_LOG_LEVEL),
    with the repository importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DEBERTA_QUIET_STARTUP_LEVEL")}
    return {**env, "PYTHONPATH": str(ROOT), **extra}
