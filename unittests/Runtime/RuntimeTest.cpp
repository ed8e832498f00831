//===- RuntimeTest.cpp - Manifest, launch planning and the CUDA runtime ---===//
//
// Runs without a GPU: the driver is missing (a real case on CI) or the fake
// driver built next to this test stands in for it. ctest runs every test in
// its own process, so each one can pick its driver before the first use.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/CudaRuntime.h"

#include "gtest/gtest.h"

#include <cstdlib>

using namespace attn::runtime;

namespace {

/// The manifest of a causal kernel on q [B, 4, Sq, 64] bf16 (GQA over
/// k, v [B, 1, Skv, 64]) returning o and lse.
Manifest causalManifest(llvm::StringRef chip = "sm_90",
                        llvm::StringRef format = "cubin") {
  Manifest m;
  m.kernel = "causal_attention";
  m.chip = chip.str();
  m.binaryFormat = format.str();
  m.specHash = "ABC";
  m.compiler = "attn-mlir test";
  auto dims = [](std::vector<std::pair<const char *, int64_t>> ds) {
    std::vector<Dim> out;
    for (auto [name, size] : ds)
      out.push_back(Dim{name, size});
    return out;
  };
  const int64_t dyn = Dim::kDynamic;
  m.signature.entry = "causal";
  m.signature.inputs = {
      {"q", DType::BF16, dims({{"B", dyn}, {"Hq", 4}, {"Sq", dyn}, {"D", 64}})},
      {"k", DType::BF16, dims({{"B", dyn}, {"Hkv", 1}, {"Skv", dyn}, {"D", 64}})},
      {"v", DType::BF16, dims({{"B", dyn}, {"Hkv", 1}, {"Skv", dyn}, {"Dv", 64}})}};
  m.signature.outputs = {
      {"o", DType::BF16, dims({{"B", dyn}, {"Hq", 4}, {"Sq", dyn}, {"Dv", 64}})},
      {"lse", DType::F32, dims({{"B", dyn}, {"Hq", 4}, {"Sq", dyn}})}};
  for (unsigned i = 0; i < 3; ++i)
    m.params.push_back({KernelParam::Kind::MemrefDescriptor, false, i, 4, {}});
  m.params.push_back({KernelParam::Kind::MemrefDescriptor, true, 0, 4, {}});
  m.params.push_back({KernelParam::Kind::MemrefDescriptor, true, 1, 3, {}});
  m.grid = {Expr::binary(Expr::Kind::CeilDiv, Expr::dimension("Sq"),
                         Expr::constant(64)),
            Expr::constant(4), Expr::dimension("B")};
  m.block = {Expr::constant(128), Expr::constant(1), Expr::constant(1)};
  m.dynamicSharedMemory = Expr::constant(36864);
  return m;
}

/// Fake, 256-byte aligned device addresses: planning never dereferences.
struct Tensors {
  std::vector<TensorRef> inputs, outputs;
  Tensors(int64_t b, int64_t sq, int64_t skv) {
    auto ptr = [](uintptr_t n) { return reinterpret_cast<void *>(n << 20); };
    inputs = {{ptr(1), DType::BF16, {b, 4, sq, 64}},
              {ptr(2), DType::BF16, {b, 1, skv, 64}},
              {ptr(3), DType::BF16, {b, 1, skv, 64}}};
    outputs = {{ptr(4), DType::BF16, {b, 4, sq, 64}},
               {ptr(5), DType::F32, {b, 4, sq}}};
  }
};

std::string errorOf(llvm::Error e) { return llvm::toString(std::move(e)); }

TEST(Manifest, RoundTripsThroughJSON) {
  Manifest m = causalManifest();
  std::string text;
  llvm::raw_string_ostream os(text);
  os << m.toJSON();
  llvm::Expected<Manifest> back = Manifest::parse(text);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->kernel, "causal_attention");
  EXPECT_EQ(back->chip, "sm_90");
  EXPECT_EQ(back->grid[0].str(), "ceildiv(Sq, 64)");
  EXPECT_EQ(back->grid[2].str(), "B");
  ASSERT_EQ(back->params.size(), 5u);
  EXPECT_TRUE(back->params[4].isOutput);
  EXPECT_EQ(back->params[4].tensor, 1u);
  EXPECT_EQ(back->params[4].rank, 3u);
  EXPECT_EQ(back->signature.inputs[1].dims[1].size, 1);
  EXPECT_EQ(back->signature.outputs[1].dtype, DType::F32);
}

