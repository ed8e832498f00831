//===- FeatureMaps.cpp - Feature maps of linear attention -----------------===//
//
// Each map turns rows x [B, H, n, D] (compute type) into features
// [B, H, n, F] with linalg on tensors; the reference and the chunked kernels
// apply the same code to their rows.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn.h"
#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace attn;

namespace {

/// The sizes of `x` [B, H, n, D] with the last one replaced by `features`.
SmallVector<OpFoldResult> featureSizes(OpBuilder &b, Location loc, Value x,
                                       int64_t features) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  sizes.back() = b.getIndexAttr(features);
  return sizes;
}

int64_t headDimOf(Value x) {
  return cast<RankedTensorType>(x.getType()).getDimSize(3);
}

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// x[b, h, n, d] for the loop indices (b, h, n, ...) of a generated tensor.
Value extractRow(OpBuilder &b, Location loc, Value x, ValueRange indices,
                 Value d) {
  return tensor::ExtractOp::create(
      b, loc, x, ValueRange{indices[0], indices[1], indices[2], d});
}

/// (d0, .., d{numDims-1}) -> the listed dims.
AffineMap dimsMap(MLIRContext *ctx, unsigned numDims,
                  ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}

/// x W^T (`transposed`: W is [F, D]) or x W (W is [D, F]) for rows x
/// [B, H, n, D]: [B, H, n, F].
Value projectRows(OpBuilder &b, Location loc, Value x, Value weights,
                  int64_t features, bool transposed, FloatType type) {
  MLIRContext *ctx = b.getContext();
  Value init = buildFilled(b, loc, featureSizes(b, loc, x, features), type, 0);
  // Loops (b, h, n, f, d).
  return buildContraction(
      b, loc, x, dimsMap(ctx, 5, {0, 1, 2, 4}), weights,
      transposed ? dimsMap(ctx, 5, {3, 4}) : dimsMap(ctx, 5, {4, 3}), init,
      /*numReductionLoops=*/1);
}

Value maxOf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MaximumFOp::create(b, loc, x, y);
}
Value minOf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MinimumFOp::create(b, loc, x, y);
}
Value sumOf(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y);
}

} // namespace

//===----------------------------------------------------------------------===//
// EluPlusOneAttr: elu(x) + 1
//===----------------------------------------------------------------------===//

int64_t EluPlusOneAttr::getFeatureDim(int64_t headDim) const {
  return headDim;
}

Value EluPlusOneAttr::buildFeatures(OpBuilder &b, Location loc,
                                    const FeatureMapContext &context,
                                    Value x) const {
  return buildElementwise(
      b, loc, x, context.computeType,
      [](OpBuilder &nb, Location nloc, Value e) -> Value {
        Type type = e.getType();
        Value positive = arith::CmpFOp::create(
            nb, nloc, arith::CmpFPredicate::OGT, e,
            floatConstant(nb, nloc, type, 0.0));
        Value plusOne = arith::AddFOp::create(
            nb, nloc, e, floatConstant(nb, nloc, type, 1.0));
        return arith::SelectOp::create(nb, nloc, positive, plusOne,
                                       math::ExpOp::create(nb, nloc, e));
      });
}

//===----------------------------------------------------------------------===//
// ReluAttr as a feature map: max(x, 0)
//===----------------------------------------------------------------------===//

int64_t ReluAttr::getFeatureDim(int64_t headDim) const { return headDim; }

Value ReluAttr::buildFeatures(OpBuilder &b, Location loc,
                              const FeatureMapContext &context,
                              Value x) const {
  return buildElementwise(b, loc, x, context.computeType,
                          [](OpBuilder &nb, Location nloc, Value e) {
                            return maxOf(nb, nloc, e,
                                         floatConstant(nb, nloc, e.getType(),
                                                       0.0));
                          });
}

//===----------------------------------------------------------------------===//
// FavorAttr: exp(W x' - |x'|^2 / 2) / sqrt(m), x' = x D^(-1/4)
//===----------------------------------------------------------------------===//

LogicalResult FavorAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t features, std::optional<int64_t> seed,
                                bool) {
  if (features <= 0)
    return emitError() << "#attn.favor needs features > 0, got " << features;
  if (seed && *seed < 0)
    return emitError() << "#attn.favor needs seed >= 0, got " << *seed;
  return success();
}

