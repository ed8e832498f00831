//===- KernelSupport.h - What the attn-to-gpu kernels share -----*- C++ -*-===//
//
// What the kernel builders build with, and the host side of a kernel: its
// gpu.module and gpu.func, and the launch that replaces the op. The parts
// a kernel is made of are in parts/.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_CONVERSION_ATTNTOGPU_KERNELSUPPORT_H
#define ATTN_LIB_CONVERSION_ATTNTOGPU_KERNELSUPPORT_H

#include "attn/Dialect/Attn.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"

namespace attn {

mlir::MemRefType memrefTypeOf(mlir::Value tensor);

/// What both kernel builders build with, at one location: index
/// arithmetic, f32 constants, and element access of fragment vectors.
class KernelBuilderBase {
protected:
  KernelBuilderBase(mlir::OpBuilder &b, mlir::Location loc)
      : b(b), loc(loc), f32(b.getF32Type()) {}

  mlir::Value index(int64_t v) {
    return mlir::arith::ConstantIndexOp::create(b, loc, v);
  }
  /// Dimension `dim` of `memref`: a constant when static, so that tile
  /// classes fold.
  mlir::Value sizeOf(mlir::Value memref, int64_t dim) {
    int64_t size =
        mlir::cast<mlir::MemRefType>(memref.getType()).getDimSize(dim);
    if (!mlir::ShapedType::isDynamic(size))
      return index(size);
    return mlir::memref::DimOp::create(b, loc, memref, dim);
  }
  mlir::Value add(mlir::Value x, mlir::Value y) {
    return mlir::arith::AddIOp::create(b, loc, x, y);
  }
  mlir::Value add(mlir::Value x, int64_t y) {
    return y ? add(x, index(y)) : x;
  }
  mlir::Value mul(mlir::Value x, int64_t y) {
    return mlir::arith::MulIOp::create(b, loc, x, index(y));
  }
  mlir::Value less(mlir::Value x, mlir::Value y) {
    return mlir::arith::CmpIOp::create(b, loc, mlir::arith::CmpIPredicate::slt,
                                       x, y);
  }
  mlir::Value less(mlir::Value x, int64_t y) { return less(x, index(y)); }
  mlir::Value fconst(double value) {
    return floatConstant(b, loc, f32, value);
  }
  mlir::Value splat(mlir::VectorType type, double value) {
    return mlir::arith::ConstantOp::create(
        b, loc,
        mlir::DenseElementsAttr::get(type, b.getFloatAttr(f32, value)));
  }
  mlir::Value extract(mlir::Value vector, llvm::ArrayRef<int64_t> position) {
    return mlir::vector::ExtractOp::create(b, loc, vector, position);
  }
  mlir::Value insert(mlir::Value value, mlir::Value vector,
                     llvm::ArrayRef<int64_t> position) {
    return mlir::vector::InsertOp::create(b, loc, value, vector, position);
  }

  /// Stores the scalar `value` at `indices` of `memref` where `when` holds
  /// (a masked store: control flow stays uniform).
  void storeIf(mlir::Value memref, mlir::ValueRange indices, mlir::Value when,
               mlir::Value value) {
    auto one = [&](mlir::Type element) {
      return mlir::VectorType::get({1}, element);
    };
    mlir::Value mask =
        mlir::vector::BroadcastOp::create(b, loc, one(b.getI1Type()), when);
    mlir::Value element =
        mlir::vector::BroadcastOp::create(b, loc, one(value.getType()), value);
    mlir::vector::MaskedStoreOp::create(b, loc, memref, indices, mask, element);
  }

  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Type f32;
};

/// Every kernel of a module lives in this one `gpu.module`, so that a
/// module's launch plan (several ops, or one op lowered to several kernels)
/// compiles to one binary.
inline constexpr llvm::StringLiteral kKernelModuleName = "attn_kernels";

/// The module's kernel `gpu.module`, created at its end if absent.
mlir::gpu::GPUModuleOp kernelModule(mlir::OpBuilder &b, mlir::ModuleOp module,
                                    mlir::SymbolTable &symbols);

/// A new, empty kernel `gpu.func` in the kernel module, named after `op`'s
/// function and `suffix` (renamed if taken), whose arguments are memrefs of
/// `inputs`, then of `op`'s results; `b` is left at the start of its body.
mlir::gpu::GPUFuncOp createKernel(mlir::OpBuilder &b, mlir::Operation *op,
                                  mlir::ValueRange inputs,
                                  llvm::StringRef suffix,
                                  mlir::ModuleOp module,
                                  mlir::SymbolTable &symbols);

/// The same, with the argument types given.
mlir::gpu::GPUFuncOp createKernel(mlir::OpBuilder &b, mlir::Operation *op,
                                  mlir::TypeRange types,
                                  llvm::StringRef suffix,
                                  mlir::ModuleOp module,
                                  mlir::SymbolTable &symbols);

/// Buffers (bufferization.to_buffer) of `tensors`, for kernel arguments.
llvm::SmallVector<mlir::Value> buffersOf(mlir::OpBuilder &b,
                                         mlir::Location loc,
                                         mlir::ValueRange tensors);

/// New allocations for `op`'s results, sized by its reifyResultShapes.
mlir::FailureOr<llvm::SmallVector<mlir::Value>>
allocateResults(mlir::OpBuilder &b, mlir::Operation *op);

/// Index arithmetic of a launch plan's host side (grids, run-time choices,
/// workspace sizes), in the ops the manifest's formulas take.
struct PlanArithmetic {
  mlir::OpBuilder &b;
  mlir::Location loc;

