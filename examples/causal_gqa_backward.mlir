// The backward of a Llama-style training layer: causal attention with
// grouped-query heads (8 query heads, 2 key/value heads) in bf16. The CPU
// compiles it as FlashAttention-2 does (attn-tile-flash-backward): the
// weights are recomputed per tile pair from the forward's lse; one parallel
// loop over key tiles accumulates grad_k and grad_v over the query tiles the
// causal mask allows (summing the group's heads), another over query tiles
// accumulates grad_q; no [Sq, Skv] matrix exists. attn-run --random takes o
// and lse from the spec's forward; --check compares the gradients with the
// float64 reference backward.
// RUN: attn-run %s --random --seed 3 --dim B=2 --dim Sq=100 --dim Skv=100 --check | FileCheck %s
// CHECK: ran causal_gqa_backward: grad_q [2, 8, 100, 64] bf16 grad_k [2, 2, 100, 64] bf16 grad_v [2, 2, 100, 64] bf16
// CHECK: check grad_q max relative error {{.*}} ok
// CHECK: check grad_k max relative error {{.*}} ok
// CHECK: check grad_v max relative error {{.*}} ok

func.func @causal_gqa_backward(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>, %v: tensor<?x2x?x64xbf16>,
                               %o: tensor<?x8x?x64xbf16>, %grad_o: tensor<?x8x?x64xbf16>, %lse: tensor<?x8x?xf32>)
    -> (tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>) {
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %grad_o lse(%lse : tensor<?x8x?xf32>) mask(#attn.causal)
      : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x8x?x64xbf16>, tensor<?x8x?x64xbf16>
      -> tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>
  return %dq, %dk, %dv : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>
}
