//===- JitTest.cpp - attn::jit::compile and its caches --------------------===//
//
// The CUDA path runs against the fake driver (no GPU here): compiling,
// writing and reading the disk cache and loading are real; only the launch
// is not. ctest runs every test in its own process.
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/Jit.h"
#include "attn/Runtime/CudaRuntime.h"
#include "attn/Runtime/Manifest.h"

#include "FakeCudaDriver.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <fstream>
#include <thread>

using namespace attn;
using namespace attn::jit;

namespace {

constexpr const char *kSpec = R"mlir(
func.func @causal(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x2x?x64xbf16>,
                  %v: tensor<?x2x?x64xbf16>) -> tensor<?x4x?x64xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<?x4x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>
      -> tensor<?x4x?x64xbf16>
  return %o : tensor<?x4x?x64xbf16>
}
)mlir";

/// A fresh cache directory, removed afterwards.
struct TempCache {
  llvm::SmallString<128> dir;
  TempCache() {
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("attn-jit-cache", dir));
  }
  ~TempCache() { llvm::sys::fs::remove_directories(dir); }
  std::vector<std::string> files(llvm::StringRef extension) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
         it.increment(ec))
      if (llvm::sys::path::extension(it->path()) == extension)
        out.push_back(it->path());
    return out;
  }
};

Options cudaOptions(const TempCache &cache) {
  Options o;
  o.target = Target::Cuda;
  o.cacheDir = cache.dir.str().str();
  return o;
}

/// Compiling for CUDA needs the toolkit (ptxas, libdevice), not a GPU.
bool haveToolkit() {
  return llvm::sys::fs::exists(ATTN_CUDA_TOOLKIT_DIR "/bin/ptxas");
}

void useFakeDriver() {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
}

Origin originOf(llvm::StringRef spec, const Options &o) {
  auto result = compile(spec, o);
  if (!result) {
    ADD_FAILURE() << llvm::toString(result.takeError());
    return Origin::Compiled;
  }
  return result->origin;
}

TEST(Jit, CpuKernelsAreCachedInMemoryByOptions) {
  Options o;
  o.parallel = false;
  auto first = compile(kSpec, o);
  ASSERT_TRUE(bool(first)) << llvm::toString(first.takeError());
  EXPECT_EQ(first->origin, Origin::Compiled);
  EXPECT_EQ(first->kernel->target(), Target::Cpu);
  EXPECT_EQ(first->kernel->signature().inputs[0].name, "q");
  auto second = compile(kSpec, o);
  ASSERT_TRUE(bool(second));
  EXPECT_EQ(second->origin, Origin::MemoryCache);
  EXPECT_EQ(second->kernel, first->kernel);
  o.tileKv = 32;
  EXPECT_EQ(originOf(kSpec, o), Origin::Compiled);
}

