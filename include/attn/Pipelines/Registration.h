//===- Registration.h - Dialects and extensions the compiler uses -*- C++ -*-===//

#ifndef ATTN_PIPELINES_REGISTRATION_H
#define ATTN_PIPELINES_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace attn {

/// Registers the attn dialect and the upstream dialects, interface models
/// (bufferization, tiling, value bounds, conversions to LLVM) and LLVM IR
/// translations that specs and the attn pipelines use: what parsing a spec
/// and running any attn pipeline needs.
void registerCompilerDialects(mlir::DialectRegistry &registry);

} // namespace attn

#endif // ATTN_PIPELINES_REGISTRATION_H
