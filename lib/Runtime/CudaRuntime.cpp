//===- CudaRuntime.cpp - Load and launch compiled kernels on a GPU --------===//

#include "attn/Runtime/CudaRuntime.h"
#include "attn/Runtime/SequenceCheck.h"
#include "attn/Runtime/Swizzle.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

namespace attn::runtime {

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

namespace {

// The few driver API types and constants used here; the driver ABI is
// stable, and declaring them keeps the runtime buildable without CUDA.
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;
constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrMaxSharedMemoryPerBlockOptin = 97;
constexpr int kFuncAttrMaxDynamicSharedSizeBytes = 8;
// cuTensorMapEncodeTiled's enums (CUtensorMapDataType, ...Swizzle, ...).
constexpr int kTensorMapFloat16 = 6, kTensorMapBFloat16 = 9;
constexpr int kTensorMapInterleaveNone = 0, kTensorMapL2Promotion128B = 2,
              kTensorMapFillZero = 0;
/// The driver's CUtensorMap: 128 bytes, 128-byte aligned.
struct alignas(128) TensorMapBytes {
  uint64_t opaque[16];
};
static_assert(sizeof(TensorMapBytes) == TensorMapRequest::kBytes);

/// The driver's entry points, resolved once.
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, unsigned, CUstream,
                             void **, void **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
  /// CUDA 12: null on older drivers, which cannot run the sm_90a kernels.
  CUresult (*cuTensorMapEncodeTiled)(void *, int, uint32_t, void *,
                                     const uint64_t *, const uint64_t *,
                                     const uint32_t *, const uint32_t *, int,
                                     int, int, int);

  /// "cuLaunchKernel failed: CUDA_ERROR_... (the driver's message)".
  llvm::Error check(CUresult r, const llvm::Twine &what) const {
    if (r == 0)
      return llvm::Error::success();
    const char *message = nullptr;
    if (cuGetErrorString(r, &message) != 0 || !message)
      message = "unknown error";
    return fail(what + " failed with CUDA error " + llvm::Twine(r) + ": " +
                message);
  }

  /// Makes device `ordinal`'s primary context current on this thread.
  llvm::Error enter(int ordinal) const {
    std::lock_guard<std::mutex> lock(contextsMutex);
    if (ordinal < 0 || size_t(ordinal) >= contexts.size())
      return fail("there is no CUDA device " + llvm::Twine(ordinal) + " (" +
                  llvm::Twine(contexts.size()) + " found)");
    if (!contexts[ordinal]) {
      CUdevice dev;
      if (llvm::Error e = check(cuDeviceGet(&dev, ordinal), "cuDeviceGet"))
        return e;
      if (llvm::Error e = check(cuDevicePrimaryCtxRetain(&contexts[ordinal], dev),
                                "cuDevicePrimaryCtxRetain"))
        return e;
    }
    return check(cuCtxSetCurrent(contexts[ordinal]), "cuCtxSetCurrent");
  }

  mutable std::mutex contextsMutex;
  mutable std::vector<CUcontext> contexts;
};

template <typename F>
bool resolve(void *lib, F &fn, const char *name, std::string &missing) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn && missing.empty())
    missing = name;
  return fn != nullptr;
}

