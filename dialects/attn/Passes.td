//===- Passes.td - attn passes -----------------------------*- tablegen -*-===//

#ifndef ATTN_PASSES_TD
#define ATTN_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnDecompose : Pass<"attn-decompose"> {
  let summary = "Lower attn ops to linalg on tensors with the full score matrix";
  let description = [{
    The reference semantics: each `attn.attention` becomes linalg ops on
    tensors that materialize the `[B, Hq, Sq, Skv]` score matrix, apply the
    mask through `MaskAttrInterface::buildAllowed`, and normalize with a
    numerically safe softmax (row max subtracted; empty rows give `o = 0`,
    `lse = -inf`). It is slow by design and is what every kernel is checked
    against.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

def AttnPromoteToF64 : Pass<"attn-promote-f64", "::mlir::ModuleOp"> {
  let summary = "Compute attention ops in f64 and return f64 results";
  let description = [{
    Rewrites every `attn.attention` whose elements are not f64 to convert its
    floating-point operands (q, k, v, bias, slopes) to f64 inside the
    function, compute in f64, and return f64 results; the function's result
    types follow. Inputs keep their types, so the kernel reads exactly the
    data the spec reads. Followed by `attn-reference`, this gives the float64
    reference of a spec.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnReport : Pass<"attn-report"> {
  let summary = "Report mask density and tile classes of attention ops";
  let description = [{
    For every `attn.attention`, emits a remark with the fraction of allowed
    (query, key) pairs and how the `tile-q x tile-kv` tiles of the score
    matrix classify: empty (skipped by kernels), full (computed without mask
    code) and partial (the mask is evaluated per element). Tiles of masks
    that read run-time data (block-sparse layouts, document ids) are
    classified by kernels at run time and counted as such. Dynamic sequence
    lengths take the values of `q-len` / `kv-len`.

    ```
    attn-opt spec.mlir --attn-report="tile-q=128 tile-kv=64"
    ```
  }];
  let options = [
    Option<"tileQ", "tile-q", "int64_t", "64", "Query rows per tile">,
    Option<"tileKv", "tile-kv", "int64_t", "64", "Keys per tile">,
    Option<"qLen", "q-len", "int64_t", "0",
           "Sq to assume when it is dynamic">,
    Option<"kvLen", "kv-len", "int64_t", "0",
           "Skv to assume when it is dynamic">
  ];
}

#endif // ATTN_PASSES_TD
