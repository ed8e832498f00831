#!/usr/bin/env bash
# On the GPU machine: the correctness check, then the benchmark, from the
# bundle that test/gpu/prepare.py and bench/gpu/prepare.py built here:
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
exit "$status"
