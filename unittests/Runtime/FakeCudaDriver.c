/* A stand-in for libcuda.so.1 with just the entry points the runtime uses,
 * so that its error paths and launch plans run on machines without a GPU.
 * The compute capability comes from FAKE_CUDA_SM (default 90), the
 * multiprocessor count from FAKE_CUDA_SMS (default 132). Kernel launches
 * return FAKE_CUDA_LAUNCH_RESULT (default 719: they fail the way a faulting
 * kernel does) and are recorded with the stream-ordered allocations (see
 * FakeCudaDriver.h). */
#include "FakeCudaDriver.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;

static int envInt(const char *name, int fallback) {
  const char *s = getenv(name);
  return s ? atoi(s) : fallback;
}
static int sm(void) { return envInt("FAKE_CUDA_SM", 90); }

/* Functions by symbol; a handle is the address of its entry. */
#define MAX_FUNCTIONS 32
static struct {
  char symbol[128];
  int paramWords;
} functions[MAX_FUNCTIONS];
static int numFunctions;

static int functionIndex(const char *name) {
  for (int i = 0; i < numFunctions; ++i)
    if (strcmp(functions[i].symbol, name) == 0)
      return i;
  if (numFunctions == MAX_FUNCTIONS)
    return -1;
  snprintf(functions[numFunctions].symbol, sizeof(functions[0].symbol), "%s",
           name);
  return numFunctions++;
}

#define MAX_RECORDS 64
static FakeCudaLaunch launches[MAX_RECORDS];
static int numLaunches;
static FakeCudaAllocation allocations[MAX_RECORDS];
static int numAllocations;

int fake_cuda_num_launches(void) { return numLaunches; }
const FakeCudaLaunch *fake_cuda_launch(int i) {
  return i >= 0 && i < numLaunches ? &launches[i] : NULL;
}
void fake_cuda_set_param_words(const char *symbol, int words) {
  int i = functionIndex(symbol);
  if (i >= 0)
    functions[i].paramWords =
        words < FAKE_CUDA_MAX_WORDS ? words : FAKE_CUDA_MAX_WORDS;
}
int fake_cuda_num_async_allocations(void) { return numAllocations; }
const FakeCudaAllocation *fake_cuda_async_allocation(int i) {
  return i >= 0 && i < numAllocations ? &allocations[i] : NULL;
}

CUresult cuInit(unsigned flags) { (void)flags; return 0; }
CUresult cuGetErrorString(CUresult r, const char **s) {
  *s = r == 719 ? "unspecified launch failure" : "fake error";
  return 0;
}
CUresult cuDeviceGetCount(int *n) { *n = 1; return 0; }
CUresult cuDeviceGet(int *d, int ordinal) { *d = ordinal; return ordinal == 0 ? 0 : 101; }
CUresult cuDeviceGetName(char *name, int len, int d) {
  (void)d;
  snprintf(name, (size_t)len, "Fake GPU");
  return 0;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int d) {
  (void)d;
  *v = attr == 75   ? sm() / 10
       : attr == 76 ? sm() % 10
       : attr == 97 ? 232448
       : attr == 16 ? envInt("FAKE_CUDA_SMS", 132)
                    : 0;
  return 0;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) { (void)d; *ctx = (void *)1; return 0; }