int64_t FavorAttr::getFeatureDim(int64_t) const { return getFeatures(); }

std::optional<SmallVector<int64_t>>
FavorAttr::getWeightsShape(int64_t headDim) const {
  if (getSeed())
    return std::nullopt;
  return SmallVector<int64_t>{getFeatures(), headDim};
}

Value FavorAttr::buildFeatures(OpBuilder &b, Location loc,
                               const FeatureMapContext &context,
                               Value x) const {
  FloatType type = context.computeType;
  int64_t headDim = headDimOf(x), m = getFeatures();
  Value weights = context.weights;
  if (std::optional<int64_t> seed = getSeed()) {
    std::vector<double> w =
        generateFavorWeights(m, headDim, *seed, getOrthogonal());
    SmallVector<Attribute> elements;
    for (double e : w)
      elements.push_back(FloatAttr::get(type, e));
    auto wType = RankedTensorType::get({m, headDim}, type);
    weights = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(wType, elements));
  }
  Value projected =
      projectRows(b, loc, x, weights, m, /*transposed=*/true, type);
  // |x|^2 per row: loops (b, h, n, d).
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> rowSizes = tensor::getMixedSizes(b, loc, x);
  rowSizes.pop_back();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(4, ctx);
  Value squares = buildContraction(b, loc, x, identity, x, identity,
                                   buildFilled(b, loc, rowSizes, type, 0), 1);
  double s = std::pow(double(headDim), -0.25);
  return buildGenerated(
      b, loc, featureSizes(b, loc, x, m), type, {projected, squares},
      {identity, dimsMap(ctx, 4, {0, 1, 2})},
      [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) -> Value {
        // s (w . x) - s^2 |x|^2 / 2
        Value exponent = arith::SubFOp::create(
            nb, nloc,
            arith::MulFOp::create(nb, nloc, e[0],
                                  floatConstant(nb, nloc, type, s)),
            arith::MulFOp::create(nb, nloc, e[1],
                                  floatConstant(nb, nloc, type, s * s / 2)));
        return arith::MulFOp::create(
            nb, nloc, math::ExpOp::create(nb, nloc, exponent),
            floatConstant(nb, nloc, type, 1.0 / std::sqrt(double(m))));
      });
}

namespace {
/// splitmix64 (Steele et al.): a 64-bit state advanced by a constant and
/// mixed; the same stream on every platform.
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in (0, 1].
  double uniform() { return double(next() >> 11) * 0x1.0p-53 + 0x1.0p-53; }

private:
  uint64_t state;
};

/// Standard normals by Box-Muller, two per pair of uniforms.
class NormalStream {
public:
  explicit NormalStream(uint64_t seed) : uniforms(seed) {}
  double next() {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    double radius = std::sqrt(-2.0 * std::log(uniforms.uniform()));
    double angle = 2.0 * M_PI * uniforms.uniform();
    spare = radius * std::sin(angle);
    hasSpare = true;
    return radius * std::cos(angle);
  }

private:
  SplitMix64 uniforms;
  double spare = 0;
  bool hasSpare = false;
};
} // namespace

std::vector<double> attn::generateFavorWeights(int64_t features,
                                               int64_t headDim, uint64_t seed,
                                               bool orthogonal) {
  NormalStream normal(seed);
  std::vector<double> w(features * headDim);
  if (!orthogonal) {
    for (double &e : w)
      e = normal.next();
    return w;
  }
  std::vector<double> block(headDim * headDim);
  for (int64_t first = 0; first < features; first += headDim) {
    for (double &e : block)
      e = normal.next();
    // Modified Gram-Schmidt on the rows.
    for (int64_t r = 0; r < headDim; ++r) {
      double *row = &block[r * headDim];
      for (int64_t p = 0; p < r; ++p) {
        const double *prev = &block[p * headDim];
        double dot = 0;
        for (int64_t c = 0; c < headDim; ++c)
          dot += row[c] * prev[c];
        for (int64_t c = 0; c < headDim; ++c)
          row[c] -= dot * prev[c];
      }
      double norm = 0;
      for (int64_t c = 0; c < headDim; ++c)
        norm += row[c] * row[c];
      norm = std::sqrt(norm);
      for (int64_t c = 0; c < headDim; ++c)
        row[c] /= norm;
    }
    int64_t rows = std::min(headDim, features - first);
    for (int64_t r = 0; r < headDim; ++r) {
      // Every row of the block draws its length, so that a truncated last
      // block leaves the stream where a full one would.
      double length = 0;
      for (int64_t c = 0; c < headDim; ++c) {
        double g = normal.next();
        length += g * g;
      }
      length = std::sqrt(length);
      if (r >= rows)
        continue;
      for (int64_t c = 0; c < headDim; ++c)
        w[(first + r) * headDim + c] = block[r * headDim + c] * length;
    }
  }
  return w;
}

