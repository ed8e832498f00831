//===- Passes.td - attn passes -----------------------------*- tablegen -*-===//

#ifndef ATTN_PASSES_TD
#define ATTN_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnDecompose : Pass<"attn-decompose"> {
  let summary = "Lower attn ops to linalg on tensors with the full score matrix";
  let description = [{
    The reference semantics: each `attn.attention` becomes linalg ops on
    tensors that materialize the `[B, Hq, Sq, Skv]` score matrix, apply the
    mask through `MaskAttrInterface::buildAllowed`, and normalize with a
    numerically safe softmax (row max subtracted; empty rows give `o = 0`,
    `lse = -inf`). Each `attn.linear_attention` becomes the quadratic form
    `(phi(Q) phi(K)^T * M) V` over the whole sequence (`M` the causal mask
    with its decay), normalized by its row sums, plus what the initial
    state contributes. It is slow by design and is what every kernel is
    checked against.

    Each `attn.merge` becomes a few passes over its partials: the row
    maximum and sum of `exp(lse_i - max)` (reductions over the split axis,
    or elementwise over the list), one weight `exp(lse_i - lse)` per
    partial and row (exactly 0 for an empty partial), and the weighted sum
    of the `o` partials, read once. That form is also the CPU kernel:
    `attn-lower-to-cpu` runs this pass with `ops=attn.merge`.
  }];
  let options = [
    ListOption<"ops", "ops", "std::string",
               "Names of the ops to decompose (default: every attn op)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

def AttnTileFlash : Pass<"attn-tile-flash"> {
  let summary = "Tile attention flash-style: online softmax over key tiles";
  let description = [{
    Rewrites each `attn.attention` into a parallel loop over (batch, query
    head, query tile) and, inside, a loop over key tiles that carries the
    online-softmax state (running row max `m`, running sum `l`, rescaled
    accumulator), so the `[Sq, Skv]` score matrix never exists: only one
    `tile-q x tile-kv` tile of scores at a time.

    The key loop runs over `MaskAttrInterface::buildKvRange` of the query
    tile, and each key tile is classified with `buildTileClass`: empty tiles
    are skipped, full tiles run without any mask code, partial tiles (and the
    last, padded tile) evaluate the mask per element. Masks that read
    run-time data (layouts, segment ids) are classified once per tile from
    that data. Tile sizes shrink to divide the mask's tile granularity (the
    blocks of a block-sparse layout), so that tiles can be classified. Tiles
    are padded to the static tile sizes, so every tile-level op has a static
    shape whatever `B`, `Sq` and `Skv` are. Pointwise
    normalizations (sigmoid, relu) accumulate their weights directly.

    The result is target-independent: `scf.forall`, `scf.for`, `scf.if` and
    linalg ops on tensors, lowered further for the CPU or the GPU.
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", "64", "Query rows per tile">,
    Option<"tileKv", "tile-kv", "int64_t", "64", "Keys per tile">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

def AttnTileFlashBackward : Pass<"attn-tile-flash-backward"> {
  let summary = "Tile the attention backward as FlashAttention-2 does";
  let description = [{
    Rewrites each `attn.attention_backward` (except one whose `grad_bias`
    is of a broadcast bias, which `attn-decompose` takes) into computations
    on tiles that recompute
    the weights from the forward's `lse` instead of holding a `[Sq, Skv]`
    matrix: `delta = rowsum(grad_o * o)` (softmax); a parallel loop over
    (batch, key/value head, key tile) that, for each query head of the
    group, visits the query tiles `MaskAttrInterface::buildQueryRange`
    allows and accumulates `grad_k` and `grad_v`; a parallel loop over
    (batch, query head, query tile) over the key tiles `buildKvRange` allows
    for `grad_q` (its own pass instead of atomics: both loops are parallel
    without synchronization) and, for a bias of one element per score
    `[B, Hq, Sq, Skv]`, `grad_bias`, which it visits once each. Tiles are
    classified in both directions with
    `buildTileClass`: empty ones are skipped, full ones run without mask
    code. The derivatives of score modifiers come from differentiating
    their code (`buildScoreDerivatives`).
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", "64", "Query rows per tile">,
    Option<"tileKv", "tile-kv", "int64_t", "64", "Keys per tile">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def AttnLinearChunked : Pass<"attn-linear-chunked"> {
  let summary = "Lower linear attention chunk by chunk (Lightning Attention-2)";
  let description = [{
    Rewrites each `attn.linear_attention` into a parallel loop over (batch,
    query head) and, inside, loops over chunks of `chunk-size` positions
    (the full chunks, with static shapes, then the rest) that carry the
    state `S` (`[F, Dv]`) and normalizer `z`:

    - causal: each chunk's output is the quadratic form inside the chunk
      (`(phi(Q) phi(K)^T * M) V`, `M` the causal mask with the decay
      `gamma^(i - j)`) plus the state carried in (`gamma^(i + 1) phi(Q) S`);
      then the state takes the chunk's keys. Time is linear in the sequence
      length, with `chunk-size^2` work per chunk.
    - not causal: one loop over key chunks builds the state, a second over
      query chunks applies it.

    Feature maps are applied to one chunk of rows at a time, inside the loop.
    The unit batch and head dimensions of the ops built are then dropped, so
    chunk products are 2-D matrix products (the CPU micro-kernels' form).
    The result is linalg, tensor and scf on tensors, for the CPU pipeline.
  }];
  let options = [
    Option<"chunkSize", "chunk-size", "int64_t", "64",
           "Positions per chunk">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def AttnPromoteToF64 : Pass<"attn-promote-f64", "::mlir::ModuleOp"> {
  let summary = "Compute attention ops in f64 and return f64 results";
  let description = [{
    Rewrites every attn kernel op (`attn.attention`, `attn.linear_attention`)
    whose elements are not f64 to convert its floating-point operands (q, k,
    v, bias, slopes, decay, weights, states) to f64 inside the
    function, compute in f64, and return f64 results; the function's result
    types follow. Inputs keep their types, so the kernel reads exactly the
    data the spec reads. Followed by `attn-reference`, this gives the float64
    reference of a spec.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnReport : Pass<"attn-report"> {
  let summary = "Report mask density and tile classes of attention ops";
  let description = [{
    For every `attn.attention`, emits a remark with the fraction of allowed
    (query, key) pairs and how the `tile-q x tile-kv` tiles of the score
    matrix classify: empty (skipped by kernels), full (computed without mask
    code) and partial (the mask is evaluated per element). Tiles of masks
    that read run-time data (block-sparse layouts, document ids) are
    classified by kernels at run time and counted as such. Dynamic sequence
    lengths take the values of `q-len` / `kv-len`.

    ```
    attn-opt spec.mlir --attn-report="tile-q=128 tile-kv=64"
    ```
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", "64", "Query rows per tile">,
    Option<"tileKv", "tile-kv", "int64_t", "64", "Keys per tile">,
    Option<"qLen", "q-len", "int64_t", "0",
           "Sq to assume when it is dynamic">,
    Option<"kvLen", "kv-len", "int64_t", "0",
           "Skv to assume when it is dynamic">
  ];
}

//===----------------------------------------------------------------------===//
// CPU code generation
//===----------------------------------------------------------------------===//

def AttnCpuMicrokernels : Pass<"attn-cpu-microkernels", "::mlir::func::FuncOp"> {
  let summary = "Register-blocked FMA micro-kernels for small matrix products";
  let description = [{
    Rewrites `linalg.generic` matrix products on static 2-D memrefs, in the
    two forms `C += A . B` and `C += A . B^T` (the score and value products
    of flash tiles), into register-blocked vector code: 4 rows x 16 columns
    of f32 accumulators (two 8-lane vectors per row) stay in registers while
    the reduction loop broadcasts `A` and streams `B`; `B^T` is first
    transposed into a scratch buffer. Edge columns use masked loads and
    stores. Inputs may be f16, bf16 or f32; accumulators are f32. Other ops
    are left to the generic lowering.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def AttnCpuVectorize : Pass<"attn-cpu-vectorize", "::mlir::func::FuncOp"> {
  let summary = "Vectorize the elementwise and row-reduction ops of flash tiles";
  let description = [{
    Tiles every static `linalg.generic` on tensors (except the matrix
    products that `attn-cpu-microkernels` handles) to single rows and
    vectorizes each row with `linalg::vectorize`: the scaling, masking,
    exponentials, row maxima and sums of a tile become vectors along the key
    (or value) dimension, including tile gathers and mask predicates that
    read positions. Ops that do not vectorize stay as they are.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

def AttnCpuStridedCopies : Pass<"attn-cpu-strided-copies", "::mlir::func::FuncOp"> {
  let summary = "Copies between strided views as loops instead of a runtime call";
  let description = [{
    Rewrites each `memref.copy` that the LLVM lowering would not turn into a
    `memcpy` (an operand whose layout is neither the identity nor contiguous
    with a static shape) into a `linalg.copy`, lowered to loops with the
    other linalg ops. The LLVM lowering calls `memrefCopy` from MLIR's C
    runner utilities for those, a shared library that links all of MLIR:
    without the calls a JIT-compiled kernel needs no library but the OpenMP
    runtime, and the Python package carries none. The loops also know the
    element type and rank, which the generic runtime copy does not.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def AttnCpuApproximateMath : Pass<"attn-cpu-approximate-math"> {
  let summary = "Polynomial exp, log and tanh for f32, so that loops vectorize";
  let description = [{
    Replaces f32 `math.exp`, `math.log` and `math.tanh` by MLIR's polynomial
    approximations (a few ulp), which are plain arithmetic: loops that call
    them vectorize, where calls to libm would stay scalar. f64 (reference)
    code keeps the library functions.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::vector::VectorDialect"];
}

//===----------------------------------------------------------------------===//
// GPU code generation
//===----------------------------------------------------------------------===//

def AttnToGPU : Pass<"attn-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Map attention to a fused GPU kernel on tensor cores";
  let description = [{
    Rewrites each `attn.attention` into a `gpu.launch_func` of a kernel in a
    new `gpu.module`, in the FlashAttention-2 shape: one thread block per
    (query tile, query head, batch entry), `warps` warps each owning 16
    query rows. Per key tile, the block stages K and V into (dynamic) shared
    memory with `nvgpu.device_async_copy` (zero-filling rows past `Skv` and
    padding columns); each warp computes its scores with `nvgpu.mma.sync`
    (m16n8k16 for f16/bf16, m16n8k4 tf32 for f32) into f32 register
    fragments, applies the score modifiers and the mask per fragment element
    at its true (query, key) position, runs the online softmax on the
    fragments (row maxima and sums across the four lanes of a row with
    `gpu.shuffle xor`), and accumulates `P V` with a second `mma.sync`
    whose A operand is the score fragment itself. Query fragments stay in
    registers for the whole key loop.

    The key loop is the same mask-aware loop as `attn-tile-flash`: it runs
    over the mask's key range, skips empty tiles, and evaluates the mask in
    partial tiles only. Grid `(ceil(Sq / (16 warps)), Hq, B)`, block
    `32 warps` threads. B, Sq and Skv may be dynamic; D and Dv must be
    multiples of 8, at most 256.

    On the host side the op becomes `bufferization.to_buffer` of its
    operands, `memref.alloc` of its results and the launch; one-shot
    bufferization then gives the function the memref ABI of every backend.

    `attn.attention_backward` becomes FlashAttention-2's backward as a launch
    plan (BackwardToGPU.cpp): `backward_prepare` (delta = rowsum(grad_o * o)
    into an f32 workspace; zeros of the per-score bias gradients), then
    `backward_key_values`, a block per (key tile, key/value head, batch
    entry) whose warps own 16 keys each and loop over the query heads of the
    group and the query tiles the mask allows (S^T, dP^T, dV += P^T grad_o,
    dK += dS^T Q), then `backward_queries` on the forward's grid (dQ += dS K,
    grad_bias at each score), and for a bias with broadcast dimensions
    `backward_bias_reduce`. dq has its own kernel, not atomics: no gradient
    needs an atomic add and the result is deterministic.

    With `chip=sm_90a`, `attn.attention` over dense f16/bf16 tensors (D and
    Dv multiples of 8 up to 256) takes the Hopper family instead: TMA
    (`nvgpu.tma.async.load`, 128-byte swizzle) stages the query tile and a
    two-slot ring of key/value tiles on mbarriers, and each warpgroup (64
    query rows; `warps` rounds up to whole warpgroups) computes Q K^T with
    `attn_gpu.wgmma` from shared-memory descriptors and P V with P from its
    registers; the score function, softmax and epilogue are the mma.sync
    kernel's. The kernel takes the tensor maps of q, k and v after its other
    arguments (the host side builds them with `nvgpu.tma.create.descriptor`).
    One thread issues the copies and every warpgroup computes: there is no
    producer warpgroup yet.
  }];
  let options = [
    Option<"warps", "warps", "int64_t", "4",
           "Warps per block; each owns 16 query rows (the backward's key/value "
           "kernel: 16 keys)">,
    Option<"tileKv", "tile-kv", "int64_t", "64",
           "Keys per shared-memory tile (a multiple of 16)">,
    Option<"chip", "chip", "std::string", "\"sm_90\"",
           "The NVIDIA chip the kernels are for (sm_80, sm_90, sm_90a, ...)">,
    Option<"splitKv", "split-kv", "std::string", "\"auto\"",
           "Split-KV decoding of attn.attention: auto (when the query tiles "
           "cannot fill the GPU: one static query tile), always, never">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::NVVM::NVVMDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::attn::gpu_ops::AttnGpuDialect"
  ];
}

def AttnLowerBf16Mma : Pass<"attn-lower-bf16-mma"> {
  let summary = "Lower bf16 nvgpu.mma.sync to nvvm.mma.sync";
  let description = [{
    MLIR 22's `convert-nvgpu-to-nvvm` lowers `nvgpu.mma.sync` on f16, tf32
    and integers but fails on bf16 ("failed to deduce operand PTX types").
    This pass lowers the bf16 m16n8k16 form with f32 accumulators to
    `nvvm.mma.sync` (operands packed as i32 pairs, as PTX's `mma.sync
    .m16n8k16.row.col.f32.bf16.bf16.f32` takes them); it runs just before
    `convert-nvgpu-to-nvvm`.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnLowerGpuOps : Pass<"attn-lower-gpu-ops", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Lower attn_gpu ops and tensor-map kernel arguments to NVVM";
  let description = [{
    Lowers, in the kernels of a `gpu.module`, what `convert-nvgpu-to-nvvm`
    and `convert-gpu-to-nvvm` cannot:

    - `attn_gpu.wgmma` with A from a descriptor becomes
      `nvvm.wgmma.mma_async` (scale-d, scale-a and scale-b 1), its
      accumulator vector packed into the `!llvm.struct` of N/2 f32 the op
      takes. NVVM prints imm-trans-a = `layoutA` (row 0, col 1) and
      imm-trans-b = 1 - `layoutB`, so K-major operands are A `row` and B
      `col`, and `transpose_a` / `transpose_b` (MN-major) select `col` /
      `row`.
    - `attn_gpu.wgmma` with A in registers becomes `llvm.inline_asm` of
      `wgmma.mma_async.sync.aligned.m64nNk16.f32.T.T {d...}, {a0..a3},
      descB, p, 1, 1, imm-trans-b` (NVVM has no register-A form): the
      accumulators are read-write `f` registers, A's halves are packed in
      pairs into four `r` registers, B's descriptor is an `l` register and
      scale-d a predicate set to true.
    - A `gpu.func` kernel argument of type `!nvgpu.tensormap.descriptor`
      becomes `!llvm.ptr`, cast back to the descriptor at the entry for the
      TMA ops; `convert-nvgpu-to-nvvm` lowers the descriptor to the same
      pointer, so `reconcile-unrealized-casts` removes the casts.

    The kernel ABI for tensor maps: the parameter is the 64-bit generic
    address of a 128-byte `CUtensorMap` (`cuTensorMapEncodeTiled`'s
    result) that the host has put in device memory, 64-byte aligned; the
    map is not passed by value. The pass does not touch host code: a `gpu.launch_func` still
    passing the descriptor type only verifies again once the kernel is an
    `llvm.func` (after `convert-gpu-to-nvvm`). Device functions other than
    kernels must not take tensor maps (an error says so). Runs just before
    `convert-nvgpu-to-nvvm`.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::vector::VectorDialect"];
}

def AttnLowerKernelVectors : Pass<"attn-lower-kernel-vectors"> {
  let summary = "Lower the n-D vector ops convert-gpu-to-nvvm cannot";
  let description = [{
    The kernels hold mma.sync fragments in 2-D and 3-D vectors. After the
    canonicalizer, some of their ops reach `convert-gpu-to-nvvm` in forms
    whose MLIR 22 vector-to-LLVM patterns handle 1-D vectors only: the
    scalar extracts of a whole fragment folded into one
    `vector.to_elements` (lowered to an invalid `llvm.extractelement` on an
    array), and an insert into a vector with unit outer dimensions folded
    into an n-D `vector.broadcast` (left unconverted). This pass applies
    upstream's unrolling of `vector.to_elements` by rows and its lowering
    of `vector.broadcast` to inserts; it runs just before
    `convert-gpu-to-nvvm`.
  }];
  let dependentDialects = ["::mlir::vector::VectorDialect"];
}

def AttnEmulateGPU : Pass<"attn-emulate-gpu", "::mlir::ModuleOp"> {
  let summary = "Run GPU kernels on the CPU, one thread block at a time";
  let description = [{
    Turns each `gpu.launch_func` into loops over the grid that call a CPU
    version of the kernel, and that version executes one whole thread block
    in lock step: every per-thread value of type `T` becomes a vector with
    one lane per thread (`vector<W x T>`; a per-thread `vector<S x T>`
    becomes `vector<S x W x T>`). Barriers are then implied, `gpu.shuffle`
    becomes a lane permutation, and `nvgpu.mma.sync` gathers the warp's
    fragments into matrices following the PTX ISA fragment layouts,
    multiplies them and scatters the result back. Shared memory becomes a
    buffer per block; asynchronous copies complete at once.

    `scf.for` bounds and the conditions of `scf.if` with results must be
    uniform across the block, as in the kernels `attn-to-gpu` builds (the
    emulation asserts it at run time); an `scf.if` without results may
    diverge (each branch runs with its lanes masked).

    In lock step a kernel missing a barrier would still compute the right
    answer, so the emulation checks for shared-memory races: per byte an
    access starts at, it records the lane that wrote it and the lane(s)
    that read it since the last barrier, and stops the program with
    "shared-memory race at LOC" on a read after another lane's write, or a
    write after another lane's read or write. cp.async copies count as
    writes when issued, ldmatrix reads as the receiving lane's.

    It lets the CPU test suite run the exact kernel IR the GPU runs, up to
    the NVVM lowering.

    A small core (lib/Conversion/GPUEmulation/BlockEmulator.h: lane types,
    the value mapping, scf.for/scf.if, lane loops, the race checker) runs
    structured control flow and elementwise ops; every other op has a hook,
    looked up by op name and registered by its op family's file (arith and
    vector, gpu, memory, mma.sync, ldmatrix, cp.async, NVVM). A new family
    is one file and one line in EmulationFamilies.def; an op without a hook
    fails with "cannot emulate this op".
  }];
  let options = [
    Option<"multiprocessors", "multiprocessors", "int64_t", "132",
           "The multiprocessor count that attn.multiprocessor_count stands "
           "for (launch plans choose, e.g., their key splits from it)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::cf::ControlFlowDialect",
    "::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

#endif // ATTN_PASSES_TD
