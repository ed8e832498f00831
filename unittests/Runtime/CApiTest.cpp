//===- CApiTest.cpp - libattn_runtime.so through its C interface ----------===//
//
// Links the shipped shared library itself (LLVM Support inside, hidden).
// Each test runs in its own process under ctest and picks its driver.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/attn_runtime.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <string>

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

} // namespace
