#!/usr/bin/env bash
# On the GPU machine: the correctness check, then the benchmark, from the
# bundle that test/gpu/prepare.py and bench/gpu/prepare.py built here (and
# the wheel's GPU tests when the bundle has one):
#   run(command="bash test/gpu/run.sh .device", carry=[".device"])
# Logs go to $OUT when the device tool sets it.
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle=${1:-.device}
logs=${OUT:-/tmp}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
status=0
python3 test/gpu/check.py "$bundle" 2>&1 | tee "$logs/check.log" || status=1
if [ -d "$bundle/bench" ] && [ "${ATTN_SKIP_BENCH:-0}" != 1 ]; then
  python3 bench/gpu/bench.py "$bundle" 2>&1 | tee "$logs/bench.log" || status=1
fi
if [ -d "$bundle/bench_linear" ] && [ "${ATTN_SKIP_BENCH:-0}" != 1 ]; then
  python3 bench/gpu/bench_linear.py "$bundle" 2>&1 | tee "$logs/bench_linear.log" || status=1
fi
if [ -d "$bundle/bench_decode" ] && [ "${ATTN_SKIP_BENCH:-0}" != 1 ]; then
  python3 bench/gpu/bench_decode.py "$bundle" 2>&1 | tee "$logs/bench_decode.log" || status=1
fi
if [ -d "$bundle/bench_paged" ] && [ "${ATTN_SKIP_BENCH:-0}" != 1 ]; then
  python3 bench/gpu/bench_paged.py "$bundle" 2>&1 | tee "$logs/bench_paged.log" || status=1
fi
if [ -d "$bundle/bench_backward" ] && [ "${ATTN_SKIP_BENCH:-0}" != 1 ]; then
  python3 bench/gpu/bench_backward.py "$bundle" 2>&1 | tee "$logs/bench_backward.log" || status=1
fi
# The Python package's CUDA path, from the self-contained wheel that
# scripts/check-wheel builds (copy build/dist/*.whl to $bundle/wheel): the
# pytest tests marked gpu, against PyTorch on the device.
if ls "$bundle"/wheel/attn_mlir-*.whl >/dev/null 2>&1; then
  site=$(mktemp -d)
  python3 -m pip install --quiet --no-deps --target "$site" "$bundle"/wheel/attn_mlir-*.whl &&
    PYTHONPATH=$site python3 -m pytest -q -m gpu -p no:cacheprovider python/tests 2>&1 |
    tee "$logs/wheel_gpu.log" || status=1
fi
exit "$status"