llvm::Expected<const Driver &> driver() {
  static std::string error;
  static Driver *instance = [] () -> Driver * {
    const char *override = std::getenv("ATTN_CUDA_DRIVER");
    const char *path = override && *override ? override : "libcuda.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *why = dlerror();
      error = std::string("cannot load the CUDA driver (") + path +
              "): " + (why ? why : "unknown reason") +
              ". This machine has no NVIDIA driver; install one, point "
              "ATTN_CUDA_DRIVER at libcuda.so.1, or run on the CPU "
              "(target cpu)";
      return nullptr;
    }
    auto *d = new Driver();
    std::string missing;
    resolve(lib, d->cuInit, "cuInit", missing);
    resolve(lib, d->cuGetErrorString, "cuGetErrorString", missing);
    resolve(lib, d->cuDeviceGetCount, "cuDeviceGetCount", missing);
    resolve(lib, d->cuDeviceGet, "cuDeviceGet", missing);
    resolve(lib, d->cuDeviceGetName, "cuDeviceGetName", missing);
    resolve(lib, d->cuDeviceGetAttribute, "cuDeviceGetAttribute", missing);
    resolve(lib, d->cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain",
            missing);
    resolve(lib, d->cuCtxSetCurrent, "cuCtxSetCurrent", missing);
    resolve(lib, d->cuCtxSynchronize, "cuCtxSynchronize", missing);
    resolve(lib, d->cuModuleLoadData, "cuModuleLoadData", missing);
    resolve(lib, d->cuModuleUnload, "cuModuleUnload", missing);
    resolve(lib, d->cuModuleGetFunction, "cuModuleGetFunction", missing);
    resolve(lib, d->cuFuncSetAttribute, "cuFuncSetAttribute", missing);
    resolve(lib, d->cuLaunchKernel, "cuLaunchKernel", missing);
    resolve(lib, d->cuMemAlloc, "cuMemAlloc_v2", missing);
    resolve(lib, d->cuMemFree, "cuMemFree_v2", missing);
    // Stream-ordered allocation (CUDA 11.2): the workspaces of a plan.
    resolve(lib, d->cuMemAllocAsync, "cuMemAllocAsync", missing);
    resolve(lib, d->cuMemFreeAsync, "cuMemFreeAsync", missing);
    resolve(lib, d->cuMemcpyHtoD, "cuMemcpyHtoD_v2", missing);
    resolve(lib, d->cuMemcpyDtoH, "cuMemcpyDtoH_v2", missing);
    resolve(lib, d->cuMemsetD8, "cuMemsetD8_v2", missing);
    resolve(lib, d->cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", missing);
    d->cuTensorMapEncodeTiled =
        reinterpret_cast<decltype(d->cuTensorMapEncodeTiled)>(
            dlsym(lib, "cuTensorMapEncodeTiled"));
    if (!missing.empty()) {
      error = std::string("the CUDA driver ") + path + " lacks " + missing +
              "; it is too old or not a CUDA driver";
      return nullptr;
    }
    CUresult r = d->cuInit(0);
    int count = 0;
    if (r == 0)
      r = d->cuDeviceGetCount(&count);
    if (r != 0) {
      error = llvm::toString(d->check(r, "cuInit"));
      return nullptr;
    }
    if (count == 0) {
      error = "the CUDA driver found no GPU";
      return nullptr;
    }
    d->contexts.assign(count, nullptr);
    return d;
  }();
  if (!instance)
    return fail(error);
  return *instance;
}

/// 90 for "sm_90" or "sm_90a"; nullopt when malformed.
std::optional<int> chipNumber(llvm::StringRef chip) {
  int n;
  if (!chip.consume_front("sm_"))
    return std::nullopt;
  chip.consume_back("a");
  if (chip.getAsInteger(10, n))
    return std::nullopt;
  return n;
}

/// Runs one driver call in device `ordinal`'s context (loading the driver
/// if needed); `what` names it in errors.
llvm::Error onDevice(int ordinal, const llvm::Twine &what,
                     llvm::function_ref<CUresult(const Driver &)> call) {
  llvm::Expected<const Driver &> d = driver();
  if (!d)
    return d.takeError();
  if (llvm::Error e = d->enter(ordinal))
    return e;
  return d->check(call(*d), what);
}

} // namespace

llvm::Expected<CudaDevice> getCudaDevice(int ordinal) {
  llvm::Expected<const Driver &> d = driver();
  if (!d)
    return d.takeError();
  if (llvm::Error e = d->enter(ordinal))
    return std::move(e);
  CudaDevice dev;
  dev.ordinal = ordinal;
  CUdevice handle;
  char name[256] = {0};
  int major = 0, minor = 0, smem = 0, sms = 0;
  if (llvm::Error e = d->check(d->cuDeviceGet(&handle, ordinal), "cuDeviceGet"))
    return std::move(e);
  if (llvm::Error e = d->check(d->cuDeviceGetName(name, sizeof(name) - 1, handle),
                               "cuDeviceGetName"))
    return std::move(e);
  if (llvm::Error e = d->check(
          d->cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, handle),
          "cuDeviceGetAttribute"))
    return std::move(e);
  if (llvm::Error e = d->check(
          d->cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, handle),
          "cuDeviceGetAttribute"))
    return std::move(e);
  if (llvm::Error e = d->check(d->cuDeviceGetAttribute(
                                   &smem, kAttrMaxSharedMemoryPerBlockOptin,
                                   handle),
                               "cuDeviceGetAttribute"))
    return std::move(e);
  if (llvm::Error e = d->check(
          d->cuDeviceGetAttribute(&sms, kAttrMultiprocessorCount, handle),
          "cuDeviceGetAttribute"))
    return std::move(e);
  dev.name = name;
  dev.major = major;
  dev.minor = minor;
  dev.maxSharedMemoryPerBlock = smem;
  dev.multiprocessors = sms;
  return dev;
}

