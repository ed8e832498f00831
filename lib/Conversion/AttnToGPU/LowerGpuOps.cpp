//===- LowerGpuOps.cpp - attn_gpu ops and tensor-map arguments to NVVM ---===//
//
// Lowers what convert-gpu-to-nvvm cannot take from the Hopper kernels:
//
// - attn_gpu.wgmma with A in shared memory becomes nvvm.wgmma.mma_async.
//   That op's layouts reach PTX as imm-trans-a = layoutA (row 0, col 1)
//   and imm-trans-b = 1 - layoutB (NVVMDialect.cpp, getAsmValues): A
//   K-major is row, B K-major is col, and a transposed (MN-major) operand
//   takes the other one.
// - attn_gpu.wgmma with A in registers becomes inline PTX, since NVVM has no
//   register-A form of wgmma.
// - A kernel argument of type !nvgpu.tensormap.descriptor becomes !llvm.ptr
//   (the address of the CUtensorMap the launch passes), cast back to the
//   descriptor at the entry for the TMA ops; convert-nvgpu-to-nvvm lowers
//   the descriptor to the same !llvm.ptr, so the casts cancel.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/AttnGpu.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

#include "llvm/ADT/STLExtras.h"

namespace attn {
#define GEN_PASS_DEF_ATTNLOWERGPUOPS
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using attn::gpu_ops::WgmmaOp;

namespace {

NVVM::WGMMATypes wgmmaTypeOf(Type element) {
  return element.isBF16() ? NVVM::WGMMATypes::bf16 : NVVM::WGMMATypes::f16;
}

/// The struct of N/2 f32 that carries the accumulators through NVVM and
/// inline assembly, in the vector's (PTX register) order.
LLVM::LLVMStructType accumulatorStruct(WgmmaOp op) {
  auto acc = op.getAcc().getType();
  return LLVM::LLVMStructType::getLiteral(
      op.getContext(),
      SmallVector<Type>(acc.getNumElements(), acc.getElementType()));
}

SmallVector<Value> extractAll(PatternRewriter &rewriter, Location loc,
                              Value vector) {
  int64_t size = cast<VectorType>(vector.getType()).getNumElements();
  SmallVector<Value> elements;
  for (int64_t i = 0; i < size; ++i)
    elements.push_back(vector::ExtractOp::create(rewriter, loc, vector, i));
  return elements;
}

/// Replaces `op` by the accumulators in `result`, a struct of
/// accumulatorStruct(op).
void replaceByStruct(PatternRewriter &rewriter, WgmmaOp op, Value result) {
  Location loc = op.getLoc();
  SmallVector<Value> elements;
  for (int64_t i = 0, e = op.getAcc().getType().getNumElements(); i < e; ++i)
    elements.push_back(LLVM::ExtractValueOp::create(rewriter, loc, result, i));
  rewriter.replaceOpWithNewOp<vector::FromElementsOp>(op, op.getType(),
                                                      elements);
}

struct LowerWgmmaFromDescriptors : OpRewritePattern<WgmmaOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(WgmmaOp op,
                                PatternRewriter &rewriter) const override {
    if (op.hasRegisterA())
      return rewriter.notifyMatchFailure(op, "A is in registers");
    Location loc = op.getLoc();
    LLVM::LLVMStructType structType = accumulatorStruct(op);
    Value acc = LLVM::PoisonOp::create(rewriter, loc, structType);
    for (auto [i, element] :
         llvm::enumerate(extractAll(rewriter, loc, op.getAcc())))
      acc = LLVM::InsertValueOp::create(rewriter, loc, acc, element, i);

    NVVM::WGMMATypes type = wgmmaTypeOf(op.getElementType());
    // A row-major 64 x 16 A and a column-major 16 x N B are K-major, PTX's
    // default; the transposed (MN-major) forms take the other layout.
    NVVM::MMALayout layoutA =
        op.getTransposeA() ? NVVM::MMALayout::col : NVVM::MMALayout::row;
    NVVM::MMALayout layoutB =
        op.getTransposeB() ? NVVM::MMALayout::row : NVVM::MMALayout::col;
    Value result = NVVM::WgmmaMmaAsyncOp::create(
        rewriter, loc, structType, acc, op.getA(), op.getB(),
        NVVM::MMAShapeAttr::get(op.getContext(), 64, op.getN(), 16), type, type,
        NVVM::WGMMATypes::f32, NVVM::WGMMAScaleOut::one,
        NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one, layoutA, layoutB,
        /*satfinite=*/nullptr);
    replaceByStruct(rewriter, op, result);
    return success();
  }
};

/// The PTX of the register-A form for `op`: operands $0..$(R-1) are the
/// accumulators (outputs, each tied to the input of the same number),
/// $(2R)..$(2R+3) A's four registers and $(2R+4) B's descriptor.
std::string registerAWgmmaPtx(WgmmaOp op, int64_t accumulators) {
  auto list = [](int64_t first, int64_t count) {
    return llvm::join(
        llvm::map_range(llvm::seq(first, first + count),
                        [](int64_t i) { return "$" + std::to_string(i); }),
        ", ");
  };
  std::string ptx;
  llvm::raw_string_ostream os(ptx);
  StringRef type = NVVM::stringifyWGMMATypes(wgmmaTypeOf(op.getElementType()));
  // scale-d must be a predicate; 1 (D = A B + D) is set from an immediate.
  // imm-scale-a/b are 1 (no negation); imm-trans-b is the only transpose,
  // as a register fragment is K-major by definition.
  os << "{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
     << "wgmma.mma_async.sync.aligned.m64n" << op.getN() << "k16.f32." << type
     << "." << type << " {" << list(0, accumulators) << "}, {"
     << list(2 * accumulators, 4) << "}, $" << 2 * accumulators + 4
     << ", p, 1, 1, " << (op.getTransposeB() ? 1 : 0) << ";\n}\n";
  return ptx;
}

struct LowerWgmmaFromRegisters : OpRewritePattern<WgmmaOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(WgmmaOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasRegisterA())
      return rewriter.notifyMatchFailure(op, "A is a descriptor");
    Location loc = op.getLoc();
    int64_t accumulators = op.getAcc().getType().getNumElements();
    SmallVector<Value> operands = extractAll(rewriter, loc, op.getAcc());
    // Each .b32 register holds two consecutive elements, low half first,
    // which is the little-endian bitcast of the vector.
    Value words = vector::BitCastOp::create(
        rewriter, loc, VectorType::get({4}, rewriter.getI32Type()), op.getA());
    llvm::append_range(operands, extractAll(rewriter, loc, words));
    operands.push_back(op.getB());

