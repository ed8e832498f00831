//===- ScoreFunction.cpp - One score from q.k to its weight ---------------===//

#include "attn/Transforms/ScoreFunction.h"
#include "attn/Dialect/ScoreDerivative.h"
#include "attn/Dialect/ValueBuilders.h"
#include "attn/Transforms/PositionFrame.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/RegionUtils.h"

#include <limits>

using namespace mlir;

namespace attn {

//===----------------------------------------------------------------------===//
// OperandAuxReader
//===----------------------------------------------------------------------===//

OperandAuxReader::OperandAuxReader(AttentionSpecOpInterface op)
    : values(op.getAuxOperands()) {}

OperandAuxReader::OperandAuxReader(AuxOperandValues values) : values(values) {}

Value OperandAuxReader::valueOf(AuxOperand operand) const {
  return values[static_cast<size_t>(operand)];
}

Value OperandAuxReader::load(OpBuilder &b, Location loc, Value source,
                             ValueRange indices) {
  if (isa<MemRefType>(source.getType()))
    return memref::LoadOp::create(b, loc, source, indices);
  return tensor::ExtractOp::create(b, loc, source, indices);
}

bool OperandAuxReader::has(AuxOperand operand) const {
  return bool(valueOf(operand));
}

Value OperandAuxReader::extract(IndexExprBuilder &b, AuxOperand operand,
                               ArrayRef<IndexExpr> indices) {
  Value source = valueOf(operand);
  assert(source && "the verifier guarantees the operand");
  auto type = cast<ShapedType>(source.getType());
  OpBuilder &ob = b.getOpBuilder();
  Location loc = b.getLoc();
  IndexExprBuilder ib(ob, loc, ob.getIndexType());
  SmallVector<Value> at;
  for (auto [dim, index] : llvm::enumerate(indices))
    at.push_back(type.getDimSize(dim) == 1 ? ib.materialize(IndexExpr(0))
                                           : ib.materialize(index));
  return load(ob, loc, source, at);
}

IndexExpr OperandAuxReader::readInt(IndexExprBuilder &b, AuxOperand operand,
                                   ArrayRef<IndexExpr> indices) {
  OpBuilder &ob = b.getOpBuilder();
  Location loc = b.getLoc();
  Value element = extract(b, operand, indices);
  // i1 layouts are 0/1; wider ids are signed.
  if (element.getType().isInteger(1))
    element = arith::ExtUIOp::create(ob, loc, ob.getI64Type(), element);
  return b.value(element);
}

Value OperandAuxReader::readFloat(IndexExprBuilder &b, AuxOperand operand,
                                 ArrayRef<IndexExpr> indices, FloatType type) {
  OpBuilder &ob = b.getOpBuilder();
  Location loc = b.getLoc();
  Value element = extract(b, operand, indices);
  auto from = cast<FloatType>(element.getType());
  if (from.getWidth() < type.getWidth())
    return arith::ExtFOp::create(ob, loc, type, element);
  if (from.getWidth() > type.getWidth())
    return arith::TruncFOp::create(ob, loc, type, element);
  return element;
}

std::pair<IndexExpr, IndexExpr>
OperandAuxReader::readMinMax(IndexExprBuilder &b, AuxOperand operand,
                            IndexExpr batch, IndexExpr lo, IndexExpr hi) {
  OpBuilder &ob = b.getOpBuilder();
  Location loc = b.getLoc();
  IndexExprBuilder ib(ob, loc, ob.getIndexType());
  Type i32 = ob.getI32Type();
  Value init[] = {
      arith::ConstantOp::create(ob, loc, IntegerAttr::get(i32, INT32_MAX)),
      arith::ConstantOp::create(ob, loc, IntegerAttr::get(i32, INT32_MIN))};
  auto loop = scf::ForOp::create(
      ob, loc, ib.materialize(lo), ib.materialize(hi), ib.materialize(IndexExpr(1)), init,
      [&](OpBuilder &nb, Location nloc, Value j, ValueRange minMax) {
        Value id = load(nb, nloc, valueOf(operand),
                        ValueRange{ib.materialize(batch), j});
        Value newMin = arith::MinSIOp::create(nb, nloc, minMax[0], id);
        Value newMax = arith::MaxSIOp::create(nb, nloc, minMax[1], id);
        scf::YieldOp::create(nb, nloc, ValueRange{newMin, newMax});
      });
  return {b.value(loop.getResult(0)), b.value(loop.getResult(1))};
}

Value OperandAuxReader::lookupCaptured(Value value) const {
  return captured.lookupOrDefault(value);
}

void OperandAuxReader::mapCaptured(Value from, Value to) {
  captured.map(from, to);
}

//===----------------------------------------------------------------------===//
// The score pipeline
//===----------------------------------------------------------------------===//

namespace {
/// Inlines the single block of `region` with `args` for its arguments and
/// returns the yielded value.
Value inlineRegion(OpBuilder &b, Region &region, ValueRange args,
                   const AuxReader &aux) {
  Block &block = region.front();
  IRMapping mapping;
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(region, captured);
  for (Value value : captured)
    mapping.map(value, aux.lookupCaptured(value));
  mapping.map(block.getArguments(), args);
  for (Operation &nested : block.without_terminator())
    b.clone(nested, mapping);
  return mapping.lookup(cast<YieldOp>(block.getTerminator()).getValue());
}

PositionFrame frameOf(IndexExprBuilder &ib, const SequenceLengths &lengths,
                      AuxReader &aux) {
  return PositionFrame(ib, aux, ib.value(lengths.qLen),
                       ib.value(lengths.kvLen));
}

/// The score's positions in the sequence its mask and modifiers see.
MaskPoint globalPoint(IndexExprBuilder &ib, const PositionFrame &frame,
                      const ScorePosition &pos) {
  return frame.global(MaskPoint{ib.value(pos.batch), ib.value(pos.head),
                                ib.value(pos.q), ib.value(pos.kv)});
}

/// The (q_idx, kv_idx) a region takes: the score's global positions.
std::pair<Value, Value> regionPositions(IndexExprBuilder &ib,
                                        const PositionFrame &frame,
                                        const MaskPoint &point,
                                        const ScorePosition &pos) {
  if (!frame.isShard())
    return {pos.q, pos.kv};
  Value q = ib.materialize(point.q);
  Value kv = ib.materialize(point.kv);
  return {q, kv};
}
} // namespace

Value buildAllowedAt(OpBuilder &b, Location loc, AttentionSpecOpInterface op,
                     const ScorePosition &pos, const SequenceLengths &lengths,
                     AuxReader &aux) {
  IndexExprBuilder ib(b, loc, b.getIndexType());
  PositionFrame frame = frameOf(ib, lengths, aux);
  MaskPoint point = globalPoint(ib, frame, pos);
  PredExpr allowed = true;
  if (MaskAttrInterface mask = op.getMaskAttr())
    allowed = mask.buildAllowed(ib, frame.context(), point);
  if (!op.getMaskMod().empty()) {
    auto [q, kv] = regionPositions(ib, frame, point, pos);
    allowed =
        allowed & ib.pred(inlineRegion(b, op.getMaskMod(),
                                       {pos.batch, pos.head, q, kv}, aux));
  }
  return ib.materialize(allowed);
}

bool readsMemoryAtPositions(AttentionSpecOpInterface op) {
  AuxOperandValues operands = op.getAuxOperands();
  for (AuxOperand operand : {AuxOperand::Layout, AuxOperand::QSegments,
                             AuxOperand::KvSegments, AuxOperand::Bias})
    if (operands[static_cast<size_t>(operand)])
      return true;
  return regionsReadTensors(op);
}

bool hasMask(AttentionSpecOpInterface op) {
  return op.getMaskAttr() || !op.getMaskMod().empty();
}

Value buildModifiedScore(OpBuilder &b, Location loc, AttentionSpecOpInterface op,
                         Value rawScore, const ScorePosition &pos,
                         const SequenceLengths &lengths, AuxReader &aux) {
  Type type = rawScore.getType();
  Value score = arith::MulFOp::create(
      b, loc, rawScore, floatConstant(b, loc, type, op.getScaleOrDefault()));

  IndexExprBuilder ib(b, loc, b.getIndexType());
  PositionFrame frame = frameOf(ib, lengths, aux);
  ScoreContext context{frame.context(), globalPoint(ib, frame, pos),
                       op.getQ().getType().getDimSize(1)};
  for (ScoreModAttrInterface mod : op.getScoreModList())
    score = mod.buildScoreMod(ib, context, score);

  if (!op.getScoreMod().empty()) {
    // The region computes in f32; f64 references round through it.
    Type f32 = b.getF32Type();
    Value arg = score;
    if (type != f32)
      arg = arith::TruncFOp::create(b, loc, f32, score);
    auto [q, kv] = regionPositions(ib, frame, context.point, pos);
    score = inlineRegion(b, op.getScoreMod(), {arg, pos.batch, pos.head, q, kv},
                         aux);
    if (type != f32)
      score = arith::ExtFOp::create(b, loc, type, score);
  }
  return score;
}

Value buildMaskedScore(OpBuilder &b, Location loc, AttentionSpecOpInterface op,
                       Value rawScore, const ScorePosition &pos,
                       const SequenceLengths &lengths, AuxReader &aux) {
  Type type = rawScore.getType();
  Value score = buildModifiedScore(b, loc, op, rawScore, pos, lengths, aux);
  if (!hasMask(op))
    return score;
  Value allowed = buildAllowedAt(b, loc, op, pos, lengths, aux);
  return arith::SelectOp::create(
      b, loc, allowed, score,
      floatConstant(b, loc, type, -std::numeric_limits<double>::infinity()));
}

namespace {
/// Reads through another reader and keeps the last bias element read.
class BiasRecorder : public AuxReader {
public:
  explicit BiasRecorder(AuxReader &inner) : inner(inner) {}

