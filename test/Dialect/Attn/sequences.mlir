// Packed (varlen) and paged sequences: parse, verify, print, parse again.
// RUN: attn-opt %s | attn-opt | FileCheck %s

// CHECK-LABEL: func.func @paged_decode
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} paged_kv(%{{.*}}, %{{.*}} : tensor<8x?xi32>, tensor<8xi32>) mask(#attn.causal<align = bottom_right>)
// CHECK-NOT: page_layout
// CHECK-SAME: : tensor<8x32x1x128xbf16>, tensor<?x16x8x128xbf16>, tensor<?x16x8x128xbf16> -> tensor<8x32x1x128xbf16>, tensor<8x32x1xf32>
func.func @paged_decode(%q: tensor<8x32x1x128xbf16>, %k: tensor<?x16x8x128xbf16>,
                        %v: tensor<?x16x8x128xbf16>, %table: tensor<8x?xi32>,
                        %lens: tensor<8xi32>) -> (tensor<8x32x1x128xbf16>, tensor<8x32x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v paged_kv(%table, %lens : tensor<8x?xi32>, tensor<8xi32>)
      mask(#attn.causal<align = bottom_right>)
      : tensor<8x32x1x128xbf16>, tensor<?x16x8x128xbf16>, tensor<?x16x8x128xbf16>
      -> tensor<8x32x1x128xbf16>, tensor<8x32x1xf32>
  return %o, %lse : tensor<8x32x1x128xbf16>, tensor<8x32x1xf32>
}

// CHECK-LABEL: func.func @paged_hnd
// CHECK: paged_kv(%{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<?xi32>) page_layout(hnd)
func.func @paged_hnd(%q: tensor<?x4x2x64xf16>, %k: tensor<?x2x64x64xf16>,
                     %v: tensor<?x2x64x32xf16>, %table: tensor<?x?xi32>,
                     %lens: tensor<?xi32>) -> tensor<?x4x2x32xf16> {
  %o = attn.attention %q, %k, %v paged_kv(%table, %lens : tensor<?x?xi32>, tensor<?xi32>)
      page_layout(hnd)
      : tensor<?x4x2x64xf16>, tensor<?x2x64x64xf16>, tensor<?x2x64x32xf16> -> tensor<?x4x2x32xf16>
  return %o : tensor<?x4x2x32xf16>
}

// CHECK-LABEL: func.func @varlen
// CHECK: cu_seqlens_q(%{{.*}} : tensor<5xi32>) cu_seqlens_kv(%{{.*}} : tensor<5xi32>) mask(#attn.causal)
// CHECK-SAME: -> tensor<?x8x64xf32>, tensor<?x8xf32>
func.func @varlen(%q: tensor<?x8x64xf32>, %k: tensor<?x2x64xf32>, %v: tensor<?x2x64xf32>,
                  %cq: tensor<5xi32>, %ck: tensor<5xi32>) -> (tensor<?x8x64xf32>, tensor<?x8xf32>) {
  %o, %lse = attn.attention %q, %k, %v cu_seqlens_q(%cq : tensor<5xi32>)
      cu_seqlens_kv(%ck : tensor<5xi32>) mask(#attn.causal)
      : tensor<?x8x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> -> tensor<?x8x64xf32>, tensor<?x8xf32>
  return %o, %lse : tensor<?x8x64xf32>, tensor<?x8xf32>
}

// Packed query chunks against a paged cache (chunked prefill), and packed
// queries against one dense key sequence per batch entry.
// CHECK-LABEL: func.func @chunked_prefill
// CHECK: cu_seqlens_q(%{{.*}} : tensor<?xi32>) paged_kv(
// CHECK: cu_seqlens_q(%{{.*}} : tensor<3xi32>) :
func.func @chunked_prefill(%q: tensor<?x4x64xbf16>, %k: tensor<?x64x4x64xbf16>,
                           %v: tensor<?x64x4x64xbf16>, %cq: tensor<?xi32>,
                           %table: tensor<?x?xi32>, %lens: tensor<?xi32>,
                           %kd: tensor<2x4x100x64xbf16>, %cq2: tensor<3xi32>)
    -> (tensor<?x4x64xbf16>, tensor<?x4x64xbf16>) {
  %o = attn.attention %q, %k, %v cu_seqlens_q(%cq : tensor<?xi32>)
      paged_kv(%table, %lens : tensor<?x?xi32>, tensor<?xi32>)
      mask(#attn.causal<align = bottom_right>)
      : tensor<?x4x64xbf16>, tensor<?x64x4x64xbf16>, tensor<?x64x4x64xbf16> -> tensor<?x4x64xbf16>
  %o2 = attn.attention %q, %kd, %kd cu_seqlens_q(%cq2 : tensor<3xi32>)
      : tensor<?x4x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16> -> tensor<?x4x64xbf16>
  return %o, %o2 : tensor<?x4x64xbf16>, tensor<?x4x64xbf16>
}

// A shard of a longer attention (ring attention).
// CHECK-LABEL: func.func @shard
// CHECK: attn.attention %{{.*}}, %{{.*}}, %{{.*}} segments(%{{.*}}, %{{.*}} : tensor<2x?xi32>, tensor<2x?xi32>) positions(%{{.*}} : tensor<4xi64>) mask(#attn.and<[#attn.document, #attn.causal]>) allow_empty_rows :
// CHECK: attn.attention_backward {{.*}} positions(%{{.*}} : tensor<4xi32>) score_mods([#attn.alibi]) :
func.func @shard(%q: tensor<2x4x?x32xbf16>, %k: tensor<2x4x?x32xbf16>, %v: tensor<2x4x?x32xbf16>,
                 %qs: tensor<2x?xi32>, %ks: tensor<2x?xi32>, %p: tensor<4xi64>, %p32: tensor<4xi32>,
                 %lse: tensor<2x4x?xf32>) -> tensor<2x4x?x32xbf16> {
  %o = attn.attention %q, %k, %v segments(%qs, %ks : tensor<2x?xi32>, tensor<2x?xi32>)
      positions(%p : tensor<4xi64>) mask(#attn.and<[#attn.document, #attn.causal]>) allow_empty_rows
      : tensor<2x4x?x32xbf16>, tensor<2x4x?x32xbf16>, tensor<2x4x?x32xbf16> -> tensor<2x4x?x32xbf16>
  %dq, %dk, %dv = attn.attention_backward %q, %k, %v, %o, %o lse(%lse : tensor<2x4x?xf32>)
      positions(%p32 : tensor<4xi32>) score_mods([#attn.alibi])
      : tensor<2x4x?x32xbf16>, tensor<2x4x?x32xbf16>, tensor<2x4x?x32xbf16>, tensor<2x4x?x32xbf16>, tensor<2x4x?x32xbf16>
      -> tensor<2x4x?x32xbf16>, tensor<2x4x?x32xbf16>, tensor<2x4x?x32xbf16>
  return %dq : tensor<2x4x?x32xbf16>
}
