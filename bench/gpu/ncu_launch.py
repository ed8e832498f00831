#!/usr/bin/env python3
"""Launches each benchmark kernel once, for a profiler (Nsight Compute) to
measure: achieved occupancy, tensor-pipe utilization and what limits the
kernel.

  ncu --metrics ... python3 bench/gpu/ncu_launch.py .device [name.dD ...]

(Not named profile.py: that would shadow the standard library module
which torch imports.)
  bash bench/gpu/profile.sh .device      # the metrics the notes quote
"""
import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "test" / "gpu"))
from check import Runtime  # noqa: E402
from bench import document_ids, load_case  # noqa: E402


def main():
    bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".device")
    wanted = set(sys.argv[2:])
    runtime = Runtime(bundle / "libattn_runtime.so")
    docs = document_ids()
    for case in json.loads((bundle / "bench" / "cases.json").read_text()):
        label = f"{case['name']}.d{case['d']}"
        if wanted and label not in wanted:
            continue
        *_, launch = load_case(runtime, bundle, case, docs)
        launch()
        torch.cuda.synchronize()
        print(f"launched {label}", flush=True)


if __name__ == "__main__":
    main()
