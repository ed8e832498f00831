// The backward plan of backward.mlir's causal GQA spec with two warps per
// block (32 keys per key/value block, rows split across warps, copies across
// 64 threads, query tiles prefetched into two slots), in a file of its own
// so that lit runs it beside the others.
// RUN: attn-run %S/backward.mlir --entry causal_gqa_bf16 --target gpu-emulation --warps 2 --tile-kv 16 --random --seed 6 --dim B=1 --dim Sq=70 --dim Skv=33 --check | FileCheck %s
// CHECK: check grad_q max relative error {{.*}} ok
// CHECK: check grad_k max relative error {{.*}} ok
// CHECK: check grad_v max relative error {{.*}} ok
