//===- Signature.cpp - What a compiled kernel takes and returns -----------===//

#include "attn/Runtime/Signature.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/raw_ostream.h"

namespace attn::runtime {

llvm::StringRef dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::F32:
    return "f32";
  case DType::F64:
    return "f64";
  case DType::I1:
    return "i1";
  case DType::I8:
    return "i8";
  case DType::I32:
    return "i32";
  case DType::I64:
    return "i64";
  }
  return "?";
}

std::optional<DType> parseDType(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<DType>>(name)
      .Case("f16", DType::F16)
      .Case("bf16", DType::BF16)
      .Case("f32", DType::F32)
      .Case("f64", DType::F64)
      .Case("i1", DType::I1)
      .Case("i8", DType::I8)
      .Case("i32", DType::I32)
      .Case("i64", DType::I64)
      .Default(std::nullopt);
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F64:
  case DType::I64:
    return 8;
  case DType::I1:
  case DType::I8:
    return 1;
  }
  return 0;
}

int64_t TensorRef::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

void appendMemrefDescriptor(const TensorRef &t, std::vector<int64_t> &words) {
  auto ptr = static_cast<int64_t>(reinterpret_cast<intptr_t>(t.data));
  size_t rank = t.shape.size(), first = words.size();
  words.insert(words.end(), {ptr, ptr, 0});
  words.insert(words.end(), t.shape.begin(), t.shape.end());
  words.resize(first + 3 + 2 * rank);
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    words[first + 3 + rank + i] = stride;
    stride *= t.shape[i];
  }
}

std::string describeDims(const Param &param) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << '[';
  llvm::interleaveComma(param.dims, os, [&](const Dim &d) {
    os << d.name << '=';
    if (d.size != Dim::kDynamic)
      os << d.size;
    else if (!d.derivedFrom.empty())
      os << "ceil(" << d.derivedFrom << "/" << d.divisor << ")";
    else
      os << '?';
  });
  os << ']';
  return s;
}

std::string describeShape(llvm::ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << '[';
  llvm::interleaveComma(shape, os);
  os << ']';
  return s;
}

llvm::Expected<DimBindings>
KernelSignature::bind(llvm::ArrayRef<TensorRef> given) const {
  auto fail = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  if (given.size() != inputs.size())
    return fail("kernel '" + entry + "' takes " +
                llvm::Twine(inputs.size()) + " inputs, got " +
                llvm::Twine(given.size()));
  DimBindings bindings;
  // Where each name was bound, for messages.
  std::map<std::string, std::string, std::less<>> boundBy;
  for (auto [param, tensor] : llvm::zip_equal(inputs, given)) {
    std::string expected = param.name + " " + describeDims(param) + " " +
                           dtypeName(param.dtype).str();
    std::string got =
        describeShape(tensor.shape) + " " + dtypeName(tensor.dtype).str();
    if (tensor.dtype != param.dtype)
      return fail("input '" + param.name + "' has element type " +
                  dtypeName(tensor.dtype) + ", the kernel expects " +
                  dtypeName(param.dtype) + " (expected " + expected +
                  ", got " + got + ")");
    if (tensor.shape.size() != param.dims.size())
      return fail("input '" + param.name + "' has rank " +
                  llvm::Twine(tensor.shape.size()) + ", the kernel expects " +
                  llvm::Twine(param.dims.size()) + " (expected " + expected +
                  ", got " + got + ")");
    for (auto [dim, size] : llvm::zip_equal(param.dims, tensor.shape)) {
      if (size < 0)
        return fail("input '" + param.name + "' has a negative size");
      if (dim.size != Dim::kDynamic && dim.size != size)
        return fail("input '" + param.name + "' has " + dim.name + " = " +
                    llvm::Twine(size) + ", the kernel is compiled for " +
                    dim.name + " = " + llvm::Twine(dim.size) + " (expected " +
                    expected + ", got " + got + ")");
      auto [it, inserted] = bindings.try_emplace(dim.name, size);
      if (inserted) {
        boundBy[dim.name] = param.name;
      } else if (it->second != size) {
        return fail("dimension " + dim.name + " is " + llvm::Twine(size) +
                    " in '" + param.name + "' but " +
                    llvm::Twine(it->second) + " in '" + boundBy[dim.name] +
                    "' (expected " + expected + ", got " + got + ")");
      }
    }
  }
  // Derived dimensions, now that every name is bound.
  for (const Param &param : inputs)
    for (const Dim &dim : param.dims) {
      if (dim.derivedFrom.empty())
        continue;
      auto base = bindings.find(dim.derivedFrom);
      if (base == bindings.end())
        return fail("dimension " + dim.name + " of '" + param.name +
                    "' depends on " + dim.derivedFrom +
                    ", which no input fixes");
      int64_t expected = (base->second + dim.divisor - 1) / dim.divisor;
      if (bindings[dim.name] != expected)
        return fail("dimension " + dim.name + " of '" + param.name +
                    "' must be ceil(" + dim.derivedFrom + " / " +
                    llvm::Twine(dim.divisor) + ") = " + llvm::Twine(expected) +
                    " (" + dim.derivedFrom + " = " +
                    llvm::Twine(base->second) + "), got " +
                    llvm::Twine(bindings[dim.name]));
    }
  return bindings;
}

llvm::Expected<DimBindings>
KernelSignature::bindCall(llvm::ArrayRef<TensorRef> given,
                          llvm::ArrayRef<TensorRef> results) const {
  llvm::Expected<DimBindings> bindings = bind(given);
  if (!bindings)
    return bindings.takeError();
  auto fail = [](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  if (results.size() != outputs.size())
    return fail("kernel '" + entry + "' has " + llvm::Twine(outputs.size()) +
                " outputs, got " + llvm::Twine(results.size()));
  for (auto [param, tensor] : llvm::zip_equal(outputs, results)) {
    llvm::Expected<std::vector<int64_t>> shape = shapeOf(param, *bindings);
    if (!shape)
      return shape.takeError();
    if (tensor.dtype != param.dtype || tensor.shape != *shape)
      return fail("output '" + param.name + "' must be " +
                  describeShape(*shape) + " " + dtypeName(param.dtype) +
                  ", got " + describeShape(tensor.shape) + " " +
                  dtypeName(tensor.dtype));
  }
  return bindings;
}

llvm::Expected<std::vector<int64_t>>
KernelSignature::shapeOf(const Param &param,
                         const DimBindings &bindings) const {
  std::vector<int64_t> shape;
  for (const Dim &dim : param.dims) {
    if (dim.size != Dim::kDynamic) {
      shape.push_back(dim.size);
      continue;
    }
    auto it = bindings.find(dim.name);
    if (it == bindings.end())
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "dimension " + dim.name + " of '" + param.name +
              "' is not determined by any input");
    shape.push_back(it->second);
  }
  return shape;
}

} // namespace attn::runtime