CudaKernel::CudaKernel(Manifest m, CudaDevice dev, void *module,
                       std::vector<void *> functions)
    : m(std::move(m)), dev(std::move(dev)), module(module),
      functions(std::move(functions)) {}

CudaKernel::~CudaKernel() {
  llvm::Expected<const Driver &> d = driver();
  if (!d) {
    llvm::consumeError(d.takeError());
    return;
  }
  if (llvm::Error e = d->enter(dev.ordinal)) {
    llvm::consumeError(std::move(e));
    return;
  }
  d->cuModuleUnload(module);
}

llvm::Expected<std::unique_ptr<CudaKernel>>
CudaKernel::load(llvm::StringRef image, Manifest manifest, int ordinal) {
  llvm::Expected<CudaDevice> dev = getCudaDevice(ordinal);
  if (!dev)
    return dev.takeError();
  std::optional<int> chip = chipNumber(manifest.chip);
  if (!chip)
    return fail("the manifest names an unknown chip '" + manifest.chip + "'");
  int have = dev->major * 10 + dev->minor;
  std::string devName = "device " + std::to_string(ordinal) + " (" +
                        dev->name + ", sm_" + std::to_string(have) + ")";
  // A cubin runs on its own major architecture at the same or a newer
  // minor; PTX (alone or in a fatbin) on that or any newer architecture.
  bool exact = manifest.binaryFormat == "cubin";
  bool archSpecific = llvm::StringRef(manifest.chip).ends_with("a");
  bool compatible = (exact || archSpecific)
                        ? (have / 10 == *chip / 10 && have >= *chip &&
                           (!archSpecific || have == *chip))
                        : have >= *chip;
  if (!compatible)
    return fail(manifest.describeKernels() + " compiled for " + manifest.chip +
                " (" + manifest.binaryFormat + ") cannot run on " + devName +
                "; recompile with --chip sm_" + llvm::Twine(have));

  const Driver &d = llvm::cantFail(driver());
  CUmodule module = nullptr;
  // cuModuleLoadData wants PTX text NUL-terminated.
  std::string copy = image.str();
  if (llvm::Error e = d.check(d.cuModuleLoadData(&module, copy.c_str()),
                              "loading " + manifest.describeKernels() + " (" +
                                  manifest.binaryFormat + " for " +
                                  manifest.chip + ") on " + devName))
    return std::move(e);
  std::vector<void *> functions;
  for (const KernelLaunch &k : manifest.kernels) {
    CUfunction function = nullptr;
    if (llvm::Error e = d.check(
            d.cuModuleGetFunction(&function, module, k.symbol.c_str()),
            "finding kernel symbol '" + k.symbol + "'")) {
      d.cuModuleUnload(module);
      return std::move(e);
    }
    functions.push_back(function);
  }
  return std::unique_ptr<CudaKernel>(new CudaKernel(
      std::move(manifest), std::move(*dev), module, std::move(functions)));
}

llvm::Expected<std::unique_ptr<CudaKernel>>
CudaKernel::loadFiles(llvm::StringRef imagePath, llvm::StringRef manifestPath,
                      int ordinal) {
  llvm::Expected<Manifest> manifest = Manifest::load(manifestPath);
  if (!manifest)
    return manifest.takeError();
  auto buffer = llvm::MemoryBuffer::getFile(imagePath, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/true);
  if (!buffer)
    return fail("cannot read kernel image " + imagePath + ": " +
                buffer.getError().message());
  return load((*buffer)->getBuffer(), std::move(*manifest), ordinal);
}

namespace {
/// ATTN_CHECK_SEQUENCES (CudaKernel::launch): the contract of packed and
/// paged inputs, checked on copies of them.
llvm::Error checkSequencesOnDevice(const Driver &d, const Manifest &m,
                                   llvm::ArrayRef<TensorRef> inputs) {
  const char *mode = std::getenv("ATTN_CHECK_SEQUENCES");
  if (!mode || llvm::StringRef(mode) == "0" ||
      !hasSequenceInputs(m.signature))
    return llvm::Error::success();
  // The placement inputs are small: bring them to the host once the work
  // that may still write them is done, and check them there.
  if (llvm::Error e =
          d.check(d.cuCtxSynchronize(), "waiting for the inputs (ATTN_CHECK_SEQUENCES)"))
    return e;
  std::vector<std::vector<char>> copies;
  std::vector<TensorRef> host(inputs.begin(), inputs.end());
  for (auto [param, t] : llvm::zip_equal(m.signature.inputs, host)) {
    // Placement inputs are i32; `positions` may be i64.
    if ((param.dtype != DType::I32 && param.dtype != DType::I64) || !t.data)
      continue;
    std::vector<char> &bytes = copies.emplace_back(
        size_t(t.numElements()) * dtypeSize(t.dtype));
    if (llvm::Error e = d.check(
            d.cuMemcpyDtoH(bytes.data(), reinterpret_cast<CUdeviceptr>(t.data),
                           bytes.size()),
            "copying '" + param.name + "' to the host (ATTN_CHECK_SEQUENCES)"))
      return e;
    t.data = bytes.data();
  }
  return checkSequenceInputs(m.signature, host);
}
} // namespace

