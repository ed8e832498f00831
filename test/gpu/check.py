#!/usr/bin/env python3
"""Runs the bundle test/gpu/prepare.py made on a GPU and compares every
output with its float64 reference. Needs torch (for device memory) and a
CUDA driver; the kernels are loaded and launched by libattn_runtime.so, the
runtime C++ hosts use, through its C interface.

  python3 test/gpu/check.py .device     # exit 1 if any case fails

Outputs are poisoned (NaN) before each launch, so an element the kernel
leaves unwritten fails the check. Relative error: max |got - ref| / max |ref|
(inf = inf counts as equal), as attn-run --check computes it.
"""
import ctypes
import json
import pathlib
import sys

import numpy as np
import torch

TORCH_DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16,
                "f32": torch.float32, "f64": torch.float64, "i1": torch.bool,
                "i8": torch.int8, "i32": torch.int32, "i64": torch.int64}
# Relative tolerances by input type: bf16 1e-2 (the bound; 8-bit
# mantissa outputs), f16 2e-3 (as attn-run --check), f32 5e-3: f32 runs on
# tf32 tensor cores, which read 10 bits of mantissa.
TOLERANCE = {"bf16": 1e-2, "f16": 2e-3, "f32": 5e-3, "f64": 1e-9}


class AttnTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_char_p),
                ("rank", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64))]


class Runtime:
    """libattn_runtime.so through ctypes."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(str(path))
        self.lib.attn_last_error.restype = ctypes.c_char_p
        self.lib.attn_kernel_load.restype = ctypes.c_void_p
        self.lib.attn_kernel_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                              ctypes.c_int]
        self.lib.attn_kernel_launch.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(AttnTensor), ctypes.c_int32,
            ctypes.POINTER(AttnTensor), ctypes.c_int32, ctypes.c_void_p]
        self.lib.attn_kernel_free.argtypes = [ctypes.c_void_p]

    def error(self):
        return self.lib.attn_last_error().decode()

    def load(self, image, manifest):
        handle = self.lib.attn_kernel_load(str(image).encode(),
                                           str(manifest).encode(), 0)
        if not handle:
            raise RuntimeError(self.error())
        return Kernel(self, handle, json.loads(pathlib.Path(manifest).read_text()))


class Kernel:
    def __init__(self, runtime, handle, manifest):
        self.runtime, self.handle, self.manifest = runtime, handle, manifest
        self._keep = []

    def _tensors(self, tensors, params):
        array = (AttnTensor * len(tensors))()
        for slot, t, p in zip(array, tensors, params):
            shape = (ctypes.c_int64 * t.dim())(*t.shape)
            self._keep.append(shape)
            slot.data = t.data_ptr()
            slot.dtype = p["dtype"].encode()
            slot.rank = t.dim()
            slot.shape = shape
        return array

    def prepare(self, inputs, outputs):
        """Packs the arguments once; the returned callable launches."""
        ins = self._tensors(inputs, self.manifest["inputs"])
        outs = self._tensors(outputs, self.manifest["outputs"])
        lib = self.runtime.lib

        def launch():
            stream = torch.cuda.current_stream().cuda_stream
            if lib.attn_kernel_launch(self.handle, ins, len(inputs), outs,
                                      len(outputs), stream):
                raise RuntimeError(self.runtime.error())
        return launch


def load_input(case_dir, param):
    base = case_dir / "inputs" / param["name"]
    dtype = TORCH_DTYPES[param["dtype"]]
    if param["dtype"] == "bf16":
        bits = np.load(f"{base}.bf16.npy").astype(np.int32) << 16
        return torch.from_numpy(bits.view(np.float32)).to(dtype).cuda()
    return torch.from_numpy(np.load(f"{base}.npy")).to(dtype).cuda()


def relative_error(got, ref):
    got, ref = got.double(), ref.double()
    both_inf = torch.isinf(ref) & (got == ref)
    got = torch.where(both_inf, 0.0, got)
    ref = torch.where(both_inf, 0.0, ref)
    if not (torch.isfinite(got).all() and torch.isfinite(ref).all()):
        return float("inf")
    diff = (got - ref).abs().max().item() if got.numel() else 0.0
    if diff == 0:
        return 0.0
    return diff / max(ref.abs().max().item(), sys.float_info.min)


def main():
    bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".device")
    runtime = Runtime(bundle / "libattn_runtime.so")
    cases = json.loads((bundle / "cases.json").read_text())
    print(f"device: {torch.cuda.get_device_name()}")
    failures = 0
    for case in cases:
        case_dir = bundle / case["dir"]
        try:
            kernel = runtime.load(case_dir / case["image"],
                                  case_dir / "manifest.json")
            m = kernel.manifest
            inputs = [load_input(case_dir, p) for p in m["inputs"]]
            refs = [torch.from_numpy(np.load(case_dir / f"ref_{p['name']}.npy"))
                    for p in m["outputs"]]
            outputs = [torch.full(r.shape, float("nan"),
                                  dtype=TORCH_DTYPES[p["dtype"]], device="cuda")
                       for r, p in zip(refs, m["outputs"])]
            kernel.prepare(inputs, outputs)()
            torch.cuda.synchronize()
            worst = []
            ok = True
            for p, got, ref in zip(m["outputs"], outputs, refs):
                tol = TOLERANCE[m["inputs"][0]["dtype"]]
                err = relative_error(got.cpu(), ref)
                ok &= err <= tol
                worst.append(f"{p['name']} {err:.2e}")
            status = "ok" if ok else "FAILED"
            failures += not ok
            shape = "x".join(map(str, inputs[0].shape))
            print(f"{case['name']:42s} {m['inputs'][0]['dtype']:5s} q {shape:16s} "
                  f"{', '.join(worst):32s} {status}")
        except Exception as e:  # one broken case must not hide the others
            failures += 1
            print(f"{case['name']:42s} ERROR {e}")
    print(f"{len(cases) - failures}/{len(cases)} cases passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
