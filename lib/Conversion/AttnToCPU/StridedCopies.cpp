//===- StridedCopies.cpp - memref.copy of strided views as loops ----------===//
//
// MemRefToLLVM lowers a copy to a memcpy when both operands are contiguous
// and to a call of `memrefCopy` (libmlir_c_runner_utils, which links all of
// MLIR) otherwise. Bufferization leaves such copies between tile views of
// the operands; as linalg.copy they become loops, and the JIT-compiled
// kernel needs no runtime library for them.
//
//===----------------------------------------------------------------------===//

#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"

namespace attn {
#define GEN_PASS_DEF_ATTNCPUSTRIDEDCOPIES
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;

namespace {

/// The condition under which MemRefToLLVM copies with a memcpy.
bool copiesAsMemcpy(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && (memref.getLayout().isIdentity() ||
                    (memref.hasStaticShape() && memref.getNumElements() > 0 &&
                     memref::isStaticShapeAndContiguousRowMajor(memref)));
}

struct AttnCpuStridedCopiesPass
    : attn::impl::AttnCpuStridedCopiesBase<AttnCpuStridedCopiesPass> {
  void runOnOperation() override {
    getOperation().walk([](memref::CopyOp copy) {
      if (copiesAsMemcpy(copy.getSource().getType()) &&
          copiesAsMemcpy(copy.getTarget().getType()))
        return;
      OpBuilder builder(copy);
      linalg::CopyOp::create(builder, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy.erase();
    });
  }
};

} // namespace
