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

// Lists written in brackets: `[64, 32]`, `[true, false]`, `[#attn.causal]`.
class Attn_ListParameter<string elt> : ArrayRefParameter<elt> {
  let parser = "::attn::parseBracketedList<" # elt # ">($_parser)";
  let printer = "::attn::printBracketedList($_printer, $_self)";
}
// `true` / `false`, default false.
def Attn_BoolParameter : AttrOrTypeParameter<"bool", ""> {
  let parser = "::attn::parseBool($_parser)";
  let printer = "$_printer << ($_self ? \"true\" : \"false\")";
  let defaultValue = "false";
}
// A float literal, e.g. `30.0` or `-6.9`.
class Attn_FloatParameter<string default = ""> : APFloatParameter<""> {
  let parser = "::attn::parseFloat($_parser)";
  let printer = "$_printer.printFloat($_self)";
  let defaultValue = default;
}
class Attn_OptionalListParameter<string elt>
    : OptionalArrayRefParameter<elt> {
  let parser = "::attn::parseBracketedList<" # elt # ">($_parser)";
  let printer = "::attn::printBracketedList($_printer, $_self)";
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

def Attn_SinksAttr : Attn_MaskAttr<"Sinks", "sinks"> {
  let summary = "Attention sinks: the first keys are always visible";
  let description = [{
    Allows key `j` for every query iff `j < n` (StreamingLLM's attention
    sinks). On its own it is a prefix of keys; OR it with a window to keep
    the first tokens visible to a sliding window.

    ```mlir
    #attn.or<[#attn.window<left = 1024, right = 0>, #attn.sinks<4>]>
    ```
  }];
  let parameters = (ins "int64_t":$count);
  let assemblyFormat = "`<` $count `>`";
  let genVerifyDecl = 1;
}

def Attn_NeighborhoodAttr
    : Attn_MaskAttr<"Neighborhood", "neighborhood", ["verifyFor"]> {
  let summary = "1-D, 2-D or 3-D neighborhood attention (NATTEN semantics)";
  let description = [{
    Tokens form a row-major grid (`prod(grid) == Sq == Skv`); a key is allowed
    iff it is allowed along every axis. Along an axis of length `L` with
    window `w = kernel[a]`, dilation `d` and stride `s`: the axis splits into
    `d` interleaved groups (`x % d`), and query and key must share a group.
    In a group of length `Lg` with local index `li = x / d`, the query's
    leader is `c = li` for `s = 1`, else `min((li / s) * s + s / 2, Lg - 1)`.
    Non-causal keys are the `w` consecutive group positions starting at
    `clamp(c - w / 2, 0, Lg - w)` (the window shifts at the borders, so every
    query sees exactly `w` keys per axis); causal keys are the group
    positions `[max(c - w + 1, 0), c]`.

    `dilation`, `stride` and `causal` default to 1, 1 and false per axis.

    ```mlir
    #attn.neighborhood<grid = [64, 32], kernel = [7, 7]>
    #attn.neighborhood<grid = [9, 11], kernel = [3, 5], dilation = [2, 2]>
    #attn.neighborhood<grid = [8, 16, 16], kernel = [3, 5, 5], causal = [true, false, false]>
    ```
  }];
  let parameters = (ins Attn_ListParameter<"int64_t">:$grid,
                        Attn_ListParameter<"int64_t">:$kernel,
                        Attn_OptionalListParameter<"int64_t">:$dilation,
                        Attn_OptionalListParameter<"int64_t">:$stride,
                        Attn_OptionalListParameter<"bool">:$causal);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRank() const { return getGrid().size(); }
    int64_t getDilationAt(int64_t axis) const {
      return getDilation().empty() ? 1 : getDilation()[axis];
    }
    int64_t getStrideAt(int64_t axis) const {
      return getStride().empty() ? 1 : getStride()[axis];
    }
    bool getCausalAt(int64_t axis) const {
      return getCausal().empty() ? false : getCausal()[axis];
    }
  }];
}

