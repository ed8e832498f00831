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
#include "mlir/Dialect/SCF/IR/SCF.h"
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
/// [B, H, n, D]: [B, H, n, F]. The loops put innermost the dimension that
/// W's rows hold: a dot product per feature (loops (b, h, n, f, d)) for
/// W^T, a row of features updated per element of x (loops (b, h, n, d, f),
/// vector updates without horizontal sums) for W.
Value projectRows(OpBuilder &b, Location loc, Value x, Value weights,
                  int64_t features, bool transposed, FloatType type) {
  MLIRContext *ctx = b.getContext();
  Value init = buildFilled(b, loc, featureSizes(b, loc, x, features), type, 0);
  if (transposed)
    return buildContraction(b, loc, x, dimsMap(ctx, 5, {0, 1, 2, 4}), weights,
                            dimsMap(ctx, 5, {3, 4}), init,
                            /*numReductionLoops=*/1);
  auto par = utils::IteratorType::parallel;
  return buildContraction(b, loc, x, dimsMap(ctx, 5, {0, 1, 2, 3}), weights,
                          dimsMap(ctx, 5, {3, 4}), init,
                          dimsMap(ctx, 5, {0, 1, 2, 4}),
                          {par, par, par, utils::IteratorType::reduction, par});
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

Value eluPlusOne(OpBuilder &b, Location loc, Value e) {
  Type type = e.getType();
  Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, e,
                                         floatConstant(b, loc, type, 0.0));
  Value plusOne =
      arith::AddFOp::create(b, loc, e, floatConstant(b, loc, type, 1.0));
  return arith::SelectOp::create(b, loc, positive, plusOne,
                                 math::ExpOp::create(b, loc, e));
}

Value relu(OpBuilder &b, Location loc, Value e) {
  return maxOf(b, loc, e, floatConstant(b, loc, e.getType(), 0.0));
}

/// Features [B, H, n, F] of rows x [B, H, n, D] built one element at a time
/// by `map`'s buildFeature, row r at position `offset + r`.
Value buildFeaturesByElement(OpBuilder &b, Location loc,
                             FeatureMapAttrInterface map,
                             const FeatureMapContext &context, Value x) {
  int64_t headDim = headDimOf(x);
  return buildGenerated(
      b, loc, featureSizes(b, loc, x, map.getFeatureDim(headDim)),
      context.computeType, {}, {},
      [&](OpBuilder &nb, Location nloc, ValueRange,
          ValueRange indices) -> Value {
        auto element = [&](OpBuilder &eb, Location eloc, Value d) {
          return extractRow(eb, eloc, x, indices, d);
        };
        FeatureElementContext row{
            context.computeType, headDim, element, {},
            arith::AddIOp::create(nb, nloc, context.positionOffset,
                                  indices[2]),
            context.maxLength};
        return map.buildFeature(nb, nloc, row, indices[3]);
      });
}

} // namespace

//===----------------------------------------------------------------------===//
// IdentityAttr: x
//===----------------------------------------------------------------------===//

int64_t IdentityAttr::getFeatureDim(int64_t headDim) const { return headDim; }

Value IdentityAttr::buildFeatures(OpBuilder &b, Location loc,
                                  const FeatureMapContext &context,
                                  Value x) const {
  return x;
}

Value IdentityAttr::buildFeature(OpBuilder &b, Location loc,
                                 const FeatureElementContext &context,
                                 Value feature) const {
  return context.element(b, loc, feature);
}

//===----------------------------------------------------------------------===//
// L2NormalizeAttr: x / sqrt(|x|^2 + 1e-6)
//===----------------------------------------------------------------------===//

int64_t L2NormalizeAttr::getFeatureDim(int64_t headDim) const {
  return headDim;
}

Value L2NormalizeAttr::buildFeatures(OpBuilder &b, Location loc,
                                     const FeatureMapContext &context,
                                     Value x) const {
  FloatType type = context.computeType;
  Value squares = buildElementwise(
      b, loc, x, type, [](OpBuilder &nb, Location nloc, Value e) {
        return arith::MulFOp::create(nb, nloc, e, e).getResult();
      });
  Value norms = buildLastDimReduction(b, loc, squares, 0.0, sumOf);
  MLIRContext *ctx = b.getContext();
  return buildGenerated(
      b, loc, tensor::getMixedSizes(b, loc, x), type, {x, norms},
      {AffineMap::getMultiDimIdentityMap(4, ctx), dimsMap(ctx, 4, {0, 1, 2})},
      [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) -> Value {
        Value norm = math::RsqrtOp::create(
            nb, nloc,
            arith::AddFOp::create(nb, nloc, e[1],
                                  floatConstant(nb, nloc, type, 1e-6)));
        return arith::MulFOp::create(nb, nloc, e[0], norm);
      });
}

