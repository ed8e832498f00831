// Ring attention, one rank by hand: a causal sequence of 128 tokens is split
// over two ranks; this is rank 1, which holds positions [64, 128). Its
// queries meet its own K/V shard (the diagonal block) and then rank 0's
// (positions [0, 64): every pair allowed). Each step is one shard of the
// whole attention, placed by the `positions` operand [q_offset, kv_offset,
// q_total, kv_total], so one kernel serves both steps; attn.merge combines
// the two partials. The result equals the queries' rows of the attention
// over the whole sequence, here its bottom-right-aligned causal form.
// attn_mlir.distributed.ring_attention does this on every rank, with the
// K/V shards sent around the ring.
//
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python -c "import numpy as np; g = np.random.default_rng(7); [np.save('%t/' + n + '.npy', g.standard_normal(s).astype(np.float32)) for n, s in (('q', (1, 4, 64, 32)), ('k', (1, 2, 128, 32)), ('v', (1, 2, 128, 32)))]"
// RUN: %python -c "import numpy as np; k, v = np.load('%t/k.npy'), np.load('%t/v.npy'); [np.save('%t/%%s%%d.npy' %% (n, i), x[:, :, 64 * i:64 * (i + 1)]) for n, x in (('k', k), ('v', v)) for i in (0, 1)]; [np.save('%t/p%%d.npy' %% i, np.array([64, 64 * i, 128, 128], dtype=np.int64)) for i in (0, 1)]"
// RUN: attn-run %s --entry whole --input q=%t/q.npy --input k=%t/k.npy --input v=%t/v.npy --output o=%t/whole.npy --check
// RUN: attn-run %s --entry step --input q=%t/q.npy --input k=%t/k1.npy --input v=%t/v1.npy --input positions=%t/p1.npy --output o=%t/o0.npy --output lse=%t/lse0.npy --check
// RUN: attn-run %s --entry step --input q=%t/q.npy --input k=%t/k0.npy --input v=%t/v0.npy --input positions=%t/p0.npy --output o=%t/o1.npy --output lse=%t/lse1.npy --check
// RUN: attn-run %s --entry merge --input o0=%t/o0.npy --input lse0=%t/lse0.npy --input o1=%t/o1.npy --input lse1=%t/lse1.npy --output o=%t/merged.npy
// RUN: %python -c "import numpy as np; a, b = np.load('%t/merged.npy'), np.load('%t/whole.npy'); e = np.abs(a - b).max() / np.abs(b).max(); print('merged vs whole %%.1e' %% e); assert e < 1e-5" | FileCheck %s
// CHECK: merged vs whole

// The queries of rank 1 against the whole sequence.
func.func @whole(%q: tensor<1x4x64x32xf32>, %k: tensor<1x2x128x32xf32>, %v: tensor<1x2x128x32xf32>)
    -> tensor<1x4x64x32xf32> {
  %o = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<1x4x64x32xf32>, tensor<1x2x128x32xf32>, tensor<1x2x128x32xf32> -> tensor<1x4x64x32xf32>
  return %o : tensor<1x4x64x32xf32>
}

// One ring step: the queries against one K/V shard, at global positions.
func.func @step(%q: tensor<1x4x64x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x32xf32>,
                %positions: tensor<4xi64>) -> (tensor<1x4x64x32xf32>, tensor<1x4x64xf32>) {
  %o, %lse = attn.attention %q, %k, %v positions(%positions : tensor<4xi64>)
      mask(#attn.causal) allow_empty_rows
      : tensor<1x4x64x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>
      -> tensor<1x4x64x32xf32>, tensor<1x4x64xf32>
  return %o, %lse : tensor<1x4x64x32xf32>, tensor<1x4x64xf32>
}

func.func @merge(%o0: tensor<1x4x64x32xf32>, %o1: tensor<1x4x64x32xf32>,
                 %lse0: tensor<1x4x64xf32>, %lse1: tensor<1x4x64xf32>) -> tensor<1x4x64x32xf32> {
  %o = attn.merge o(%o0, %o1 : tensor<1x4x64x32xf32>, tensor<1x4x64x32xf32>)
      lse(%lse0, %lse1 : tensor<1x4x64xf32>, tensor<1x4x64xf32>) -> tensor<1x4x64x32xf32>
  return %o : tensor<1x4x64x32xf32>
}