CUresult cuCtxSetCurrent(void *ctx) { (void)ctx; return 0; }
CUresult cuCtxSynchronize(void) { return 0; }
CUresult cuModuleLoadData(void **m, const void *image) {
  (void)image;
  *m = (void *)2;
  return 0;
}
CUresult cuModuleUnload(void *m) { (void)m; return 0; }
CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  (void)m;
  if (strcmp(name, "missing") == 0)
    return 500;
  int i = functionIndex(name);
  if (i < 0)
    return 500;
  *f = &functions[i];
  return 0;
}
CUresult cuFuncSetAttribute(void *f, int a, int v) { (void)f; (void)a; (void)v; return 0; }
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                        unsigned bx, unsigned by, unsigned bz, unsigned smem,
                        void *stream, void **params, void **extra) {
  (void)extra;
  /* As the driver: a grid or block dimension of 0 is invalid. */
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0)
    return 1; /* CUDA_ERROR_INVALID_VALUE */
  if (numLaunches < MAX_RECORDS) {
    FakeCudaLaunch *l = &launches[numLaunches++];
    int fn = (int)((char *)f - (char *)functions) / (int)sizeof(functions[0]);
    snprintf(l->symbol, sizeof(l->symbol), "%s", functions[fn].symbol);
    l->grid[0] = gx, l->grid[1] = gy, l->grid[2] = gz;
    l->block[0] = bx, l->block[1] = by, l->block[2] = bz;
    l->sharedMemory = smem;
    l->stream = stream;
    l->numWords = functions[fn].paramWords;
    for (int i = 0; i < l->numWords; ++i)
      l->words[i] = *(const long long *)params[i];
  }
  return envInt("FAKE_CUDA_LAUNCH_RESULT", 719);
}
CUresult cuMemAlloc_v2(unsigned long long *p, size_t n) {
  *p = (unsigned long long)(size_t)aligned_alloc(256, (n + 255) / 256 * 256);
  return 0;
}
CUresult cuMemFree_v2(unsigned long long p) { free((void *)(size_t)p); return 0; }
CUresult cuMemAllocAsync(unsigned long long *p, size_t n, void *stream) {
  cuMemAlloc_v2(p, n);
  if (numAllocations < MAX_RECORDS) {
    FakeCudaAllocation *a = &allocations[numAllocations++];
    a->pointer = *p;
    a->bytes = n;
    a->stream = stream;
    a->freed = 0;
  }
  return 0;
}
CUresult cuMemFreeAsync(unsigned long long p, void *stream) {
  for (int i = 0; i < numAllocations; ++i)
    if (allocations[i].pointer == p && !allocations[i].freed) {
      allocations[i].freed = 1;
      allocations[i].freeStream = stream;
    }
  return cuMemFree_v2(p);
}
CUresult cuMemcpyHtoD_v2(unsigned long long d, const void *s, size_t n) {
  memcpy((void *)(size_t)d, s, n);
  return 0;
}
CUresult cuMemcpyHtoDAsync_v2(unsigned long long d, const void *s, size_t n,
                              void *stream) {
  (void)stream;
  return cuMemcpyHtoD_v2(d, s, n);
}
static FakeCudaTensorMap tensorMaps[MAX_RECORDS];
static int numTensorMaps;
int fake_cuda_num_tensor_maps(void) { return numTensorMaps; }
const FakeCudaTensorMap *fake_cuda_tensor_map(int i) {
  return i >= 0 && i < numTensorMaps ? &tensorMaps[i] : NULL;
}
/* Records the call; the 128-byte map holds its index. */
CUresult cuTensorMapEncodeTiled(void *map, int dataType, uint32_t rank,
                                void *address, const uint64_t *dims,
                                const uint64_t *strides, const uint32_t *box,
                                const uint32_t *elementStrides, int interleave,
                                int swizzle, int l2Promotion, int oobFill) {
  if (rank < 1 || rank > 5 || numTensorMaps == MAX_RECORDS)
    return 1; /* CUDA_ERROR_INVALID_VALUE */
  FakeCudaTensorMap *t = &tensorMaps[numTensorMaps];
  memset(t, 0, sizeof(*t));
  t->dataType = dataType;
  t->interleave = interleave;
  t->swizzle = swizzle;
  t->l2Promotion = l2Promotion;
  t->oobFill = oobFill;
  t->rank = rank;
  t->address = address;
  for (unsigned d = 0; d < rank; ++d) {
    t->dims[d] = dims[d];
    t->box[d] = box[d];
    t->elementStrides[d] = elementStrides[d];
    if (d + 1 < rank)
      t->strides[d] = strides[d];
  }
  memset(map, 0, 128);
  *(int *)map = numTensorMaps++;
  return 0;
}
CUresult cuMemcpyDtoH_v2(void *d, unsigned long long s, size_t n) {
  memcpy(d, (const void *)(size_t)s, n);
  return 0;
}
CUresult cuMemsetD8_v2(unsigned long long d, unsigned char v, size_t n) {
  memset((void *)(size_t)d, v, n);
  return 0;
}