//===----------------------------------------------------------------------===//
// CosformerAttr: [relu(x) cos(pi i / 2M), relu(x) sin(pi i / 2M)]
//===----------------------------------------------------------------------===//

LogicalResult
CosformerAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                      std::optional<int64_t> maxLen) {
  if (maxLen && *maxLen <= 0)
    return emitError() << "#attn.cosformer needs max_len > 0, got " << *maxLen;
  return success();
}

int64_t CosformerAttr::getFeatureDim(int64_t headDim) const {
  return 2 * headDim;
}

bool CosformerAttr::isPositional() const { return true; }

Value CosformerAttr::buildFeatures(OpBuilder &b, Location loc,
                                   const FeatureMapContext &context,
                                   Value x) const {
  FloatType type = context.computeType;
  int64_t headDim = headDimOf(x);
  Value maxLength = getMaxLen() ? indexConstant(b, loc, *getMaxLen())
                                : context.maxLength;
  IndexExprBuilder ib(b, loc, b.getIndexType());
  Value length = indexToFloat(ib, ib.value(maxLength), type);
  Value offset = context.positionOffset;
  return buildGenerated(
      b, loc, featureSizes(b, loc, x, 2 * headDim), type, {}, {},
      [&](OpBuilder &nb, Location nloc, ValueRange,
          ValueRange indices) -> Value {
        Value f = indices[3];
        Value dim = indexConstant(nb, nloc, headDim);
        Value d = arith::RemUIOp::create(nb, nloc, f, dim);
        Value isCos =
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ult, f, dim);
        Value e = maxOf(nb, nloc, extractRow(nb, nloc, x, indices, d),
                        floatConstant(nb, nloc, type, 0.0));
        IndexExprBuilder nib(nb, nloc, nb.getIndexType());
        Value position = indexToFloat(
            nib, nib.value(arith::AddIOp::create(nb, nloc, offset, indices[2])),
            type);
        Value angle = arith::DivFOp::create(
            nb, nloc,
            arith::MulFOp::create(nb, nloc, position,
                                  floatConstant(nb, nloc, type, M_PI / 2)),
            length);
        Value weight = arith::SelectOp::create(
            nb, nloc, isCos, math::CosOp::create(nb, nloc, angle),
            math::SinOp::create(nb, nloc, angle));
        return arith::MulFOp::create(nb, nloc, e, weight);
      });
}

//===----------------------------------------------------------------------===//
// HedgehogAttr: [softmax(x W), softmax(-x W)]
//===----------------------------------------------------------------------===//

LogicalResult
HedgehogAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                     int64_t features) {
  if (features <= 0)
    return emitError() << "#attn.hedgehog needs features > 0, got "
                       << features;
  return success();
}

int64_t HedgehogAttr::getFeatureDim(int64_t) const {
  return 2 * getFeatures();
}

std::optional<SmallVector<int64_t>>
HedgehogAttr::getWeightsShape(int64_t headDim) const {
  return SmallVector<int64_t>{headDim, getFeatures()};
}

