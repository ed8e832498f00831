//===- JitTest.cpp - attn::jit::compile and its caches --------------------===//
//
// The CUDA path runs against the fake driver (no GPU here): compiling,
// writing and reading the disk cache and loading are real; only the launch
// is not. ctest runs every test in its own process.
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/Jit.h"
#include "attn/Runtime/Manifest.h"

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


/// Linear attention through the CUDA JIT: the kernel, its manifest (the
/// final state as a second output) and the launch geometry it implies.
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
  ASSERT_EQ((*plan)->launches.size(), 1u);
  const runtime::KernelLaunchPlan &launch = (*plan)->launches[0];
  // 32 features pad to 64 (16 rows per warp, 4 warps): one 16-row state
  // block per warp, so 64-column value tiles fit: two of them for Dv = 96.
  EXPECT_EQ(launch.grid, (std::array<int64_t, 3>{2, 4, 3}));
  EXPECT_EQ(launch.block, (std::array<int64_t, 3>{128, 1, 1}));
  EXPECT_GT(launch.dynamicSharedMemory, 48 * 1024);
  // Unequal query and key lengths of a causal op are refused by name.
  inputs[1].shape[2] = 78;
  auto mismatch = runtime::planLaunch(*manifest, inputs, outputs, device);
  ASSERT_FALSE(bool(mismatch));
  EXPECT_NE(llvm::toString(mismatch.takeError()).find("Sq"),
            std::string::npos);
}

} // namespace
