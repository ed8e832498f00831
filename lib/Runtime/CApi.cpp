//===- CApi.cpp - C interface of the kernel runtime -----------------------===//

#include "attn/Runtime/attn_runtime.h"
#include "attn/Runtime/CudaRuntime.h"

using namespace attn::runtime;

struct attn_kernel {
  std::unique_ptr<CudaKernel> kernel;
};

static thread_local std::string lastError;

static int report(llvm::Error e) {
  if (!e) {
    lastError.clear();
    return 0;
  }
  lastError = llvm::toString(std::move(e));
  return 1;
}

static llvm::Expected<std::vector<TensorRef>> convert(const attn_tensor *ts,
                                                      int32_t n,
                                                      const char *role) {
  std::vector<TensorRef> out;
  for (int32_t i = 0; i < n; ++i) {
    std::optional<DType> dtype =
        ts[i].dtype ? parseDType(ts[i].dtype) : std::nullopt;
    if (!dtype)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          llvm::Twine(role) + " " + llvm::Twine(i) + " has unknown dtype '" +
              (ts[i].dtype ? ts[i].dtype : "(null)") + "'");
    if (ts[i].rank < 0 || (ts[i].rank > 0 && !ts[i].shape))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     llvm::Twine(role) + " " + llvm::Twine(i) +
                                         " has no shape");
    out.push_back(TensorRef{ts[i].data, *dtype,
                            std::vector<int64_t>(ts[i].shape,
                                                 ts[i].shape + ts[i].rank)});
  }
  return out;
}

extern "C" {

const char *attn_last_error(void) { return lastError.c_str(); }

attn_kernel *attn_kernel_load(const char *imagePath, const char *manifestPath,
                              int device) {
  if (!imagePath || !manifestPath) {
    lastError = "attn_kernel_load: the image and manifest paths are required";
    return nullptr;
  }
  auto kernel = CudaKernel::loadFiles(imagePath, manifestPath, device);
  if (!kernel) {
    report(kernel.takeError());
    return nullptr;
  }
  lastError.clear();
  return new attn_kernel{std::move(*kernel)};
}

int attn_kernel_launch(const attn_kernel *kernel, const attn_tensor *inputs,
                       int32_t numInputs, const attn_tensor *outputs,
                       int32_t numOutputs, void *stream) {
  if (!kernel) {
    lastError = "attn_kernel_launch: no kernel";
    return 1;
  }
  auto ins = convert(inputs, numInputs, "input");
  if (!ins)
    return report(ins.takeError());
  auto outs = convert(outputs, numOutputs, "output");
  if (!outs)
    return report(outs.takeError());
  return report(kernel->kernel->launch(*ins, *outs, stream));
}

void attn_kernel_free(attn_kernel *kernel) { delete kernel; }

int attn_synchronize(int device) { return report(synchronizeDevice(device)); }

} // extern "C"
