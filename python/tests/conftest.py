"""Finds attn_mlir in the build tree when it is not installed."""
import os
import pathlib
import sys

try:
    import attn_mlir  # noqa: F401
except ImportError:
    root = pathlib.Path(__file__).resolve().parents[2]
    build = pathlib.Path(os.environ.get("ATTN_BUILD_DIR", root / "build"))
    sys.path.insert(0, str((root / build / "python").resolve()))


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU and driver")
