"""Finds attn_mlir in the build tree when it is not installed."""
import os
import pathlib
import secrets
import sys

import numpy as np
import pytest

try:
    import attn_mlir  # noqa: F401
except ImportError:
    root = pathlib.Path(__file__).resolve().parents[2]
    build = pathlib.Path(os.environ.get("ATTN_BUILD_DIR", root / "build"))
    sys.path.insert(0, str((root / build / "python").resolve()))


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU and driver")


# Fresh data every run; the seed is printed when a test fails.
SEED = secrets.randbits(32)


@pytest.fixture
def rng():
    print(f"seed {SEED}")  # shown when a test fails
    return np.random.default_rng(SEED)
