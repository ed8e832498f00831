//===- LinearAttention.cpp - Linear attention on tensors ------------------===//

#include "attn/Transforms/LinearAttention.h"
#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/TypeUtilities.h"

#include <cmath>

using namespace mlir;

namespace attn {

LinearAttentionBuilder::LinearAttentionBuilder(OpBuilder &b, Location loc,
                                               LinearAttentionOp op,
                                               int64_t groupSize, Value decay)
    : b(b), loc(loc), op(op), groupSize(groupSize),
      computeType(op.getComputeType()),
      valueDim(op.getV().getType().getDimSize(3)) {
  Value queries = tensor::DimOp::create(b, loc, op.getQ(), 2);
  Value keys = tensor::DimOp::create(b, loc, op.getK(), 2);
  maxLength = arith::MaxUIOp::create(b, loc, queries, keys);
  // log2(gamma) once per head: each factor is then one exp2, not a powf.
  if (decay)
    this->decay = buildElementwise(
        b, loc, decay, computeType, [&](OpBuilder &nb, Location nloc, Value e) {
          return math::Log2Op::create(nb, nloc,
                                      convertFloat(nb, nloc, e, computeType))
              .getResult();
        });
}

AffineExpr LinearAttentionBuilder::dim(unsigned i) {
  return b.getAffineDimExpr(i);
}

AffineExpr LinearAttentionBuilder::kvHead(unsigned i) {
  return dim(i).floorDiv(groupSize);
}

AffineExpr LinearAttentionBuilder::valueHead(Value v) {
  int64_t heads = cast<RankedTensorType>(v.getType()).getDimSize(1);
  return heads == op.getQ().getType().getDimSize(1) ? dim(1) : kvHead(1);
}

AffineMap LinearAttentionBuilder::identity(unsigned rank) {
  return AffineMap::getMultiDimIdentityMap(rank, b.getContext());
}

AffineMap LinearAttentionBuilder::map(unsigned numDims,
                                      ArrayRef<AffineExpr> exprs) {
  return AffineMap::get(numDims, 0, exprs, b.getContext());
}

Value LinearAttentionBuilder::indexAsFloat(OpBuilder &nb, Location nloc,
                                           Value index) {
  IndexExprBuilder ib(nb, nloc, nb.getIndexType());
  return indexToFloat(ib, ib.value(index), computeType);
}

Value LinearAttentionBuilder::maskedGatedWeight(OpBuilder &nb, Location nloc,
                                                Value allowed, Value weight,
                                                Value cLater, Value cEarlier) {
  Value zero = floatConstant(nb, nloc, computeType, 0.0);
  if (cLater) {
    Value difference = arith::SubFOp::create(nb, nloc, cLater, cEarlier);
    Value exponent =
        arith::SelectOp::create(nb, nloc, allowed, difference, zero);
    weight = arith::MulFOp::create(nb, nloc, weight,
                                   math::ExpOp::create(nb, nloc, exponent));
  }
  return arith::SelectOp::create(nb, nloc, allowed, weight, zero);
}

Value LinearAttentionBuilder::decayPower(OpBuilder &nb, Location nloc,
                                         Value log2Gamma, Value exponent) {
  // gamma^0 = 1, also for gamma = 0 (0 * -inf would be NaN).
  Value power = math::Exp2Op::create(
      nb, nloc, arith::MulFOp::create(nb, nloc, exponent, log2Gamma));
  Value zero = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OEQ,
                                     exponent,
                                     floatConstant(nb, nloc, computeType, 0.0));
  return arith::SelectOp::create(nb, nloc, zero,
                                 floatConstant(nb, nloc, computeType, 1.0),
                                 power);
}

Value LinearAttentionBuilder::multiply(Value lhs, AffineMap lhsMap, Value rhs,
                                      AffineMap rhsMap, Value acc) {
  auto par = utils::IteratorType::parallel;
  return buildContraction(b, loc, lhs, lhsMap, rhs, rhsMap, acc,
                          map(5, {dim(0), dim(1), dim(2), dim(4)}),
                          {par, par, par, utils::IteratorType::reduction, par});
}

Value LinearAttentionBuilder::features(Value rows, Value positionOffset) {
  FeatureMapContext context{computeType, op.getFeatureWeights(),
                            positionOffset, maxLength};
  return buildRowFeatures(b, loc, op.getFeatureMap(), context, rows);
}

