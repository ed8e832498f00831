"""The package is self-contained: the native module links MLIR and LLVM
statically and the OpenMP runtime is bundled in attn_mlir/lib, so that it
runs where no LLVM is installed (a user's machine, the GPU machine).
scripts/check-wheel runs these tests from a wheel in a fresh virtual
environment."""
import pathlib
import re
import subprocess

import numpy as np

import attn_mlir as am

PACKAGE = pathlib.Path(am.__file__).parent


def mapped_files():
    return {line.split(maxsplit=5)[5].strip() for line in open("/proc/self/maps")
            if len(line.split(maxsplit=5)) == 6 and "/" in line}


def test_a_compiled_kernel_loads_nothing_from_an_llvm_installation(rng):
    q = rng.standard_normal((1, 4, 37, 16)).astype(np.float32)
    k = rng.standard_normal((1, 2, 41, 16)).astype(np.float32)
    v = rng.standard_normal((1, 2, 41, 16)).astype(np.float32)
    # parallel=True: the kernel calls the OpenMP runtime.
    kernel = am.compile(am.Spec(heads=4, kv_heads=2, head_dim=16, dtype="f32",
                                mask=am.causal()), parallel=True)
    o = kernel(q, k, v)
    assert np.isfinite(o).all() and np.abs(o).max() > 0
    files = mapped_files()
    llvm = [f for f in files if re.search(r"/llvm-\d+/|lib(MLIR|LLVM)[.-]", f)]
    assert not llvm, f"loaded from an LLVM installation: {llvm}"
    openmp = [f for f in files if "libomp" in f]
    assert openmp and all(pathlib.Path(f).parent == PACKAGE / "lib" for f in openmp), openmp


def test_the_module_needs_only_system_libraries():
    module = next(PACKAGE.glob("_native*.so"))
    dynamic = subprocess.run(["readelf", "-d", str(module)], check=True,
                             capture_output=True, text=True).stdout
    needed = set(re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic))
    system = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
              "ld-linux-x86-64.so.2", "libz.so.1", "libzstd.so.1"}
    assert needed <= system, needed - system
    assert "RPATH" not in dynamic and "RUNPATH" not in dynamic