TEST(Jit, ConcurrentRequestsCompileOnce) {
  Options o;
  o.parallel = false;
  std::vector<Origin> origins(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto r = compile(kSpec, o);
      origins[i] = r ? r->origin : (llvm::consumeError(r.takeError()),
                                    Origin::DiskCache);
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(llvm::count(origins, Origin::Compiled), 1);
  EXPECT_EQ(llvm::count(origins, Origin::MemoryCache), 3);
}

TEST(Jit, ErrorsCarryTheDiagnostics) {
  auto r = compile("func.func @f(%q: tensor<1x1x4x8xf16>) {\n  return\n}\n");
  ASSERT_FALSE(bool(r));
  std::string e = llvm::toString(r.takeError());
  EXPECT_NE(e.find("spec:1:1: error: a spec function must hold an attn op, "
                   "'f' holds none"),
            std::string::npos)
      << e;
  // A failed compile is not cached: the same error comes back.
  r = compile("func.func @f(%q: tensor<1x1x4x8xf16>) {\n  return\n}\n");
  EXPECT_FALSE(bool(r));
  llvm::consumeError(r.takeError());
}

TEST(Jit, DerivesTheBackwardAndTheForwardOfASpec) {
  llvm::Expected<std::string> backward = backwardSpec(kSpec);
  ASSERT_TRUE(bool(backward)) << llvm::toString(backward.takeError());
  EXPECT_NE(backward->find("func.func @causal_backward(%arg0: "
                           "tensor<?x4x?x64xbf16>, %arg1: tensor<?x2x?x64xbf16>, "
                           "%arg2: tensor<?x2x?x64xbf16>, %arg3: "
                           "tensor<?x4x?x64xbf16>, %arg4: tensor<?x4x?x64xbf16>, "
                           "%arg5: tensor<?x4x?xf32>)"),
            std::string::npos)
      << *backward;
  EXPECT_NE(backward->find("attn.attention_backward %arg0, %arg1, %arg2, %arg3, "
                           "%arg4 lse(%arg5 : tensor<?x4x?xf32>) "
                           "mask(#attn.causal)"),
            std::string::npos)
      << *backward;
  auto kernel = compile(*backward);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_EQ(kernel->kernel->signature().outputs.size(), 3u);

  // Back: the forward of the backward drops o, grad_o and lse.
  llvm::Expected<std::string> forward = forwardSpec(*backward);
  ASSERT_TRUE(bool(forward)) << llvm::toString(forward.takeError());
  EXPECT_NE(forward->find("func.func @causal_backward_forward(%arg0: "
                          "tensor<?x4x?x64xbf16>, %arg1: tensor<?x2x?x64xbf16>, "
                          "%arg2: tensor<?x2x?x64xbf16>) -> "
                          "(tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>)"),
            std::string::npos)
      << *forward;

  // What has no backward says why.
  llvm::Expected<std::string> noBias = backwardSpec(kSpec, "", true);
  ASSERT_FALSE(bool(noBias));
  EXPECT_NE(llvm::toString(noBias.takeError())
                .find("reads no bias, so it has no bias gradient to return"),
            std::string::npos);
  llvm::Expected<std::string> noEntry = backwardSpec(kSpec, "mystery");
  ASSERT_FALSE(bool(noEntry));
  EXPECT_NE(llvm::toString(noEntry.takeError())
                .find("no function 'mystery' to take the backward of"),
            std::string::npos);
}

TEST(Jit, CudaWithoutADriverSaysSo) {
  setenv("ATTN_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  TempCache cache;
  auto r = compile(kSpec, cudaOptions(cache));
  ASSERT_FALSE(bool(r));
  EXPECT_NE(llvm::toString(r.takeError()).find("cannot load the CUDA driver"),
            std::string::npos);
}

TEST(Jit, CudaKernelsHitMissAndInvalidateTheDiskCache) {
  if (!haveToolkit())
    GTEST_SKIP() << "no CUDA toolkit at " ATTN_CUDA_TOOLKIT_DIR;
  useFakeDriver();
  TempCache cache;
  Options o = cudaOptions(cache);
  auto first = compile(kSpec, o);
  ASSERT_TRUE(bool(first)) << llvm::toString(first.takeError());
  EXPECT_EQ(first->origin, Origin::Compiled);
  EXPECT_EQ(first->kernel->target(), Target::Cuda);
  EXPECT_EQ(cache.files(".cubin").size(), 1u);
  EXPECT_EQ(cache.files(".json").size(), 1u);
  // Hit in memory, then (a new process, as it were) on disk.
  EXPECT_EQ(originOf(kSpec, o), Origin::MemoryCache);
  clearMemoryCache();
  EXPECT_EQ(originOf(kSpec, o), Origin::DiskCache);
  // Other options or another spec: a miss and a second entry.
  o.warps = 2;
  EXPECT_EQ(originOf(kSpec, o), Origin::Compiled);
  EXPECT_EQ(cache.files(".cubin").size(), 2u);
  o.warps = 4;
  std::string other = std::string(kSpec) + "\n// another spec\n";
  EXPECT_EQ(originOf(other, o), Origin::Compiled);
  EXPECT_EQ(cache.files(".cubin").size(), 3u);
}

TEST(Jit, CorruptCacheFilesAreRecompiled) {
  if (!haveToolkit())
    GTEST_SKIP() << "no CUDA toolkit at " ATTN_CUDA_TOOLKIT_DIR;
  useFakeDriver();
  TempCache cache;
  Options o = cudaOptions(cache);
  ASSERT_EQ(originOf(kSpec, o), Origin::Compiled);
  std::string manifest = cache.files(".json").front();
  std::string cubin = cache.files(".cubin").front();
  // A truncated manifest.
  std::ofstream(manifest, std::ios::trunc) << "{\"version\": 2, \"kern";
  clearMemoryCache();
  EXPECT_EQ(originOf(kSpec, o), Origin::Compiled);
  clearMemoryCache();
  EXPECT_EQ(originOf(kSpec, o), Origin::DiskCache);
  // A version 1 manifest (one kernel) of an older compiler.
  std::ofstream(manifest, std::ios::trunc)
      << R"({"version": 1, "kernel": "causal_attention", "params": []})";
  clearMemoryCache();
  EXPECT_EQ(originOf(kSpec, o), Origin::Compiled);
  clearMemoryCache();
  EXPECT_EQ(originOf(kSpec, o), Origin::DiskCache);
  // An empty image.
  std::ofstream(cubin, std::ios::trunc).flush();
  clearMemoryCache();
  EXPECT_EQ(originOf(kSpec, o), Origin::Compiled);
  uint64_t size = 0;
  ASSERT_FALSE(llvm::sys::fs::file_size(cubin, size));
  EXPECT_GT(size, 1000u);
}

TEST(Jit, CacheDirectoryFollowsTheEnvironment) {
  setenv("ATTN_CACHE_DIR", "/tmp/attn-cache-test", 1);
  EXPECT_EQ(cacheDirectory(Options{}), "/tmp/attn-cache-test");
  unsetenv("ATTN_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(cacheDirectory(Options{}), "/tmp/xdg/attn-mlir");
  Options o;
  o.cacheDir = "/elsewhere";
  EXPECT_EQ(cacheDirectory(o), "/elsewhere");
}

/// Causal linear attention through the CUDA JIT: its plan of parallel runs
/// (run states, scan, run outputs), its manifest (the final state as a
/// second output, the run count as a choice, three workspaces) and the
/// launch geometry they imply.
TEST(Jit, CudaLinearAttentionKernelsPlanTheirLaunch) {
  if (!haveToolkit())
    GTEST_SKIP() << "no CUDA toolkit at " ATTN_CUDA_TOOLKIT_DIR;
  useFakeDriver();
  TempCache cache;
  constexpr const char *spec = R"mlir(
func.func @retnet(%q: tensor<?x4x?x32xbf16>, %k: tensor<?x2x?x32xbf16>,
                  %v: tensor<?x2x?x96xbf16>, %gamma: tensor<4xf32>)
    -> (tensor<?x4x?x96xbf16>, tensor<?x4x32x96xf32>) {
  %o, %s = attn.linear_attention %q, %k, %v feature_map(#attn.relu) causal
      decay(%gamma : tensor<4xf32>) normalization(none)
      : tensor<?x4x?x32xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?x96xbf16>
      -> tensor<?x4x?x96xbf16>, tensor<?x4x32x96xf32>
  return %o, %s : tensor<?x4x?x96xbf16>, tensor<?x4x32x96xf32>
}
)mlir";
  auto compiled = compile(spec, cudaOptions(cache));
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
  std::vector<std::string> manifests = cache.files(".json");
  ASSERT_EQ(manifests.size(), 1u);
  auto manifest = runtime::Manifest::load(manifests[0]);
  ASSERT_TRUE(bool(manifest)) << llvm::toString(manifest.takeError());
  ASSERT_EQ(manifest->signature.outputs.size(), 2u);
  EXPECT_EQ(manifest->signature.outputs[1].name, "final_state");
  ASSERT_EQ(manifest->choices.size(), 1u);
  EXPECT_EQ(manifest->choices[0].name, "sequence_runs");
  // The runs' own states and decays, and their incoming states.
  ASSERT_EQ(manifest->workspaces.size(), 3u);

  // Placeholder device addresses: planning reads shapes only.
  auto ref = [](uintptr_t address, runtime::DType dtype,
                std::vector<int64_t> shape) {
    return runtime::TensorRef{reinterpret_cast<void *>(address), dtype,
                              std::move(shape)};
  };
  using runtime::DType;
  std::vector<runtime::TensorRef> inputs = {
      ref(1 << 20, DType::BF16, {3, 4, 77, 32}),
      ref(2 << 20, DType::BF16, {3, 2, 77, 32}),
      ref(3 << 20, DType::BF16, {3, 2, 77, 96}),
      ref(4 << 20, DType::F32, {4})};
  std::vector<runtime::TensorRef> outputs = {
      ref(5 << 20, DType::BF16, {3, 4, 77, 96}),
      ref(6 << 20, DType::F32, {3, 4, 32, 96})};
  const runtime::DeviceProperties device{132};
  auto plan = runtime::planLaunch(*manifest, inputs, outputs, device);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  ASSERT_EQ((*plan)->launches.size(), 3u);
  // 32 features pad to 64 (16 rows per warp, 4 warps): one 16-row state
  // block per warp, so 64-column value tiles fit: two of them for Dv = 96.
  // 2 x 4 x 3 = 24 blocks want ceil(2 x 132 / 24) = 11 runs; the 77
  // positions are 2 chunks of 64: 2 runs of one chunk.
  const runtime::KernelLaunchPlan &states = (*plan)->launches[0];
  EXPECT_EQ(states.grid, (std::array<int64_t, 3>{2, 4, 3}));
  EXPECT_EQ(states.block, (std::array<int64_t, 3>{128, 1, 1}));
  EXPECT_GT(states.dynamicSharedMemory, 48 * 1024);
  EXPECT_EQ((*plan)->launches[1].grid, (std::array<int64_t, 3>{1, 4, 3}));
  const runtime::KernelLaunchPlan &outputsLaunch = (*plan)->launches[2];
  EXPECT_EQ(outputsLaunch.grid, (std::array<int64_t, 3>{4, 4, 3}));
  EXPECT_EQ(outputsLaunch.dynamicSharedMemory, states.dynamicSharedMemory);
  // [runs, B, H, F, Dv] f32.
  EXPECT_EQ((*plan)->workspaces[0].shape,
            (std::vector<int64_t>{2, 3, 4, 32, 96}));
  // Unequal query and key lengths of a causal op are refused by name.
  inputs[1].shape[2] = 78;
  auto mismatch = runtime::planLaunch(*manifest, inputs, outputs, device);
  ASSERT_FALSE(bool(mismatch));
  EXPECT_NE(llvm::toString(mismatch.takeError()).find("Sq"),
            std::string::npos);
}

/// The 8-byte words of a kernel's parameters and the first word of each
/// workspace parameter.
std::pair<int, std::vector<std::pair<int, unsigned>>>
paramWords(const runtime::KernelLaunch &k) {
  int words = 0;
  std::vector<std::pair<int, unsigned>> workspaces;
  for (const runtime::KernelParam &p : k.params) {
    if (p.kind == runtime::KernelParam::Kind::Index) {
      ++words;
      continue;
    }
    if (p.role == runtime::KernelParam::Role::Workspace)
      workspaces.emplace_back(words, p.tensor);
    words += 3 + 2 * p.rank;
  }
  return {words, workspaces};
}

/// Split-KV decoding through the CUDA JIT: one op, a plan of two kernels
/// that share the workspaces, launched on the fake driver.
TEST(Jit, CudaDecodeLaunchesItsPlanOfTwoKernels) {
  if (!haveToolkit())
    GTEST_SKIP() << "no CUDA toolkit at " ATTN_CUDA_TOOLKIT_DIR;
  useFakeDriver();
  setenv("FAKE_CUDA_SMS", "132", 1);
  setenv("FAKE_CUDA_LAUNCH_RESULT", "0", 1);
  TempCache cache;
  constexpr const char *spec = R"mlir(
func.func @decode(%q: tensor<?x32x1x128xbf16>, %k: tensor<?x8x?x128xbf16>,
                  %v: tensor<?x8x?x128xbf16>)
    -> (tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x32x1x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>
      -> tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
  return %o, %lse : tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
}
)mlir";
  auto compiled = compile(spec, cudaOptions(cache));
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
  auto manifest = runtime::Manifest::load(cache.files(".json").front());
  ASSERT_TRUE(bool(manifest)) << llvm::toString(manifest.takeError());
  ASSERT_EQ(manifest->kernels.size(), 2u);
  ASSERT_EQ(manifest->choices.size(), 1u);
  EXPECT_EQ(manifest->choices[0].name, "kv_splits");
  ASSERT_EQ(manifest->workspaces.size(), 2u);

  const char *driver = ATTN_FAKE_CUDA_DRIVER;
  auto setParamWords = fakeCudaFunction<FakeCudaSetParamWordsFn>(
      driver, "fake_cuda_set_param_words");
  auto numLaunches =
      fakeCudaFunction<FakeCudaNumLaunchesFn>(driver, "fake_cuda_num_launches");
  auto launch = fakeCudaFunction<FakeCudaLaunchFn>(driver, "fake_cuda_launch");
  auto numAllocations = fakeCudaFunction<FakeCudaNumAsyncAllocationsFn>(
      driver, "fake_cuda_num_async_allocations");
  auto allocation = fakeCudaFunction<FakeCudaAsyncAllocationFn>(
      driver, "fake_cuda_async_allocation");
  ASSERT_TRUE(setParamWords && numLaunches && launch && numAllocations &&
              allocation);
  for (const runtime::KernelLaunch &k : manifest->kernels)
    setParamWords(k.symbol.c_str(), paramWords(k).first);

  using runtime::DType;
  const int64_t b = 3, skv = 4099;
  std::vector<runtime::TensorRef> refs = {
      {nullptr, DType::BF16, {b, 32, 1, 128}},
      {nullptr, DType::BF16, {b, 8, skv, 128}},
      {nullptr, DType::BF16, {b, 8, skv, 128}},
      {nullptr, DType::BF16, {b, 32, 1, 128}},
      {nullptr, DType::F32, {b, 32, 1}}};
  std::vector<runtime::DeviceBuffer> buffers;
  for (runtime::TensorRef &ref : refs) {
    auto buffer = runtime::DeviceBuffer::allocate(ref.numElements() *
                                                  runtime::dtypeSize(ref.dtype));
    ASSERT_TRUE(bool(buffer)) << llvm::toString(buffer.takeError());
    ref.data = buffer->data();
    buffers.push_back(std::move(*buffer));
  }
  void *stream = reinterpret_cast<void *>(0x1234);
  ASSERT_FALSE(bool(compiled->kernel->run(llvm::ArrayRef(refs).take_front(3),
                                          llvm::ArrayRef(refs).drop_front(3),
                                          stream)));

  ASSERT_EQ(numLaunches(), 2);
  ASSERT_EQ(numAllocations(), 1);
  const FakeCudaAllocation &ws = *allocation(0);
  EXPECT_TRUE(ws.freed);
  EXPECT_EQ(ws.stream, stream);
  EXPECT_EQ(ws.freeStream, stream);
  // The same plan without a driver gives the split count and the offsets.
  auto plan = runtime::planLaunch(*manifest, llvm::ArrayRef(refs).take_front(3),
                                  llvm::ArrayRef(refs).drop_front(3),
                                  runtime::DeviceProperties{132});
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  int64_t splits = (*plan)->bindings.at("kv_splits");
  EXPECT_GT(splits, 1);
  EXPECT_LE(splits, (skv + 63) / 64);
  EXPECT_EQ((*plan)->workspaces[0].shape,
            (std::vector<int64_t>{splits, b, 32, 1, 128}));
  EXPECT_EQ(int64_t(ws.bytes), (*plan)->workspaceBytes);
  for (int i = 0; i < 2; ++i) {
    const FakeCudaLaunch &l = *launch(i);
    const runtime::KernelLaunch &k = manifest->kernels[i];
    EXPECT_EQ(l.symbol, k.symbol);
    EXPECT_EQ(l.stream, stream);
    for (int d = 0; d < 3; ++d)
      EXPECT_EQ(int64_t(l.grid[d]), (*plan)->launches[i].grid[d]);
    // Both kernels take both workspaces, at their offsets in the one
    // allocation.
    auto [words, workspaces] = paramWords(k);
    ASSERT_EQ(workspaces.size(), 2u) << k.symbol;
    for (auto [word, w] : workspaces) {
      long long address = static_cast<long long>(ws.pointer) +
                          (*plan)->workspaces[w].offset;
      EXPECT_EQ(l.words[word], address) << k.symbol << " workspace " << w;
      EXPECT_EQ(l.words[word + 1], address) << k.symbol << " workspace " << w;
    }
  }
  // The partials kernel runs kv_splits blocks per key/value head (GQA
  // packing: the 4 query heads of each share a block).
  EXPECT_EQ(int64_t(launch(0)->grid[0]), splits);
  EXPECT_EQ(int64_t(launch(0)->grid[1]), 8);
}

} // namespace
