// Compile a spec at run time for the GPU and run it (the CUDA JIT, cached
// under $ATTN_CACHE_DIR). Exits 77 (skipped) where there is no CUDA driver.
#include "attn/JIT/Jit.h"
#include "attn/Support/HostTensor.h"

#include <cstdio>

int main() {
  using namespace attn;
  auto compiled = jit::compile(R"(
    func.func @attn(%q: tensor<1x4x100x64xbf16>, %k: tensor<1x4x100x64xbf16>, %v: tensor<1x4x100x64xbf16>) -> tensor<1x4x100x64xbf16> {
      %o = attn.attention %q, %k, %v mask(#attn.causal) : tensor<1x4x100x64xbf16>, tensor<1x4x100x64xbf16>, tensor<1x4x100x64xbf16> -> tensor<1x4x100x64xbf16>
      return %o : tensor<1x4x100x64xbf16>
    })", {.target = jit::Target::Cuda});
  if (!compiled)
    return std::fprintf(stderr, "%s\n", llvm::toString(compiled.takeError()).c_str()), 77;
  std::mt19937_64 rng(0);
  HostTensor q = HostTensor::randomNormal(runtime::DType::BF16, {1, 4, 100, 64}, rng), o = q;
  auto qd = runtime::DeviceBuffer::allocate(q.byteSize()), od = runtime::DeviceBuffer::allocate(o.byteSize());
  if (!qd || !od || qd->copyFromHost(q.data(), q.byteSize()))
    return std::fprintf(stderr, "cannot allocate device memory\n"), 1;
  runtime::TensorRef qRef{qd->data(), q.dtype(), q.shape()}, oRef{od->data(), o.dtype(), o.shape()};
  if (llvm::Error e = compiled->kernel->run({qRef, qRef, qRef}, {oRef}))
    return std::fprintf(stderr, "%s\n", llvm::toString(std::move(e)).c_str()), 1;
  if (runtime::synchronizeDevice() || od->copyToHost(o.data(), o.byteSize()))
    return std::fprintf(stderr, "the kernel failed\n"), 1;
  std::printf("o[0, 0, 0, 0] = %f\n", o.at(0));
}