Value LinearAttentionBuilder::queryFeatures(Value rows, Value positionOffset) {
  Value phi = features(rows, positionOffset);
  double scale = op.getScaleOrDefault();
  if (scale == 1.0)
    return phi;
  return buildElementwise(b, loc, phi, computeType,
                          [&](OpBuilder &nb, Location nloc, Value e) {
                            return arith::MulFOp::create(
                                nb, nloc, e,
                                floatConstant(nb, nloc, computeType, scale));
                          });
}

AffineMap LinearAttentionBuilder::gateMap(unsigned numDims, unsigned row,
                                          unsigned feature, int64_t rank) {
  if (rank == 4)
    return map(numDims, {dim(0), dim(1), dim(row), dim(feature)});
  return map(numDims, {dim(0), dim(1), dim(row)});
}

LinearAttentionBuilder::BlockGates
LinearAttentionBuilder::sumGates(Value gates) {
  if (!gates)
    return {};
  auto type = cast<RankedTensorType>(gates.getType());
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, gates);
  // cumulative[.., i(, f)] = sum_t L[i, t] g[.., t(, f)] with L the
  // lower-triangular ones: a product the CPU micro-kernels take, with the
  // reduction loop t last.
  OpFoldResult n = sizes[2];
  Value lower = buildGenerated(
      b, loc, {n, n}, computeType, {}, {},
      [&](OpBuilder &nb, Location nloc, ValueRange, ValueRange indices) {
        Value included = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::ule, indices[1], indices[0]);
        Value one = floatConstant(nb, nloc, computeType, 1.0);
        Value zero = floatConstant(nb, nloc, computeType, 0.0);
        return arith::SelectOp::create(nb, nloc, included, one, zero)
            .getResult();
      });
  unsigned loops = rank + 1, t = rank;
  Value cumulative = buildContraction(
      b, loc, lower, map(loops, {dim(2), dim(t)}), gates,
      rank == 4 ? map(loops, {dim(0), dim(1), dim(t), dim(3)})
                : map(loops, {dim(0), dim(1), dim(t)}),
      buildFilled(b, loc, sizes, computeType, 0.0), 1);
  Value total = buildDimReduction(
      b, loc, gates, 2, 0.0, [](OpBuilder &nb, Location nloc, Value x,
                                Value y) {
        return arith::AddFOp::create(nb, nloc, x, y).getResult();
      });
  return {cumulative, total};
}

Value LinearAttentionBuilder::featureGatedScores(
    Value phiQ, Value phiK, Value cumulative, ArrayRef<OpFoldResult> sizes) {
  // Loops (b, h, i, j, f); exp of -inf (j > i) gives 0 without an overflow.
  auto par = utils::IteratorType::parallel;
  Value init = buildFilled(b, loc, sizes, computeType, 0.0);
  return linalg::GenericOp::create(
             b, loc, init.getType(),
             ValueRange{phiQ, phiK, cumulative, cumulative}, ValueRange{init},
             {map(5, {dim(0), dim(1), dim(2), dim(4)}),
              map(5, {dim(0), kvHead(1), dim(3), dim(4)}),
              map(5, {dim(0), dim(1), dim(2), dim(4)}),
              map(5, {dim(0), dim(1), dim(3), dim(4)}),
              map(5, {dim(0), dim(1), dim(2), dim(3)})},
             {par, par, par, par, utils::IteratorType::reduction},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value i = linalg::IndexOp::create(nb, nloc, 2);
               Value j = linalg::IndexOp::create(nb, nloc, 3);
               Value allowed = arith::CmpIOp::create(
                   nb, nloc, arith::CmpIPredicate::ule, j, i);
               Value difference =
                   arith::SubFOp::create(nb, nloc, args[2], args[3]);
               Value never = floatConstant(nb, nloc, computeType, -INFINITY);
               Value exponent = arith::SelectOp::create(nb, nloc, allowed,
                                                        difference, never);
               Value gate = math::ExpOp::create(nb, nloc, exponent);
               Value features =
                   arith::MulFOp::create(nb, nloc, args[0], args[1]);
               Value product =
                   arith::MulFOp::create(nb, nloc, features, gate);
               linalg::YieldOp::create(
                   nb, nloc, arith::AddFOp::create(nb, nloc, args[4], product)
                                 .getResult());
             })
      .getResult(0);
}

