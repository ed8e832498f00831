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
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"
  ];
}

def AttnPromoteToF64 : Pass<"attn-promote-f64", "::mlir::ModuleOp"> {
  let summary = "Retype floating-point tensors of functions to f64";
  let description = [{
    Rewrites every function so that its floating-point tensors (arguments,
    results and op results) have f64 elements. Followed by `attn-reference`,
    this gives the float64 reference of a spec: the same semantics, computed
    in double precision on inputs already rounded to the spec's element type.
  }];
}

#endif // ATTN_PASSES_TD