//===----------------------------------------------------------------------===//
// EluPlusOneAttr: elu(x) + 1
//===----------------------------------------------------------------------===//

int64_t EluPlusOneAttr::getFeatureDim(int64_t headDim) const {
  return headDim;
}

Value EluPlusOneAttr::buildFeatures(OpBuilder &b, Location loc,
                                    const FeatureMapContext &context,
                                    Value x) const {
  return buildElementwise(b, loc, x, context.computeType, eluPlusOne);
}

Value EluPlusOneAttr::buildFeature(OpBuilder &b, Location loc,
                                   const FeatureElementContext &context,
                                   Value feature) const {
  return eluPlusOne(b, loc, context.element(b, loc, feature));
}

//===----------------------------------------------------------------------===//
// ReluAttr as a feature map: max(x, 0)
//===----------------------------------------------------------------------===//

int64_t ReluAttr::getFeatureDim(int64_t headDim) const { return headDim; }

Value ReluAttr::buildFeatures(OpBuilder &b, Location loc,
                              const FeatureMapContext &context,
                              Value x) const {
  return buildElementwise(b, loc, x, context.computeType, relu);
}

Value ReluAttr::buildFeature(OpBuilder &b, Location loc,
                             const FeatureElementContext &context,
                             Value feature) const {
  return relu(b, loc, context.element(b, loc, feature));
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

std::optional<std::vector<double>>
FavorAttr::getBuiltinWeights(int64_t headDim) const {
  if (std::optional<int64_t> seed = getSeed())
    return generateFavorWeights(getFeatures(), headDim, *seed,
                                getOrthogonal());
  return std::nullopt;
}

Value attn::buildRowFeatures(OpBuilder &b, Location loc,
                             FeatureMapAttrInterface map,
                             const FeatureMapContext &context, Value rows) {
  FloatType type = context.computeType;
  Value x = buildElementwise(b, loc, rows, type,
                             [&](OpBuilder &nb, Location nloc, Value e) {
                               return convertFloat(nb, nloc, e, type);
                             });
  return map.buildFeatures(b, loc, context, x);
}

// Positive features: exp(...) / sqrt(m) > 0.
bool FavorAttr::estimatesSoftmaxWeight() const { return true; }

namespace {
/// exp(s (w . x) - s^2 |x|^2 / 2) / sqrt(m), s = D^(-1/4).
Value favorFeature(OpBuilder &b, Location loc, Value projection,
                   Value squaredNorm, int64_t headDim, int64_t features) {
  Type type = projection.getType();
  double s = std::pow(double(headDim), -0.25);
  Value scaled =
      arith::MulFOp::create(b, loc, projection, floatConstant(b, loc, type, s));
  Value halfNorm = arith::MulFOp::create(
      b, loc, squaredNorm, floatConstant(b, loc, type, s * s / 2));
  Value exponent = arith::SubFOp::create(b, loc, scaled, halfNorm);
  Value feature = math::ExpOp::create(b, loc, exponent);
  return arith::MulFOp::create(
      b, loc, feature,
      floatConstant(b, loc, type, 1.0 / std::sqrt(double(features))));
}
} // namespace

Value FavorAttr::buildFeatures(OpBuilder &b, Location loc,
                               const FeatureMapContext &context,
                               Value x) const {
  FloatType type = context.computeType;
  int64_t headDim = headDimOf(x), m = getFeatures();
  Value weights = context.weights;
  // Generated weights are laid out as W^T [D, m], which projects with
  // vector updates; an operand W [m, D] projects by dot products.
  bool transposed = true;
  if (std::optional<std::vector<double>> w = getBuiltinWeights(headDim)) {
    SmallVector<Attribute> elements;
    for (int64_t d = 0; d < headDim; ++d)
      for (int64_t f = 0; f < m; ++f)
        elements.push_back(FloatAttr::get(type, (*w)[f * headDim + d]));
    auto wType = RankedTensorType::get({headDim, m}, type);
    weights = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(wType, elements));
    transposed = false;
  }
  Value projected = projectRows(b, loc, x, weights, m, transposed, type);
  // |x|^2 per row: loops (b, h, n, d).
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> rowSizes = tensor::getMixedSizes(b, loc, x);
  rowSizes.pop_back();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(4, ctx);
  Value squares = buildContraction(b, loc, x, identity, x, identity,
                                   buildFilled(b, loc, rowSizes, type, 0), 1);
  return buildGenerated(
      b, loc, featureSizes(b, loc, x, m), type, {projected, squares},
      {identity, dimsMap(ctx, 4, {0, 1, 2})},
      [&](OpBuilder &nb, Location nloc, ValueRange e, ValueRange) -> Value {
        return favorFeature(nb, nloc, e[0], e[1], headDim, m);
      });
}