namespace {
/// Encodes the plan's tensor maps (cuTensorMapEncodeTiled) into one
/// stream-ordered allocation, `maps`, whose addresses the launches take.
llvm::Error encodeTensorMaps(const Driver &d, LaunchPlan &plan, void *stream,
                             CUdeviceptr &maps) {
  if (plan.tensorMaps.empty())
    return llvm::Error::success();
  if (!d.cuTensorMapEncodeTiled)
    return fail("the CUDA driver lacks cuTensorMapEncodeTiled (CUDA 12): "
                "the sm_90a kernels take TMA tensor maps; compile for "
                "sm_90 instead");
  std::vector<TensorMapBytes> encoded(plan.tensorMaps.size());
  for (auto [i, r] : llvm::enumerate(plan.tensorMaps)) {
    int dataType =
        r.dtype == DType::BF16 ? kTensorMapBFloat16 : kTensorMapFloat16;
    if (r.dtype != DType::BF16 && r.dtype != DType::F16)
      return fail("a tensor map of a " + dtypeName(r.dtype) +
                  " tensor: the kernels take f16 and bf16 ones");
    // CUtensorMapSwizzle is the XOR width (the manifest checked the bytes).
    int swizzle = swizzleBits(r.swizzle).value_or(0);
    if (llvm::Error e = d.check(
            d.cuTensorMapEncodeTiled(
                &encoded[i], dataType, r.rank, r.address, r.dims.data(),
                r.strides.data(), r.box.data(), r.elementStrides.data(),
                kTensorMapInterleaveNone, swizzle, kTensorMapL2Promotion128B,
                kTensorMapFillZero),
            "encoding tensor map " + llvm::Twine(i)))
      return e;
  }
  size_t bytes = encoded.size() * sizeof(TensorMapBytes);
  if (llvm::Error e = d.check(d.cuMemAllocAsync(&maps, bytes, stream),
                              "allocating the tensor maps on the stream"))
    return e;
  // From pageable memory the copy has read `encoded` when it returns.
  if (llvm::Error e = d.check(
          d.cuMemcpyHtoDAsync(maps, encoded.data(), bytes, stream),
          "copying the tensor maps to the device"))
    return llvm::joinErrors(std::move(e),
                            d.check(d.cuMemFreeAsync(maps, stream),
                                    "freeing the tensor maps"));
  plan.setTensorMapBase(reinterpret_cast<void *>(maps));
  return llvm::Error::success();
}
} // namespace

