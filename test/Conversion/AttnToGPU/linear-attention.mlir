// RUN: attn-opt %s --attn-to-gpu=split-kv=never --canonicalize --split-input-file | FileCheck %s
// RUN: attn-opt %s --attn-to-gpu --canonicalize --split-input-file | FileCheck %s --check-prefix=RUNS

// Causal FAVOR+ with decay, GQA, Dv = 96 in two value tiles of 64. The
// seed's weights become a constant global of the kernel's module; 40
// features pad to 64 (16 rows per warp); 66816 bytes of shared memory
// (query and key rows are staged in bf16, as read).
// CHECK-LABEL: func.func @favor
// CHECK-DAG:     %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG:     %[[SMEM:.*]] = arith.constant 66816 : i32
// CHECK-DAG:     %[[B:.*]] = tensor.dim %arg0, %c0
// CHECK-DAG:     %[[SQ:.*]] = tensor.dim %arg0, %[[C2]]
// The results' sizes are the op's reifyResultShapes: (B, Sq) and (B).
// CHECK:         memref.alloc(%{{.*}}, %[[SQ]]) : memref<?x4x?x96xbf16>
// CHECK:         memref.alloc(%{{.*}}) : memref<?x4x40x96xf32>
// CHECK:         gpu.launch_func @attn_kernels::@favor_linear_attention blocks in (%[[C2]], %[[C4]], %[[B]]) threads in (%[[C128]], %{{.*}}, %{{.*}}) dynamic_shared_memory_size %[[SMEM]]
// CHECK-SAME:      memref<?x4x?x32xbf16>, {{.*}}memref<?x2x?x32xbf16>, {{.*}}memref<?x2x?x96xbf16>, {{.*}}memref<4xf32>, {{.*}}memref<?x4x?x96xbf16>, {{.*}}memref<?x4x40x96xf32>
// CHECK:       gpu.module @attn_kernels
// CHECK:         memref.global "private" constant @feature_weights : memref<40x32xf32>
// CHECK:         gpu.func @favor_linear_attention
// CHECK:           memref.get_global @feature_weights : memref<40x32xf32>
// CHECK:           gpu.dynamic_shared_memory
// The loop over chunks of 64 positions carries this warp's state rows.
// CHECK:           scf.for {{.*}} step %c64 iter_args(%{{.*}} = %{{.*}}) -> (vector<1x8x2x2xf32>)
// CHECK:             gpu.barrier
// Features per element, FAVOR+'s projection a loop over D.
// CHECK:             scf.for %{{.*}} = %c0 to %c32 step %c1 iter_args
// CHECK:               math.fma
// CHECK:             math.exp
// CHECK:             nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 16]} : (vector<4x2xbf16>, vector<2x2xbf16>, vector<2x2xf32>) -> vector<2x2xf32>
// Decay powers are exp2(n log2 gamma), not powf.
// CHECK-NOT:       math.powf
// CHECK:           gpu.return

// By default (split-kv=auto) a causal op is the plan of parallel runs: the
// number of runs chosen at launch (2 blocks per multiprocessor over the 2 x
// 4 x B blocks, at most one run per 64-position chunk, at most 64), runs of
// whole chunks; the runs' own states and decays, then their incoming
// states, as f32 workspaces [runs, B, H, ...]; the run-states kernel over
// the runs but the last, the scan over (1, H, B), the outputs over every
// run. One constant global serves both chunk kernels.
// RUNS-LABEL: func.func @favor
// RUNS-DAG:     %[[C2:.*]] = arith.constant 2 : index
// RUNS-DAG:     %[[C4:.*]] = arith.constant 4 : index
// RUNS-DAG:     %[[C64:.*]] = arith.constant 64 : index
// RUNS:         %[[SMS:.*]] = attn.multiprocessor_count : index
// RUNS:         %[[CHUNKS:.*]] = arith.ceildivui %{{.*}}, %[[C64]] : index
// RUNS:         %[[PER:.*]] = arith.ceildivui %{{.*}}, %{{.*}} : index
// RUNS:         %[[LENGTH:.*]] = arith.muli %[[PER]], %[[C64]] : index
// RUNS:         %[[RUNS:.*]] = attn.launch_choice "sequence_runs" %{{.*}} : index
// RUNS:         %[[OWN:.*]] = memref.alloc(%[[RUNS]], %[[B:.*]]) : memref<?x?x4x40x96xf32>
// RUNS:         %[[DECAYS:.*]] = memref.alloc(%[[RUNS]], %[[B]]) : memref<?x?x4xf32>
// RUNS:         %[[INCOMING:.*]] = memref.alloc(%[[RUNS]], %[[B]]) : memref<?x?x4x40x96xf32>
// RUNS:         %[[OTHERS:.*]] = arith.subi %[[RUNS]], %c1
// RUNS:         %[[X1:.*]] = arith.muli %[[OTHERS]], %[[C2]]
// RUNS:         gpu.launch_func @attn_kernels::@favor_linear_run_states blocks in (%[[X1]], %[[C4]], %[[B]])
// RUNS-SAME:      %[[OWN]] : memref<?x?x4x40x96xf32>, %[[DECAYS]] : memref<?x?x4xf32>, %[[LENGTH]] : index)
// RUNS:         gpu.launch_func @attn_kernels::@favor_linear_run_scan blocks in (%c1, %[[C4]], %[[B]])
// RUNS-SAME:      args(%[[OWN]] : memref<?x?x4x40x96xf32>, %[[DECAYS]] : memref<?x?x4xf32>, %[[INCOMING]] : memref<?x?x4x40x96xf32>)
// RUNS:         %[[X3:.*]] = arith.muli %[[RUNS]], %[[C2]]
// RUNS:         gpu.launch_func @attn_kernels::@favor_linear_run_outputs blocks in (%[[X3]], %[[C4]], %[[B]])
// RUNS-SAME:      %[[INCOMING]] : memref<?x?x4x40x96xf32>, %[[LENGTH]] : index)
// RUNS:       gpu.module @attn_kernels
// RUNS:         memref.global "private" constant @feature_weights
// RUNS-NOT:     memref.global
// RUNS:         gpu.func @favor_linear_run_states
// RUNS:           memref.get_global @feature_weights
// The decay across the run, written once per (run, head, batch entry).
// RUNS:           vector.maskedstore %{{.*}} : memref<?x?x4xf32>
// RUNS:         gpu.func @favor_linear_run_outputs
// RUNS:           memref.get_global @feature_weights
// RUNS:         gpu.func @favor_linear_run_scan
// RUNS:           scf.for
// RUNS:             memref.store
// RUNS:             memref.load {{.*}} : memref<?x?x4xf32>
// RUNS:             arith.mulf
// RUNS:             arith.addf
// RUNS:           memref.store

