//===- GpuCompile.h - A spec to a GPU binary and its manifest ---*- C++ -*-===//
//
// The ahead-of-time path shared by attn-translate and the CUDA JIT: runs
// attn-lower-to-nvvm, takes the kernel image out of the gpu.binary and
// describes the launch (parameters, grid, block, shared memory) in a
// runtime::Manifest, in the spec's dimension names.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TARGET_GPUCOMPILE_H
#define ATTN_TARGET_GPUCOMPILE_H

#include "attn/Runtime/Manifest.h"

#include "mlir/IR/BuiltinOps.h"

namespace attn {

enum class GpuEmit { Ptx, Cubin, Fatbin, LlvmIr };

struct GpuCompileOptions {
  GpuEmit emit = GpuEmit::Cubin;
  std::string chip = "sm_90";
  int64_t warps = 4;
  int64_t tileKv = 64;
  /// Split-KV decoding of attn.attention: auto, always or never.
  std::string splitKv = "auto";
  /// The function to compile; empty selects the spec's only function.
  std::string entry;
  /// CUDA toolkit for ptxas, fatbinary and libdevice; empty: the one
  /// configured at build time.
  std::string toolkit;

  /// The options as text, part of the cache key and the spec hash.
  std::string str() const;
};

struct GpuBinary {
  /// The PTX text, cubin, fatbin or LLVM IR text.
  std::string image;
  runtime::Manifest manifest;
};

/// Compiles `spec` (left unchanged). `specText` is hashed into the
/// manifest. Emits diagnostics on failure.
mlir::FailureOr<GpuBinary> compileForGpu(mlir::ModuleOp spec,
                                         llvm::StringRef specText,
                                         const GpuCompileOptions &options);

/// Compiles the one gpu.module that `kernels` (left unchanged) already holds,
/// e.g. a hand-written kernel, with the kernel half of attn-lower-to-nvvm
/// and gpu-module-to-binary; returns its image. Only `emit`, `chip` and
/// `toolkit` of `options` apply. Emits diagnostics on failure.
mlir::FailureOr<std::string>
compileKernelsForGpu(mlir::ModuleOp kernels, const GpuCompileOptions &options);

/// "attn-mlir <version>": changes whenever generated code may change.
llvm::StringRef compilerVersion();

} // namespace attn

#endif // ATTN_TARGET_GPUCOMPILE_H
