// Compile a spec at run time and call it from C++ (the CPU JIT).
#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include <cstdio>

int main() {
  auto kernel = attn::jit::CpuKernel::compile(R"(
    func.func @attn(%q: tensor<1x4x100x64xf32>, %k: tensor<1x4x100x64xf32>, %v: tensor<1x4x100x64xf32>) -> tensor<1x4x100x64xf32> {
      %o = attn.attention %q, %k, %v mask(#attn.causal) : tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32> -> tensor<1x4x100x64xf32>
      return %o : tensor<1x4x100x64xf32>
    })");
  if (!kernel)
    return std::fprintf(stderr, "%s\n", llvm::toString(kernel.takeError()).c_str()), 1;
  std::mt19937_64 rng(0);
  using attn::HostTensor;
  auto f32 = attn::runtime::DType::F32;
  HostTensor q = HostTensor::randomNormal(f32, {1, 4, 100, 64}, rng), k = q, v = q, o(f32, {1, 4, 100, 64});
  if (llvm::Error e = (*kernel)->run({q.ref(), k.ref(), v.ref()}, {o.ref()}))
    return std::fprintf(stderr, "%s\n", llvm::toString(std::move(e)).c_str()), 1;
  std::printf("o[0, 0, 0, 0] = %f\n", o.at(0));
}