Value LinearAttentionBuilder::gateState(Value state, Value total) {
  unsigned rank = cast<RankedTensorType>(state.getType()).getRank();
  int64_t gateRank = cast<RankedTensorType>(total.getType()).getRank();
  SmallVector<utils::IteratorType> parallel(rank,
                                            utils::IteratorType::parallel);
  AffineMap totalMap = gateRank == 3 ? map(rank, {dim(0), dim(1), dim(2)})
                                     : map(rank, {dim(0), dim(1)});
  return linalg::GenericOp::create(
             b, loc, state.getType(), ValueRange{total}, ValueRange{state},
             {totalMap, identity(rank)}, parallel,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value gated = arith::MulFOp::create(
                   nb, nloc, args[1], math::ExpOp::create(nb, nloc, args[0]));
               linalg::YieldOp::create(nb, nloc, gated);
             })
      .getResult(0);
}

Value LinearAttentionBuilder::output(Value phiQ, Value phiK, Value v,
                                     State before, bool causal,
                                     BlockGates gates) {
  SmallVector<OpFoldResult> rows = tensor::getMixedSizes(b, loc, phiQ);
  rows.pop_back(); // [b, hq, n]
  SmallVector<OpFoldResult> outSizes(rows);
  outSizes.push_back(b.getIndexAttr(valueDim));
  bool denominator = op.hasDenominator();
  Value numerator = buildFilled(b, loc, outSizes, computeType, 0.0);
  Value normalizer =
      denominator ? buildFilled(b, loc, rows, computeType, 0.0) : Value();

  bool featureGates = gates && cast<RankedTensorType>(gates.cumulative.getType())
                                       .getRank() == 4;
  if (phiK) {
    // Scores a[b, h, i, j] = phi(q_i) . phi(k_j); loops (b, h, i, j, f).
    SmallVector<OpFoldResult> scoreSizes(rows);
    scoreSizes.push_back(tensor::getMixedSize(b, loc, phiK, 2));
    Value scores;
    if (causal && featureGates)
      scores = featureGatedScores(phiQ, phiK, gates.cumulative, scoreSizes);
    else
      scores = buildContraction(
          b, loc, phiQ, map(5, {dim(0), dim(1), dim(2), dim(4)}), phiK,
          map(5, {dim(0), kvHead(1), dim(3), dim(4)}),
          buildFilled(b, loc, scoreSizes, computeType, 0.0), 1);
    if (causal && !featureGates) {
      // Keys after the query get 0; earlier ones gamma^(i - j) or
      // exp(c_i - c_j) with the gates' sums c.
      SmallVector<Value> inputs = {scores};
      SmallVector<AffineMap> maps = {
          identity(4)};
      if (decay) {
        inputs.push_back(decay);
        maps.push_back(map(4, {dim(1)}));
      }
      unsigned gateInput = inputs.size();
      if (gates) {
        inputs.append({gates.cumulative, gates.cumulative});
        maps.append({map(4, {dim(0), dim(1), dim(2)}),
                     map(4, {dim(0), dim(1), dim(3)})});
      }
      scores = buildGenerated(
          b, loc, scoreSizes, computeType, inputs, maps,
          [&](OpBuilder &nb, Location nloc, ValueRange e,
              ValueRange indices) -> Value {
            Value i = indices[2], j = indices[3];
            Value weight = e[0];
            if (decay)
              weight = arith::MulFOp::create(
                  nb, nloc, weight,
                  decayPower(nb, nloc, e[1],
                             indexAsFloat(nb, nloc,
                                          arith::SubIOp::create(nb, nloc, i,
                                                                j))));
            Value allowed = arith::CmpIOp::create(
                nb, nloc, arith::CmpIPredicate::ule, j, i);
            return maskedGatedWeight(nb, nloc, allowed, weight,
                                     gates ? e[gateInput] : Value(),
                                     gates ? e[gateInput + 1] : Value());
          });
    }
    numerator = multiply(scores, map(5, {dim(0), dim(1), dim(2), dim(3)}), v,
                         map(5, {dim(0), valueHead(v), dim(3), dim(4)}),
                         numerator);
    if (denominator)
      normalizer = buildContraction(
          b, loc, scores, identity(4),
          Value(), AffineMap(), normalizer, 1);
  }

  if (before.s) {
    // The state covers the keys before the block: row i of a causal block
    // sees it decayed by gamma^(i + 1), or by exp(c_i).
    Value decayedQ = phiQ;
    if (causal && gates) {
      int64_t rank = cast<RankedTensorType>(gates.cumulative.getType())
                         .getRank();
      decayedQ = buildGenerated(
          b, loc, tensor::getMixedSizes(b, loc, phiQ), computeType,
          {phiQ, gates.cumulative}, {identity(4), gateMap(4, 2, 3, rank)},
          [&](OpBuilder &nb, Location nloc, ValueRange e,
              ValueRange) -> Value {
            return arith::MulFOp::create(nb, nloc, e[0],
                                         math::ExpOp::create(nb, nloc, e[1]));
          });
    }
    if (causal && decay)
      decayedQ = buildGenerated(
          b, loc, tensor::getMixedSizes(b, loc, phiQ), computeType,
          {phiQ, decay},
          {identity(4),
           map(4, {dim(1)})},
          [&](OpBuilder &nb, Location nloc, ValueRange e,
              ValueRange indices) -> Value {
            Value exponent = indexAsFloat(
                nb, nloc,
                arith::AddIOp::create(
                    nb, nloc, indices[2],
                    arith::ConstantIndexOp::create(nb, nloc, 1)));
            return arith::MulFOp::create(nb, nloc, e[0],
                                         decayPower(nb, nloc, e[1], exponent));
          });
    numerator = multiply(decayedQ, map(5, {dim(0), dim(1), dim(2), dim(3)}),
                         before.s, map(5, {dim(0), dim(1), dim(3), dim(4)}),
                         numerator);
    if (denominator)
      normalizer = buildContraction(
          b, loc, decayedQ, identity(4),
          before.z, map(4, {dim(0), dim(1), dim(3)}), normalizer, 1);
  }

  Type elementType = getElementTypeOrSelf(op.getO().getType());
  SmallVector<Value> inputs = {numerator};
  SmallVector<AffineMap> maps = {
      identity(4)};
  if (denominator) {
    inputs.push_back(normalizer);
    maps.push_back(map(4, {dim(0), dim(1), dim(2)}));
  }
  double eps = op.getEpsOrDefault();
  return buildGenerated(
      b, loc, outSizes, elementType, inputs, maps,
      [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) -> Value {
        Value result = e[0];
        if (denominator)
          result = arith::DivFOp::create(
              nb, nloc, result,
              arith::AddFOp::create(nb, nloc, e[1],
                                    floatConstant(nb, nloc, computeType, eps)));
        return convertFloat(nb, nloc, result, elementType);
      });
}