Value FavorAttr::buildFeature(OpBuilder &b, Location loc,
                              const FeatureElementContext &context,
                              Value feature) const {
  // w_f . x and |x|^2 in one pass over the row.
  Value zero = floatConstant(b, loc, context.computeType, 0.0);
  Value begin = indexConstant(b, loc, 0);
  Value end = indexConstant(b, loc, context.headDim);
  Value step = indexConstant(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, begin, end, step, ValueRange{zero, zero},
      [&](OpBuilder &nb, Location nloc, Value d, ValueRange sums) {
        Value x = context.element(nb, nloc, d);
        Value w = context.weight(nb, nloc, feature, d);
        Value dot = math::FmaOp::create(nb, nloc, w, x, sums[0]);
        Value norm = math::FmaOp::create(nb, nloc, x, x, sums[1]);
        scf::YieldOp::create(nb, nloc, ValueRange{dot, norm});
      });
  return favorFeature(b, loc, loop.getResult(0), loop.getResult(1),
                      context.headDim, getFeatures());
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
  return buildFeaturesByElement(b, loc, *this, context, x);
}

Value CosformerAttr::buildFeature(OpBuilder &b, Location loc,
                                  const FeatureElementContext &context,
                                  Value feature) const {
  FloatType type = context.computeType;
  Value maxLength = getMaxLen() ? indexConstant(b, loc, *getMaxLen())
                                : context.maxLength;
  IndexExprBuilder ib(b, loc, b.getIndexType());
  Value length = indexToFloat(ib, ib.value(maxLength), type);
  Value dim = indexConstant(b, loc, context.headDim);
  Value d = arith::RemUIOp::create(b, loc, feature, dim);
  Value isCos =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, feature, dim);
  Value e = relu(b, loc, context.element(b, loc, d));
  Value position = indexToFloat(ib, ib.value(context.position), type);
  Value angle = arith::DivFOp::create(
      b, loc,
      arith::MulFOp::create(b, loc, position,
                            floatConstant(b, loc, type, M_PI / 2)),
      length);
  Value cos = math::CosOp::create(b, loc, angle);
  Value sin = math::SinOp::create(b, loc, angle);
  Value weight = arith::SelectOp::create(b, loc, isCos, cos, sin);
  return arith::MulFOp::create(b, loc, e, weight);
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
        Value positiveRow = extractRow(nb, nloc, positive, indices, g);
        Value negativeRow = extractRow(nb, nloc, negative, indices, g);
        Value numerator = arith::SelectOp::create(nb, nloc, isPositive,
                                                  positiveRow, negativeRow);
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
  return buildFeaturesByElement(b, loc, *this, context, x);
}

// Order 2's 1 + x + x^2 / 2 is at least 1/2; order 1's 1 + x is negative
// for x < -1.
bool TaylorAttr::estimatesSoftmaxWeight() const { return getOrder() == 2; }

Value TaylorAttr::buildFeature(OpBuilder &b, Location loc,
                               const FeatureElementContext &context,
                               Value feature) const {
  FloatType type = context.computeType;
  int64_t headDim = context.headDim;
  double linear = std::pow(double(headDim), -0.25);
  double quadratic = 1.0 / (std::sqrt(2.0) * std::sqrt(double(headDim)));
  Value zero = indexConstant(b, loc, 0);
  Value one = indexConstant(b, loc, 1);
  Value dim = indexConstant(b, loc, headDim);
  // Feature 1 + d is x[d]; feature 1 + D + (a D + c) is x[a] x[c].
  // Indices are clamped so every read is in bounds; selects pick.
  Value shifted = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, feature, one), zero);
  Value isLinear =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, shifted, dim);
  Value first = context.element(
      b, loc,
      arith::MinSIOp::create(b, loc, shifted,
                             arith::SubIOp::create(b, loc, dim, one)));
  Value value = arith::MulFOp::create(b, loc, first,
                                      floatConstant(b, loc, type, linear));
  if (getOrder() == 2) {
    Value pair = arith::MaxSIOp::create(
        b, loc, arith::SubIOp::create(b, loc, shifted, dim), zero);
    Value a = context.element(b, loc, arith::DivUIOp::create(b, loc, pair, dim));
    Value c = context.element(b, loc, arith::RemUIOp::create(b, loc, pair, dim));
    Value pairProduct = arith::MulFOp::create(b, loc, a, c);
    Value product = arith::MulFOp::create(
        b, loc, pairProduct, floatConstant(b, loc, type, quadratic));
    value = arith::SelectOp::create(b, loc, isLinear, value, product);
  }
  Value isConstant =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, feature, zero);
  return arith::SelectOp::create(b, loc, isConstant,
                                 floatConstant(b, loc, type, 1.0), value);
}
