//===- Manifest.h - What a loader needs to launch a compiled kernel -*- C++ -*-//
//
// `attn-translate --manifest` writes one next to every GPU binary: the kernel
// symbol, its parameters in order with their ABI, the launch geometry as
// formulas in the signature's dimension names, the chip and a hash of the
// spec. The runtime reads it back; both sides live here so they cannot
// drift. LLVM Support only (llvm::json), never MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RUNTIME_MANIFEST_H
#define ATTN_RUNTIME_MANIFEST_H

#include "attn/Runtime/Signature.h"

#include "llvm/Support/JSON.h"

#include <array>
#include <memory>

namespace attn::runtime {

/// An integer formula over the signature's dimensions: a constant, a
/// dimension name, or a binary operation.
struct Expr {
  enum class Kind { Constant, Dim, Add, Sub, Mul, DivFloor, CeilDiv, Rem, Max, Min };
  Kind kind = Kind::Constant;
  int64_t value = 0;
  std::string dim;
  std::shared_ptr<const Expr> lhs, rhs;

  static Expr constant(int64_t v);
  static Expr dimension(llvm::StringRef name);
  static Expr binary(Kind kind, Expr lhs, Expr rhs);

  /// Evaluates under `bindings`; fails on an unbound dimension or a division
  /// by zero.
  llvm::Expected<int64_t> evaluate(const DimBindings &bindings) const;
  /// `ceildiv(Sq, 64)`, `B`, `128`.
  std::string str() const;
};

/// How one kernel parameter is passed.
struct KernelParam {
  enum class Kind {
    /// A tensor as MLIR's expanded memref descriptor: allocated pointer,
    /// aligned pointer, i64 offset, `rank` i64 sizes, `rank` i64 strides.
    MemrefDescriptor,
    /// An i64 (index) scalar given by `value`.
    Index,
  };
  Kind kind = Kind::MemrefDescriptor;
  /// MemrefDescriptor: the signature parameter it passes (an input or an
  /// output) and its rank.
  bool isOutput = false;
  unsigned tensor = 0;
  unsigned rank = 0;
  /// Index: the value.
  Expr value;
};

struct Manifest {
  static constexpr int kVersion = 1;
  /// The kernel symbol in the binary.
  std::string kernel;
  /// "sm_90".
  std::string chip;
  /// "cubin", "ptx" or "fatbin".
  std::string binaryFormat;
  /// Hex hash of the spec text and compile options; the compiler version.
  std::string specHash;
  std::string compiler;
  KernelSignature signature;
  std::vector<KernelParam> params;
  std::array<Expr, 3> grid, block;
  Expr dynamicSharedMemory;
  /// Every tensor must be this many bytes aligned (16: the cp.async copies).
  int64_t alignment = 16;

  llvm::json::Value toJSON() const;
  static llvm::Expected<Manifest> fromJSON(const llvm::json::Value &value);
  static llvm::Expected<Manifest> parse(llvm::StringRef text);
  static llvm::Expected<Manifest> load(llvm::StringRef path);
};

/// Everything one launch needs, computed from the manifest and the tensors
/// alone (no driver): shapes and dtypes are checked here.
struct LaunchPlan {
  std::array<int64_t, 3> grid{}, block{};
  int64_t dynamicSharedMemory = 0;
  /// The parameter values, packed: `argStorage` holds them, `args` points
  /// at each (the form cuLaunchKernel takes).
  std::vector<int64_t> argStorage;
  std::vector<void *> args;
  /// True when the grid is empty (e.g. zero queries): nothing to launch.
  bool empty = false;
};

/// `inputs` and `outputs` hold device pointers. Errors name the parameter
/// and show the expected and given shapes.
llvm::Expected<std::unique_ptr<LaunchPlan>>
planLaunch(const Manifest &manifest, llvm::ArrayRef<TensorRef> inputs,
           llvm::ArrayRef<TensorRef> outputs);

} // namespace attn::runtime

#endif // ATTN_RUNTIME_MANIFEST_H
