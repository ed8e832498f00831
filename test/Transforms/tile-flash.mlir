// RUN: attn-opt %s --attn-tile-flash="tile-q=32 tile-kv=16" --canonicalize --split-input-file | FileCheck %s
// RUN: not attn-opt %s --attn-tile-flash="tile-q=0" --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: attn-tile-flash: tile sizes must be >= 1, got tile-q = 0, tile-kv = 64

// Causal, dynamic lengths: a parallel loop over (b, h, query tile); a key
// loop up to the mask's key range carrying (max, sum, acc); an scf.if that
// skips empty tiles; then full tiles without mask code and partial tiles
// with the predicate. No [Sq, Skv] tensor exists.
// CHECK-LABEL: func @causal
// CHECK-NOT: tensor<2x4x?x?xf32>
// CHECK: scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (2, 4, %{{.*}}) shared_outs(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (tensor<2x4x?x64xf16>, tensor<2x4x?xf32>)
// CHECK:   scf.for %{{.*}} = %c0 to %{{.*}} step %c16 iter_args(%[[M:.*]] = %{{.*}}, %[[L:.*]] = %{{.*}}, %[[ACC:.*]] = %{{.*}}) -> (tensor<32xf32>, tensor<32xf32>, tensor<32x64xf32>)
// CHECK:     %[[EMPTY:.*]] = arith.cmpi sgt
// CHECK:     %[[FULL:.*]] = arith.andi
// CHECK:     scf.if %[[EMPTY]]
// CHECK-NEXT:  scf.yield %[[M]], %[[L]], %[[ACC]]
// CHECK:     } else {
// CHECK:       scf.if %[[FULL]]
// The full branch: q.k^T, then scaling only.
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic
// CHECK-NOT:     arith.select
// CHECK:         arith.mulf
// CHECK-NOT:     arith.cmpi sle
// CHECK:       } else {
// The partial branch: padding and the causal predicate.
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic
// CHECK:           arith.cmpi slt
// CHECK:           arith.cmpi sle
// CHECK:           arith.select
// CHECK:   scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}, 0] [1, 1, %{{.*}}, 64] [1, 1, 1, 1] : tensor<?x64xf16> into tensor<2x4x?x64xf16>
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] [1, 1, %{{.*}}] [1, 1, 1] : tensor<?xf32> into tensor<2x4x?xf32>
func.func @causal(%q: tensor<2x4x?x64xf16>, %k: tensor<2x2x?x64xf16>, %v: tensor<2x2x?x64xf16>) -> (tensor<2x4x?x64xf16>, tensor<2x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal) : tensor<2x4x?x64xf16>, tensor<2x2x?x64xf16>, tensor<2x2x?x64xf16> -> tensor<2x4x?x64xf16>, tensor<2x4x?xf32>
  return %o, %lse : tensor<2x4x?x64xf16>, tensor<2x4x?xf32>
}

// -----

// No mask and lengths that are multiples of the tiles: no tile is empty or
// padded, so neither branch exists; the key loop covers all keys.
// CHECK-LABEL: func @dense
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (2, 4)
// CHECK:   scf.for %{{.*}} = %c0 to %c64 step %c16
// CHECK-NOT: scf.if
// CHECK-NOT: arith.cmpi
// CHECK:   scf.yield
func.func @dense(%q: tensor<1x2x128x32xf32>, %k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) -> tensor<1x2x128x32xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x2x128x32xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32> -> tensor<1x2x128x32xf32>
  return %o : tensor<1x2x128x32xf32>
}

// -----

// A window's key loop starts at the first key of the band (rounded down to
// a tile) and stops at its end.
// CHECK-LABEL: func @window
// CHECK: %[[Q0:.*]] = arith.muli %{{.*}}, %c32 : index
// CHECK: %[[LO:.*]] = arith.subi %[[Q0]], %c40 : index
// CHECK: arith.maxsi %[[LO]], %c0
// CHECK: scf.for
func.func @window(%q: tensor<1x1x256x16xf32>, %k: tensor<1x1x256x16xf32>, %v: tensor<1x1x256x16xf32>) -> tensor<1x1x256x16xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.window<left = 40, right = 0>) : tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32>, tensor<1x1x256x16xf32> -> tensor<1x1x256x16xf32>
  return %o : tensor<1x1x256x16xf32>
}

// -----

