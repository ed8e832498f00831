//===- AttnGpu.h - The attn_gpu dialect -------------------------*- C++ -*-===//
//
// Device-side ops of the GPU kernels (AttnGpuOps.td).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNGPU_H
#define ATTN_DIALECT_ATTNGPU_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "attn/Dialect/AttnGpuDialect.h.inc"

#define GET_OP_CLASSES
#include "attn/Dialect/AttnGpuOps.h.inc"

#endif // ATTN_DIALECT_ATTNGPU_H
