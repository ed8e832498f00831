// REQUIRES: ptxas
// RUN: attn-translate %s --emit=ptx --chip sm_80 -o %t.ptx --manifest %t.json
// RUN: FileCheck %s --check-prefix=PTX < %t.ptx
// RUN: FileCheck %s --check-prefix=MANIFEST < %t.json
// RUN: attn-translate %s --emit=llvmir -o - | FileCheck %s --check-prefix=LLVM
// RUN: attn-translate %s --emit=cubin -o %t.cubin && test -s %t.cubin

// The PTX has cp.async copies, ldmatrix, bf16 tensor-core mma, shuffles.
// PTX: .target sm_80
// PTX: .visible .entry dyn_attention(
// PTX-DAG: cp.async.cg.shared.global
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-DAG: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX-DAG: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-DAG: shfl.sync.bfly.b32

// A version 2 manifest: one kernel, no workspaces or choices.
// MANIFEST: "binary_format": "ptx"
// MANIFEST: "chip": "sm_80"
// MANIFEST: "choices": []
// MANIFEST: "entry": "dyn"
// MANIFEST: "kernels": [
// MANIFEST-NEXT: {
// MANIFEST-NEXT:   "block": [
// MANIFEST-NEXT:     128,
// MANIFEST:        "dynamic_shared_memory_bytes": 36864
// MANIFEST-NEXT:   "grid": [
// MANIFEST-NEXT:     [
// MANIFEST-NEXT:       "ceildiv",
// MANIFEST-NEXT:       "Sq",
// MANIFEST-NEXT:       64
// MANIFEST-NEXT:     ],
// MANIFEST-NEXT:     4,
// MANIFEST-NEXT:     "B"
// MANIFEST:        "params": [
// MANIFEST-NEXT:     {
// MANIFEST-NEXT:       "abi": "memref-descriptor",
// MANIFEST:            "rank": 4,
// MANIFEST-NEXT:       "role": "input",
// MANIFEST-NEXT:       "tensor": "q"
// MANIFEST:            "role": "output",
// MANIFEST-NEXT:       "tensor": "o"
// MANIFEST:            "role": "output",
// MANIFEST-NEXT:       "tensor": "lse"
// MANIFEST:        "symbol": "dyn_attention"
// MANIFEST-NEXT: }
// MANIFEST-NEXT: ],
// MANIFEST: "spec_hash": "{{[0-9A-F]+}}"
// MANIFEST: "version": 2,
// MANIFEST-NEXT: "workspaces": []

// LLVM: target triple = "nvptx64-nvidia-cuda"
// LLVM: define ptx_kernel void @dyn_attention(

func.func @dyn(%q: tensor<?x4x?x64xbf16>, %k: tensor<?x1x?x64xbf16>,
               %v: tensor<?x1x?x64xbf16>)
    -> (tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>) {
  %o, %lse = attn.attention %q, %k, %v mask(#attn.causal)
      : tensor<?x4x?x64xbf16>, tensor<?x1x?x64xbf16>, tensor<?x1x?x64xbf16>
      -> tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>
  return %o, %lse : tensor<?x4x?x64xbf16>, tensor<?x4x?xf32>
}
