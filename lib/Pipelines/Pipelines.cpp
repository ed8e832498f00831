//===- Pipelines.cpp - Named attn pipelines -------------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Dialect/Attn.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/OpenMPToLLVM/ConvertOpenMPToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/RequestCWrappers.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace attn {

void buildReferencePipeline(OpPassManager &pm) {
  pm.addPass(createAttnDecompose());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void buildBufferizePipeline(OpPassManager &pm) {
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));

  // Results become caller-allocated out-parameters: the kernel ABI is
  // `f(inputs..., outputs...)` on every backend.
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.modifyPublicFunctions = true;
  outParams.hoistStaticAllocs = true;
  outParams.hoistDynamicAllocs = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
}

void buildHostLLVMPipeline(OpPassManager &pm, bool parallel) {
  // Row-tiled ops write their rows in place: CSE unifies the two subviews of
  // each row, and canonicalization drops the resulting self-copies.
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
  // Per-tile buffers are allocated once per parallel iteration, not once
  // per key tile (scf.forall is an allocation scope, so they stay private).
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferHoistingPass());
  pm.addNestedPass<func::FuncOp>(bufferization::createBufferLoopHoistingPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createCanonicalizerPass());

  pm.addNestedPass<func::FuncOp>(createAttnCpuMicrokernels());
  pm.addNestedPass<func::FuncOp>(createForallToParallelLoopPass());
  pm.addNestedPass<func::FuncOp>(createAttnCpuStridedCopies());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createAttnCpuApproximateMath());
  if (parallel)
    pm.addPass(createConvertSCFToOpenMPPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  // Memrefs go first: convert-scf-to-openmp wraps loop bodies in
  // memref.alloca_scope, which must be lowered while it still has one block,
  // before scf-to-cf splits its body. (Bufferized scf ops here carry no
  // memref results.)
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addNestedPass<func::FuncOp>(LLVM::createLLVMRequestCWrappersPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addNestedPass<func::FuncOp>(vector::createLowerVectorMultiReductionPass());
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  // Register transposes (the micro-kernels' 8 x 8 blocks) as shuffles.
  vectorToLLVM.vectorTransposeLowering =
      vector::VectorTransposeLowering::Shuffle1D;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  if (parallel)
    pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void buildTensorToHostLLVMPipeline(OpPassManager &pm, bool parallel) {
  buildBufferizePipeline(pm);
  buildHostLLVMPipeline(pm, parallel);
}

void buildLowerToCpuPipeline(OpPassManager &pm,
                             const CpuPipelineOptions &options) {
  // The backward is tiled as FlashAttention-2 does; one returning grad_bias
  // takes its reference form (the bias's gradient is a full score matrix
  // reduced over its broadcast dimensions). attn.merge reads each partial
  // once in its decomposed form, which is already the kernel.
  AttnTileFlashBackwardOptions backwardTiles;
  backwardTiles.tileQ = options.tileQ;
  backwardTiles.tileKv = options.tileKv;
  pm.addPass(createAttnTileFlashBackward(backwardTiles));
  AttnDecomposeOptions merges;
  merges.ops = {MergeOp::getOperationName().str(),
                AttentionBackwardOp::getOperationName().str()};
  pm.addPass(createAttnDecompose(merges));
  AttnTileFlashOptions tiles;
  tiles.tileQ = options.tileQ;
  tiles.tileKv = options.tileKv;
  pm.addPass(createAttnTileFlash(tiles));
  AttnLinearChunkedOptions chunks;
  chunks.chunkSize = options.chunkSize;
  pm.addPass(createAttnLinearChunked(chunks));
  // What the chunked form leaves (statically empty sequences) takes the
  // reference form.
  AttnDecomposeOptions leftovers;
  leftovers.ops = {LinearAttentionOp::getOperationName().str()};
  pm.addPass(createAttnDecompose(leftovers));
  // No CSE before bufferization: merging the per-tile zero fills with the
  // loop's initial state would make every key tile copy it.
  pm.addPass(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createAttnCpuVectorize());
  pm.addPass(createCanonicalizerPass());
  buildTensorToHostLLVMPipeline(pm, options.parallel);
}

void buildGpuKernelsPipeline(OpPassManager &pm,
                             const GpuPipelineOptions &options) {
  AttnToGPUOptions kernel;
  kernel.warps = options.warps;
  kernel.tileKv = options.tileKv;
  kernel.chip = options.chip;
  kernel.splitKv = options.splitKv;
  pm.addPass(createAttnToGPU(kernel));
  buildBufferizePipeline(pm);
}

void buildKernelsToNVVMPipeline(OpPassManager &pm,
                                const GpuPipelineOptions &options) {
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createAttnLowerBf16Mma());
  kernels.addPass(createAttnLowerGpuOps());
  kernels.addPass(createConvertNVGPUToNVVMPass());
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createLowerAffinePass());
  kernels.addPass(createAttnLowerKernelVectors());
  // convert-gpu-to-nvvm also lowers the vector ops; convert-vector-to-llvm
  // would not know the workgroup memory space and report failures.
  ConvertGpuOpsToNVVMOpsOptions gpuToNVVM;
  gpuToNVVM.indexBitwidth = 64;
  kernels.addPass(createConvertGpuOpsToNVVMOps(gpuToNVVM));
  // NVVM ops without an LLVM intrinsic (wgmma.mma_async, the mbarrier
  // waits of convert-nvgpu-to-nvvm) become inline PTX here; translation to
  // LLVM IR cannot take them.
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());

  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
}

