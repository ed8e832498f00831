/*===- FakeCudaDriver.h - What the fake CUDA driver saw ---------*- C -*-===//
 *
 * The fake driver (FakeCudaDriver.c) records launches, stream-ordered
 * allocations and tensor map encodings; tests read the record through these functions, found with
 * dlsym in the library the runtime loaded (dlopen of the same path returns
 * the same library).
 *
 *===----------------------------------------------------------------------===*/

#ifndef ATTN_UNITTESTS_RUNTIME_FAKECUDADRIVER_H
#define ATTN_UNITTESTS_RUNTIME_FAKECUDADRIVER_H

#include <stddef.h>

#define FAKE_CUDA_MAX_WORDS 128

typedef struct FakeCudaLaunch {
  char symbol[128];
  unsigned grid[3], block[3], sharedMemory;
  void *stream;
  /* The first `numWords` 8-byte parameters (see fake_cuda_set_param_words). */
  int numWords;
  long long words[FAKE_CUDA_MAX_WORDS];
} FakeCudaLaunch;

typedef struct FakeCudaAllocation {
  unsigned long long pointer;
  size_t bytes;
  void *stream;
  int freed;
  void *freeStream;
} FakeCudaAllocation;

/* What cuTensorMapEncodeTiled was given (dimensions innermost first). */
typedef struct FakeCudaTensorMap {
  int dataType, interleave, swizzle, l2Promotion, oobFill;
  unsigned rank;
  void *address;
  unsigned long long dims[5], strides[4];
  unsigned box[5], elementStrides[5];
} FakeCudaTensorMap;

/* Signatures of the record's functions, for dlsym. */
typedef int (*FakeCudaNumLaunchesFn)(void);
typedef const FakeCudaLaunch *(*FakeCudaLaunchFn)(int);
typedef void (*FakeCudaSetParamWordsFn)(const char *, int);
typedef int (*FakeCudaNumAsyncAllocationsFn)(void);
typedef const FakeCudaAllocation *(*FakeCudaAsyncAllocationFn)(int);
typedef int (*FakeCudaNumTensorMapsFn)(void);
typedef const FakeCudaTensorMap *(*FakeCudaTensorMapFn)(int);

#ifdef __cplusplus
#include <dlfcn.h>

/// A function of the fake driver at `path`, the library the runtime loads.
template <typename F> F fakeCudaFunction(const char *path, const char *name) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  return lib ? reinterpret_cast<F>(dlsym(lib, name)) : nullptr;
}
#endif

#endif /* ATTN_UNITTESTS_RUNTIME_FAKECUDADRIVER_H */