    // LLVM inline assembly has no "+f": a read-write register is an output
    // "=f" and an input tied to it by its number.
    SmallVector<std::string> constraints(accumulators, "=f");
    for (int64_t i = 0; i < accumulators; ++i)
      constraints.push_back(std::to_string(i));
    constraints.append({"r", "r", "r", "r", "l"});
    // has_side_effects: the instruction joins the warpgroup's open wgmma
    // group, which later commit/wait ops rely on, so it must not be moved
    // or dropped even if its results look unused.
    Value result =
        LLVM::InlineAsmOp::create(
            rewriter, loc, accumulatorStruct(op), operands,
            registerAWgmmaPtx(op, accumulators), llvm::join(constraints, ","),
            /*has_side_effects=*/true, /*is_align_stack=*/false,
            LLVM::tailcallkind::TailCallKind::None,
            LLVM::AsmDialectAttr::get(op.getContext(),
                                      LLVM::AsmDialect::AD_ATT),
            /*operand_attrs=*/ArrayAttr())
            .getResult(0);
    replaceByStruct(rewriter, op, result);
    return success();
  }
};

/// Kernel arguments of type !nvgpu.tensormap.descriptor become !llvm.ptr,
/// cast back to the descriptor at the entry for their uses.
struct TensorMapArgumentsToPointers : OpRewritePattern<gpu::GPUFuncOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(gpu::GPUFuncOp func,
                                PatternRewriter &rewriter) const override {
    if (!func.isKernel())
      return rewriter.notifyMatchFailure(func, "not a kernel");
    SmallVector<unsigned> maps;
    for (auto [i, type] : llvm::enumerate(func.getArgumentTypes()))
      if (isa<nvgpu::TensorMapDescriptorType>(type))
        maps.push_back(i);
    if (maps.empty())
      return rewriter.notifyMatchFailure(func, "no tensor-map arguments");

    auto pointer = LLVM::LLVMPointerType::get(getContext());
    SmallVector<Type> original(func.getArgumentTypes());
    SmallVector<Type> inputs(original);
    for (unsigned i : maps)
      inputs[i] = pointer;
    rewriter.modifyOpInPlace(func, [&] {
      func.setFunctionType(
          FunctionType::get(getContext(), inputs, func.getResultTypes()));
      for (unsigned i : maps)
        func.getArgument(i).setType(pointer);
    });
    rewriter.setInsertionPointToStart(&func.front());
    for (unsigned i : maps) {
      BlockArgument argument = func.getArgument(i);
      auto cast = UnrealizedConversionCastOp::create(
          rewriter, argument.getLoc(), original[i], ValueRange{argument});
      rewriter.replaceAllUsesExcept(argument, cast.getResult(0), cast);
    }
    return success();
  }
};

/// Tensor maps reach a kernel only as its own arguments: a device function
/// taking one would need its callers rewritten, which this pass does not do.
LogicalResult checkTensorMapArguments(gpu::GPUModuleOp module) {
  WalkResult walk = module.walk([](FunctionOpInterface func) {
    auto gpuFunc = dyn_cast<gpu::GPUFuncOp>(func.getOperation());
    if (gpuFunc && gpuFunc.isKernel())
      return WalkResult::advance();
    if (llvm::any_of(func.getArgumentTypes(),
                     llvm::IsaPred<nvgpu::TensorMapDescriptorType>)) {
      func.emitOpError("takes a !nvgpu.tensormap.descriptor, which only a "
                       "kernel's arguments can (the launch passes the "
                       "CUtensorMap's address); inline it into the kernel");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

struct AttnLowerGpuOpsPass
    : attn::impl::AttnLowerGpuOpsBase<AttnLowerGpuOpsPass> {
  void runOnOperation() override {
    if (failed(checkTensorMapArguments(getOperation())))
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerWgmmaFromDescriptors, LowerWgmmaFromRegisters,
                 TensorMapArgumentsToPointers>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace
