//===- SequenceCheck.h - The data contract of placing inputs ---*- C++ -*-===//
//
// Packed (cu_seqlens) and paged (block table + lengths) sequences place rows
// by data, not by shape: a wrong entry would make a kernel read past a
// tensor. The contract of attn.attention (AttnOps.td), checked here on host
// memory before a call: cumulative lengths start at 0, never decrease and
// end at the packed total; cache lengths lie in [0, P * max_pages]; the
// table entries of a sequence's used pages name pages of the cache; every
// description agrees on the number of sequences; and a shard (`positions`)
// lies in its sequence.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RUNTIME_SEQUENCECHECK_H
#define ATTN_RUNTIME_SEQUENCECHECK_H

#include "attn/Runtime/Signature.h"

namespace attn::runtime {

/// Whether `sig` takes packed, paged or sharded sequences (inputs named
/// cu_seqlens_q, cu_seqlens_kv, block_table, kv_lens or positions, possibly
/// with an op suffix).
bool hasSequenceInputs(const KernelSignature &sig);

/// Checks the contract on `inputs` (in `sig`'s order, host memory): an error
/// naming the input, the entry and the fix, or success.
llvm::Error checkSequenceInputs(const KernelSignature &sig,
                                llvm::ArrayRef<TensorRef> inputs);

} // namespace attn::runtime

#endif // ATTN_RUNTIME_SEQUENCECHECK_H
