//===- Passes.h - attn passes -----------------------------------*- C++ -*-===//

#ifndef ATTN_TRANSFORMS_PASSES_H
#define ATTN_TRANSFORMS_PASSES_H

#include "attn/Dialect/Attn.h"
#include "attn/Dialect/AttnGpu.h"

#include "mlir/Pass/Pass.h"

namespace mlir {
namespace arith {
class ArithDialect;
}
namespace bufferization {
class BufferizationDialect;
}
namespace cf {
class ControlFlowDialect;
}
namespace gpu {
class GPUDialect;
class GPUModuleOp;
}
namespace LLVM {
class LLVMDialect;
}
namespace NVVM {
class NVVMDialect;
}
namespace nvgpu {
class NVGPUDialect;
}
namespace linalg {
class LinalgDialect;
}
namespace math {
class MathDialect;
}
namespace memref {
class MemRefDialect;
}
namespace func {
class FuncDialect;
class FuncOp;
}
namespace scf {
class SCFDialect;
}
namespace vector {
class VectorDialect;
}
namespace tensor {
class TensorDialect;
}
} // namespace mlir

namespace attn {

#define GEN_PASS_DECL
#include "attn/Dialect/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "attn/Dialect/Passes.h.inc"

} // namespace attn

#endif // ATTN_TRANSFORMS_PASSES_H
