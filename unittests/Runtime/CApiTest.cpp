//===- CApiTest.cpp - libattn_runtime.so through its C interface ----------===//
//
// Links the shipped shared library itself (LLVM Support inside, hidden).
// Each test runs in its own process under ctest and picks its driver.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/attn_runtime.h"

#include "FakeCudaDriver.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

TEST(RuntimeCApi, LoadWithoutADriverFailsWithAMessage) {
  setenv("ATTN_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  attn_kernel *kernel =
      attn_kernel_load(ATTN_TEST_KERNEL_IMAGE, ATTN_TEST_KERNEL_MANIFEST, 0);
  EXPECT_EQ(kernel, nullptr);
  EXPECT_NE(std::string(attn_last_error()).find("cannot load the CUDA driver"),
            std::string::npos)
      << attn_last_error();
  EXPECT_NE(attn_synchronize(0), 0);
}

TEST(RuntimeCApi, ChecksArgumentsBeforeLaunching) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  attn_kernel *kernel =
      attn_kernel_load(ATTN_TEST_KERNEL_IMAGE, ATTN_TEST_KERNEL_MANIFEST, 0);
  ASSERT_NE(kernel, nullptr) << attn_last_error();
  EXPECT_STREQ(attn_last_error(), "");
  // The example: q, k, v [1, 16, 256, 64] f16 -> o [1, 16, 256, 64] f16,
  // lse [1, 16, 256] f32.
  int64_t qkv[] = {1, 16, 256, 64}, lse[] = {1, 16, 256};
  alignas(16) static char memory[5][16];
  attn_tensor ins[3] = {{memory[0], "f16", 4, qkv},
                        {memory[1], "f16", 4, qkv},
                        {memory[2], "f16", 4, qkv}};
  attn_tensor outs[2] = {{memory[3], "f16", 4, qkv},
                         {memory[4], "f32", 3, lse}};
  ins[1].dtype = "bf16";
  EXPECT_NE(attn_kernel_launch(kernel, ins, 3, outs, 2, nullptr), 0);
  EXPECT_NE(std::string(attn_last_error())
                .find("input 'k' has element type bf16, the kernel expects f16"),
            std::string::npos)
      << attn_last_error();
  ins[1].dtype = "f8";
  EXPECT_NE(attn_kernel_launch(kernel, ins, 3, outs, 2, nullptr), 0);
  EXPECT_NE(std::string(attn_last_error()).find("input 1 has unknown dtype 'f8'"),
            std::string::npos)
      << attn_last_error();
  ins[1].dtype = "f16";
  // Well-formed: the fake driver's launch fails the way a faulting kernel does.
  EXPECT_NE(attn_kernel_launch(kernel, ins, 3, outs, 2, nullptr), 0);
  EXPECT_NE(std::string(attn_last_error()).find("unspecified launch failure"),
            std::string::npos)
      << attn_last_error();
  attn_kernel_free(kernel);
}

/// A plan of two kernels over x [N] f32 -> y [N] f32: `partial` writes
/// kv_splits rows of a workspace, `combine` reduces them into y.
constexpr const char *kTwoKernelManifest = R"json({
  "format": "attn-mlir kernel manifest", "version": 2, "entry": "f",
  "chip": "sm_90", "binary_format": "cubin", "spec_hash": "0",
  "compiler": "test", "alignment_bytes": 16, "layout": "dense row-major",
  "inputs": [{"name": "x", "dtype": "f32", "dims": [{"name": "N"}]}],
  "outputs": [{"name": "y", "dtype": "f32", "dims": [{"name": "N"}]}],
  "choices": [{"name": "kv_splits", "value": ["min", "N", "multiprocessors"]}],
  "workspaces": [{"name": "workspace0", "dtype": "f32",
                  "shape": ["kv_splits", "N"]}],
  "kernels": [
    {"symbol": "partial",
     "params": [{"abi": "memref-descriptor", "role": "input", "tensor": "x", "rank": 1},
                {"abi": "memref-descriptor", "role": "workspace", "tensor": "workspace0", "rank": 2},
                {"abi": "i64", "value": "kv_splits"}],
     "grid": [["ceildiv", "N", 128], "kv_splits", 1], "block": [128, 1, 1],
     "dynamic_shared_memory_bytes": 0},
    {"symbol": "combine",
     "params": [{"abi": "memref-descriptor", "role": "workspace", "tensor": "workspace0", "rank": 2},
                {"abi": "memref-descriptor", "role": "output", "tensor": "y", "rank": 1}],
     "grid": [["ceildiv", "N", 128], 1, 1], "block": [128, 1, 1],
     "dynamic_shared_memory_bytes": 0}]
})json";

