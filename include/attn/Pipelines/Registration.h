//===- Registration.h - Dialects and extensions the compiler uses -*- C++ -*-===//

#ifndef ATTN_PIPELINES_REGISTRATION_H
#define ATTN_PIPELINES_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace attn {

/// Registers the attn dialect, every upstream dialect and extension
/// (bufferization models, LLVM conversion interfaces) and the LLVM IR
/// translations: what parsing a spec and running any attn pipeline needs.
void registerCompilerDialects(mlir::DialectRegistry &registry);

} // namespace attn

#endif // ATTN_PIPELINES_REGISTRATION_H
