//===- Signature.h - What a compiled kernel takes and returns ---*- C++ -*-===//
//
// A kernel's parameters, their element types and named dimensions. Shared by
// the CPU JIT, the CUDA runtime and the manifest; it depends on LLVM Support
// only, never on MLIR, so the runtime can ship without the compiler.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RUNTIME_SIGNATURE_H
#define ATTN_RUNTIME_SIGNATURE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace attn::runtime {

enum class DType { F16, BF16, F32, F64, I1, I8, I32, I64 };

/// "f16", "bf16", "f32", "f64", "i1", "i8", "i32", "i64". i1 takes a byte.
llvm::StringRef dtypeName(DType dtype);
std::optional<DType> parseDType(llvm::StringRef name);
size_t dtypeSize(DType dtype);

/// A dense row-major tensor in memory the caller owns.
struct TensorRef {
  void *data = nullptr;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;

  int64_t numElements() const;
};

/// One dimension of a parameter: a name shared by every dimension that must
/// agree (`B`, `Sq`, ...) and a static size, or kDynamic. A derived
/// dimension must also equal `ceil(size of derivedFrom / divisor)` (e.g. the
/// number of blocks of a block-sparse layout).
struct Dim {
  static constexpr int64_t kDynamic = -1;
  std::string name;
  int64_t size = kDynamic;
  std::string derivedFrom = {};
  int64_t divisor = 1;
};

struct Param {
  std::string name;
  DType dtype = DType::F32;
  std::vector<Dim> dims;
};

/// Sizes bound to dimension names, e.g. {B: 2, Sq: 37}.
using DimBindings = std::map<std::string, int64_t, std::less<>>;

struct KernelSignature {
  std::string entry;
  std::vector<Param> inputs;
  std::vector<Param> outputs;

  /// Binds every dimension name from the shapes of `inputs` (one per
  /// parameter, in order) and checks dtypes, ranks, static sizes and that
  /// equally named dimensions agree. Errors name the parameter and show
  /// both the expected and the given shape.
  llvm::Expected<DimBindings> bind(llvm::ArrayRef<TensorRef> inputs) const;

  /// bind(inputs), then checks that `outputs` have the shapes and dtypes
  /// the bindings give them: the argument check of every kernel call.
  llvm::Expected<DimBindings>
  bindCall(llvm::ArrayRef<TensorRef> inputs,
           llvm::ArrayRef<TensorRef> outputs) const;

  /// The shape of `param` under `bindings` (every dimension must be bound).
  llvm::Expected<std::vector<int64_t>>
  shapeOf(const Param &param, const DimBindings &bindings) const;
};

/// Appends MLIR's expanded memref descriptor of the dense row-major tensor
/// `t` to `words`: allocated and aligned pointer, offset 0, sizes[rank],
/// strides[rank]. Compiled kernels, CPU and GPU, take tensors this way.
void appendMemrefDescriptor(const TensorRef &t, std::vector<int64_t> &words);

/// Prints `[B=?, Hq=8, Sq=?, D=64]` (derived dimensions as
/// `QBlocks=ceil(Sq/64)`).
std::string describeDims(const Param &param);
/// Prints `[2, 8, 37, 64]`.
std::string describeShape(llvm::ArrayRef<int64_t> shape);

} // namespace attn::runtime

#endif // ATTN_RUNTIME_SIGNATURE_H