LinearAttentionBuilder::State
LinearAttentionBuilder::zeroState(OpFoldResult batch, int64_t heads) {
  SmallVector<OpFoldResult> sizes = {batch, b.getIndexAttr(heads),
                                     b.getIndexAttr(op.getFeatureDim()),
                                     b.getIndexAttr(valueDim)};
  State state;
  state.s = buildFilled(b, loc, sizes, computeType, 0.0);
  if (op.hasDenominator())
    state.z = buildFilled(b, loc, ArrayRef(sizes).drop_back(), computeType,
                          0.0);
  return state;
}

LinearAttentionBuilder::State
LinearAttentionBuilder::advance(State before, Value phiK, Value v,
                                BlockGates gates) {
  auto kType = cast<RankedTensorType>(phiK.getType());
  int64_t features = kType.getDimSize(3);
  OpFoldResult batch = tensor::getMixedSize(b, loc, phiK, 0);
  int64_t heads = kType.getDimSize(1) * groupSize;
  Value keys = tensor::DimOp::create(b, loc, phiK, 2);
  bool denominator = op.hasDenominator();
  State after = before.s ? before : zeroState(batch, heads);

  // S[b, h, f, e] += sum_j k'[j, f] v[j, e], as k'^T [F, n] times v, where
  // key j of n contributes gamma^(n - 1 - j) and the state so far gamma^n.
  Value length = decay ? indexAsFloat(b, loc, keys) : Value();
  SmallVector<Value> kInputs = {phiK};
  SmallVector<AffineMap> kMaps = {map(4, {dim(0), kvHead(1), dim(3), dim(2)})};
  if (decay) {
    kInputs.push_back(decay);
    kMaps.push_back(map(4, {dim(1)}));
  }
  // With gates, key j contributes exp(total - c_j) (per feature f = dim 2).
  int64_t gateRank =
      gates ? cast<RankedTensorType>(gates.cumulative.getType()).getRank() : 0;
  if (gates) {
    kInputs.append({gates.total, gates.cumulative});
    kMaps.append({gateRank == 4 ? map(4, {dim(0), dim(1), dim(2)})
                                : map(4, {dim(0), dim(1)}),
                  gateMap(4, 3, 2, gateRank)});
  }
  Value transposedK = buildGenerated(
      b, loc,
      {batch, b.getIndexAttr(heads), b.getIndexAttr(features),
       OpFoldResult(keys)},
      computeType, kInputs, kMaps,
      [&](OpBuilder &nb, Location nloc, ValueRange e,
          ValueRange indices) -> Value {
        if (gates)
          return arith::MulFOp::create(
              nb, nloc, e[0],
              math::ExpOp::create(
                  nb, nloc, arith::SubFOp::create(nb, nloc, e[1], e[2])));
        if (!decay)
          return e[0];
        Value after = arith::SubFOp::create(
            nb, nloc, length, indexAsFloat(nb, nloc, indices[3]));
        Value one = floatConstant(nb, nloc, computeType, 1.0);
        Value exponent = arith::SubFOp::create(nb, nloc, after, one);
        return arith::MulFOp::create(nb, nloc, e[0],
                                     decayPower(nb, nloc, e[1], exponent));
      });
  if (decay) {
    // In place (the state is the generic's output), so that a loop carrying
    // the state updates one buffer.
    auto decayState = [&](Value state, unsigned rank) {
      SmallVector<utils::IteratorType> parallel(
          rank, utils::IteratorType::parallel);
      return linalg::GenericOp::create(
                 b, loc, state.getType(), ValueRange{decay}, ValueRange{state},
                 {map(rank, {dim(1)}), identity(rank)}, parallel,
                 [&](OpBuilder &nb, Location nloc, ValueRange args) {
                   Value decayed = arith::MulFOp::create(
                       nb, nloc, args[1],
                       decayPower(nb, nloc, args[0], length));
                   linalg::YieldOp::create(nb, nloc, decayed);
                 })
          .getResult(0);
    };
    after.s = decayState(after.s, 4);
    if (denominator)
      after.z = decayState(after.z, 3);
  }
  if (gates) {
    after.s = gateState(after.s, gates.total);
    if (denominator)
      after.z = gateState(after.z, gates.total);
  }
  after.s = multiply(transposedK, map(5, {dim(0), dim(1), dim(2), dim(3)}), v,
                     map(5, {dim(0), valueHead(v), dim(3), dim(4)}), after.s);
  if (denominator) {
    // z[b, h, f] += sum_j k'^T[f, j].
    after.z = buildContraction(b, loc, transposedK, identity(4), Value(),
                               AffineMap(), after.z, 1);
  }
  return after;
}

