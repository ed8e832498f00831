//===- Jit.h - Compile specs at run time, with a cache ----------*- C++ -*-===//
//
//   auto kernel = attn::jit::compile(specText, {.target = Target::Cuda});
//   (*kernel)->run(inputs, outputs, stream);
//
// One entry point for both targets. Compiled kernels are cached in memory
// (per process) and, for CUDA, on disk: the cubin and its manifest under
// $ATTN_CACHE_DIR (default ~/.cache/attn-mlir). The key hashes the spec
// text, the options and the compiler version (a hash of the compiler's own
// binary), so a rebuilt compiler or changed options never reuse old code.
// A cache file that cannot be read back is replaced by a fresh compile.
// Safe to call from several threads; concurrent requests for the same
// kernel compile it once.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_JIT_JIT_H
#define ATTN_JIT_JIT_H

#include "attn/JIT/CpuKernel.h"
#include "attn/Runtime/CudaRuntime.h"

namespace attn::jit {

enum class Target { Cpu, Cuda };

struct Options {
  Target target = Target::Cpu;
  /// The function to compile; empty selects the spec's only function.
  std::string entry;
  /// CPU: tile sizes, linear-attention chunks and threads (see CpuOptions).
  int64_t tileQ = 64;
  int64_t tileKv = 64;
  int64_t chunkSize = 64;
  bool parallel = true;
  /// CUDA: the chip (empty: the device's own), warps per block, device.
  std::string chip;
  int64_t warps = 4;
  /// CUDA: split-KV decoding of attn.attention (auto, always, never).
  std::string splitKv = "auto";
  int device = 0;
  /// Where the disk cache lives; empty: $ATTN_CACHE_DIR, else
  /// ~/.cache/attn-mlir. `diskCache = false` keeps it out of the picture.
  std::string cacheDir;
  bool diskCache = true;
};

/// Where a kernel handed out by compile() came from.
enum class Origin { Compiled, MemoryCache, DiskCache };

class Kernel {
public:
  virtual ~Kernel() = default;
  virtual const runtime::KernelSignature &signature() const = 0;
  /// CPU kernels take host pointers and ignore `stream`; CUDA kernels take
  /// device pointers and run asynchronously on `stream` (a CUstream).
  virtual llvm::Error run(llvm::ArrayRef<runtime::TensorRef> inputs,
                          llvm::ArrayRef<runtime::TensorRef> outputs,
                          void *stream = nullptr) const = 0;
  virtual Target target() const = 0;
};

struct CompileResult {
  std::shared_ptr<const Kernel> kernel;
  Origin origin = Origin::Compiled;
};

/// Compiles `specText` (MLIR) for `options.target`, or returns the cached
/// kernel. Errors carry the MLIR diagnostics.
llvm::Expected<CompileResult> compile(llvm::StringRef specText,
                                      const Options &options = {});

/// The spec of the backward of `specText`'s function `entry` (empty: its
/// only function), as MLIR text to compile like any spec: function
/// `<entry>_backward` takes the forward's inputs, then o, grad_o and
/// (softmax) lse, and returns grad_q, grad_k, grad_v and, with `gradBias`,
/// grad_bias (attn.attention_backward).
llvm::Expected<std::string> backwardSpec(llvm::StringRef specText,
                                         llvm::StringRef entry = "",
                                         bool gradBias = false);

/// The spec of the forward of a backward spec's function `entry`:
/// `<entry>_forward` takes the backward's inputs but o, grad_o and lse, and
/// returns the o and (softmax) lse that those stand for.
llvm::Expected<std::string> forwardSpec(llvm::StringRef backwardSpecText,
                                        llvm::StringRef entry = "");

/// How the mask `maskAttr` (attribute text, e.g. "#attn.causal") treats
/// the block `[qLo, qHi) x [kvLo, kvHi)` of a `qLen x kvLen` score matrix,
/// by its tile classes: "empty" (no pair allowed), "full" (every pair) or
/// "partial" (some, or unknown: a mask that reads run-time data). For
/// planning shards (ring attention) before any kernel runs.
llvm::Expected<std::string> classifyMaskBlock(llvm::StringRef maskAttr,
                                              int64_t qLen, int64_t kvLen,
                                              int64_t qLo, int64_t qHi,
                                              int64_t kvLo, int64_t kvHi);

/// Forgets every kernel cached in memory (the disk cache stays).
void clearMemoryCache();

/// The disk cache directory `options` select.
std::string cacheDirectory(const Options &options);

} // namespace attn::jit

#endif // ATTN_JIT_JIT_H
