//===- ScoreFunction.h - One score from q.k to its weight -------*- C++ -*-===//
//
// What happens to a score between the dot product and the normalization is
// defined here once, for every lowering: scaling, the score modifiers in
// order, the score_mod region, then the mask (the attribute AND the
// mask_mod region), which sends disallowed scores to -inf.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TRANSFORMS_SCOREFUNCTION_H
#define ATTN_TRANSFORMS_SCOREFUNCTION_H

#include "attn/Dialect/Attn.h"

#include "mlir/IR/IRMapping.h"

#include <array>

namespace attn {

/// Positions of a score as index values (scalars).
struct ScorePosition {
  mlir::Value batch;
  mlir::Value head;
  mlir::Value q;
  mlir::Value kv;
};

/// Sequence lengths of the op, as index values.
struct SequenceLengths {
  mlir::Value qLen;
  mlir::Value kvLen;
};

/// Reads the auxiliary operands of an attention op: with `tensor.extract`
/// from the op's tensors (the reference and tensor-level kernels), or with
/// `memref.load` from buffers standing for them (the GPU kernel).
class OperandAuxReader : public AuxReader {
public:
  /// Reads the op's own operands.
  explicit OperandAuxReader(AttentionSpecOpInterface op);
  /// Reads `values` (tensors or memrefs, null where absent).
  explicit OperandAuxReader(AuxOperandValues values);

  bool has(AuxOperand operand) const override;
  IndexExpr readInt(IndexExprBuilder &b, AuxOperand operand,
                    llvm::ArrayRef<IndexExpr> indices) override;
  mlir::Value readFloat(IndexExprBuilder &b, AuxOperand operand,
                        llvm::ArrayRef<IndexExpr> indices,
                        mlir::FloatType type) override;
  std::pair<IndexExpr, IndexExpr> readMinMax(IndexExprBuilder &b,
                                             AuxOperand operand,
                                             IndexExpr batch, IndexExpr lo,
                                             IndexExpr hi) override;
  mlir::Value lookupCaptured(mlir::Value value) const override;

  /// Makes regions read `replacement` where they use `captured`.
  void mapCaptured(mlir::Value captured, mlir::Value replacement);

protected:
  mlir::Value valueOf(AuxOperand operand) const;
  /// The element of `source` at `indices` (index values).
  static mlir::Value load(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value source, mlir::ValueRange indices);

private:
  /// The element at `indices`, reading broadcast (size-1) dimensions at 0.
  mlir::Value extract(IndexExprBuilder &b, AuxOperand operand,
                      llvm::ArrayRef<IndexExpr> indices);

  AuxOperandValues values;
  mlir::IRMapping captured;
};

/// Returns `rawScore` (the dot product, in the compute type) scaled and
/// modified: the score modifiers in order, then the score_mod region.
mlir::Value buildModifiedScore(mlir::OpBuilder &b, mlir::Location loc,
                               AttentionSpecOpInterface op, mlir::Value rawScore,
                               const ScorePosition &pos,
                               const SequenceLengths &lengths, AuxReader &aux);

/// Returns the final score at `pos`: the modified score, and -inf where the
/// mask disallows it.
mlir::Value buildMaskedScore(mlir::OpBuilder &b, mlir::Location loc,
                             AttentionSpecOpInterface op, mlir::Value rawScore,
                             const ScorePosition &pos,
                             const SequenceLengths &lengths, AuxReader &aux);

/// The modified score (buildModifiedScore) and its derivatives: with
/// respect to the raw score (the scale included) and, when the op reads a
/// bias, with respect to the bias element at `pos` (else null). Derivatives
/// come from differentiating the code of the modifiers (ScoreDerivative.h);
/// fails, naming the op, on one that cannot be differentiated.
struct ScoreDerivatives {
  mlir::Value score;
  mlir::Value byRawScore;
  mlir::Value byBias;
};
mlir::FailureOr<ScoreDerivatives>
buildScoreDerivatives(mlir::OpBuilder &b, mlir::Location loc,
                      AttentionSpecOpInterface op, mlir::Value rawScore,
                      const ScorePosition &pos, const SequenceLengths &lengths,
                      AuxReader &aux);

/// What the backward needs of one score (buildScoreGradients): the weight
/// the output saw and the gradients of the loss with respect to the
/// score's raw dot product and (when asked for) its bias element.
struct ScoreGradients {
  mlir::Value weight;
  mlir::Value gradDot;
  mlir::Value gradBias;
};

/// The inputs of one score's gradients: the raw dot product q.k, dP =
/// grad_o.v, for softmax the row's lse and delta = rowsum(grad_o * o), for
/// a pointwise normalization its output factor (null for 1), and whether
/// the pair is allowed (null: it is, as in a full tile).
struct ScoreGradientInputs {
  mlir::Value dot, gradWeight;
  mlir::Value lse, rowDelta;
  mlir::Value outputFactor;
  mlir::Value allowed;
};

/// The weight and gradients of the score at `pos`, written once for every
/// backward kernel (CPU tiles, GPU fragments):
///   softmax:   P = exp(s - lse) (0 in an empty row, lse = -inf),
///              dS = P (dP - delta);
///   pointwise: P = f w(s), dS = f dP w'(s);
///   grad_dot = dS ds/dx, grad_bias = dS ds/dbias (`withBias`, 0 without a
///   bias); all 0 where the pair is not allowed. Fails, naming the op, on a
///   modifier that cannot be differentiated (buildScoreDerivatives).
mlir::FailureOr<ScoreGradients>
buildScoreGradients(mlir::OpBuilder &b, mlir::Location loc,
                    AttentionSpecOpInterface op,
                    NormalizationAttrInterface normalization,
                    const ScoreGradientInputs &in, const ScorePosition &pos,
                    const SequenceLengths &lengths, AuxReader &aux,
                    bool withBias);

/// Whether modifiers or masks read memory at a score's position: operands
/// indexed by query or key (a bias, segment ids, a block layout) or tensors
/// a region captures. Kernels then evaluate padding positions at a valid
/// one, so that every read stays inside its operand.
bool readsMemoryAtPositions(AttentionSpecOpInterface op);

/// Whether the op has a mask (attribute or region).
bool hasMask(AttentionSpecOpInterface op);

/// Returns whether the mask attribute and the mask_mod region allow `pos`.
mlir::Value buildAllowedAt(mlir::OpBuilder &b, mlir::Location loc,
                           AttentionSpecOpInterface op, const ScorePosition &pos,
                           const SequenceLengths &lengths, AuxReader &aux);

} // namespace attn

#endif // ATTN_TRANSFORMS_SCOREFUNCTION_H
