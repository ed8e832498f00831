// --target cuda on a machine without the CUDA driver: a clear error, no crash.
// RUN: env ATTN_CUDA_DRIVER=/nonexistent/libcuda.so.1 not attn-run %s --target cuda --random 2>&1 | FileCheck %s
// CHECK: attn-run: error: cannot load the CUDA driver (/nonexistent/libcuda.so.1): {{.*}}run on the CPU (target cpu)

func.func @dense(%q: tensor<1x2x16x64xf16>, %k: tensor<1x2x16x64xf16>,
                 %v: tensor<1x2x16x64xf16>) -> tensor<1x2x16x64xf16> {
  %o = attn.attention %q, %k, %v
      : tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>, tensor<1x2x16x64xf16>
      -> tensor<1x2x16x64xf16>
  return %o : tensor<1x2x16x64xf16>
}
