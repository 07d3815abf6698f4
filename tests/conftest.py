"""Shared pytest set-up: paths to the fixtures shipped in tests/fixtures/ (never ../shared)."""

import os
import pathlib

import pytest

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
HF_FIXTURES = FIXTURES / "hf"

# Keep the suite's thread use predictable on the 2-core CI machine.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The reference library would otherwise import TensorFlow next to torch in every torch test (slow, noisy).
# Tests that need the reference's TF classes run them in a subprocess with their own environment.
os.environ.setdefault("USE_TF", "0")


@pytest.fixture(scope="session")
def hf_fixtures() -> pathlib.Path:
    return HF_FIXTURES
