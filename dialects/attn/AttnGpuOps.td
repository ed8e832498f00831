//===- AttnGpuOps.td - Device-side ops of the GPU kernels --*- tablegen -*-===//
//
// Ops that attn-to-gpu's kernels use where upstream's nvgpu has no
// per-thread form. Each lowers to NVVM in attn-lower-gpu-ops and has a hook
// in attn-emulate-gpu.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_GPU_OPS_TD
#define ATTN_GPU_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def AttnGpu_Dialect : Dialect {
  let name = "attn_gpu";
  let cppNamespace = "::attn::gpu_ops";
  let summary = "Per-thread device ops of attn's GPU kernels";
  let description = [{
    Device-side ops of the kernels `attn-to-gpu` builds, for instructions
    whose upstream `nvgpu` form does not fit a fused attention kernel (e.g.
    `nvgpu.warpgroup.mma` keeps its accumulator opaque, so a softmax cannot
    read it, and takes A only from shared memory).
  }];
}

class AttnGpu_Op<string mnemonic, list<Trait> traits = []>
    : Op<AttnGpu_Dialect, mnemonic, traits>;

def AttnGpu_WgmmaOp : AttnGpu_Op<"wgmma", [
    MemoryEffects<[MemRead]>, AllTypesMatch<["acc", "result"]>]> {
  let summary = "One thread's part of a warpgroup mma (wgmma.mma_async m64nNk16)";
  let description = [{
    `D = A B + C` for a warpgroup (128 consecutive threads, the first a
    multiple of 128): A is 64 x 16, B is 16 x N, C and D are 64 x N in f32,
    the operands f16 or bf16 (`element_type`). Every thread of the
    warpgroup executes the op with the same descriptors.

    - `a`: a shared-memory matrix descriptor (`i64`, the PTX ISA's
      "Matrix Descriptor Format": start address, leading and stride byte
      offsets, swizzle mode), or the thread's A fragment in registers
      (`vector<8 x element_type>`, the layout of `MmaLayout.h`'s
      `wgmmaLayout`).
    - `b`: B's shared-memory descriptor.
    - `acc`: the thread's C fragment, `vector<N/2 x f32>`; the result is D
      in the same layout.
    - `transpose_a` / `transpose_b`: the operand is stored M- (N-) major
      instead of K-major (`imm-trans-a/b`); only for descriptors.

    The instruction is asynchronous: it joins the warpgroup's open wgmma
    group, whose results may be read only after `nvvm.wgmma.commit.group`
    and an `nvvm.wgmma.wait.group` that retires it; registers it reads are
    fenced by `nvvm.wgmma.fence` before the first wgmma that reads them.

    ```mlir
    %d = attn_gpu.wgmma %descA, %descB, %c {element_type = bf16}
        : i64, vector<64xf32>
    ```
  }];
  let arguments = (ins AnyTypeOf<[I64, VectorOfRankAndType<[1], [F16, BF16]>]>:$a,
                       I64:$b,
                       VectorOfRankAndType<[1], [F32]>:$acc,
                       TypeAttr:$element_type,
                       UnitAttr:$transpose_a,
                       UnitAttr:$transpose_b);
  let results = (outs VectorOfRankAndType<[1], [F32]>:$result);
  let assemblyFormat = [{
    $a `,` $b `,` $acc attr-dict `:` type($a) `,` type($acc)
  }];
  let hasVerifier = 1;

  let extraClassDeclaration = [{
    /// N of the m64nNk16 shape: two accumulators per thread and column pair.
    int64_t getN() { return 2 * getAcc().getType().getNumElements(); }
    /// Whether A comes from registers rather than shared memory.
    bool hasRegisterA() { return ::llvm::isa<::mlir::VectorType>(getA().getType()); }
  }];
}

#endif // ATTN_GPU_OPS_TD
