//===- BinaryPath.h - The binary that holds attn-mlir's code ----*- C++ -*-===//

#ifndef ATTN_RUNTIME_BINARYPATH_H
#define ATTN_RUNTIME_BINARYPATH_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace attn::runtime {

/// The file of the binary (a tool, a test, the Python module) that holds
/// attn-mlir's code; empty when the loader cannot tell.
llvm::StringRef binaryPath();

/// The shared library that JIT-compiled code loads: `<dir>/lib/<name of
/// configured>` when the binary has one next to it (the Python package
/// bundles its runtime libraries there), else `configured` (found at build
/// time).
std::string bundledLibrary(llvm::StringRef configured);

} // namespace attn::runtime

#endif // ATTN_RUNTIME_BINARYPATH_H
