//===- AttentionGradient.h - A spec's forward and backward ops --*- C++ -*-===//
//
// attn.attention and attn.attention_backward of one spec share their
// operands, attributes and regions (AttentionSpecOpInterface). These build
// one from the other: the backward of a forward spec (what a training
// framework compiles next to the forward), and the forward of a backward
// spec (what gives consistent o and lse to run a backward on).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTENTIONGRADIENT_H
#define ATTN_DIALECT_ATTENTIONGRADIENT_H

#include "attn/Dialect/Attn.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace attn {

/// The attn.attention of `backward`'s spec, built at `b`'s insertion point
/// on the same operands; its results are o and, for softmax, lse.
AttentionOp buildForwardOf(mlir::OpBuilder &b, AttentionBackwardOp backward);

/// The backward of `forward`'s spec, built at `b`'s insertion point, taking
/// `o`, `gradO` and `lse` (null for pointwise normalizations); with
/// `gradBias` (the spec must read a bias) it also returns grad_bias.
AttentionBackwardOp buildBackwardOf(mlir::OpBuilder &b, AttentionOp forward,
                                    mlir::Value o, mlir::Value gradO,
                                    mlir::Value lse, bool gradBias);

/// A spec module for the backward of `spec`'s function `entry` (empty: its
/// only function), whose body is one attn.attention: function
/// `<entry>_backward` takes the forward's arguments, then o, grad_o and
/// (softmax) lse, and returns grad_q, grad_k, grad_v (and grad_bias with
/// `gradBias`). Fails with a diagnostic when the spec has no such function
/// or the backward does not take it (packed or paged sequences).
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
buildBackwardSpec(mlir::ModuleOp spec, llvm::StringRef entry, bool gradBias);

/// A spec module for the forward of `spec`'s function `entry` (empty: its
/// only function), whose body holds one attn.attention_backward: function
/// `<entry>_forward` takes its arguments but those of o, grad_o and lse,
/// and returns the o and (softmax) lse that the backward's o and lse stand
/// for, so that a backward can be run on consistent inputs.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
buildForwardSpec(mlir::ModuleOp spec, llvm::StringRef entry);

} // namespace attn

#endif // ATTN_DIALECT_ATTENTIONGRADIENT_H