  mlir::Value index(int64_t v) {
    return mlir::arith::ConstantIndexOp::create(b, loc, v);
  }
  mlir::Value maxOf(mlir::Value x, mlir::Value y) {
    return mlir::arith::MaxUIOp::create(b, loc, x, y);
  }
  mlir::Value minOf(mlir::Value x, mlir::Value y) {
    return mlir::arith::MinUIOp::create(b, loc, x, y);
  }
  mlir::Value ceilDiv(mlir::Value x, mlir::Value y) {
    return mlir::arith::CeilDivUIOp::create(b, loc, x, y);
  }
  mlir::Value times(mlir::Value x, mlir::Value y) {
    return mlir::arith::MulIOp::create(b, loc, x, y);
  }
  mlir::Value plus(mlir::Value x, mlir::Value y) {
    return mlir::arith::AddIOp::create(b, loc, x, y);
  }
};

/// Launches `kernel` on a 1-D block of `threads` with `sharedBytes` of
/// dynamic shared memory.
void launchKernel(mlir::OpBuilder &b, mlir::Location loc,
                  mlir::gpu::GPUFuncOp kernel,
                  const mlir::gpu::KernelDim3 &grid, int64_t threads,
                  int64_t sharedBytes, mlir::ValueRange args);

/// Replaces `op`'s results by tensors of `buffers` and erases it.
void replaceWithBuffers(mlir::OpBuilder &b, mlir::Operation *op,
                        mlir::ValueRange buffers);

/// Replaces `op` by one launch of `kernel` on buffers of `inputs` and of
/// new allocations of `op`'s results (in that order). `grid` is built at
/// `op`.
mlir::LogicalResult replaceWithLaunch(mlir::OpBuilder &b, mlir::Operation *op,
                                      mlir::gpu::GPUFuncOp kernel,
                                      mlir::ValueRange inputs,
                                      const mlir::gpu::KernelDim3 &grid,
                                      int64_t threads, int64_t sharedBytes);

/// Runs `body(i)` for every i in [0, count), spread over `threads` threads
/// round robin: in round r, thread `threadId` takes i = r * threads +
/// threadId (guarded when `count` is not a multiple of `threads`).
void forEachElement(mlir::OpBuilder &b, mlir::Location loc, int64_t count,
                    int64_t threads, mlir::Value threadId,
                    llvm::function_ref<void(mlir::Value)> body);

/// What every tensor-core kernel requires of its sizes: f16, bf16 or f32
/// (tf32) elements, the named head dimensions multiples of 8 and at most
/// 256, 1 to 8 warps, and (when given) a tile of 16 to 128 keys in steps of
/// 16. Fails with a diagnostic on `op` that names the fix.
mlir::LogicalResult
checkKernelSizes(mlir::Operation *op, mlir::Type element,
                 llvm::ArrayRef<std::pair<llvm::StringRef, int64_t>> headDims,
                 int64_t warps, std::optional<int64_t> tileKv);

/// The values `op`'s regions use from the enclosing function: tensor
/// arguments (returned, in order) and constants (appended to `constants`,
/// which the kernel clones); fails with a diagnostic on anything else.
mlir::FailureOr<llvm::SmallVector<mlir::Value>>
capturedTensors(AttentionSpecOpInterface op,
                llvm::SmallVector<mlir::Operation *> &constants);

/// Rewrites the reads of captured tensors (to_tensor of a kernel argument)
/// into memref reads; fails on any other use.
mlir::LogicalResult lowerCapturedTensorReads(mlir::gpu::GPUFuncOp kernel);

/// Lowers one attn.attention_backward to its launch plan
/// (BackwardToGPU.cpp).
mlir::LogicalResult lowerAttentionBackwardToGPU(AttentionBackwardOp op,
                                                int64_t warps, int64_t tileKv,
                                                mlir::ModuleOp module,
                                                mlir::SymbolTable &symbols);

/// Lowers one attn.merge to the merge kernel (MergeKernel.cpp).
mlir::LogicalResult lowerMergeToGPU(MergeOp op, mlir::ModuleOp module,
                                    mlir::SymbolTable &symbols);

/// Lowers one attn.linear_attention (LinearAttentionToGPU.cpp): a causal
/// one as parallel runs of its sequence unless `splitKv` is "never".
mlir::LogicalResult lowerLinearAttentionToGPU(LinearAttentionOp op,
                                              int64_t warps,
                                              llvm::StringRef splitKv,
                                              mlir::ModuleOp module,
                                              mlir::SymbolTable &symbols);

} // namespace attn

#endif // ATTN_LIB_CONVERSION_ATTNTOGPU_KERNELSUPPORT_H
