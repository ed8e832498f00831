//===- BinaryPath.cpp - The binary that holds attn-mlir's code ------------===//

#include "attn/Runtime/BinaryPath.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <dlfcn.h>

llvm::StringRef attn::runtime::binaryPath() {
  static const std::string path = [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&binaryPath), &info) && info.dli_fname)
      return std::string(info.dli_fname);
    return std::string();
  }();
  return path;
}

std::string attn::runtime::bundledLibrary(llvm::StringRef configured) {
  if (binaryPath().empty())
    return configured.str();
  llvm::SmallString<256> bundled(llvm::sys::path::parent_path(binaryPath()));
  llvm::sys::path::append(bundled, "lib", llvm::sys::path::filename(configured));
  return llvm::sys::fs::exists(bundled) ? std::string(bundled)
                                        : configured.str();
}
