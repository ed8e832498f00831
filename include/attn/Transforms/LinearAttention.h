//===- LinearAttention.h - Linear attention on tensors ----------*- C++ -*-===//
//
// The pieces of attn.linear_attention, as linalg on tensors: feature maps of
// rows, the output of a block of queries (within-block products plus the
// state carried in), and the state after a block of keys. The reference
// (attn-decompose) applies them once to whole sequences; attn-linear-chunked
// applies them chunk by chunk (Lightning Attention-2).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_LINEARATTENTION_H
#define ATTN_TRANSFORMS_LINEARATTENTION_H

#include "attn/Dialect/Attn.h"

namespace attn {

class LinearAttentionBuilder {
public:
  /// The state carried across keys: S [b, hq, F, Dv] and, with the
  /// denominator normalization, z [b, hq, F]. A null S is the zero state.
  struct State {
    mlir::Value s;
    mlir::Value z;
  };

  /// Builds on tensors whose leading dimensions are [b, heads], with
  /// `groupSize` query heads per key/value head; `decay` holds the decay of
  /// those query heads ([hq]) or is null.
  LinearAttentionBuilder(mlir::OpBuilder &b, mlir::Location loc,
                         LinearAttentionOp op, int64_t groupSize,
                         mlir::Value decay);

  /// The log-space gates of a block of positions, as cumulative sums from
  /// the block's start: `cumulative[.., i]` sums the gates of rows 0..i,
  /// `total` all of them ([b, hq] plus F for per-feature gates). Every
  /// factor the recurrence needs is the exponential of a difference of
  /// these, at most 1 for gates <= 0, however long the sequence.
  struct BlockGates {
    mlir::Value cumulative;
    mlir::Value total;
    explicit operator bool() const { return bool(cumulative); }
  };

  /// phi of rows [b, h, n, D] (any float type) at sequence positions
  /// `positionOffset + r`: [b, h, n, F] in the compute type.
  mlir::Value features(mlir::Value rows, mlir::Value positionOffset);

  /// The query features, `scale phi(q)`.
  mlir::Value queryFeatures(mlir::Value rows, mlir::Value positionOffset);

  /// The sums of a block's gates ([b, hq, n] or [b, hq, n, F]); empty for a
  /// null `gates`.
  BlockGates sumGates(mlir::Value gates);

  /// Output rows [b, hq, n, Dv] (the element type of `o`) of queries with
  /// features `phiQ`: against the keys `phiK` [b, hkv, n', F] and values `v`
  /// of the same block (none when `phiK` is null), causally when `causal`
  /// (the block's queries and keys share positions, and its `gates` apply),
  /// plus the contribution of the state `before` of the block.
  mlir::Value output(mlir::Value phiQ, mlir::Value phiK, mlir::Value v,
                     State before, bool causal, BlockGates gates = {});

  /// The delta rule's pseudo-values U [b, hq, n, Dv] of a causal block
  /// after the state `before`: with U for v, `output` and `advance` give the
  /// block's outputs and state. U solves (I + diag(beta) (strictly lower
  /// part of phiK phiK^T, times exp(c_i - c_j))) U = diag(beta) (v -
  /// diag(exp(c)) phiK S_0) (the UT transform of the block's transitions),
  /// with `beta` [b, hq, n] and the block's gate sums c (none: 0).
  mlir::Value deltaValues(mlir::Value phiK, mlir::Value v, mlir::Value beta,
                          State before, BlockGates gates);

  /// The zero state of `batch` x `heads` query heads.
  State zeroState(mlir::OpFoldResult batch, int64_t heads);

  /// The state after the keys `phiK` [b, hkv, n, F] and values `v` that
  /// follow `before`, gated by the block's `gates`.
  State advance(State before, mlir::Value phiK, mlir::Value v,
                BlockGates gates = {});

private:
  mlir::AffineMap identity(unsigned rank);
  mlir::AffineMap map(unsigned numDims, llvm::ArrayRef<mlir::AffineExpr> exprs);
  mlir::AffineExpr dim(unsigned i);
  /// The key/value head of query head dimension `i`.
  mlir::AffineExpr kvHead(unsigned i);
  /// The head dimension 1 of values `v`: per key/value head, or per query
  /// head (the delta rule's pseudo-values).
  mlir::AffineExpr valueHead(mlir::Value v);
  /// acc[b, h, i, e] + sum_j lhs[.., i, j] rhs[.., j, e] with loops
  /// (b, h, i, j, e): rows of `rhs` are read contiguously, the form of the
  /// CPU micro-kernels once the unit (b, h) dimensions are dropped.
  mlir::Value multiply(mlir::Value lhs, mlir::AffineMap lhsMap,
                       mlir::Value rhs, mlir::AffineMap rhsMap,
                       mlir::Value acc);
  /// gamma^exponent for a float exponent >= 0, from log2(gamma).
  mlir::Value decayPower(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value log2Gamma, mlir::Value exponent);
  mlir::Value indexAsFloat(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value index);
  /// weight * exp(cLater - cEarlier) where `allowed` holds, else 0; without
  /// gate sums (null cLater), weight or 0. The exponent is 0 where the key
  /// is masked: no overflow to select away.
  mlir::Value maskedGatedWeight(mlir::OpBuilder &b, mlir::Location loc,
                                mlir::Value allowed, mlir::Value weight,
                                mlir::Value cLater, mlir::Value cEarlier);
  /// Scores a[b, h, i, j] = sum_f phiQ[i, f] phiK[j, f] exp(c[i, f] -
  /// c[j, f]) for j <= i, else 0: per-feature gates within a block.
  mlir::Value featureGatedScores(mlir::Value phiQ, mlir::Value phiK,
                                 mlir::Value cumulative,
                                 llvm::ArrayRef<mlir::OpFoldResult> sizes);
  /// `state` [b, hq, F(, Dv)] times exp(total) in place, `total` the
  /// block's gate sums ([b, hq] or [b, hq, F]).
  mlir::Value gateState(mlir::Value state, mlir::Value total);
  /// The map from (b, h, row, f) loops to a gate tensor of `rank`.
  mlir::AffineMap gateMap(unsigned numDims, unsigned row, unsigned feature,
                          int64_t rank);

  mlir::OpBuilder &b;
  mlir::Location loc;
  LinearAttentionOp op;
  int64_t groupSize;
  /// log2 of the decays of the query heads ([hq]), or null.
  mlir::Value decay;
  mlir::FloatType computeType;
  int64_t valueDim;
  mlir::Value maxLength;
};

} // namespace attn

#endif // ATTN_TRANSFORMS_LINEARATTENTION_H
