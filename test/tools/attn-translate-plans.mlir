// REQUIRES: ptxas
// Launch plans of several kernels in the manifest.
// RUN: attn-translate %s --entry two --emit=ptx --chip sm_80 -o %t.two.ptx --manifest %t.two.json
// RUN: FileCheck %s --check-prefix=TWO < %t.two.json
// RUN: FileCheck %s --check-prefix=TWO-PTX < %t.two.ptx
// RUN: attn-translate %s --entry decode --emit=ptx --chip sm_80 -o %t.decode.ptx --manifest %t.decode.json
// RUN: FileCheck %s --check-prefix=DECODE < %t.decode.json
// --split-kv never keeps the one-pass kernel for the same spec.
// RUN: attn-translate %s --entry decode --split-kv never --emit=ptx --chip sm_80 -o %t.never.ptx --manifest %t.never.json
// RUN: FileCheck %s --check-prefix=NEVER < %t.never.json
// NEVER:     "choices": []
// NEVER:     "kernels": [
// NEVER:       "symbol": "decode_attention"
// NEVER-NOT:   "symbol"
// NEVER:     "workspaces": []

// Two attn ops in one function: two kernels of one image, launched in
// program order. The second op's own query tensor and length are q_1 and
// Sq_1; k and v, which both take, are passed to both.
// TWO-PTX: .visible .entry two_attention(
// TWO-PTX: .visible .entry two_attention_0(
// TWO:      "choices": []
// TWO:      "kernels": [
// TWO:        "grid": [
// TWO-NEXT:     [
// TWO-NEXT:       "ceildiv",
// TWO-NEXT:       "Sq",
// TWO-NEXT:       64
// TWO:          "tensor": "q"
// TWO:          "tensor": "k"
// TWO:          "tensor": "v"
// TWO:          "tensor": "o"
// TWO:          "tensor": "lse"
// TWO:        "symbol": "two_attention"
// TWO:        "grid": [
// TWO-NEXT:     [
// TWO-NEXT:       "ceildiv",
// TWO-NEXT:       "Sq_1",
// TWO-NEXT:       64
// TWO:          "tensor": "q_1"
// TWO:          "tensor": "k"
// TWO:          "tensor": "v"
// TWO:          "tensor": "o_1"
// TWO:        "symbol": "two_attention_0"
// TWO-NEXT: }
// TWO-NEXT: ],
// TWO:      "outputs": [
// TWO:      "name": "o_1"
// TWO:      "version": 2,
// TWO-NEXT: "workspaces": []
func.func @two(%q: tensor<?x2x?x32xf16>, %k: tensor<?x2x?x32xf16>,
               %v: tensor<?x2x?x32xf16>, %q2: tensor<?x2x?x32xf16>)
    -> (tensor<?x2x?x32xf16>, tensor<?x2x?xf32>, tensor<?x2x?x32xf16>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>
      -> tensor<?x2x?x32xf16>, tensor<?x2x?xf32>
  %o2 = attn.attention %q2, %k, %v
      : tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>, tensor<?x2x?x32xf16>
      -> tensor<?x2x?x32xf16>
  return %o, %lse, %o2
      : tensor<?x2x?x32xf16>, tensor<?x2x?xf32>, tensor<?x2x?x32xf16>
}

// Split-KV decoding: the number of key splits is a run-time choice from the
// multiprocessor count and the key length; the partials kernel (GQA-packed:
// a block per split, key/value head and batch entry) writes two f32
// workspaces that the merge kernel reads.
// DECODE:      "choices": [
// DECODE-NEXT:   {
// DECODE-NEXT:     "name": "kv_splits",
// DECODE-NEXT:     "value": [
// DECODE:            "multiprocessors",
// DECODE:            "Skv",
// DECODE:      "kernels": [
// DECODE:          "grid": [
// DECODE-NEXT:       "kv_splits",
// DECODE-NEXT:       8,
// DECODE-NEXT:       "B"
// DECODE:            "role": "workspace",
// DECODE-NEXT:       "tensor": "workspace0"
// DECODE:            "role": "workspace",
// DECODE-NEXT:       "tensor": "workspace1"
// DECODE:            "abi": "i64",
// DECODE-NEXT:       "value": "kv_splits"
// DECODE:          "symbol": "decode_attention_partials"
// DECODE:            "role": "workspace",
// DECODE-NEXT:       "tensor": "workspace0"
// DECODE:            "role": "workspace",
// DECODE-NEXT:       "tensor": "workspace1"
// DECODE:            "role": "output",
// DECODE-NEXT:       "tensor": "o"
// DECODE:          "symbol": "decode_merge"
// DECODE-NEXT:   }
// DECODE-NEXT: ],
// DECODE:      "workspaces": [
// DECODE-NEXT:   {
// DECODE-NEXT:     "dtype": "f32",
// DECODE-NEXT:     "name": "workspace0",
// DECODE-NEXT:     "shape": [
// DECODE-NEXT:       "kv_splits",
// DECODE-NEXT:       "B",
// DECODE-NEXT:       32,
// DECODE-NEXT:       1,
// DECODE-NEXT:       128
// DECODE-NEXT:     ]
// DECODE-NEXT:   },
// DECODE-NEXT:   {
// DECODE-NEXT:     "dtype": "f32",
// DECODE-NEXT:     "name": "workspace1",
func.func @decode(%q: tensor<?x32x1x128xbf16>, %k: tensor<?x8x?x128xbf16>,
                  %v: tensor<?x8x?x128xbf16>)
    -> (tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal<align = bottom_right>)
      : tensor<?x32x1x128xbf16>, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16>
      -> tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
  return %o, %lse : tensor<?x32x1x128xbf16>, tensor<?x32x1xf32>
}