// Block-sparse tiles are classified at run time from the layout, once per
// tile: the layout is read before the branches.
// CHECK-LABEL: func @block_sparse
// CHECK: scf.for
// CHECK:   %[[BLOCK:.*]] = tensor.extract %{{.*}}[%{{.*}}, %c0, %{{.*}}, %{{.*}}] : tensor<1x1x4x8xi8>
// CHECK:   scf.if
func.func @block_sparse(%q: tensor<1x2x128x16xf32>, %k: tensor<1x2x256x16xf32>, %v: tensor<1x2x256x16xf32>, %l: tensor<1x1x4x8xi8>) -> tensor<1x2x128x16xf32> {
  %o = attn.attention %q, %k, %v layout(%l : tensor<1x1x4x8xi8>) mask(#attn.block_sparse<block = [32, 32]>) : tensor<1x2x128x16xf32>, tensor<1x2x256x16xf32>, tensor<1x2x256x16xf32> -> tensor<1x2x128x16xf32>
  return %o : tensor<1x2x128x16xf32>
}

// -----

// Document tiles are classified from the id ranges of the tile: loops
// computing the minimum and maximum ids.
// CHECK-LABEL: func @document
// CHECK: scf.for
// CHECK:   scf.for {{.*}} iter_args
// CHECK:     arith.minsi
// CHECK:     arith.maxsi
// CHECK:   scf.if
func.func @document(%q: tensor<1x2x100x16xf32>, %k: tensor<1x2x100x16xf32>, %v: tensor<1x2x100x16xf32>, %qs: tensor<1x100xi32>, %ks: tensor<1x100xi32>) -> tensor<1x2x100x16xf32> {
  %o = attn.attention %q, %k, %v segments(%qs, %ks : tensor<1x100xi32>, tensor<1x100xi32>) mask(#attn.document) : tensor<1x2x100x16xf32>, tensor<1x2x100x16xf32>, tensor<1x2x100x16xf32> -> tensor<1x2x100x16xf32>
  return %o : tensor<1x2x100x16xf32>
}

// -----

// Pointwise normalizations carry only the accumulator.
// CHECK-LABEL: func @sigmoid
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (tensor<32x16xf32>)
// CHECK-NOT: arith.maximumf
func.func @sigmoid(%q: tensor<1x1x64x16xf32>, %k: tensor<1x1x64x16xf32>, %v: tensor<1x1x64x16xf32>) -> tensor<1x1x64x16xf32> {
  %o = attn.attention %q, %k, %v normalization(#attn.sigmoid<bias = -2.0>) : tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32> -> tensor<1x1x64x16xf32>
  return %o : tensor<1x1x64x16xf32>
}

// -----

// Tiles shrink to divide the layout's 16 x 8 blocks (from 32 x 16), so
// that each tile lies in one block: 16-row query tiles, 8-key key tiles.
// CHECK-LABEL: func @block_granularity
// CHECK: scf.forall (%{{.*}}) in (4)
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<16x8xf32>)
func.func @block_granularity(%q: tensor<1x1x64x16xf32>, %k: tensor<1x1x64x16xf32>, %v: tensor<1x1x64x16xf32>, %l: tensor<1x1x4x8xi8>) -> tensor<1x1x64x16xf32> {
  %o = attn.attention %q, %k, %v layout(%l : tensor<1x1x4x8xi8>) mask(#attn.block_sparse<block = [16, 8]>) : tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32> -> tensor<1x1x64x16xf32>
  return %o : tensor<1x1x64x16xf32>
}

// -----

// Decoding with GQA (4 query heads per key/value head, Sq = 1): one tile
// holds the group's 4 query rows, so the loop runs over (b, kv head) and
// each key tile is read once per group. Row r is head 4 * g + r; the tile
// goes out as the group's [4, 1, Dv] block. The ALiBi slope is per row.
// CHECK-LABEL: func @gqa_decode
// CHECK: scf.forall (%{{.*}}, %[[G:.*]]) in (%{{.*}}, 2)
// CHECK:   %[[H0:.*]] = arith.muli %[[G]], %c4
// CHECK:   linalg.generic
// CHECK:     arith.addi %[[H0]]
// CHECK:   scf.for {{.*}} -> (tensor<4xf32>, tensor<4xf32>, tensor<4x32xf32>)
// CHECK:       math.exp2
// CHECK:   tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [4, 1, 32] : tensor<4x32xf32> into tensor<4x1x32xf32>
// CHECK:   tensor.expand_shape %{{.*}} {{\[}}[0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
// CHECK:   scf.forall.in_parallel
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%{{.*}}, %[[H0]], 0, 0] [1, 4, 1, 32] [1, 1, 1, 1] : tensor<4x1x32xf32> into tensor<?x8x1x32xf32>
// CHECK-NEXT: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%{{.*}}, %[[H0]], 0] [1, 4, 1] [1, 1, 1] : tensor<4x1xf32> into tensor<?x8x1xf32>
func.func @gqa_decode(%q: tensor<?x8x1x32xf32>, %k: tensor<?x16x2x32xf32>, %v: tensor<?x16x2x32xf32>, %t: tensor<?x?xi32>, %l: tensor<?xi32>) -> (tensor<?x8x1x32xf32>, tensor<?x8x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v paged_kv(%t, %l : tensor<?x?xi32>, tensor<?xi32>) mask(#attn.causal<align = bottom_right>) score_mods([#attn.alibi]) : tensor<?x8x1x32xf32>, tensor<?x16x2x32xf32>, tensor<?x16x2x32xf32> -> tensor<?x8x1x32xf32>, tensor<?x8x1xf32>
  return %o, %lse : tensor<?x8x1x32xf32>, tensor<?x8x1xf32>
}

// -----

// A static Sq below tile-q: tiles of Sq rows, no padded rows. Without GQA
// (or when G * Sq exceeds tile-q, or a block-sparse layout reads the head)
// each head keeps its own tile.
// CHECK-LABEL: func @short_queries
// CHECK: scf.forall (%{{.*}}) in (2)
// CHECK:   scf.for {{.*}} -> (tensor<3xf32>, tensor<3xf32>, tensor<3x16xf32>)
// CHECK-LABEL: func @group_too_large
// CHECK: scf.forall (%{{.*}}) in (16)
// CHECK:   scf.for {{.*}} -> (tensor<3xf32>, tensor<3xf32>, tensor<3x16xf32>)
// CHECK-LABEL: func @gqa_block_sparse
// CHECK: scf.forall (%{{.*}}) in (4)
func.func @short_queries(%q: tensor<1x2x3x16xf32>, %k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>) -> tensor<1x2x3x16xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x2x3x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x3x16xf32>
  return %o : tensor<1x2x3x16xf32>
}
func.func @group_too_large(%q: tensor<1x16x3x16xf32>, %k: tensor<1x1x?x16xf32>, %v: tensor<1x1x?x16xf32>) -> tensor<1x16x3x16xf32> {
  %o = attn.attention %q, %k, %v : tensor<1x16x3x16xf32>, tensor<1x1x?x16xf32>, tensor<1x1x?x16xf32> -> tensor<1x16x3x16xf32>
  return %o : tensor<1x16x3x16xf32>
}
func.func @gqa_block_sparse(%q: tensor<1x4x1x16xf32>, %k: tensor<1x1x64x16xf32>, %v: tensor<1x1x64x16xf32>, %l: tensor<1x4x1x4xi8>) -> tensor<1x4x1x16xf32> {
  %o = attn.attention %q, %k, %v layout(%l : tensor<1x4x1x4xi8>) mask(#attn.block_sparse<block = [1, 16]>) : tensor<1x4x1x16xf32>, tensor<1x1x64x16xf32>, tensor<1x1x64x16xf32> -> tensor<1x4x1x16xf32>
  return %o : tensor<1x4x1x16xf32>
}

// -----

// A bias is read at each score's position: padding rows (past the dynamic
// Sq) read it at the tile's last query, and the padded keys of a partial
// tile at the last key, so that no read leaves the bias (their scores are
// discarded). Full tiles have no padded keys: only the row is clamped.
// CHECK-LABEL: func @bias_reads_stay_inside
// CHECK: scf.for
// CHECK: scf.if
// CHECK:   %[[LASTK:.*]] = arith.subi %dim{{.*}}, %c1 : index
// CHECK:   linalg.generic
// CHECK:     %[[QPOS:.*]] = arith.addi
// CHECK:     %[[ROW:.*]] = arith.minsi %[[QPOS]], %[[LASTQ:.*]] : index
// CHECK:     %[[KEY:.*]] = arith.minsi %{{.*}}, %[[LASTK]]
// CHECK:     tensor.extract %arg2[%c0, %{{.*}}, %[[ROW]], %[[KEY]]]
// CHECK: } else {
// CHECK:   linalg.generic
// CHECK:     %[[QPOS2:.*]] = arith.addi
// CHECK:     %[[ROW2:.*]] = arith.minsi %[[QPOS2]], %[[LASTQ]] : index
// CHECK-NOT: arith.minsi
// CHECK:     tensor.extract %arg2[%c0, %{{.*}}, %[[ROW2]], %{{.*}}]
func.func @bias_reads_stay_inside(%q: tensor<1x2x?x16xf32>, %k: tensor<1x2x?x16xf32>, %bias: tensor<1x2x?x?xf32>) -> tensor<1x2x?x16xf32> {
  %o = attn.attention %q, %k, %k bias(%bias : tensor<1x2x?x?xf32>) score_mods([#attn.bias])
      : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x16xf32>
  return %o : tensor<1x2x?x16xf32>
}

// -----

// An approximation (Scatterbrain): a parallel loop over (batch, key/value
// head) first builds, key tile by key tile, the state over all keys in f64
// (sum phi(k) v^T [B, Hkv, F, Dv], sum phi(k) [B, Hkv, F]), each key
// tile's share of it ([B, Hkv, 3, F, Dv], [B, Hkv, 3, F]) and keeps the
// keys' features, padded to whole tiles ([B, Hkv, 48, F]); the flash loop
// then also carries the state of the tiles not visited (from the state
// over all keys, each visited tile subtracting its share) and the
// estimates of the partial tiles' pairs outside the support ([32, Dv] and
// [32]), for which a partial tile reads its keys' features; the tile's end
// joins them at the shift max(m, 0).
// CHECK-LABEL: func @window_favor
// CHECK: %[[KEYS:.*]]:5 = scf.forall {{.*}} -> (tensor<1x2x32x8xf64>, tensor<1x2x32xf64>, tensor<1x2x48x32xf32>, tensor<1x2x3x32x8xf32>, tensor<1x2x3x32xf32>)
// CHECK:   scf.for {{.*}} -> (tensor<32x8xf64>, tensor<32xf64>, tensor<48x32xf32>, tensor<3x32x8xf32>, tensor<3x32xf32>)
// CHECK: scf.forall
// CHECK: %[[ALL:.*]] = tensor.extract_slice %[[KEYS]]#0[0, %{{.*}}, 0, 0] [1, 1, 32, 8] [1, 1, 1, 1] : tensor<1x2x32x8xf64> to tensor<32x8xf64>
// CHECK: %[[OUTSIDE:.*]] = linalg.generic {{.*}} ins(%[[ALL]] : tensor<32x8xf64>)
// CHECK: scf.for {{.*}} iter_args({{.*}}, %{{.*}} = %[[OUTSIDE]], %{{.*}} = %{{.*}}) -> (tensor<32xf32>, tensor<32xf32>, tensor<32x8xf32>, tensor<32x8xf32>, tensor<32xf32>, tensor<32x8xf64>, tensor<32xf64>)
// CHECK-DAG:   tensor.extract_slice %[[KEYS]]#3[0, %{{.*}}, %{{.*}}, 0, 0] [1, 1, 1, 32, 8] [1, 1, 1, 1, 1] : tensor<1x2x3x32x8xf32> to tensor<32x8xf32>
// CHECK-DAG:   tensor.extract_slice %[[KEYS]]#2[0, %{{.*}}, %{{.*}}, 0] [1, 1, 16, 32] [1, 1, 1, 1] : tensor<1x2x48x32xf32> to tensor<16x32xf32>
// CHECK: arith.maximumf %in, %cst{{.*}} : f32
// CHECK: scf.forall.in_parallel
func.func @window_favor(%q: tensor<1x2x37x16xf32>, %k: tensor<1x2x45x16xf32>, %v: tensor<1x2x45x8xf32>) -> (tensor<1x2x37x8xf32>, tensor<1x2x37xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.window<left = 4, right = 4>) approximation(#attn.favor<features = 32, seed = 3>)
      : tensor<1x2x37x16xf32>, tensor<1x2x45x16xf32>, tensor<1x2x45x8xf32> -> tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
  return %o, %lse : tensor<1x2x37x8xf32>, tensor<1x2x37xf32>
}
