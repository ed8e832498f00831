//===- AttnInterfaces.td - attn attribute interfaces -------*- tablegen -*-===//
//
// Interfaces through which every lowering talks to masks. A mask written as
// one attribute implementing MaskAttrInterface works in the reference
// lowering, the tiled CPU kernel, the GPU kernel and the static reports.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_INTERFACES_TD
#define ATTN_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Attn_MaskAttrInterface : AttrInterface<"MaskAttrInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    A mask decides which (query, key) pairs may attend. Its definitions are
    written once with `IndexExpr` arithmetic, which either folds to integers
    (static analysis: verifiers, tile reports) or emits `arith` ops (kernels),
    so the reference, CPU and GPU lowerings cannot disagree.

    Positions are absolute: query index `q` in `[0, Sq)`, key index `kv` in
    `[0, Skv)`. Tiles are half-open ranges `[qLo, qHi) x [kvLo, kvHi)`, already
    clipped to the sequence lengths by the caller.
  }];

  let methods = [
    InterfaceMethod<
      /*desc=*/[{
        Returns whether key `point.kv` may be attended by query `point.q`
        (an i1, or a vector of i1 when the positions are vectors).
      }],
      /*retTy=*/"::attn::PredExpr",
      /*methodName=*/"buildAllowed",
      /*args=*/(ins "::attn::IndexExprBuilder &":$builder,
                    "const ::attn::MaskContext &":$context,
                    "const ::attn::MaskPoint &":$point)
    >,
    InterfaceMethod<
      /*desc=*/[{
        Classifies a tile: `empty` must only hold when no pair of the tile is
        allowed, `full` only when every pair is. Leaving both false (a
        partial tile) is always correct.
      }],
      /*retTy=*/"::attn::TileClassExpr",
      /*methodName=*/"buildTileClass",
      /*args=*/(ins "::attn::IndexExprBuilder &":$builder,
                    "const ::attn::MaskContext &":$context,
                    "const ::attn::MaskTile &":$tile)
    >,
    InterfaceMethod<
      /*desc=*/[{
        Returns keys `[lo, hi)` that contain every key any query of
        `[qLo, qHi)` may attend (a superset is correct; the tighter, the
        fewer tiles a kernel visits). The result is clipped to `[0, Skv)`.
      }],
      /*retTy=*/"::attn::IndexRange",
      /*methodName=*/"buildKvRange",
      /*args=*/(ins "::attn::IndexExprBuilder &":$builder,
                    "const ::attn::MaskContext &":$context,
                    "::attn::IndexExpr":$qLo, "::attn::IndexExpr":$qHi)
    >,
    InterfaceMethod<
      /*desc=*/[{
        Checks the mask against the shapes of the op that carries it
        (dynamic sizes are `ShapedType::kDynamic`).
      }],
      /*retTy=*/"::llvm::LogicalResult",
      /*methodName=*/"verifyShapes",
      /*args=*/(ins "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError,
                    "const ::attn::AttentionShape &":$shape),
      /*methodBody=*/"",
      /*defaultImplementation=*/"return ::mlir::success();"
    >,
  ];
}

def Attn_KernelOpInterface : OpInterface<"KernelOpInterface"> {
  let cppNamespace = "::attn";
  let description = [{
    An op that becomes one kernel. It names its operands, results and their
    dimensions (`B`, `Hq`, `Sq`, ...), so that the JIT, the runtime manifest
    and the tools can check shapes by name and report mismatches in the
    user's vocabulary.
  }];
  let methods = [
    InterfaceMethod<"Name of operand `index` (e.g. \"q\").",
      "::llvm::StringRef", "getOperandRole", (ins "unsigned":$index)>,
    InterfaceMethod<"Name of result `index` (e.g. \"o\").",
      "::llvm::StringRef", "getResultRole", (ins "unsigned":$index)>,
    InterfaceMethod<[{
        Names of the dimensions of operand `index`; dimensions that must agree
        across operands and results share a name.
      }],
      "::llvm::SmallVector<::llvm::StringRef>", "getOperandDimNames",
      (ins "unsigned":$index)>,
    InterfaceMethod<"Names of the dimensions of result `index`.",
      "::llvm::SmallVector<::llvm::StringRef>", "getResultDimNames",
      (ins "unsigned":$index)>,
  ];
}

#endif // ATTN_INTERFACES_TD