TEST(RuntimeCApi, LaunchesAPlanOfTwoKernelsWithAWorkspace) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  setenv("FAKE_CUDA_SMS", "8", 1);
  setenv("FAKE_CUDA_LAUNCH_RESULT", "0", 1);
  std::string dir = testing::TempDir();
  std::string manifestPath = dir + "/two-kernels-" + std::to_string(getpid()) + ".json";
  std::string imagePath = dir + "/two-kernels-" + std::to_string(getpid()) + ".cubin";
  std::ofstream(manifestPath) << kTwoKernelManifest;
  std::ofstream(imagePath) << "fake image";
  auto fn = [](const char *name) {
    return fakeCudaFunction<void *>(ATTN_FAKE_CUDA_DRIVER, name);
  };
  attn_kernel *kernel = attn_kernel_load(imagePath.c_str(), manifestPath.c_str(), 0);
  ASSERT_NE(kernel, nullptr) << attn_last_error();
  auto setParamWords = reinterpret_cast<FakeCudaSetParamWordsFn>(
      fn("fake_cuda_set_param_words"));
  auto numLaunches = reinterpret_cast<FakeCudaNumLaunchesFn>(
      fn("fake_cuda_num_launches"));
  auto launch = reinterpret_cast<FakeCudaLaunchFn>(fn("fake_cuda_launch"));
  auto numAllocations = reinterpret_cast<FakeCudaNumAsyncAllocationsFn>(
      fn("fake_cuda_num_async_allocations"));
  auto allocation = reinterpret_cast<FakeCudaAsyncAllocationFn>(
      fn("fake_cuda_async_allocation"));
  ASSERT_TRUE(setParamWords && numLaunches && launch && numAllocations &&
              allocation);
  setParamWords("partial", 13);
  setParamWords("combine", 12);

  int64_t n[] = {300};
  alignas(16) static float x[300], y[300];
  attn_tensor in{x, "f32", 1, n}, out{y, "f32", 1, n};
  void *stream = reinterpret_cast<void *>(0x77);
  ASSERT_EQ(attn_kernel_launch(kernel, &in, 1, &out, 1, stream), 0)
      << attn_last_error();
  ASSERT_EQ(numLaunches(), 2);
  const FakeCudaLaunch &partial = *launch(0), &combine = *launch(1);
  EXPECT_STREQ(partial.symbol, "partial");
  EXPECT_STREQ(combine.symbol, "combine");
  // kv_splits = min(300, 8 multiprocessors).
  EXPECT_EQ(partial.grid[0], 3u);
  EXPECT_EQ(partial.grid[1], 8u);
  EXPECT_EQ(combine.grid[1], 1u);
  EXPECT_EQ(partial.words[12], 8);
  // The workspace [8, 300] f32, invisible to the caller: one allocation on
  // the stream, passed to both kernels, freed on the stream.
  ASSERT_EQ(numAllocations(), 1);
  const FakeCudaAllocation &ws = *allocation(0);
  EXPECT_EQ(ws.bytes, 9728u);
  EXPECT_EQ(ws.stream, stream);
  // Allocated and aligned pointer of the workspace's descriptor.
  for (int word : {5, 6})
    EXPECT_EQ(partial.words[word], static_cast<long long>(ws.pointer));
  for (int word : {0, 1})
    EXPECT_EQ(combine.words[word], static_cast<long long>(ws.pointer));
  EXPECT_EQ(std::vector<long long>(combine.words + 3, combine.words + 7),
            (std::vector<long long>{8, 300, 300, 1}));
  EXPECT_EQ(combine.words[7], reinterpret_cast<long long>(y));
  EXPECT_TRUE(ws.freed);
  EXPECT_EQ(ws.freeStream, stream);
  attn_kernel_free(kernel);
  std::remove(manifestPath.c_str());
  std::remove(imagePath.c_str());
}

} // namespace