  bool has(AuxOperand operand) const override { return inner.has(operand); }
  IndexExpr readInt(IndexExprBuilder &b, AuxOperand operand,
                    ArrayRef<IndexExpr> indices) override {
    return inner.readInt(b, operand, indices);
  }
  Value readFloat(IndexExprBuilder &b, AuxOperand operand,
                  ArrayRef<IndexExpr> indices, FloatType type) override {
    Value v = inner.readFloat(b, operand, indices, type);
    if (operand == AuxOperand::Bias)
      bias = v;
    return v;
  }
  std::pair<IndexExpr, IndexExpr> readMinMax(IndexExprBuilder &b,
                                             AuxOperand operand,
                                             IndexExpr batch, IndexExpr lo,
                                             IndexExpr hi) override {
    return inner.readMinMax(b, operand, batch, lo, hi);
  }
  Value lookupCaptured(Value value) const override {
    return inner.lookupCaptured(value);
  }

  Value bias;

private:
  AuxReader &inner;
};
} // namespace

FailureOr<ScoreDerivatives>
buildScoreDerivatives(OpBuilder &b, Location loc, AttentionSpecOpInterface op,
                      Value rawScore, const ScorePosition &pos,
                      const SequenceLengths &lengths, AuxReader &aux) {
  BiasRecorder recorder(aux);
  InsertedOps inserted(b);
  ScoreDerivatives d;
  d.score = buildModifiedScore(b, loc, op, rawScore, pos, lengths, recorder);
  SmallVector<Operation *> ops = inserted.get();
  FailureOr<Value> byRaw = buildDerivative(b, loc, ops, rawScore, d.score);
  if (failed(byRaw))
    return failure();
  d.byRawScore = *byRaw;
  if (recorder.bias) {
    FailureOr<Value> byBias =
        buildDerivative(b, loc, ops, recorder.bias, d.score);
    if (failed(byBias))
      return failure();
    d.byBias = *byBias;
  }
  return d;
}

FailureOr<ScoreGradients>
buildScoreGradients(OpBuilder &b, Location loc, AttentionSpecOpInterface op,
                    NormalizationAttrInterface normalization,
                    const ScoreGradientInputs &in, const ScorePosition &pos,
                    const SequenceLengths &lengths, AuxReader &aux,
                    bool withBias) {
  FailureOr<ScoreDerivatives> d =
      buildScoreDerivatives(b, loc, op, in.dot, pos, lengths, aux);
  if (failed(d))
    return failure();
  Type type = in.dot.getType();
  Value zero = floatConstant(b, loc, type, 0.0);
  Value weight, gradScore;
  if (normalization.normalizesRows()) {
    Value p = math::ExpOp::create(b, loc,
                                  arith::SubFOp::create(b, loc, d->score, in.lse));
    Value emptyRow = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OEQ, in.lse,
        floatConstant(b, loc, type, -std::numeric_limits<double>::infinity()));
    weight = arith::SelectOp::create(b, loc, emptyRow, zero, p);
    gradScore = arith::MulFOp::create(
        b, loc, weight, arith::SubFOp::create(b, loc, in.gradWeight, in.rowDelta));
  } else {
    Value w = normalization.buildWeight(b, loc, d->score, Value());
    Value slope = normalization.buildWeightDerivative(b, loc, d->score, w);
    weight = w;
    gradScore = arith::MulFOp::create(b, loc, in.gradWeight, slope);
    if (in.outputFactor) {
      weight = arith::MulFOp::create(b, loc, weight, in.outputFactor);
      gradScore = arith::MulFOp::create(b, loc, gradScore, in.outputFactor);
    }
  }
  ScoreGradients g;
  g.weight = weight;
  g.gradDot = arith::MulFOp::create(b, loc, gradScore, d->byRawScore);
  if (withBias)
    g.gradBias = d->byBias ? arith::MulFOp::create(b, loc, gradScore, d->byBias)
                                 .getResult()
                           : zero;
  if (in.allowed) {
    auto orZero = [&](Value x) -> Value {
      return arith::SelectOp::create(b, loc, in.allowed, x, zero);
    };
    g.weight = orZero(g.weight);
    g.gradDot = orZero(g.gradDot);
    if (g.gradBias)
      g.gradBias = orZero(g.gradBias);
  }
  return g;
}

} // namespace attn
