//===- AttnAttrs.td - attn attributes ----------------------*- tablegen -*-===//

#ifndef ATTN_ATTRS_TD
#define ATTN_ATTRS_TD

include "AttnBase.td"
include "AttnInterfaces.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Attn_Alignment : I32EnumAttr<"Alignment",
    "where the diagonal of a mask sits when Sq != Skv", [
      I32EnumAttrCase<"TopLeft", 0, "top_left">,
      I32EnumAttrCase<"BottomRight", 1, "bottom_right">
    ]> {
  let cppNamespace = "::attn";
  let genSpecializedAttr = 0;
}

def Attn_AlignmentParameter : EnumParameter<Attn_Alignment> {
  let defaultValue = "::attn::Alignment::TopLeft";
}

//===----------------------------------------------------------------------===//
// Masks
//===----------------------------------------------------------------------===//

// `overridden` names the interface methods with a default implementation
// that the mask defines itself.
class Attn_MaskAttr<string name, string mnemonic,
                    list<string> overridden = []>
    : Attn_Attr<name, mnemonic, [
        DeclareAttrInterfaceMethods<Attn_MaskAttrInterface, overridden>]>;

def Attn_CausalAttr : Attn_MaskAttr<"Causal", "causal"> {
  let summary = "Causal mask: a query attends to keys at or before it";
  let description = [{
    Allows key `j` for query `i` iff `j <= i + offset`, where `offset` is 0
    for `align = top_left` (the default; PyTorch's `is_causal`) and
    `Skv - Sq` for `align = bottom_right` (FlashAttention's convention, used
    for decoding with a KV cache). With `bottom_right` and `Sq > Skv` the first
    `Sq - Skv` query rows have no key.

    ```mlir
    #attn.causal
    #attn.causal<align = bottom_right>
    ```
  }];
  let parameters = (ins Attn_AlignmentParameter:$align);
  let assemblyFormat = "(`<` struct($align)^ `>`)?";
}

def Attn_WindowAttr : Attn_MaskAttr<"Window", "window"> {
  let summary = "Sliding-window (local) mask";
  let description = [{
    Allows key `j` for query `i` iff
    `i + offset - left <= j <= i + offset + right`, with `offset` as for
    `#attn.causal` (0 for `top_left`, `Skv - Sq` for `bottom_right`).
    `left = L, right = 0` is causal attention restricted to the last `L + 1`
    keys (Mistral, Gemma local layers); `right > 0` gives a symmetric window.

    ```mlir
    #attn.window<left = 256, right = 0>
    #attn.window<left = 64, right = 64, align = bottom_right>
    ```
  }];
  let parameters = (ins "int64_t":$left, "int64_t":$right,
                        Attn_AlignmentParameter:$align);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // ATTN_ATTRS_TD
