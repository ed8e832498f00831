// Decoding: new query tokens attend to a KV cache with a bottom-right
// aligned causal mask (query i of Sq sees keys up to Skv - Sq + i) and
// grouped-query attention (32 query heads share 8 key/value heads).
//
// With a long cache the GPU lowering uses split-KV (flash-decoding): B x Hq
// blocks cannot fill the GPU, so the keys are split across blocks chosen at
// run time from the device's multiprocessor count, each block writes f32
// partials with their log-sum-exp, and a merge kernel combines them
// (`attn-translate --manifest` lists both kernels and the workspaces).
// RUN: attn-run %s --entry decode --random --seed 1 --check
// RUN: attn-run %s --entry decode_long_cache --random --seed 2 --dim B=2 --dim Skv=3001 --check
// RUN: attn-run %s --entry decode_long_cache --target gpu-emulation --warps 1 --tile-kv 16 --random --seed 3 --dim B=1 --dim Skv=3001 --check
// RUN: attn-run %s --entry speculative_window_sinks --random --seed 4 --dim B=2 --dim Skv=2049 --check
// gpu-check dims: Skv=5003

// 4 new tokens against a cache of 300 (too short to split).
func.func @decode(%q: tensor<2x32x4x128xbf16>, %k: tensor<2x8x300x128xbf16>,
                  %v: tensor<2x8x300x128xbf16>) -> tensor<2x32x4x128xbf16> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<2x32x4x128xbf16>, tensor<2x8x300x128xbf16>, tensor<2x8x300x128xbf16>
      -> tensor<2x32x4x128xbf16>
  return %o : tensor<2x32x4x128xbf16>
}

// One token per sequence against a cache of any length, with the lse (for
// merging with other partial results, e.g. a shared prefix).
func.func @decode_long_cache(%q: tensor<?x32x1x128xbf16>, %k: tensor<?x8x?x128xbf16>,
                             %v: tensor<?x8x?x128xbf16>)
    -> (tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x32x1x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>
      -> tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
  return %o, %lse : tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
}

// Speculative verification of 8 draft tokens against a sliding-window cache
// with 4 attention sinks (StreamingLLM).
func.func @speculative_window_sinks(%q: tensor<?x16x8x64xf16>, %k: tensor<?x2x?x64xf16>,
                                    %v: tensor<?x2x?x64xf16>) -> tensor<?x16x8x64xf16> {
  %o = attn.attention %q, %k, %v
      mask(#attn.or<[#attn.window<left = 511, right = 0, align = bottom_right>,
                     #attn.sinks<4>]>)
      : tensor<?x16x8x64xf16>, tensor<?x2x?x64xf16>, tensor<?x2x?x64xf16>
      -> tensor<?x16x8x64xf16>
  return %o : tensor<?x16x8x64xf16>
}