func.func @favor(%q: tensor<?x4x?x32xbf16>, %k: tensor<?x2x?x32xbf16>,
                 %v: tensor<?x2x?x96xbf16>, %gamma: tensor<4xf32>)
    -> (tensor<?x4x?x96xbf16>, tensor<?x4x40x96xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v
      feature_map(#attn.favor<features = 40, seed = 1>) causal
      decay(%gamma : tensor<4xf32>) normalization(none)
      : tensor<?x4x?x32xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?x96xbf16>
      -> tensor<?x4x?x96xbf16>, tensor<?x4x40x96xf32>
  return %o, %s : tensor<?x4x?x96xbf16>, tensor<?x4x40x96xf32>
}

// -----

// Bidirectional relu in f32: tf32 tensor cores; one loop builds the state
// over the keys, a second one writes the outputs.
// CHECK-LABEL: func.func @relu_f32
// By default a non-causal op is a plan too: the state of every key run, their
// sum (the scan's last slot of runs + 1), the outputs of every query run from
// it.
// RUNS-LABEL: func.func @relu_f32
// RUNS:         %[[RUNS:.*]] = attn.launch_choice "sequence_runs" %{{.*}} : index
// RUNS:         %[[OWN:.*]] = memref.alloc(%[[RUNS]]) : memref<?x1x2x16x16xf32>
// RUNS:         %[[SLOTS:.*]] = arith.addi %[[RUNS]], %c1 : index
// RUNS:         %[[TOTAL:.*]] = memref.alloc(%[[SLOTS]]) : memref<?x1x2x16x16xf32>
// RUNS:         gpu.launch_func @attn_kernels::@relu_f32_linear_run_states blocks in (%[[RUNS]], %c2, %c1)
// RUNS-SAME:      %[[OWN]] : memref<?x1x2x16x16xf32>
// RUNS:         gpu.launch_func @attn_kernels::@relu_f32_linear_run_scan blocks in (%c1, %c2, %c1)
// RUNS:         gpu.launch_func @attn_kernels::@relu_f32_linear_run_outputs blocks in (%[[RUNS]], %c2, %c1)
// RUNS-SAME:      %[[TOTAL]] : memref<?x1x2x16x16xf32>
// CHECK:         gpu.launch_func @attn_kernels::@relu_f32_linear_attention
// CHECK:       gpu.func @relu_f32_linear_attention
// CHECK-NOT:     memref.get_global
// CHECK:         scf.for {{.*}} iter_args({{.*}}) -> (vector<1x2x2x2xf32>)
// CHECK:           nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 4], tf32Enabled}
// CHECK:         scf.for
// CHECK:           nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 4], tf32Enabled}
// CHECK:           vector.maskedstore
func.func @relu_f32(%q: tensor<1x2x10x16xf32>, %k: tensor<1x2x30x16xf32>,
                    %v: tensor<1x2x30x16xf32>) -> tensor<1x2x10x16xf32> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.relu)
      : tensor<1x2x10x16xf32>, tensor<1x2x30x16xf32>, tensor<1x2x30x16xf32>
      -> tensor<1x2x10x16xf32>
  return %o : tensor<1x2x10x16xf32>
}

// -----

// 1 + 32 + 32^2 = 1057 Taylor features with a decay fit one block's shared
// memory in the one kernel (1 warp), not with the f32 state the runs'
// kernels also stage: split-kv=auto keeps the one kernel.
// CHECK-LABEL: func.func @taylor_decay_fallback
// CHECK:         gpu.launch_func @attn_kernels::@taylor_decay_fallback_linear_attention
// RUNS-LABEL: func.func @taylor_decay_fallback
// RUNS-NOT:     attn.launch_choice
// RUNS:         gpu.launch_func @attn_kernels::@taylor_decay_fallback_linear_attention blocks in ({{.*}}) threads in (%c32,
// RUNS-NOT:     gpu.launch_func
// RUNS:         return
func.func @taylor_decay_fallback(%q: tensor<1x2x?x32xbf16>, %k: tensor<1x2x?x32xbf16>,
                                 %v: tensor<1x2x?x16xbf16>, %gamma: tensor<2xf32>)
    -> tensor<1x2x?x16xbf16> {
  %o = attn.linear_attention %q, %k, %v feature_map(#attn.taylor<order = 2>)
      causal decay(%gamma : tensor<2xf32>)
      : tensor<1x2x?x32xbf16>, tensor<1x2x?x32xbf16>, tensor<1x2x?x16xbf16>
      -> tensor<1x2x?x16xbf16>
  return %o : tensor<1x2x?x16xbf16>
}
