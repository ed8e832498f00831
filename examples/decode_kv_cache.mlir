// Decoding: 4 new query tokens attend to a KV cache of 300 tokens with a
// bottom-right aligned causal mask (query i sees keys up to 296 + i), and
// grouped-query attention (32 query heads share 8 key/value heads).
// RUN: attn-run %s --random --seed 1 --check

func.func @decode(%q: tensor<2x32x4x128xbf16>, %k: tensor<2x8x300x128xbf16>,
                  %v: tensor<2x8x300x128xbf16>) -> tensor<2x32x4x128xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<2x32x4x128xbf16>, tensor<2x8x300x128xbf16>, tensor<2x8x300x128xbf16>
      -> tensor<2x32x4x128xbf16>
  return %o : tensor<2x32x4x128xbf16>
}
