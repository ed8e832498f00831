//===- AttnOps.td - attn operations ------------------------*- tablegen -*-===//

#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "AttnBase.td"
include "AttnAttrs.td"
include "AttnInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Attn_AttentionOp : Attn_Op<"attention", [
    Pure, DeclareOpInterfaceMethods<ReifyRankedShapedTypeOpInterface,
                               ["reifyResultShapes"]>,
    DeclareOpInterfaceMethods<Attn_KernelOpInterface>]> {
  let summary = "Scaled dot-product attention with a mask";
  let description = [{
    Computes, for every batch `b`, query head `h` and query row `i`,

    ```
    s[j]  = scale * dot(q[b, h, i, :], k[b, h / G, j, :])   (G = Hq / Hkv)
    p[j]  = mask(b, h, i, j) ? exp(s[j] - max_j s) : 0
    o[b, h, i, :] = sum_j p[j] * v[b, h / G, j, :] / sum_j p[j]
    lse[b, h, i]  = max_j s + log(sum_j p[j])
    ```

    with `scale` defaulting to `1/sqrt(D)`. Shapes: `q [B, Hq, Sq, D]`,
    `k [B, Hkv, Skv, D]`, `v [B, Hkv, Skv, Dv]`, `o [B, Hq, Sq, Dv]` with the
    element type of `q`, and the optional `lse [B, Hq, Sq]` in f32. `Hq` must
    be a multiple of `Hkv` (grouped-query and multi-query attention);
    `Sq != Skv` is cross attention. `B`, `Sq` and `Skv` may be dynamic; the
    head counts and `D`, `Dv` are static.

    Elements are f16, bf16 or f32 (f64 is accepted for reference
    computations); scores and sums are accumulated in f32 (f64 for f64).

    A query row for which the mask allows no key produces `o = 0` and
    `lse = -inf`. When the shapes are static and the verifier can prove that
    some row is empty, it rejects the op unless `allow_empty_rows` is given,
    since an empty row is usually a mistake in the mask.

    ```mlir
    %o, %lse = attn.attention %q, %k, %v mask(#attn.causal) scale(0.125)
        : tensor<2x8x128x64xf16>, tensor<2x2x128x64xf16>, tensor<2x2x128x64xf16>
        -> tensor<2x8x128x64xf16>, tensor<2x8x128xf32>
    ```
  }];

  let arguments = (ins
    AnyRankedTensor:$q,
    AnyRankedTensor:$k,
    AnyRankedTensor:$v,
    OptionalAttr<F64Attr>:$scale,
    OptionalAttr<Attn_MaskAttrInterface>:$mask,
    UnitAttr:$allow_empty_rows
  );
  let results = (outs AnyRankedTensor:$o, Optional<AnyRankedTensor>:$lse);

  let assemblyFormat = [{
    $q `,` $k `,` $v (`mask` `(` $mask^ `)`)? (`scale` `(` $scale^ `)`)?
    (`allow_empty_rows` $allow_empty_rows^)? attr-dict
    `:` type($q) `,` type($k) `,` type($v) `->` type($o) (`,` type($lse)^)?
  }];
  let hasVerifier = 1;

  let extraClassDeclaration = [{
    /// The scale applied to q.k: the `scale` attribute or 1/sqrt(D).
    double getScaleOrDefault();
    /// Shapes of the op, as the masks and lowerings see them.
    ::attn::AttentionShape getShape();
    /// Element type of scores and accumulators: f64 for f64 inputs, else f32.
    ::mlir::FloatType getComputeType();
  }];
}

#endif // ATTN_OPS_TD
