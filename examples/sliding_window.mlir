// Causal sliding-window attention (Mistral-style): each query sees itself
// and the 63 keys before it.
// RUN: attn-run %s --random --seed 1 --check

func.func @sliding_window(%q: tensor<1x8x200x64xbf16>, %k: tensor<1x8x200x64xbf16>,
                          %v: tensor<1x8x200x64xbf16>) -> tensor<1x8x200x64xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 63, right = 0>)
      : tensor<1x8x200x64xbf16>, tensor<1x8x200x64xbf16>, tensor<1x8x200x64xbf16>
      -> tensor<1x8x200x64xbf16>
  return %o : tensor<1x8x200x64xbf16>
}