llvm::Error CudaKernel::launch(llvm::ArrayRef<TensorRef> inputs,
                               llvm::ArrayRef<TensorRef> outputs,
                               void *stream) const {
  llvm::Expected<std::unique_ptr<LaunchPlan>> planned =
      planLaunch(m, inputs, outputs, dev.properties());
  if (!planned)
    return planned.takeError();
  LaunchPlan &plan = **planned;
  if (plan.empty())
    return llvm::Error::success();
  for (const KernelLaunchPlan &l : plan.launches)
    if (!l.empty && l.dynamicSharedMemory > dev.maxSharedMemoryPerBlock)
      return fail("kernel '" + m.kernels[l.kernel].symbol + "' needs " +
                  llvm::Twine(l.dynamicSharedMemory) +
                  " bytes of shared memory per block, the device allows " +
                  llvm::Twine(dev.maxSharedMemoryPerBlock) +
                  "; recompile with a smaller tile-kv");
  const Driver &d = llvm::cantFail(driver());
  if (llvm::Error e = d.enter(dev.ordinal))
    return e;
  if (llvm::Error e = checkSequencesOnDevice(d, m, inputs))
    return e;
  CUdeviceptr workspace = 0;
  if (plan.workspaceBytes > 0) {
    if (llvm::Error e = d.check(
            d.cuMemAllocAsync(&workspace, size_t(plan.workspaceBytes), stream),
            "allocating " + llvm::Twine(plan.workspaceBytes) +
                " bytes of workspace on the stream"))
      return e;
    plan.setWorkspaceBase(reinterpret_cast<void *>(workspace));
  }
  CUdeviceptr tensorMaps = 0;
  if (llvm::Error e = encodeTensorMaps(d, plan, stream, tensorMaps)) {
    if (workspace)
      e = llvm::joinErrors(std::move(e),
                           d.check(d.cuMemFreeAsync(workspace, stream),
                                   "freeing the workspace on the stream"));
    return e;
  }
  llvm::Error result = llvm::Error::success();
  for (KernelLaunchPlan &l : plan.launches) {
    if (l.empty)
      continue;
    const std::string &symbol = m.kernels[l.kernel].symbol;
    CUfunction function = functions[l.kernel];
    result = d.check(
        d.cuFuncSetAttribute(function, kFuncAttrMaxDynamicSharedSizeBytes,
                             int(l.dynamicSharedMemory)),
        "setting the dynamic shared memory of '" + symbol + "'");
    if (result)
      break;
    const auto &g = l.grid;
    const auto &b = l.block;
    result = d.check(d.cuLaunchKernel(function, g[0], g[1], g[2], b[0], b[1],
                                      b[2], unsigned(l.dynamicSharedMemory),
                                      stream, l.args.data(), nullptr),
                     "launching '" + symbol + "' on grid " + describeShape(g) +
                         " x block " + describeShape(b));
    if (result)
      break;
  }
  // Freed after the launches on the same stream, also when one failed.
  if (tensorMaps)
    result = llvm::joinErrors(
        std::move(result), d.check(d.cuMemFreeAsync(tensorMaps, stream),
                                   "freeing the tensor maps on the stream"));
  if (workspace)
    result = llvm::joinErrors(
        std::move(result), d.check(d.cuMemFreeAsync(workspace, stream),
                                   "freeing the workspace on the stream"));
  return result;
}

llvm::Error synchronizeDevice(int ordinal) {
  return onDevice(ordinal, "running the kernel",
                  [](const Driver &d) { return d.cuCtxSynchronize(); });
}

llvm::Expected<DeviceBuffer> DeviceBuffer::allocate(size_t bytes, int ordinal) {
  llvm::Expected<const Driver &> d = driver();
  if (!d)
    return d.takeError();
  if (llvm::Error e = d->enter(ordinal))
    return std::move(e);
  CUdeviceptr ptr = 0;
  if (bytes > 0)
    if (llvm::Error e = d->check(d->cuMemAlloc(&ptr, bytes),
                                 "allocating " + llvm::Twine(bytes) +
                                     " bytes of device memory"))
      return std::move(e);
  return DeviceBuffer(ptr, bytes, ordinal);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other) noexcept
    : ptr(std::exchange(other.ptr, 0)), bytes(std::exchange(other.bytes, 0)),
      ordinal(other.ordinal) {}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) noexcept {
  std::swap(ptr, other.ptr);
  std::swap(bytes, other.bytes);
  std::swap(ordinal, other.ordinal);
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (!ptr)
    return;
  llvm::Expected<const Driver &> d = driver();
  if (!d) {
    llvm::consumeError(d.takeError());
    return;
  }
  if (llvm::Error e = d->enter(ordinal)) {
    llvm::consumeError(std::move(e));
    return;
  }
  d->cuMemFree(ptr);
}

llvm::Error DeviceBuffer::copyFromHost(const void *src, size_t n) {
  if (n > bytes)
    return fail("copy of " + llvm::Twine(n) + " bytes into a buffer of " +
                llvm::Twine(bytes));
  if (n == 0)
    return llvm::Error::success();
  return onDevice(ordinal, "cuMemcpyHtoD", [&](const Driver &d) {
    return d.cuMemcpyHtoD(ptr, src, n);
  });
}

llvm::Error DeviceBuffer::copyToHost(void *dst, size_t n) const {
  if (n > bytes)
    return fail("copy of " + llvm::Twine(n) + " bytes out of a buffer of " +
                llvm::Twine(bytes));
  if (n == 0)
    return llvm::Error::success();
  return onDevice(ordinal, "cuMemcpyDtoH", [&](const Driver &d) {
    return d.cuMemcpyDtoH(dst, ptr, n);
  });
}

llvm::Error DeviceBuffer::poison() {
  if (bytes == 0)
    return llvm::Error::success();
  return onDevice(ordinal, "cuMemsetD8", [&](const Driver &d) {
    return d.cuMemsetD8(ptr, 0xff, bytes);
  });
}

} // namespace attn::runtime
