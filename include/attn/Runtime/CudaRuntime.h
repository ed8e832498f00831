//===- CudaRuntime.h - Load and launch compiled kernels on a GPU -*- C++ -*-===//
//
// Loads the CUDA driver (libcuda.so.1) with dlopen at first use, so nothing
// links against it and a machine without a driver gets an error, not a
// failure to start. `ATTN_CUDA_DRIVER` names another driver library (tests
// use a fake one). Kernels run in the device's primary context, the one
// PyTorch and CuPy use, so their tensors and streams can be passed directly.
// LLVM Support only, never MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RUNTIME_CUDARUNTIME_H
#define ATTN_RUNTIME_CUDARUNTIME_H

#include "attn/Runtime/Manifest.h"

#include <memory>

namespace attn::runtime {

struct CudaDevice {
  int ordinal = 0;
  std::string name;
  /// Compute capability, e.g. 9.0 for sm_90.
  int major = 0, minor = 0;
  /// The most dynamic shared memory one block may opt in to.
  int64_t maxSharedMemoryPerBlock = 0;
  /// Streaming multiprocessors (the plan's `multiprocessors`).
  int64_t multiprocessors = 0;

  DeviceProperties properties() const { return {multiprocessors}; }
};

/// Loads the driver if needed and describes device `ordinal`.
llvm::Expected<CudaDevice> getCudaDevice(int ordinal = 0);

/// The kernels of one spec, loaded from one cubin, fatbin or PTX image, and
/// their manifest: a call runs the manifest's whole launch plan.
class CudaKernel {
public:
  ~CudaKernel();

  /// Loads `image` into device `ordinal`'s primary context. Fails when the
  /// driver is missing, the image was built for another architecture than
  /// the device's, or the device lacks the shared memory the kernel needs.
  static llvm::Expected<std::unique_ptr<CudaKernel>>
  load(llvm::StringRef image, Manifest manifest, int ordinal = 0);
  /// Loads `imagePath` and its manifest `manifestPath`.
  static llvm::Expected<std::unique_ptr<CudaKernel>>
  loadFiles(llvm::StringRef imagePath, llvm::StringRef manifestPath,
            int ordinal = 0);

  const Manifest &manifest() const { return m; }
  const CudaDevice &device() const { return dev; }

  /// Launches the plan's kernels in order on `stream` (a CUstream; null:
  /// the legacy default stream) with device pointers in `inputs` and
  /// `outputs`, checked against the manifest first; kernels with an empty
  /// grid are skipped. The workspaces are allocated and freed on `stream`
  /// (cuMemAllocAsync / cuMemFreeAsync), so they live exactly as long as
  /// the launches that use them and the call does not wait. Asynchronous:
  /// errors of the launches themselves come back here, errors during
  /// execution at the next synchronization.
  ///
  /// Packed and paged sequences (cu_seqlens, block tables, lengths) are
  /// device data the launch cannot see: kernels trust the contract of
  /// attn.attention. With ATTN_CHECK_SEQUENCES=1 in the environment (a
  /// debugging mode: it synchronizes the device and copies them back), a
  /// launch checks them first and reports what breaks it.
  llvm::Error launch(llvm::ArrayRef<TensorRef> inputs,
                     llvm::ArrayRef<TensorRef> outputs,
                     void *stream = nullptr) const;

private:
  CudaKernel(Manifest m, CudaDevice dev, void *module,
             std::vector<void *> functions);
  Manifest m;
  CudaDevice dev;
  void *module;
  /// One per entry of the manifest's kernels.
  std::vector<void *> functions;
};

/// Device memory in device `ordinal`'s primary context, for hosts that do
/// not bring their own (attn-run, tests).
class DeviceBuffer {
public:
  static llvm::Expected<DeviceBuffer> allocate(size_t bytes, int ordinal = 0);
  DeviceBuffer(DeviceBuffer &&other) noexcept;
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  ~DeviceBuffer();

  void *data() const { return reinterpret_cast<void *>(ptr); }
  size_t size() const { return bytes; }
  llvm::Error copyFromHost(const void *src, size_t n);
  llvm::Error copyToHost(void *dst, size_t n) const;
  /// Fills with 0xff bytes (NaN for every float type), so a kernel that
  /// leaves an element unwritten is caught.
  llvm::Error poison();

private:
  DeviceBuffer(uint64_t ptr, size_t bytes, int ordinal)
      : ptr(ptr), bytes(bytes), ordinal(ordinal) {}
  uint64_t ptr = 0;
  size_t bytes = 0;
  int ordinal = 0;
};

/// Waits for all work on device `ordinal`; returns execution errors.
llvm::Error synchronizeDevice(int ordinal = 0);

} // namespace attn::runtime

#endif // ATTN_RUNTIME_CUDARUNTIME_H
