// Cascade (shared-prefix) attention: 4 requests share a 500-token system
// prompt and each has its own 90..110-token continuation. The prefix's K/V
// are stored and read once for all requests: its attention takes the 4
// requests' decoding queries as 4 rows of one batch. Each request's own
// keys are packed into one sequence, separated by a document mask. The two
// partial results (o, lse) merge into attention over prefix + own keys.
// The lines below run the three steps on the same queries, checking each
// against the float64 reference, then a merge on random partials with empty
// (lse = -inf) ones.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: attn-run %s --entry prefix --random --seed 1 --write-inputs %t --output o=%t/o_0.npy --output lse=%t/lse_0.npy --check
// RUN: attn-run %s --entry suffix --random --seed 2 --input q=%t/q.npy --output o=%t/o_1.npy --output lse=%t/lse_1.npy --check
// RUN: attn-run %s --entry merge --input o0=%t/o_0.npy --input lse0=%t/lse_0.npy --input o1=%t/o_1.npy --input lse1=%t/lse_1.npy --check
// RUN: attn-run %s --entry merge --random --seed 3 --check
// RUN: attn-run %s --entry merge_split --random --seed 4 --dim N=3 --check

// The shared prefix: every request's query against the same 500 keys
// (grouped-query attention, 8 query heads on 2 key/value heads).
func.func @prefix(%q: tensor<1x8x4x64xbf16>, %k: tensor<1x2x500x64xbf16>,
                  %v: tensor<1x2x500x64xbf16>)
    -> (tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      : tensor<1x8x4x64xbf16>, tensor<1x2x500x64xbf16>, tensor<1x2x500x64xbf16>
      -> tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>
  return %o, %lse : tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>
}

// Each request's own keys, packed: request i sees the keys of document i.
func.func @suffix(%q: tensor<1x8x4x64xbf16>, %k: tensor<1x2x400x64xbf16>,
                  %v: tensor<1x2x400x64xbf16>, %q_segments: tensor<1x4xi32>,
                  %kv_segments: tensor<1x400xi32>)
    -> (tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>) {
  %o, %lse = attn.attention %q, %k, %v
      segments(%q_segments, %kv_segments : tensor<1x4xi32>, tensor<1x400xi32>)
      mask(#attn.document)
      : tensor<1x8x4x64xbf16>, tensor<1x2x400x64xbf16>, tensor<1x2x400x64xbf16>
      -> tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>
  return %o, %lse : tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>
}

// Attention over prefix + own keys, from the two partials.
func.func @merge(%o_prefix: tensor<1x8x4x64xbf16>, %o_own: tensor<1x8x4x64xbf16>,
                 %lse_prefix: tensor<1x8x4xf32>, %lse_own: tensor<1x8x4xf32>)
    -> (tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>) {
  %o, %lse = attn.merge
      o(%o_prefix, %o_own : tensor<1x8x4x64xbf16>, tensor<1x8x4x64xbf16>)
      lse(%lse_prefix, %lse_own : tensor<1x8x4xf32>, tensor<1x8x4xf32>)
      -> tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>
  return %o, %lse : tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>
}

// The split-KV form: N f32 partials stacked on a leading axis (N known at
// run time), merged into a bf16 output.
func.func @merge_split(%o_parts: tensor<?x1x8x4x64xf32>, %lse_parts: tensor<?x1x8x4xf32>)
    -> (tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>) {
  %o, %lse = attn.merge o(%o_parts : tensor<?x1x8x4x64xf32>)
      lse(%lse_parts : tensor<?x1x8x4xf32>)
      -> tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>
  return %o, %lse : tensor<1x8x4x64xbf16>, tensor<1x8x4xf32>
}
