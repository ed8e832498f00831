// The backward of a training spec: Gemma-style soft-capped causal attention
// with grouped-query heads and a learned bias, as FlashAttention's backward
// computes it (grad_q, grad_k, grad_v) plus the bias's gradient. attn-run
// --random takes o and lse from the spec's forward (jit::forwardSpec), so
// the gradients belong to a real forward; --check compares them with the
// float64 reference backward. A backward that returns grad_bias runs its
// reference form on the CPU (the bias's gradient is a full score matrix
// reduced over the bias's broadcast dimensions); causal_gqa_backward.mlir
// shows the tiled CPU backward. On the GPU (attn-to-gpu) the query kernel
// writes each score's bias gradient into an f32 workspace and a last kernel
// sums it over the broadcast batch dimension.
// RUN: attn-run %s --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 2 --dim B=2 --dim Sq=19 --dim Skv=19 --check --tolerance 5e-3 | FileCheck %s --check-prefix=GPU
// RUN: attn-run %s --random --seed 1 --dim B=2 --dim Sq=77 --dim Skv=77 --check | FileCheck %s
// CHECK: ran train_step: grad_q [2, 8, 77, 64] f32 grad_k [2, 2, 77, 64] f32 grad_v [2, 2, 77, 64] f32 grad_bias [1, 8, 77, 77] f32
// CHECK: check grad_q max relative error {{.*}} ok
// CHECK: check grad_bias max relative error {{.*}} ok
// GPU: check grad_q max relative error {{.*}} ok
// GPU: check grad_bias max relative error {{.*}} ok

func.func @train_step(%q: tensor<?x8x?x64xf32>, %k: tensor<?x2x?x64xf32>, %v: tensor<?x2x?x64xf32>,
                      %bias: tensor<1x8x?x?xf32>,
                      %o: tensor<?x8x?x64xf32>, %grad_o: tensor<?x8x?x64xf32>, %lse: tensor<?x8x?xf32>)
    -> (tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>, tensor<1x8x?x?xf32>) {
  %dq, %dk, %dv, %db = attn.attention_backward %q, %k, %v, %o, %grad_o lse(%lse : tensor<?x8x?xf32>)
      bias(%bias : tensor<1x8x?x?xf32>)
      mask(#attn.causal) score_mods([#attn.bias, #attn.softcap<30.0>])
      : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>
      -> tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>, tensor<1x8x?x?xf32>
  return %dq, %dk, %dv, %db : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>, tensor<1x8x?x?xf32>
}
