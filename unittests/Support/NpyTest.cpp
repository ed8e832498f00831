//===- NpyTest.cpp - .npy reading and writing -----------------------------===//

#include "attn/Support/Npy.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace attn;

namespace {
std::string header(const std::string &dict, int version = 1) {
  std::string h = dict;
  size_t prefix = version == 1 ? 10 : 12;
  h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
  h += '\n';
  std::string out = "\x93NUMPY";
  out += char(version);
  out += char(0);
  if (version == 1) {
    out += char(h.size() & 0xff);
    out += char(h.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i)
      out += char((h.size() >> (8 * i)) & 0xff);
  }
  return out + h;
}

std::string errorOf(llvm::StringRef bytes) {
  auto array = parseNpy(bytes, "x.npy");
  if (array)
    return "";
  return llvm::toString(array.takeError());
}
} // namespace

TEST(Npy, ParsesVersions1And2) {
  for (int version : {1, 2}) {
    std::string data(6 * 4, '\0');
    float values[6] = {1, 2, 3, 4, 5, 6};
    std::memcpy(data.data(), values, sizeof(values));
    std::string bytes =
        header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
               version) +
        data;
    auto array = parseNpy(bytes, "x.npy");
    ASSERT_TRUE(bool(array)) << llvm::toString(array.takeError());
    EXPECT_EQ(array->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(array->dtype, runtime::DType::F32);
    EXPECT_EQ(reinterpret_cast<float *>(array->data.data())[5], 6.0f);
  }
}

TEST(Npy, ParsesScalarsAndOneDimensional) {
  auto scalar = parseNpy(header("{'descr': '<f8', 'fortran_order': False, "
                                "'shape': (), }") +
                             std::string(8, '\0'),
                         "s.npy");
  ASSERT_TRUE(bool(scalar)) << llvm::toString(scalar.takeError());
  EXPECT_TRUE(scalar->shape.empty());
  auto vector = parseNpy(header("{\"descr\": \"<i4\", \"fortran_order\": "
                                "False, \"shape\": (3,), }") +
                             std::string(12, '\0'),
                         "v.npy");
  ASSERT_TRUE(bool(vector)) << llvm::toString(vector.takeError());
  EXPECT_EQ(vector->shape, std::vector<int64_t>{3});
}

TEST(Npy, RefusesWhatItCannotRead) {
  const std::string f4 = "{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (2,), }";
  EXPECT_NE(errorOf("hello").find("not a .npy file"), std::string::npos);
  EXPECT_NE(errorOf(header(f4) + std::string(7, '\0')).find(
                "truncated data: shape [2] of '<f4' needs 8 bytes, the "
                "file has 7"),
            std::string::npos);
  EXPECT_NE(errorOf(header(f4) + std::string(9, '\0')).find("oversized data"),
            std::string::npos);
  EXPECT_NE(errorOf(header("{'descr': '<f4', 'fortran_order': True, "
                           "'shape': (2,), }") +
                    std::string(8, '\0'))
                .find("Fortran order"),
            std::string::npos);
  EXPECT_NE(errorOf(header("{'descr': '>f4', 'fortran_order': False, "
                           "'shape': (2,), }") +
                    std::string(8, '\0'))
                .find("unsupported dtype '>f4'"),
            std::string::npos);
  EXPECT_NE(errorOf(header("{'descr': '<c8', 'fortran_order': False, "
                           "'shape': (2,), }") +
                    std::string(16, '\0'))
                .find("unsupported dtype '<c8'"),
            std::string::npos);
  EXPECT_NE(errorOf(header("{'descr': '<f4', 'shape': (2,), }") +
                    std::string(8, '\0'))
                .find("no 'fortran_order'"),
            std::string::npos);
  EXPECT_NE(errorOf(header("{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (2, x), }") +
                    std::string(8, '\0'))
                .find("malformed 'shape'"),
            std::string::npos);
  std::string badVersion = header(f4);
  badVersion[6] = 9;
  EXPECT_NE(errorOf(badVersion).find("unsupported .npy version 9"),
            std::string::npos)
      << errorOf(badVersion);
  // A header length that runs past the end of the file.
  EXPECT_NE(errorOf(header(f4).substr(0, 20)).find("truncated header"),
            std::string::npos);
}

TEST(Npy, WriteThenReadRoundTrips) {
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("attn", "npy", path));
  std::vector<int32_t> values = {1, -2, 3, -4, 5, -6};
  runtime::TensorRef t{values.data(), runtime::DType::I32, {3, 2}};
  ASSERT_FALSE(bool(writeNpy(path, t)));
  auto array = readNpy(path);
  ASSERT_TRUE(bool(array)) << llvm::toString(array.takeError());
  EXPECT_EQ(array->descr, "<i4");
  EXPECT_EQ(array->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(std::memcmp(array->data.data(), values.data(), 24), 0);
  llvm::sys::fs::remove(path);

  runtime::TensorRef bf16{values.data(), runtime::DType::BF16, {2}};
  llvm::Error e = writeNpy(path, bf16);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("NumPy has no dtype for bf16"),
            std::string::npos);
}
