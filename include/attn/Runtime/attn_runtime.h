/*===- attn_runtime.h - C interface of the kernel runtime ---------*- C -*-===//
 *
 * For hosts that are not C++ (Python through ctypes, other languages): load
 * the kernels that attn-translate wrote (image + manifest) and launch their
 * plan on device pointers. libattn_runtime.so carries it with no dependency on MLIR
 * or on a shared LLVM. Functions that fail return NULL or non-zero; the
 * message is then in attn_last_error() (per thread).
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_RUNTIME_ATTN_RUNTIME_H
#define ATTN_RUNTIME_ATTN_RUNTIME_H

#include <stdint.h>

#if defined(__GNUC__)
#define ATTN_RUNTIME_EXPORT __attribute__((visibility("default")))
#else
#define ATTN_RUNTIME_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct attn_kernel attn_kernel;

/* A dense row-major tensor in device memory. dtype: "f16", "bf16", "f32",
 * "f64", "i1", "i8", "i32" or "i64". */
typedef struct attn_tensor {
  void *data;
  const char *dtype;
  int32_t rank;
  const int64_t *shape;
} attn_tensor;

/* The message of this thread's last failure ("" if none). */
ATTN_RUNTIME_EXPORT const char *attn_last_error(void);

/* Loads a cubin, fatbin or PTX image and its manifest (version 2) on device
 * `device`: every kernel of the manifest's plan. */
ATTN_RUNTIME_EXPORT attn_kernel *attn_kernel_load(const char *image_path, const char *manifest_path,
                              int device);

/* Launches the plan's kernels in order on `stream` (a CUstream, NULL for the
 * default stream); the tensors are checked against the manifest first. The
 * plan's workspaces are the runtime's: allocated and freed on `stream`.
 * Asynchronous. */
ATTN_RUNTIME_EXPORT int attn_kernel_launch(const attn_kernel *kernel, const attn_tensor *inputs,
                       int32_t num_inputs, const attn_tensor *outputs,
                       int32_t num_outputs, void *stream);

ATTN_RUNTIME_EXPORT void attn_kernel_free(attn_kernel *kernel);

/* Waits for the device; returns non-zero on an execution error. */
ATTN_RUNTIME_EXPORT int attn_synchronize(int device);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_RUNTIME_ATTN_RUNTIME_H */
