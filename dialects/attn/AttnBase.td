//===- AttnBase.td - attn dialect definition ---------------*- tablegen -*-===//
//
// The attn dialect describes one attention computation per op: shapes, the
// score function and the mask. Lowerings turn it into a reference (linalg on
// tensors), a tiled CPU kernel or a GPU kernel.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_BASE_TD
#define ATTN_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::attn";
  let summary = "Attention computations as single ops, lowered flash-style";
  let description = [{
    The `attn` dialect describes attention kernels. An `attn.attention` op
    takes queries `q [B, Hq, Sq, D]`, keys `k [B, Hkv, Skv, D]` and values
    `v [B, Hkv, Skv, Dv]` and produces `o [B, Hq, Sq, Dv]` (and, on request,
    the log-sum-exp `lse [B, Hq, Sq]`). Masks and score modifiers are
    attributes implementing interfaces, so that each is written once and used
    by every lowering.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

class Attn_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Attn_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_BASE_TD