Value HedgehogAttr::buildFeatures(OpBuilder &b, Location loc,
                                  const FeatureMapContext &context,
                                  Value x) const {
  FloatType type = context.computeType;
  int64_t half = getFeatures();
  MLIRContext *ctx = b.getContext();
  Value z = projectRows(b, loc, x, context.weights, half,
                        /*transposed=*/false, type);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  Value rowMax = buildLastDimReduction(b, loc, z, -kInf, maxOf);
  Value rowMin = buildLastDimReduction(b, loc, z, kInf, minOf);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(4, ctx);
  AffineMap row = dimsMap(ctx, 4, {0, 1, 2});
  // exp(z - max z) and exp(min z - z): the softmaxes of z and -z before
  // division.
  auto exponentials = [&](Value bound, bool negate) {
    return buildGenerated(
        b, loc, tensor::getMixedSizes(b, loc, z), type, {z, bound},
        {identity, row},
        [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) -> Value {
          Value diff = negate ? arith::SubFOp::create(nb, nloc, e[1], e[0])
                              : arith::SubFOp::create(nb, nloc, e[0], e[1]);
          return math::ExpOp::create(nb, nloc, diff);
        });
  };
  Value positive = exponentials(rowMax, false);
  Value negative = exponentials(rowMin, true);
  Value positiveSum = buildLastDimReduction(b, loc, positive, 0.0, sumOf);
  Value negativeSum = buildLastDimReduction(b, loc, negative, 0.0, sumOf);
  return buildGenerated(
      b, loc, featureSizes(b, loc, x, 2 * half), type,
      {positiveSum, negativeSum}, {row, row},
      [&](OpBuilder &nb, Location nloc, ValueRange sums,
          ValueRange indices) -> Value {
        Value f = indices[3];
        Value halfSize = indexConstant(nb, nloc, half);
        Value g = arith::RemUIOp::create(nb, nloc, f, halfSize);
        Value isPositive = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::ult, f, halfSize);
        Value numerator = arith::SelectOp::create(
            nb, nloc, isPositive, extractRow(nb, nloc, positive, indices, g),
            extractRow(nb, nloc, negative, indices, g));
        Value sum =
            arith::SelectOp::create(nb, nloc, isPositive, sums[0], sums[1]);
        return arith::DivFOp::create(nb, nloc, numerator, sum);
      });
}

//===----------------------------------------------------------------------===//
// TaylorAttr: [1, x / D^(1/4), vec(x x^T) / (sqrt(2) sqrt(D))]
//===----------------------------------------------------------------------===//

LogicalResult TaylorAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t order) {
  if (order != 1 && order != 2)
    return emitError() << "#attn.taylor supports order 1 or 2, got " << order;
  return success();
}

int64_t TaylorAttr::getFeatureDim(int64_t headDim) const {
  return 1 + headDim + (getOrder() == 2 ? headDim * headDim : 0);
}

Value TaylorAttr::buildFeatures(OpBuilder &b, Location loc,
                                const FeatureMapContext &context,
                                Value x) const {
  FloatType type = context.computeType;
  int64_t headDim = headDimOf(x);
  double linear = std::pow(double(headDim), -0.25);
  double quadratic = 1.0 / (std::sqrt(2.0) * std::sqrt(double(headDim)));
  return buildGenerated(
      b, loc, featureSizes(b, loc, x, getFeatureDim(headDim)), type, {}, {},
      [&](OpBuilder &nb, Location nloc, ValueRange,
          ValueRange indices) -> Value {
        Value f = indices[3];
        Value zero = indexConstant(nb, nloc, 0);
        Value one = indexConstant(nb, nloc, 1);
        Value dim = indexConstant(nb, nloc, headDim);
        // Feature 1 + d is x[d]; feature 1 + D + (a D + c) is x[a] x[c].
        // Indices are clamped so every read is in bounds; selects pick.
        Value shifted = arith::MaxSIOp::create(
            nb, nloc, arith::SubIOp::create(nb, nloc, f, one), zero);
        Value isLinear = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::ult, shifted, dim);
        Value first = extractRow(
            nb, nloc, x, indices,
            arith::MinSIOp::create(
                nb, nloc, shifted,
                arith::SubIOp::create(nb, nloc, dim, one)));
        Value value = arith::MulFOp::create(
            nb, nloc, first, floatConstant(nb, nloc, type, linear));
        if (getOrder() == 2) {
          Value pair = arith::MaxSIOp::create(
              nb, nloc, arith::SubIOp::create(nb, nloc, shifted, dim), zero);
          Value a = extractRow(nb, nloc, x, indices,
                               arith::DivUIOp::create(nb, nloc, pair, dim));
          Value c = extractRow(nb, nloc, x, indices,
                               arith::RemUIOp::create(nb, nloc, pair, dim));
          Value product = arith::MulFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, a, c),
              floatConstant(nb, nloc, type, quadratic));
          value = arith::SelectOp::create(nb, nloc, isLinear, value, product);
        }
        Value isConstant = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::eq, f, zero);
        return arith::SelectOp::create(
            nb, nloc, isConstant, floatConstant(nb, nloc, type, 1.0), value);
      });
}
