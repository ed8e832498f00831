// Gemma 2's local layers: logits soft-capped at 50 (50 tanh(s / 50)) and a
// causal sliding window of 4096 keys (here the window covers the sequence,
// so the canonicalizer turns it into a plain causal mask).
// RUN: attn-run %s --random --seed 1 --check
// RUN: attn-opt %s --canonicalize | FileCheck %s
// CHECK: mask(#attn.causal) score_mods([#attn.softcap<5.000000e+01>])

func.func @gemma(%q: tensor<1x8x256x128xbf16>, %k: tensor<1x4x256x128xbf16>,
                 %v: tensor<1x4x256x128xbf16>) -> tensor<1x8x256x128xbf16> {
  %o = attn.attention %q, %k, %v
      mask(#attn.and<[#attn.causal, #attn.window<left = 4096, right = 0>]>)
      score_mods([#attn.softcap<50.0>])
      : tensor<1x8x256x128xbf16>, tensor<1x4x256x128xbf16>, tensor<1x4x256x128xbf16>
      -> tensor<1x8x256x128xbf16>
  return %o : tensor<1x8x256x128xbf16>
}
