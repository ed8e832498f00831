//===- SignatureTest.cpp - Binding named dimensions -----------------------===//

#include "attn/Runtime/Signature.h"

#include <gtest/gtest.h>

using namespace attn::runtime;

namespace {
KernelSignature attentionSignature() {
  constexpr int64_t dyn = Dim::kDynamic;
  KernelSignature sig;
  sig.entry = "f";
  sig.inputs = {
      {"q", DType::F16, {{"B", dyn}, {"Hq", 8}, {"Sq", dyn}, {"D", 64}}},
      {"k", DType::F16, {{"B", dyn}, {"Hkv", 2}, {"Skv", dyn}, {"D", 64}}},
      {"v", DType::F16, {{"B", dyn}, {"Hkv", 2}, {"Skv", dyn}, {"Dv", 32}}}};
  sig.outputs = {
      {"o", DType::F16, {{"B", dyn}, {"Hq", 8}, {"Sq", dyn}, {"Dv", 32}}}};
  return sig;
}

std::string bindError(const KernelSignature &sig,
                      std::vector<TensorRef> inputs) {
  auto bound = sig.bind(inputs);
  if (bound)
    return "";
  return llvm::toString(bound.takeError());
}
} // namespace

TEST(Signature, BindsAndDerivesOutputShapes) {
  KernelSignature sig = attentionSignature();
  std::vector<TensorRef> inputs = {{nullptr, DType::F16, {3, 8, 37, 64}},
                                   {nullptr, DType::F16, {3, 2, 101, 64}},
                                   {nullptr, DType::F16, {3, 2, 101, 32}}};
  auto bound = sig.bind(inputs);
  ASSERT_TRUE(bool(bound)) << llvm::toString(bound.takeError());
  EXPECT_EQ(bound->at("Sq"), 37);
  EXPECT_EQ(bound->at("Skv"), 101);
  auto shape = sig.shapeOf(sig.outputs[0], *bound);
  ASSERT_TRUE(bool(shape));
  EXPECT_EQ(*shape, (std::vector<int64_t>{3, 8, 37, 32}));
}

TEST(Signature, ReportsMismatchesByName) {
  KernelSignature sig = attentionSignature();
  EXPECT_EQ(bindError(sig, {{nullptr, DType::F16, {3, 8, 37, 64}},
                            {nullptr, DType::F16, {3, 2, 101, 64}},
                            {nullptr, DType::F16, {3, 2, 100, 32}}}),
            "dimension Skv is 100 in 'v' but 101 in 'k' (expected v [B=?, "
            "Hkv=2, Skv=?, Dv=32] f16, got [3, 2, 100, 32] f16)");
  EXPECT_EQ(bindError(sig, {{nullptr, DType::F32, {3, 8, 37, 64}},
                            {nullptr, DType::F16, {3, 2, 101, 64}},
                            {nullptr, DType::F16, {3, 2, 101, 32}}}),
            "input 'q' has element type f32, the kernel expects f16 (expected "
            "q [B=?, Hq=8, Sq=?, D=64] f16, got [3, 8, 37, 64] f32)");
  EXPECT_EQ(bindError(sig, {{nullptr, DType::F16, {3, 4, 37, 64}},
                            {nullptr, DType::F16, {3, 2, 101, 64}},
                            {nullptr, DType::F16, {3, 2, 101, 32}}}),
            "input 'q' has Hq = 4, the kernel is compiled for Hq = 8 (expected "
            "q [B=?, Hq=8, Sq=?, D=64] f16, got [3, 4, 37, 64] f16)");
  EXPECT_EQ(bindError(sig, {{nullptr, DType::F16, {3, 8, 37}},
                            {nullptr, DType::F16, {3, 2, 101, 64}},
                            {nullptr, DType::F16, {3, 2, 101, 32}}}),
            "input 'q' has rank 3, the kernel expects 4 (expected q [B=?, "
            "Hq=8, Sq=?, D=64] f16, got [3, 8, 37] f16)");
  EXPECT_EQ(bindError(sig, {{nullptr, DType::F16, {3, 8, 37, 64}}}),
            "kernel 'f' takes 3 inputs, got 1");
}

TEST(Signature, DTypeNames) {
  for (DType t : {DType::F16, DType::BF16, DType::F32, DType::F64, DType::I8,
                  DType::I32, DType::I64})
    EXPECT_EQ(parseDType(dtypeName(t)), t);
  EXPECT_EQ(parseDType("f8"), std::nullopt);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
}
