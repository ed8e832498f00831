#!/usr/bin/env python3
"""Builds the GPU correctness bundle on the development machine (no GPU).

For every function of every example, in its own dtype and with f16 and bf16
swapped, at awkward sizes for dynamic dimensions (an example may ask for others with
`// gpu-check dims: NAME=SIZE ...`):
  * attn-translate: the cubin (or PTX) and its manifest,
  * attn-run --reference --float64: random inputs (written as .npy) and the
    float64 reference outputs.
test/gpu/check.py then runs the kernels on the GPU through
libattn_runtime.so and compares. Usage:

  test/gpu/prepare.py [--build build] [--out .device] [--chip sm_90]
                      [--only REGEX]
  # on the GPU machine: python3 test/gpu/check.py .device

Every case together exceeds the device tool's 64 MiB carry limit; --only
(a regular expression searched in the case names, e.g. '^linear' or
'^(?!linear)') makes a bundle of some of them.
"""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Sizes of dynamic dimensions: odd, not multiples of any tile.
DIMS = {"B": 3, "Sq": 77, "Skv": 131, "S": 131}
# The diagnostic of specs the GPU kernels do not cover by design (feature
# maps without a per-element form, e.g. Hedgehog).
CPU_ONLY = "has no per-element form for the GPU kernel"


def dims_of(text):
    """DIMS, with the overrides an example asks for in a line
    `// gpu-check dims: Skv=5003 ...` (e.g. enough keys to split)."""
    dims = dict(DIMS)
    for line in re.findall(r"//\s*gpu-check dims:(.*)", text):
        for binding in line.split():
            name, value = binding.split("=")
            dims[name] = int(value)
    return dims


def functions(text):
    return re.findall(r"func\.func\s+@([\w$.]+)", text)


def variants(name, text):
    """The spec as written, and with f16 and bf16 swapped."""
    yield name, text
    if re.search(r"x(b?)f16>", text):
        swapped = re.sub(r"x(b?)f16>",
                         lambda m: "xf16>" if m.group(1) else "xbf16>", text)
        dtype = "bf16" if re.search(r"xbf16>", swapped) else "f16"
        yield f"{name}.{dtype}", swapped


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{result.stderr}")
    return result.stdout


def shrink(case, manifest):
    """Stores f16/bf16 inputs in 16 bits (bf16 as its raw bits, in
    NAME.bf16.npy) and the references as f32, to fit the device's carry
    limit; both are exact for the values involved or far below tolerance."""
    for param in manifest["inputs"]:
        path = case / "inputs" / f"{param['name']}.npy"
        array = np.load(path)
        if param["dtype"] == "f16":
            np.save(path, array.astype(np.float16))
        elif param["dtype"] == "bf16":
            bits = (array.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
            path.unlink()
            np.save(case / "inputs" / f"{param['name']}.bf16.npy", bits)
    for ref in case.glob("ref_*.npy"):
        np.save(ref, np.load(ref).astype(np.float32))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=ROOT / "build", type=pathlib.Path)
    parser.add_argument("--out", default=ROOT / ".device", type=pathlib.Path)
    parser.add_argument("--chip", default="sm_90")
    parser.add_argument("--emit", default="cubin", choices=["cubin", "ptx", "fatbin"])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--only", default="",
                        help="regular expression the case names must contain")
    args = parser.parse_args()
    bin_dir = args.build / "bin"
    out = args.out / "cases"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(args.build / "lib" / "libattn_runtime.so", args.out)

    cases = []
    for example in sorted((ROOT / "examples").glob("*.mlir")):
        text = example.read_text()
        for spec_name, spec_text in variants(example.stem, text):
            for entry in functions(spec_text):
                name = f"{spec_name}.{entry}"
                if not re.search(args.only, name):
                    continue
                case = out / name
                (case / "inputs").mkdir(parents=True)
                spec = case / "spec.mlir"
                spec.write_text(spec_text)
                image = case / f"kernel.{args.emit}"
                translate = subprocess.run(
                    [bin_dir / "attn-translate", spec, f"--emit={args.emit}",
                     "--chip", args.chip, "--entry", entry, "-o", image,
                     "--manifest", case / "manifest.json"],
                    capture_output=True, text=True)
                if translate.returncode and CPU_ONLY in translate.stderr:
                    print(f"{name}: skipped (CPU only: {CPU_ONLY})")
                    shutil.rmtree(case)
                    continue
                if translate.returncode:
                    sys.exit(f"failed: attn-translate {spec} --entry {entry}\n"
                             f"{translate.stderr}")
                manifest = json.loads((case / "manifest.json").read_text())
                cmd = [bin_dir / "attn-run", spec, "--entry", entry, "--random",
                       "--seed", str(args.seed), "--reference", "--float64",
                       "--write-inputs", case / "inputs"]
                cmd += [f"--dim={k}={v}" for k, v in dims_of(text).items()]
                cmd += [f"--output={o['name']}={case / ('ref_' + o['name'] + '.npy')}"
                        for o in manifest["outputs"]]
                run(cmd)
                shrink(case, manifest)
                cases.append({"name": name, "dir": f"cases/{name}",
                              "image": image.name})
    (args.out / "cases.json").write_text(json.dumps(cases, indent=1))
    print(f"prepared {len(cases)} cases in {args.out}")


if __name__ == "__main__":
    main()
