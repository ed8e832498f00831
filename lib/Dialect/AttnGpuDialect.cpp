//===- AttnGpuDialect.cpp - The attn_gpu dialect --------------------------===//

#include "attn/Dialect/AttnGpu.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace attn::gpu_ops;

#include "attn/Dialect/AttnGpuDialect.cpp.inc"

void AttnGpuDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "attn/Dialect/AttnGpuOps.cpp.inc"
      >();
}

LogicalResult WgmmaOp::verify() {
  Type element = getElementType();
  if (!element.isF16() && !element.isBF16())
    return emitOpError("element_type must be f16 or bf16 (f32 operands stay "
                       "on mma.sync), got ")
           << element;
  int64_t n = getN();
  if (n < 8 || n > 256 || n % 8 != 0)
    return emitOpError("the accumulator holds N / 2 values per thread for "
                       "m64nNk16 with N a multiple of 8 in [8, 256]; ")
           << getAcc().getType() << " gives N = " << n;
  if (auto a = dyn_cast<VectorType>(getA().getType())) {
    if (a.getNumElements() != 8 || a.getElementType() != element)
      return emitOpError("an A fragment in registers is ")
             << VectorType::get({8}, element)
             << " (four 32-bit registers), got " << a;
    if (getTransposeA())
      return emitOpError("transpose_a needs A in shared memory (a "
                         "descriptor); a register fragment is K-major");
  }
  return success();
}

#define GET_OP_CLASSES
#include "attn/Dialect/AttnGpuOps.cpp.inc"
