//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "attn/Support/Npy.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

namespace attn {

namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

llvm::Error npyError(llvm::StringRef name, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 name + ": " + message);
}

/// The header is a Python dict literal, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
/// Returns the text after `'key':`, trimmed.
std::optional<llvm::StringRef> findValue(llvm::StringRef header,
                                         llvm::StringRef key) {
  for (char quote : {'\'', '"'}) {
    std::string pattern = (llvm::Twine(quote) + key + llvm::Twine(quote)).str();
    size_t at = header.find(pattern);
    if (at == llvm::StringRef::npos)
      continue;
    llvm::StringRef rest = header.drop_front(at + pattern.size()).ltrim();
    if (!rest.consume_front(":"))
      return std::nullopt;
    return rest.ltrim();
  }
  return std::nullopt;
}

std::optional<runtime::DType> dtypeOfDescr(llvm::StringRef descr) {
  return llvm::StringSwitch<std::optional<runtime::DType>>(descr)
      .Case("<f2", runtime::DType::F16)
      .Case("<f4", runtime::DType::F32)
      .Case("<f8", runtime::DType::F64)
      .Case("|i1", runtime::DType::I8)
      .Case("|b1", runtime::DType::I1)
      .Case("<i4", runtime::DType::I32)
      .Case("<i8", runtime::DType::I64)
      .Default(std::nullopt);
}

std::optional<llvm::StringRef> descrOf(runtime::DType dtype) {
  switch (dtype) {
  case runtime::DType::F16:
    return llvm::StringRef("<f2");
  case runtime::DType::F32:
    return llvm::StringRef("<f4");
  case runtime::DType::F64:
    return llvm::StringRef("<f8");
  case runtime::DType::I1:
    return llvm::StringRef("|b1");
  case runtime::DType::I8:
    return llvm::StringRef("|i1");
  case runtime::DType::I32:
    return llvm::StringRef("<i4");
  case runtime::DType::I64:
    return llvm::StringRef("<i8");
  case runtime::DType::BF16:
    return std::nullopt;
  }
  return std::nullopt;
}
} // namespace

llvm::Expected<NpyArray> parseNpy(llvm::StringRef bytes,
                                  llvm::StringRef name) {
  if (bytes.size() < kMagicSize + 4 ||
      !bytes.starts_with(llvm::StringRef(kMagic, kMagicSize)))
    return npyError(name, "not a .npy file (no \\x93NUMPY magic)");
  uint8_t major = bytes[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return npyError(name, "truncated header");
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    headerStart = 12;
  } else {
    return npyError(name, "unsupported .npy version " + llvm::Twine(unsigned(major)) +
                              " (1, 2 and 3 are supported)");
  }
  if (bytes.size() < headerStart + headerLen)
    return npyError(name, "truncated header");
  llvm::StringRef header = bytes.substr(headerStart, headerLen);

  // descr
  std::optional<llvm::StringRef> descrText = findValue(header, "descr");
  if (!descrText || descrText->empty() ||
      (descrText->front() != '\'' && descrText->front() != '"'))
    return npyError(name, "header has no 'descr' string: " + header.trim());
  char quote = descrText->front();
  size_t end = descrText->find(quote, 1);
  if (end == llvm::StringRef::npos)
    return npyError(name, "malformed 'descr' in header: " + header.trim());
  NpyArray array;
  array.descr = descrText->substr(1, end - 1).str();
  std::optional<runtime::DType> dtype = dtypeOfDescr(array.descr);
  if (!dtype)
    return npyError(name,
                    "unsupported dtype '" + array.descr +
                        "'; attn-mlir reads little-endian float64 ('<f8'), "
                        "float32 ('<f4'), float16 ('<f2'), int32 ('<i4'), "
                        "int64 ('<i8'), int8 ('|i1') and bool ('|b1') arrays");
  array.dtype = *dtype;

  // fortran_order
  std::optional<llvm::StringRef> order = findValue(header, "fortran_order");
  if (!order)
    return npyError(name, "header has no 'fortran_order': " + header.trim());
  if (order->starts_with("True"))
    return npyError(name, "the array is in Fortran order; save it in C order "
                          "(numpy.ascontiguousarray) first");
  if (!order->starts_with("False"))
    return npyError(name, "malformed 'fortran_order' in header: " +
                              header.trim());

  // shape
  std::optional<llvm::StringRef> shapeText = findValue(header, "shape");
  if (!shapeText || !shapeText->starts_with("("))
    return npyError(name, "header has no 'shape' tuple: " + header.trim());
  size_t close = shapeText->find(')');
  if (close == llvm::StringRef::npos)
    return npyError(name, "malformed 'shape' in header: " + header.trim());
  llvm::SmallVector<llvm::StringRef> parts;
  shapeText->substr(1, close - 1).split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef part : parts) {
    part = part.trim();
    if (part.empty())
      continue;
    int64_t size;
    if (part.getAsInteger(10, size) || size < 0)
      return npyError(name, "malformed 'shape' in header: " + header.trim());
    array.shape.push_back(size);
  }

  // data
  int64_t count = 1;
  for (int64_t d : array.shape)
    count *= d;
  size_t expected = size_t(count) * runtime::dtypeSize(array.dtype);
  size_t available = bytes.size() - headerStart - headerLen;
  if (available != expected)
    return npyError(name, llvm::Twine(available < expected ? "truncated"
                                                           : "oversized") +
                              " data: shape " +
                              runtime::describeShape(array.shape) + " of '" +
                              array.descr + "' needs " +
                              llvm::Twine(expected) + " bytes, the file has " +
                              llvm::Twine(available));
  const char *begin = bytes.data() + headerStart + headerLen;
  array.data.assign(begin, begin + expected);
  return array;
}

llvm::Expected<NpyArray> readNpy(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return npyError(path, "cannot read: " + buffer.getError().message());
  return parseNpy((*buffer)->getBuffer(), path);
}

llvm::Error writeNpy(llvm::StringRef path, const runtime::TensorRef &tensor) {
  std::optional<llvm::StringRef> descr = descrOf(tensor.dtype);
  if (!descr)
    return npyError(path, "NumPy has no dtype for " +
                              runtime::dtypeName(tensor.dtype) +
                              "; convert to f32 first");
  std::string shape = "(";
  for (int64_t d : tensor.shape)
    shape += std::to_string(d) + ", ";
  if (tensor.shape.size() > 1)
    shape.resize(shape.size() - 2);
  else if (tensor.shape.size() == 1)
    shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = "{'descr': '" + descr->str() +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so that the data starts at a multiple of 64 bytes.
  size_t total = kMagicSize + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return npyError(path, "cannot write: " + ec.message());
  os.write(kMagic, kMagicSize);
  os << char(1) << char(0) << char(header.size() & 0xff)
     << char(header.size() >> 8) << header;
  os.write(static_cast<const char *>(tensor.data),
           size_t(tensor.numElements()) * runtime::dtypeSize(tensor.dtype));
  os.close();
  if (os.has_error())
    return npyError(path, "write failed: " + os.error().message());
  return llvm::Error::success();
}

} // namespace attn
