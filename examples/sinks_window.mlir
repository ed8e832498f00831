// StreamingLLM: a causal sliding window of 128 keys plus 4 "attention sink"
// tokens at the start that every query keeps seeing.
// RUN: attn-run %s --random --seed 1 --check

func.func @streaming(%q: tensor<1x8x400x64xbf16>, %k: tensor<1x8x400x64xbf16>,
                     %v: tensor<1x8x400x64xbf16>) -> tensor<1x8x400x64xbf16> {
  %o = attn.attention %q, %k, %v
      mask(#attn.or<[#attn.window<left = 127, right = 0>, #attn.sinks<4>]>)
      : tensor<1x8x400x64xbf16>, tensor<1x8x400x64xbf16>, tensor<1x8x400x64xbf16>
      -> tensor<1x8x400x64xbf16>
  return %o : tensor<1x8x400x64xbf16>
}
