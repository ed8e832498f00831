//===- WarpgroupMma.cpp - The warpgroup product of the Hopper kernels -----===//

#include "parts/WarpgroupMma.h"

#include "attn/Conversion/MmaLayout.h"
#include "attn/Dialect/AttnGpu.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {

namespace {
/// Bytes of a swizzled row and of the 8-row atom the stride byte offset
/// steps over.
constexpr int64_t kRowBytes = 128, kAtomBytes = 8 * kRowBytes;
/// Bytes of one k step (16 elements) of a 16-bit K-major row.
constexpr int64_t kStepBytes = 32;
} // namespace

Value WarpgroupMma::descriptor(Value address, int64_t leadingBytes) {
  Type i64 = b.getI64Type();
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(b, loc, i64, v);
  };
  Value start = arith::AndIOp::create(
      b, loc,
      arith::ShRUIOp::create(
          b, loc, arith::IndexCastUIOp::create(b, loc, i64, address),
          constant(4)),
      constant((1 << 14) - 1));
  int64_t fields = ((leadingBytes >> 4) << wgmma::kLeadingShift) |
                   ((kAtomBytes >> 4) << wgmma::kStrideShift) |
                   (wgmma::Bytes128 << wgmma::kSwizzleShift);
  return arith::OrIOp::create(b, loc, start, constant(fields));
}

Value WarpgroupMma::kMajor(Value tile, int64_t rows, Value row0,
                           int64_t step) {
  // 64 columns (four k steps) per chunk of `rows` rows.
  int64_t chunk = step / 4;
  Value address = add(add(tile, mul(row0, kRowBytes)),
                      chunk * rows * kRowBytes + (step % 4) * kStepBytes);
  // The leading byte offset is unused: a k step stays in one swizzled row.
  return descriptor(address, 16);
}

Value WarpgroupMma::mnMajor(Value tile, int64_t rows, int64_t step) {
  // 16 rows a step; the next 64 columns are the next chunk.
  return descriptor(add(tile, step * 16 * kRowBytes), rows * kRowBytes);
}

Value WarpgroupMma::mma(Value a, Value bDescriptor, Value acc,
                        bool transposeB) {
  auto accType = cast<VectorType>(acc.getType());
  auto flat = VectorType::get({accType.getNumElements()}, f32);
  Value flatAcc = vector::ShapeCastOp::create(b, loc, flat, acc);
  auto product = gpu_ops::WgmmaOp::create(
      b, loc, flat, a, bDescriptor, flatAcc, element,
      /*transpose_a=*/false, transposeB);
  return vector::ShapeCastOp::create(b, loc, accType, product);
}

void WarpgroupMma::fence() { NVVM::WgmmaFenceAlignedOp::create(b, loc); }

void WarpgroupMma::commit() { NVVM::WgmmaGroupSyncAlignedOp::create(b, loc); }

void WarpgroupMma::wait(int64_t pending) {
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, pending);
}

Value WarpgroupMma::accumulatorsAsA(Value accumulators, int64_t step) {
  // A element i of the step: row g + 8 ((i / 2) % 2), column 8 (i / 4) +
  // 2 t + i % 2, i.e. c[2 step + i / 4][(i / 2) % 2][i % 2].
  auto quad = VectorType::get({4}, f32);
  Value low = vector::ShapeCastOp::create(
      b, loc, quad, extract(accumulators, {2 * step}));
  Value high = vector::ShapeCastOp::create(
      b, loc, quad, extract(accumulators, {2 * step + 1}));
  Value a = vector::ShuffleOp::create(b, loc, low, high,
                                      ArrayRef<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  return arith::TruncFOp::create(b, loc, VectorType::get({8}, element), a);
}

} // namespace attn
