//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Reads and writes NumPy's .npy format (versions 1.0 to 3.0): little-endian
// numeric arrays in C order. Everything else (Fortran order, big-endian or
// object arrays, truncated or oversized files) is refused with a message
// that says what the file holds.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_SUPPORT_NPY_H
#define ATTN_SUPPORT_NPY_H

#include "attn/Runtime/Signature.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace attn {

struct NpyArray {
  /// The descr field as written in the file, e.g. "<f4".
  std::string descr;
  runtime::DType dtype = runtime::DType::F32;
  std::vector<int64_t> shape;
  std::vector<char> data;

  runtime::TensorRef ref() {
    return runtime::TensorRef{data.data(), dtype, shape};
  }
};

/// Parses the bytes of a .npy file; `name` appears in messages.
llvm::Expected<NpyArray> parseNpy(llvm::StringRef bytes, llvm::StringRef name);
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);

/// Writes `tensor` (f16, f32, f64, i8, i32 or i64; bf16 has no NumPy dtype).
llvm::Error writeNpy(llvm::StringRef path, const runtime::TensorRef &tensor);

} // namespace attn

#endif // ATTN_SUPPORT_NPY_H