Value LinearAttentionBuilder::deltaValues(Value phiK, Value v, Value beta,
                                          State before, BlockGates gates) {
  SmallVector<OpFoldResult> rows = tensor::getMixedSizes(b, loc, beta);
  OpFoldResult n = rows[2];
  auto headsOf = [](Value x) {
    return cast<RankedTensorType>(x.getType()).getDimSize(1);
  };
  rows[1] = b.getIndexAttr(headsOf(beta));
  SmallVector<OpFoldResult> square(rows), valueRows(rows);
  square.push_back(n);
  valueRows.push_back(b.getIndexAttr(valueDim));

  // lower[i, j] = beta_i (k_i . k_j) exp(c_i - c_j) for j < i, else 0:
  // loops (b, h, i, j, f) for the products.
  Value gram = buildContraction(
      b, loc, phiK, map(5, {dim(0), kvHead(1), dim(2), dim(4)}), phiK,
      map(5, {dim(0), kvHead(1), dim(3), dim(4)}),
      buildFilled(b, loc, square, computeType, 0.0), 1);
  SmallVector<Value> lowerInputs = {gram, beta};
  SmallVector<AffineMap> lowerMaps = {identity(4),
                                      map(4, {dim(0), dim(1), dim(2)})};
  if (gates) {
    lowerInputs.append({gates.cumulative, gates.cumulative});
    lowerMaps.append(
        {map(4, {dim(0), dim(1), dim(2)}), map(4, {dim(0), dim(1), dim(3)})});
  }
  Value lower = buildGenerated(
      b, loc, square, computeType, lowerInputs, lowerMaps,
      [&](OpBuilder &nb, Location nloc, ValueRange e,
          ValueRange indices) -> Value {
        Value earlier = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::ult, indices[3], indices[2]);
        Value weight = arith::MulFOp::create(nb, nloc, e[0], e[1]);
        return maskedGatedWeight(nb, nloc, earlier, weight,
                                 gates ? e[2] : Value(),
                                 gates ? e[3] : Value());
      });

  // rhs_i = beta_i (v_i - exp(c_i) k_i S_0): loops (b, h, i, e, f) for
  // k S_0.
  SmallVector<Value> rhsInputs = {v, beta};
  SmallVector<AffineMap> rhsMaps = {map(4, {dim(0), kvHead(1), dim(2), dim(3)}),
                                    map(4, {dim(0), dim(1), dim(2)})};
  if (before.s) {
    rhsInputs.push_back(buildContraction(
        b, loc, phiK, map(5, {dim(0), kvHead(1), dim(2), dim(4)}), before.s,
        map(5, {dim(0), dim(1), dim(4), dim(3)}),
        buildFilled(b, loc, valueRows, computeType, 0.0), 1));
    rhsMaps.push_back(identity(4));
    if (gates) {
      rhsInputs.push_back(gates.cumulative);
      rhsMaps.push_back(map(4, {dim(0), dim(1), dim(2)}));
    }
  }
  Value rhs = buildGenerated(
      b, loc, valueRows, computeType, rhsInputs, rhsMaps,
      [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) -> Value {
        Value value = convertFloat(nb, nloc, e[0], computeType);
        if (before.s) {
          Value seen = e[2];
          if (gates)
            seen = arith::MulFOp::create(nb, nloc, seen,
                                         math::ExpOp::create(nb, nloc, e[3]));
          value = arith::SubFOp::create(nb, nloc, value, seen);
        }
        return arith::MulFOp::create(nb, nloc, e[1], value);
      });

  // No rows or no batch: nothing to solve (and no row to slice out, which
  // tensor.extract_slice's bounds check refuses on a dimension of 0).
  if (getConstantIntValue(n) == 0 || getConstantIntValue(rows[0]) == 0)
    return rhs;
  // (I + lower) U = rhs by forward substitution: U_i = rhs_i - sum_{j < i}
  // lower[i, j] U_j, row by row (rows not yet solved meet zeros of lower).
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value length = getValueOrCreateConstantIndexOp(b, loc, n);
  auto solve = scf::ForOp::create(
      b, loc, zero, length, one, ValueRange{rhs},
      [&](OpBuilder &nb, Location nloc, Value i, ValueRange iter) {
        Value u = iter[0];
        auto rowOf = [&](Value x, OpFoldResult width) {
          SmallVector<OpFoldResult> offsets = {nb.getIndexAttr(0),
                                               nb.getIndexAttr(0), i,
                                               nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {rows[0], rows[1],
                                             nb.getIndexAttr(1), width};
          SmallVector<OpFoldResult> strides(4, nb.getIndexAttr(1));
          return tensor::ExtractSliceOp::create(nb, nloc, x, offsets, sizes,
                                                strides)
              .getResult();
        };
        SmallVector<OpFoldResult> rowSizes = {rows[0], rows[1],
                                              nb.getIndexAttr(1),
                                              nb.getIndexAttr(valueDim)};
        Value seen = buildContraction(
            nb, nloc, rowOf(lower, n), map(5, {dim(0), dim(1), dim(2), dim(4)}),
            u, map(5, {dim(0), dim(1), dim(4), dim(3)}),
            buildFilled(nb, nloc, rowSizes, computeType, 0.0), 1);
        Value row = buildGenerated(
            nb, nloc, rowSizes, computeType,
            {rowOf(u, nb.getIndexAttr(valueDim)), seen},
            {identity(4), identity(4)},
            [](OpBuilder &eb, Location eloc, ValueRange e, ValueRange) {
              return arith::SubFOp::create(eb, eloc, e[0], e[1]).getResult();
            });
        SmallVector<OpFoldResult> offsets = {nb.getIndexAttr(0),
                                             nb.getIndexAttr(0), i,
                                             nb.getIndexAttr(0)};
        SmallVector<OpFoldResult> strides(4, nb.getIndexAttr(1));
        Value next = tensor::InsertSliceOp::create(nb, nloc, row, u, offsets,
                                                   rowSizes, strides);
        scf::YieldOp::create(nb, nloc, next);
      });
  return solve.getResult(0);
}

} // namespace attn