TEST(Manifest, RejectsMalformedInput) {
  EXPECT_NE(errorOf(Manifest::parse("{").takeError())
                .find("the manifest is not valid JSON"),
            std::string::npos);
  EXPECT_NE(errorOf(Manifest::parse("{\"version\": 1}").takeError())
                .find("the manifest has no field 'kernel'"),
            std::string::npos);
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::json::Value v = causalManifest().toJSON();
  v.getAsObject()->operator[]("version") = 7;
  os << v;
  EXPECT_NE(errorOf(Manifest::parse(text).takeError())
                .find("manifest version 7 is not supported"),
            std::string::npos);
  EXPECT_NE(errorOf(Manifest::load("/nonexistent/m.json").takeError())
                .find("cannot read manifest /nonexistent/m.json"),
            std::string::npos);
}

TEST(LaunchPlan, EvaluatesGeometryAndPacksDescriptors) {
  Manifest m = causalManifest();
  Tensors t(3, 77, 131);
  auto plan = planLaunch(m, t.inputs, t.outputs);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ((*plan)->grid, (std::array<int64_t, 3>{2, 4, 3}));
  EXPECT_EQ((*plan)->block, (std::array<int64_t, 3>{128, 1, 1}));
  EXPECT_EQ((*plan)->dynamicSharedMemory, 36864);
  EXPECT_FALSE((*plan)->empty);
  // q: allocated, aligned, offset 0, sizes, row-major strides.
  const std::vector<int64_t> &a = (*plan)->argStorage;
  ASSERT_EQ(a.size(), 4 * 11u + 9u);
  EXPECT_EQ(a[0], int64_t(1) << 20);
  EXPECT_EQ(a[1], int64_t(1) << 20);
  EXPECT_EQ(a[2], 0);
  EXPECT_EQ(std::vector<int64_t>(a.begin() + 3, a.begin() + 7),
            (std::vector<int64_t>{3, 4, 77, 64}));
  EXPECT_EQ(std::vector<int64_t>(a.begin() + 7, a.begin() + 11),
            (std::vector<int64_t>{4 * 77 * 64, 77 * 64, 64, 1}));
  ASSERT_EQ((*plan)->args.size(), a.size());
  EXPECT_EQ((*plan)->args[5], &(*plan)->argStorage[5]);
}

TEST(LaunchPlan, EmptyGridLaunchesNothing) {
  Tensors t(2, 0, 16);
  auto plan = planLaunch(causalManifest(), t.inputs, t.outputs);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  EXPECT_TRUE((*plan)->empty);
}

TEST(LaunchPlan, RejectsShapeDtypeAndAlignmentErrors) {
  Manifest m = causalManifest();
  Tensors heads(2, 16, 16);
  heads.inputs[0].shape[1] = 8;
  EXPECT_NE(errorOf(planLaunch(m, heads.inputs, heads.outputs).takeError())
                .find("input 'q' has Hq = 8, the kernel is compiled for Hq = 4"),
            std::string::npos);
  Tensors lengths(2, 16, 16);
  lengths.inputs[2].shape[2] = 15;
  EXPECT_NE(errorOf(planLaunch(m, lengths.inputs, lengths.outputs).takeError())
                .find("dimension Skv is 15 in 'v' but 16 in 'k'"),
            std::string::npos);
  Tensors dtype(2, 16, 16);
  dtype.inputs[1].dtype = DType::F16;
  EXPECT_NE(errorOf(planLaunch(m, dtype.inputs, dtype.outputs).takeError())
                .find("input 'k' has element type f16, the kernel expects bf16"),
            std::string::npos);
  Tensors output(2, 16, 16);
  output.outputs[1].shape = {2, 4, 17};
  EXPECT_NE(errorOf(planLaunch(m, output.inputs, output.outputs).takeError())
                .find("output 'lse' must be [2, 4, 16] f32, got [2, 4, 17] f32"),
            std::string::npos);
  Tensors aligned(2, 16, 16);
  aligned.inputs[0].data = static_cast<char *>(aligned.inputs[0].data) + 2;
  EXPECT_NE(errorOf(planLaunch(m, aligned.inputs, aligned.outputs).takeError())
                .find("input 'q' is not 16-byte aligned"),
            std::string::npos);
}