def Attn_BlockSparseAttr
    : Attn_MaskAttr<"BlockSparse", "block_sparse",
                    ["verifyFor", "getTileGranularity"]> {
  let summary = "Block-sparse mask read from a layout operand";
  let description = [{
    The op's `layout` operand (i1 or i8) of shape
    `[B or 1, Hq or 1, ceil(Sq / bq), ceil(Skv / bk)]` says which
    `bq x bk` blocks of the score matrix are computed: key `j` is allowed for
    query `i` iff `layout[b, h, i / bq, j / bk] != 0` (dimensions of size 1
    broadcast). This covers FlashInfer's block-sparse rows, Sparse
    Transformer layouts and MInference-style patterns computed by the user.
    Kernels classify each tile from the layout at run time; tiles that lie
    inside one block are skipped or computed without mask code.

    ```mlir
    #attn.block_sparse<block = [64, 64]>
    ```
  }];
  let parameters = (ins Attn_ListParameter<"int64_t">:$block);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_DocumentAttr : Attn_MaskAttr<"Document", "document", ["verifyFor"]> {
  let summary = "Packed documents: attend within the same segment";
  let description = [{
    The op's `segments` operands give a segment id per query (`[B, Sq]`) and
    per key (`[B, Skv]`), i32; key `j` is allowed for query `i` iff their ids
    are equal. AND it with `#attn.causal` for packed causal training
    (variable-length sequences in one batch row). Ids may be in any order;
    kernels skip tiles whose id ranges cannot meet, which with sorted ids
    (packing) is every tile outside the diagonal blocks.
  }];
  let parameters = (ins);
}

def Attn_PrefixLMAttr : Attn_MaskAttr<"PrefixLM", "prefix_lm"> {
  let summary = "Prefix-LM: bidirectional over a prefix, causal after";
  let description = [{
    Allows key `j` for query `i` iff `j < n` or `j <= i`: every query sees the
    whole prefix of `n` tokens (bidirectionally), later keys causally.

    ```mlir
    #attn.prefix_lm<128>
    ```
  }];
  let parameters = (ins "int64_t":$prefix);
  let assemblyFormat = "`<` $prefix `>`";
  let genVerifyDecl = 1;
}

def Attn_StridedAttr : Attn_MaskAttr<"Strided", "strided"> {
  let summary = "Sparse Transformer strided pattern (causal)";
  let description = [{
    Allows key `j` for query `i` iff `j <= i` and either `i - j < s` (the
    local band) or `(i - j) % s == 0` (every `s`-th key back), the union of
    the two heads of Child et al.'s strided attention.

    ```mlir
    #attn.strided<stride = 128>
    ```
  }];
  let parameters = (ins "int64_t":$stride);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_FixedAttr : Attn_MaskAttr<"Fixed", "fixed"> {
  let summary = "Sparse Transformer fixed pattern (causal)";
  let description = [{
    Allows key `j` for query `i` iff `j <= i` and either `i / s == j / s`
    (the same block of `s`) or `j % s >= s - c` (the last `c` "summary"
    positions of every block), the union of Child et al.'s fixed heads.

    ```mlir
    #attn.fixed<stride = 128, summary = 8>
    ```
  }];
  let parameters = (ins "int64_t":$stride, "int64_t":$summary);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Attn_AndAttr : Attn_MaskAttr<"And", "and",
                                 ["verifyFor", "getTileGranularity"]> {
  let summary = "Intersection of masks";
  let description = [{
    Allows a pair iff every operand mask allows it. The canonicalizer
    flattens nested `and`s, drops duplicates and operands that allow
    everything for static shapes, and unwraps a single operand.

    ```mlir
    #attn.and<[#attn.document, #attn.causal]>
    ```
  }];
  let parameters = (ins Attn_ListParameter<"::attn::MaskAttrInterface">:$masks);
  let assemblyFormat = "`<` $masks `>`";
  let genVerifyDecl = 1;
}

def Attn_OrAttr : Attn_MaskAttr<"Or", "or",
                                 ["verifyFor", "getTileGranularity"]> {
  let summary = "Union of masks";
  let description = [{
    Allows a pair iff some operand mask allows it.

    ```mlir
    #attn.or<[#attn.window<left = 256, right = 0>, #attn.sinks<4>]>
    ```
  }];
  let parameters = (ins Attn_ListParameter<"::attn::MaskAttrInterface">:$masks);
  let assemblyFormat = "`<` $masks `>`";
  let genVerifyDecl = 1;
}

def Attn_NotAttr : Attn_MaskAttr<"Not", "not",
                                 ["verifyFor", "getTileGranularity"]> {
  let summary = "Complement of a mask";
  let description = [{
    Allows a pair iff the operand mask does not. `not<not<m>>` folds to `m`.

    ```mlir
    #attn.and<[#attn.causal, #attn.not<#attn.window<left = 16, right = 0>>]>
    ```
  }];
  let parameters = (ins "::attn::MaskAttrInterface":$mask);
  let assemblyFormat = "`<` $mask `>`";
}

//===----------------------------------------------------------------------===//
// Score modifiers
//===----------------------------------------------------------------------===//

class Attn_ScoreModAttr<string name, string mnemonic,
                        list<string> overridden = []>
    : Attn_Attr<name, mnemonic, [
        DeclareAttrInterfaceMethods<Attn_ScoreModAttrInterface, overridden>]>;

def Attn_AlibiAttr : Attn_ScoreModAttr<"Alibi", "alibi", ["verifyFor"]> {
  let summary = "ALiBi: a linear bias by distance, one slope per head";
  let description = [{
    Adds `slope[h] * (j - (i + offset))` to the score of query `i` and key
    `j` (`offset` as for `#attn.causal`: 0 for `top_left`, `Skv - Sq` for
    `bottom_right`), or `-slope[h] * |j - (i + offset)|` with
    `symmetric = true` (for bidirectional attention). The slopes are the op's
    `alibi_slopes` operand (`[Hq]`, f32) when given, else
    `2^(-8 (h + 1) / Hq)`.

    ```mlir
    #attn.alibi
    #attn.alibi<symmetric = true>
    ```
  }];
  let parameters = (ins Attn_BoolParameter:$symmetric,
                        Attn_AlignmentParameter:$align);
  let assemblyFormat = "(`<` struct($symmetric, $align)^ `>`)?";
}

def Attn_SoftcapAttr : Attn_ScoreModAttr<"Softcap", "softcap"> {
  let summary = "Soft-capping: c * tanh(s / c)";
  let description = [{
    Squashes scores into `(-c, c)` smoothly (Gemma 2, Grok).

    ```mlir
    #attn.softcap<50.0>
    ```
  }];
  let parameters = (ins Attn_FloatParameter<>:$cap);
  let assemblyFormat = "`<` $cap `>`";
  let genVerifyDecl = 1;
}

def Attn_BiasAttr : Attn_ScoreModAttr<"Bias", "bias", ["verifyFor"]> {
  let summary = "Adds the op's bias operand to the scores";
  let description = [{
    Adds `bias[b, h, i, j]` from the op's `bias` operand, whose shape must
    broadcast to `[B, Hq, Sq, Skv]` (each dimension equal or 1), with f16,
    bf16 or f32 elements.
  }];
  let parameters = (ins);
}

//===----------------------------------------------------------------------===//
// Normalizations
//===----------------------------------------------------------------------===//

class Attn_NormalizationAttr<string name, string mnemonic,
                             list<string> overridden = []>
    : Attn_Attr<name, mnemonic, [
        DeclareAttrInterfaceMethods<Attn_NormalizationAttrInterface,
                                    overridden>]>;

def Attn_SoftmaxAttr : Attn_NormalizationAttr<"Softmax", "softmax"> {
  let summary = "Softmax over each row (the default)";
  let parameters = (ins);
}

def Attn_SigmoidAttr : Attn_NormalizationAttr<"Sigmoid", "sigmoid"> {
  let summary = "Sigmoid attention: weights sigmoid(s + bias), no row sum";
  let description = [{
    Each allowed score gets weight `sigmoid(s + bias)`; masked scores get 0;
    the output is the weighted sum of values without division (FlashSigmoid,
    Ramapuram et al.; they recommend `bias = -log(Skv)`).

    ```mlir
    #attn.sigmoid<bias = -6.9>
    ```
  }];
  let parameters = (ins Attn_FloatParameter<"::llvm::APFloat(0.0)">:$bias);
  let assemblyFormat = "(`<` struct($bias)^ `>`)?";
}

def Attn_ReluAttr
    : Attn_NormalizationAttr<"Relu", "relu", ["buildOutputFactor"]> {
  let summary = "ReLU attention: weights relu(s), optionally divided by Skv";
  let description = [{
    Each allowed score gets weight `max(s, 0)`; masked scores get 0; the
    output is the weighted sum of values, divided by `Skv` when
    `divide_by_length = true` (Wortsman et al.).

    ```mlir
    #attn.relu<divide_by_length = true>
    ```
  }];
  let parameters = (ins Attn_BoolParameter:$divide_by_length);
  let assemblyFormat = "(`<` struct($divide_by_length)^ `>`)?";
}

#endif // ATTN_ATTRS_TD