void buildKernelsToBinaryPipeline(OpPassManager &pm,
                                  const GpuPipelineOptions &options) {
  buildKernelsToNVVMPipeline(pm, options);
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = options.toolkit;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void buildLowerToNVVMPipeline(OpPassManager &pm,
                              const GpuPipelineOptions &options) {
  buildGpuKernelsPipeline(pm, options);
  buildKernelsToBinaryPipeline(pm, options);
}

void buildGpuEmulationPipeline(OpPassManager &pm,
                               const GpuPipelineOptions &options) {
  buildGpuKernelsPipeline(pm, options);
  AttnEmulateGPUOptions emulation;
  emulation.multiprocessors = options.multiprocessors;
  pm.addPass(createAttnEmulateGPU(emulation));
  buildHostLLVMPipeline(pm, /*parallel=*/false);
}

void registerAttnPipelines() {
  PassPipelineRegistration<>(
      "attn-reference",
      "Lower attn ops to linalg on tensors (the reference semantics)",
      buildReferencePipeline);
  PassPipelineRegistration<CpuPipelineOptions>(
      "attn-lower-to-cpu",
      "Lower attn ops to the LLVM dialect for the host CPU: flash tiling, "
      "bufferization, OpenMP threads, LLVM",
      buildLowerToCpuPipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "attn-gpu-kernels",
      "Map attn ops to GPU kernels (gpu.module + gpu.launch_func) and "
      "bufferize the host side",
      buildGpuKernelsPipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "attn-kernels-to-nvvm",
      "Lower the gpu.modules of bufferized code to NVVM and attach an NVVM "
      "target for the chip (the kernel half of attn-lower-to-nvvm)",
      buildKernelsToNVVMPipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "attn-lower-to-nvvm",
      "Map attn ops to GPU kernels and compile them for an NVIDIA chip, down "
      "to gpu-module-to-binary (PTX by default)",
      buildLowerToNVVMPipeline);
  PassPipelineRegistration<GpuPipelineOptions>(
      "attn-emulate-gpu-on-cpu",
      "Map attn ops to GPU kernels, then run those kernels on the host with "
      "attn-emulate-gpu (for testing the GPU code on machines without one)",
      buildGpuEmulationPipeline);
}

} // namespace attn
