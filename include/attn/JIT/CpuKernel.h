//===- CpuKernel.h - Compile a spec for the host and run it ----*- C++ -*-===//

#ifndef ATTN_JIT_CPUKERNEL_H
#define ATTN_JIT_CPUKERNEL_H

#include "attn/Runtime/Signature.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace attn::jit {

struct CpuOptions {
  /// The function to compile; empty selects the spec's only function.
  std::string entry;
  /// Run the reference lowering (`attn-reference`: the full score matrix)
  /// instead of the kernel pipeline.
  bool reference = false;
  /// Compute in f64 and return f64 outputs (`attn-promote-f64`); inputs keep
  /// their types. With `reference`, the float64 reference of the spec.
  bool float64 = false;
  /// Tile sizes of `attn-tile-flash`.
  int64_t tileQ = 64;
  int64_t tileKv = 64;
  /// Positions per chunk of `attn-linear-chunked`.
  int64_t chunkSize = 64;
  /// Run on all cores (OpenMP); the thread count follows OMP_NUM_THREADS.
  bool parallel = true;
  /// Compile the GPU kernel (`attn-to-gpu`) and run it on the host one
  /// thread block at a time (`attn-emulate-gpu`): the CPU test of the exact
  /// GPU code, up to its NVVM lowering. Uses `tileKv` and `warps`.
  bool emulateGpu = false;
  int64_t warps = 4;
  /// Split-KV decoding in the emulated GPU code: auto, always or never;
  /// the emulated device's multiprocessor count (it sets the split count).
  std::string splitKv = "auto";
  int64_t multiprocessors = 132;
  /// The emulated chip: its kernel families (sm_90a: the TMA + wgmma one).
  std::string chip = "sm_90";
};

/// A spec compiled for the host through the LLVM ExecutionEngine. Thread-safe
/// to run concurrently.
class CpuKernel {
public:
  ~CpuKernel();

  /// Compiles MLIR text; `sourceName` names it in diagnostics. Errors carry
  /// the MLIR diagnostics with their locations.
  static llvm::Expected<std::unique_ptr<CpuKernel>>
  compile(llvm::StringRef specText, const CpuOptions &options = {},
          llvm::StringRef sourceName = "spec");
  /// Compiles a module (left unchanged).
  static llvm::Expected<std::unique_ptr<CpuKernel>>
  compile(mlir::ModuleOp spec, const CpuOptions &options = {});

  /// Parameters of the compiled kernel (f64 outputs with `float64`).
  const runtime::KernelSignature &signature() const { return sig; }

  /// Runs on dense row-major tensors: `inputs` in the order of
  /// `signature().inputs`, `outputs` allocated by the caller with the shapes
  /// `signature()` gives. Shapes and dtypes are checked first.
  llvm::Error run(llvm::ArrayRef<runtime::TensorRef> inputs,
                  llvm::ArrayRef<runtime::TensorRef> outputs) const;

private:
  struct Impl;
  CpuKernel(std::unique_ptr<Impl> impl, runtime::KernelSignature sig);
  std::unique_ptr<Impl> impl;
  runtime::KernelSignature sig;
};

} // namespace attn::jit

#endif // ATTN_JIT_CPUKERNEL_H
