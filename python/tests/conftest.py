"""Finds attn_mlir in the build tree when it is not installed."""
import os
import pathlib
import secrets
import sys

import numpy as np
import pytest

try:
    import attn_mlir
except ImportError:
    root = pathlib.Path(__file__).resolve().parents[2]
    build = pathlib.Path(os.environ.get("ATTN_BUILD_DIR", root / "build"))
    sys.path.insert(0, str((root / build / "python").resolve()))
    import attn_mlir


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU and driver")


# Fresh data every run; the seed is printed when a test fails.
SEED = secrets.randbits(32)


@pytest.fixture
def rng():
    print(f"seed {SEED}")  # shown when a test fails
    return np.random.default_rng(SEED)


def cuda_available():
    """A CUDA GPU, its driver and torch are there (the GPU tests skip
    otherwise)."""
    try:
        import torch
    except ImportError:
        return False
    if not torch.cuda.is_available():
        return False
    try:
        attn_mlir.compile(attn_mlir.Spec(heads=1, head_dim=16), target="cuda")
    except attn_mlir.Error:
        return False
    return True