TEST(CudaRuntime, ReportsAMissingDriver) {
  setenv("ATTN_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  std::string e = errorOf(getCudaDevice().takeError());
  EXPECT_NE(e.find("cannot load the CUDA driver (/nonexistent/libcuda.so.1)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("run on the CPU"), std::string::npos) << e;
  e = errorOf(CudaKernel::load("image", causalManifest()).takeError());
  EXPECT_NE(e.find("cannot load the CUDA driver"), std::string::npos) << e;
}

TEST(CudaRuntime, RejectsAKernelForAnotherArchitecture) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "80", 1);
  std::string e =
      errorOf(CudaKernel::load("image", causalManifest("sm_90")).takeError());
  EXPECT_NE(e.find("kernel 'causal_attention' was compiled for sm_90 (cubin) "
                   "and cannot run on device 0 (Fake GPU, sm_80); recompile "
                   "it with --chip sm_80"),
            std::string::npos)
      << e;
  // PTX for an older chip is compiled by the driver for the newer one.
  auto ptx = CudaKernel::load("image", causalManifest("sm_75", "ptx"));
  EXPECT_TRUE(bool(ptx)) << llvm::toString(ptx.takeError());
}

TEST(CudaRuntime, ReportsTheDriverMessageOfALaunchFailure) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  auto kernel = CudaKernel::load("image", causalManifest());
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_EQ((*kernel)->device().name, "Fake GPU");
  std::vector<DeviceBuffer> buffers;
  Tensors t(1, 16, 16);
  for (TensorRef &ref : llvm::concat<TensorRef>(t.inputs, t.outputs)) {
    auto buffer = DeviceBuffer::allocate(ref.numElements() * dtypeSize(ref.dtype));
    ASSERT_TRUE(bool(buffer)) << llvm::toString(buffer.takeError());
    ref.data = buffer->data();
    buffers.push_back(std::move(*buffer));
  }
  std::string e = errorOf((*kernel)->launch(t.inputs, t.outputs));
  EXPECT_NE(e.find("launching 'causal_attention' on grid [1, 4, 1] x block "
                   "[128, 1, 1] failed with CUDA error 719: unspecified "
                   "launch failure"),
            std::string::npos)
      << e;
  // Shapes are checked before anything reaches the driver.
  t.inputs[0].shape[3] = 32;
  e = errorOf((*kernel)->launch(t.inputs, t.outputs));
  EXPECT_NE(e.find("input 'q' has D = 32, the kernel is compiled for D = 64"),
            std::string::npos)
      << e;
}

TEST(CudaRuntime, DeviceBuffersCopyAndPoison) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  auto buffer = DeviceBuffer::allocate(16);
  ASSERT_TRUE(bool(buffer)) << llvm::toString(buffer.takeError());
  float in[4] = {1, 2, 3, 4}, out[4] = {0, 0, 0, 0};
  ASSERT_FALSE(bool(buffer->copyFromHost(in, sizeof(in))));
  ASSERT_FALSE(bool(buffer->copyToHost(out, sizeof(out))));
  EXPECT_EQ(out[3], 4.0f);
  ASSERT_FALSE(bool(buffer->poison()));
  ASSERT_FALSE(bool(buffer->copyToHost(out, sizeof(out))));
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_NE(errorOf(buffer->copyFromHost(in, 64)).find("copy of 64 bytes into a buffer of 16"),
            std::string::npos);
}

} // namespace
