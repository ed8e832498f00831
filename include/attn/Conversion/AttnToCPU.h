//===- AttnToCPU.h - CPU code generation helpers ----------------*- C++ -*-===//

#ifndef ATTN_CONVERSION_ATTNTOCPU_H
#define ATTN_CONVERSION_ATTNTOCPU_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace attn {

/// Whether `op` is a matrix product `C += A . B` or `C += A . B^T` (2-D
/// operands, mul-add body): the form attn-cpu-microkernels rewrites.
bool isTileProduct(mlir::linalg::GenericOp op);

} // namespace attn

#endif // ATTN_CONVERSION_ATTNTOCPU_H
