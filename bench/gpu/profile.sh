#!/usr/bin/env bash
# Nsight Compute metrics of the benchmark kernels (on the GPU machine):
# achieved occupancy, what limits it, tensor-pipe and shared-memory use.
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle=${1:-.device}
shift || true
metrics=launch__registers_per_thread,launch__shared_mem_per_block_dynamic,\
launch__occupancy_limit_registers,launch__occupancy_limit_shared_mem,\
launch__occupancy_limit_warps,sm__maximum_warps_per_active_cycle_pct,\
sm__warps_active.avg.pct_of_peak_sustained_active,\
sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,\
sm__inst_executed_pipe_lsu.avg.pct_of_peak_sustained_active,\
l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum,\
smsp__average_warp_latency_issue_stalled_barrier,\
smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,\
smsp__warp_issue_stalled_barrier_per_warp_active.pct,\
smsp__warp_issue_stalled_math_pipe_throttle_per_warp_active.pct,\
smsp__warp_issue_stalled_short_scoreboard_per_warp_active.pct,\
smsp__issue_active.avg.pct_of_peak_sustained_active,\
gpu__time_duration.sum
ncu --metrics "$metrics" --kernel-name regex:attention --csv \
  python3 bench/gpu/ncu_launch.py "$bundle" "$@"
