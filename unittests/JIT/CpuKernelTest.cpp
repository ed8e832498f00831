//===- CpuKernelTest.cpp - The CPU JIT API and its errors -----------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include <gtest/gtest.h>

using namespace attn;
using runtime::DType;

namespace {
constexpr const char *kSpec = R"mlir(
func.func @f(%q: tensor<?x2x?x8xf32>, %k: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.causal) : tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x8xf32>
  return %o : tensor<?x2x?x8xf32>
}
)mlir";

std::string errorText(llvm::Error e) {
  return e ? llvm::toString(std::move(e)) : std::string();
}

TEST(CpuKernel, SignatureNamesParametersAndDimensions) {
  auto kernel = jit::CpuKernel::compile(kSpec);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  const runtime::KernelSignature &sig = (*kernel)->signature();
  EXPECT_EQ(sig.entry, "f");
  ASSERT_EQ(sig.inputs.size(), 3u);
  EXPECT_EQ(sig.inputs[1].name, "k");
  EXPECT_EQ(runtime::describeDims(sig.inputs[1]), "[B=?, Hkv=2, Skv=?, D=8]");
  ASSERT_EQ(sig.outputs.size(), 1u);
  EXPECT_EQ(runtime::describeDims(sig.outputs[0]), "[B=?, Hq=2, Sq=?, Dv=8]");
}

TEST(CpuKernel, RefusesBadArguments) {
  auto kernel = jit::CpuKernel::compile(kSpec);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  std::mt19937_64 rng(1);
  HostTensor q = HostTensor::randomNormal(DType::F32, {1, 2, 5, 8}, rng);
  HostTensor k = HostTensor::randomNormal(DType::F32, {1, 2, 7, 8}, rng);
  HostTensor v = HostTensor::randomNormal(DType::F32, {1, 2, 7, 8}, rng);
  HostTensor o(DType::F32, {1, 2, 5, 8});
  HostTensor wrongO(DType::F32, {1, 2, 7, 8});
  EXPECT_EQ(errorText((*kernel)->run({q.ref(), k.ref(), v.ref()}, {o.ref()})),
            "");
  EXPECT_EQ(
      errorText((*kernel)->run({q.ref(), k.ref(), v.ref()}, {wrongO.ref()})),
      "output 'o' must be [1, 2, 5, 8] f32, got [1, 2, 7, 8] f32");
  EXPECT_EQ(errorText((*kernel)->run({q.ref(), k.ref()}, {o.ref()})),
            "kernel 'f' takes 3 inputs, got 2");
  EXPECT_EQ(errorText((*kernel)->run({q.ref(), k.ref(), v.ref()}, {})),
            "kernel 'f' has 1 outputs, got 0");
  runtime::TensorRef noData = q.ref();
  noData.data = nullptr;
  EXPECT_EQ(errorText((*kernel)->run({noData, k.ref(), v.ref()}, {o.ref()})),
            "a tensor passed to 'f' has no data pointer");
}

TEST(CpuKernel, ReportsDiagnosticsWithLocations) {
  auto bad = jit::CpuKernel::compile("func.func @f() {\n  %x = attn.nope\n}\n",
                                     {}, "bad.mlir");
  ASSERT_FALSE(bool(bad));
  std::string text = llvm::toString(bad.takeError());
  EXPECT_NE(text.find("cannot parse the spec"), std::string::npos) << text;
  EXPECT_NE(text.find("bad.mlir:2:"), std::string::npos) << text;

  auto invalid = jit::CpuKernel::compile(R"mlir(
func.func @f(%q: tensor<1x3x4x8xf32>, %k: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x8xf32>) -> tensor<1x3x4x8xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x3x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x3x4x8xf32>
  return %o : tensor<1x3x4x8xf32>
})mlir");
  ASSERT_FALSE(bool(invalid));
  text = llvm::toString(invalid.takeError());
  EXPECT_NE(text.find("spec:3:8: error: 'attn.attention' op query heads (3) "
                      "must be a multiple of key/value heads (2)"),
            std::string::npos)
      << text;
}

// The kernel and the f64 reference compiled from one spec agree.
TEST(CpuKernel, Float64ReferenceOfTheSameSpec) {
  jit::CpuOptions refOptions;
  refOptions.reference = true;
  refOptions.float64 = true;
  auto kernel = jit::CpuKernel::compile(kSpec);
  auto ref = jit::CpuKernel::compile(kSpec, refOptions);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  ASSERT_TRUE(bool(ref)) << llvm::toString(ref.takeError());
  // The reference reads the spec's inputs and returns f64.
  EXPECT_EQ((*ref)->signature().inputs[0].dtype, DType::F32);
  EXPECT_EQ((*ref)->signature().outputs[0].dtype, DType::F64);
  std::mt19937_64 rng(std::random_device{}());
  HostTensor q = HostTensor::randomNormal(DType::F32, {2, 2, 33, 8}, rng);
  HostTensor k = HostTensor::randomNormal(DType::F32, {2, 2, 35, 8}, rng);
  HostTensor v = HostTensor::randomNormal(DType::F32, {2, 2, 35, 8}, rng);
  HostTensor o(DType::F32, {2, 2, 33, 8}), o64(DType::F64, {2, 2, 33, 8});
  ASSERT_EQ(errorText((*kernel)->run({q.ref(), k.ref(), v.ref()}, {o.ref()})),
            "");
  ASSERT_EQ(errorText((*ref)->run({q.ref(), k.ref(), v.ref()}, {o64.ref()})),
            "");
  EXPECT_LE(relativeError(o, o64), 1e-5);
  EXPECT_GT(relativeError(o, o64), 0.0); // f32 differs from f64 somewhere
}
} // namespace
