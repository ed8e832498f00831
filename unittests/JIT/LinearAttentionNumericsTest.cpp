//===- LinearAttentionNumericsTest.cpp - linear attention vs float64 ------===//
//
// Every case compiles an attn.linear_attention spec through the CPU pipeline
// (attn-linear-chunked, at several chunk sizes), runs it on fresh random data
// and compares with a float64 recurrence written here (S_i = gamma S_{i-1} +
// phi(k_i) v_i^T, token by token), with its own definition of every feature
// map. Also: processing a sequence in two pieces with state passing equals
// one run, and FAVOR+ approaches softmax attention as the number of random
// features grows.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/FeatureMapSupport.h"
#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include "NumericsSupport.h"

#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace attn;
using attn::test::fromDoubles;
using attn::test::tensorType;
using attn::test::tolerance;
using runtime::DType;

namespace {

enum class Map {
  EluPlusOne,
  Relu,
  Favor,
  Cosformer,
  Hedgehog,
  Taylor,
  Identity,
  L2Normalize
};

/// A gate operand: none, one log-space gate per token (and head), or one
/// per token and feature.
enum class Gate { None, Token, Feature };

struct LinearCase {
  std::string name;
  int64_t batch, qHeads, kvHeads, qLen, kvLen, headDim, valueDim;
  DType dtype = DType::F32;
  Map map = Map::EluPlusOne;
  /// Random features of FAVOR+, Hedgehog's projection width, Taylor's order.
  int64_t features = 0;
  /// FAVOR+: generate W from this seed instead of passing it.
  std::optional<int64_t> favorSeed;
  bool orthogonal = true;
  bool causal = false;
  bool decay = false;
  bool denominator = true;
  bool initialState = false;
  bool finalState = false;
  bool dynamic = false;
  /// q and k are drawn from N(0, inputScale^2).
  double inputScale = 1.0;
  /// Every element of these query rows is negative (with relu features the
  /// row has no feature at all: o = 0).
  std::vector<int64_t> negativeQueryRows;
  std::optional<int64_t> cosformerMaxLen;
  /// The eps attribute (default 1e-6).
  std::optional<double> eps;
  /// The scale attribute (default D^-1/2 for identity features, else 1).
  std::optional<double> scale;
  Gate gate = Gate::None;
  /// The delta rule, with write strengths beta drawn from (0, 1).
  bool delta = false;
  /// Gates are drawn uniformly from [gateLow, gateHigh].
  double gateLow = -1.0, gateHigh = 0.05;
};

void PrintTo(const LinearCase &c, std::ostream *os) { *os << c.name; }

int64_t featureDim(const LinearCase &c) {
  switch (c.map) {
  case Map::Favor:
    return c.features;
  case Map::Cosformer:
    return 2 * c.headDim;
  case Map::Hedgehog:
    return 2 * c.features;
  case Map::Taylor:
    return 1 + c.headDim + (c.features == 2 ? c.headDim * c.headDim : 0);
  default:
    return c.headDim;
  }
}

DType computeDType(const LinearCase &c) {
  return c.dtype == DType::F64 ? DType::F64 : DType::F32;
}

/// Shape of the feature_weights operand, empty when the map reads none.
std::vector<int64_t> weightsShape(const LinearCase &c) {
  if (c.map == Map::Favor && !c.favorSeed)
    return {c.features, c.headDim};
  if (c.map == Map::Hedgehog)
    return {c.headDim, c.features};
  return {};
}

std::string featureMapText(const LinearCase &c) {
  switch (c.map) {
  case Map::EluPlusOne:
    return "#attn.elu_plus_one";
  case Map::Relu:
    return "#attn.relu";
  case Map::Favor: {
    std::string s = "#attn.favor<features = " + std::to_string(c.features);
    if (c.favorSeed)
      s += ", seed = " + std::to_string(*c.favorSeed);
    return s + ", orthogonal = " + (c.orthogonal ? "true" : "false") + ">";
  }
  case Map::Cosformer:
    return c.cosformerMaxLen ? "#attn.cosformer<max_len = " +
                                   std::to_string(*c.cosformerMaxLen) + ">"
                             : "#attn.cosformer";
  case Map::Hedgehog:
    return "#attn.hedgehog<features = " + std::to_string(c.features) + ">";
  case Map::Taylor:
    return "#attn.taylor<order = " + std::to_string(c.features) + ">";
  case Map::Identity:
    return "#attn.identity";
  case Map::L2Normalize:
    return "#attn.l2_normalize";
  }
  return "";
}

std::string specText(const LinearCase &c) {
  bool dyn = c.dynamic;
  const bool seqDyn[] = {dyn, false, dyn, false};
  DType acc = computeDType(c);
  int64_t f = featureDim(c);
  std::string qT = tensorType({c.batch, c.qHeads, c.qLen, c.headDim}, c.dtype,
                              seqDyn);
  std::string kT = tensorType({c.batch, c.kvHeads, c.kvLen, c.headDim},
                              c.dtype, seqDyn);
  std::string vT = tensorType({c.batch, c.kvHeads, c.kvLen, c.valueDim},
                              c.dtype, seqDyn);
  std::string oT = tensorType({c.batch, c.qHeads, c.qLen, c.valueDim}, c.dtype,
                              seqDyn);
  std::string sT = tensorType({c.batch, c.qHeads, f, c.valueDim}, acc, {dyn});
  std::string zT = tensorType({c.batch, c.qHeads, f}, acc, {dyn});
  std::string args = "%q: " + qT + ", %k: " + kT + ", %v: " + vT;
  std::string attrs = " feature_map(" + featureMapText(c) + ")";
  if (std::vector<int64_t> w = weightsShape(c); !w.empty()) {
    args += ", %w: " + tensorType(w, acc);
    attrs += " feature_weights(%w : " + tensorType(w, acc) + ")";
  }
  if (c.causal)
    attrs += " causal";
  if (c.decay) {
    std::string gT = tensorType({c.qHeads}, acc);
    args += ", %gamma: " + gT;
    attrs += " decay(%gamma : " + gT + ")";
  }
  if (c.gate != Gate::None) {
    std::vector<int64_t> shape = {c.batch, c.qHeads, c.qLen};
    llvm::SmallVector<bool, 4> dims = {dyn, false, dyn};
    if (c.gate == Gate::Feature) {
      shape.push_back(f);
      dims.push_back(false);
    }
    std::string gT = tensorType(shape, acc, dims);
    args += ", %g: " + gT;
    attrs += " gate(%g : " + gT + ")";
  }
  if (c.delta) {
    std::string bT = tensorType({c.batch, c.qHeads, c.qLen}, acc,
                                llvm::SmallVector<bool, 4>{dyn, false, dyn});
    args += ", %beta: " + bT;
    attrs += " delta_rule(%beta : " + bT + ")";
  }
  if (c.scale)
    attrs += llvm::formatv(" scale({0:e})", *c.scale).str();
  if (!c.denominator)
    attrs += " normalization(none)";
  if (c.eps)
    attrs += llvm::formatv(" eps({0:e})", *c.eps).str();
  if (c.initialState) {
    args += ", %s0: " + sT;
    attrs += " initial_state(%s0 : " + sT + ")";
    if (c.denominator) {
      args += ", %z0: " + zT;
      attrs += " initial_normalizer(%z0 : " + zT + ")";
    }
  }
  std::string results = oT, names = "%o";
  if (c.finalState) {
    results += ", " + sT;
    names += ", %s";
    if (c.denominator) {
      results += ", " + zT;
      names += ", %z";
    }
  }
  return llvm::formatv("func.func @linear({0}) -> ({1}) {{\n"
                       "  {2} = attn.linear_attention %q, %k, %v{3}\n"
                       "      : {4}, {5}, {6} -> {1}\n"
                       "  return {2} : {1}\n}\n",
                       args, results, names, attrs, qT, kT, vT)
      .str();
}

/// The inputs of a case, in the order of the spec's arguments.
struct Inputs {
  HostTensor q, k, v, weights, decay, gate, beta, s0, z0;

  std::vector<runtime::TensorRef> refs() {
    std::vector<runtime::TensorRef> r;
    for (HostTensor *t :
         {&q, &k, &v, &weights, &decay, &gate, &beta, &s0, &z0})
      if (!t->shape().empty())
        r.push_back(t->ref());
    return r;
  }
};

HostTensor scaledNormal(DType dtype, std::vector<int64_t> shape, double scale,
                        std::mt19937_64 &rng) {
  HostTensor t(dtype, std::move(shape));
  std::normal_distribution<double> normal(0.0, scale);
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.set(i, normal(rng));
  return t;
}

Inputs makeInputs(const LinearCase &c, std::mt19937_64 &rng) {
  Inputs in;
  in.q = scaledNormal(c.dtype, {c.batch, c.qHeads, c.qLen, c.headDim},
                      c.inputScale, rng);
  in.k = scaledNormal(c.dtype, {c.batch, c.kvHeads, c.kvLen, c.headDim},
                      c.inputScale, rng);
  in.v = HostTensor::randomNormal(c.dtype,
                                  {c.batch, c.kvHeads, c.kvLen, c.valueDim},
                                  rng);
  for (int64_t row : c.negativeQueryRows)
    for (int64_t bh = 0; bh < c.batch * c.qHeads; ++bh)
      for (int64_t d = 0; d < c.headDim; ++d) {
        int64_t i = (bh * c.qLen + row) * c.headDim + d;
        in.q.set(i, -std::abs(in.q.at(i)) - 0.25);
      }
  DType acc = computeDType(c);
  if (std::vector<int64_t> w = weightsShape(c); !w.empty())
    in.weights = HostTensor::randomNormal(acc, w, rng);
  if (c.decay) {
    std::uniform_real_distribution<double> gamma(0.8, 1.0);
    in.decay = HostTensor(acc, {c.qHeads});
    for (int64_t h = 0; h < c.qHeads; ++h)
      in.decay.set(h, gamma(rng));
  }
  if (c.gate != Gate::None) {
    std::vector<int64_t> shape = {c.batch, c.qHeads, c.qLen};
    if (c.gate == Gate::Feature)
      shape.push_back(featureDim(c));
    std::uniform_real_distribution<double> logGate(c.gateLow, c.gateHigh);
    in.gate = HostTensor(acc, shape);
    for (int64_t i = 0; i < in.gate.numElements(); ++i)
      in.gate.set(i, logGate(rng));
  }
  if (c.delta) {
    std::uniform_real_distribution<double> strength(0.0, 1.0);
    in.beta = HostTensor(acc, {c.batch, c.qHeads, c.qLen});
    for (int64_t i = 0; i < in.beta.numElements(); ++i)
      in.beta.set(i, strength(rng));
  }
  if (c.initialState) {
    int64_t f = featureDim(c);
    in.s0 = HostTensor::randomNormal(acc, {c.batch, c.qHeads, f, c.valueDim},
                                     rng);
    if (c.denominator) {
      // A normalizer is a sum of positive features: keep it positive.
      std::uniform_real_distribution<double> positive(0.5, 2.0);
      in.z0 = HostTensor(acc, {c.batch, c.qHeads, f});
      for (int64_t i = 0; i < in.z0.numElements(); ++i)
        in.z0.set(i, positive(rng));
    }
  }
  return in;
}

//===----------------------------------------------------------------------===//
// The float64 reference
//===----------------------------------------------------------------------===//

using Vec = std::vector<double>;

/// phi(x) for the row at sequence position `pos`; `w` holds the case's
/// weights ([m, D] for FAVOR+, [D, F] for Hedgehog).
Vec features(const LinearCase &c, const Vec &x, int64_t pos, const Vec &w) {
  int64_t d = c.headDim;
  Vec phi;
  switch (c.map) {
  case Map::EluPlusOne:
    for (double e : x)
      phi.push_back(e > 0 ? e + 1 : std::exp(e));
    break;
  case Map::Relu:
    for (double e : x)
      phi.push_back(std::max(e, 0.0));
    break;
  case Map::Favor: {
    double s = std::pow(double(d), -0.25), norm = 0;
    for (double e : x)
      norm += (s * e) * (s * e);
    for (int64_t r = 0; r < c.features; ++r) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i)
        dot += w[r * d + i] * s * x[i];
      phi.push_back(std::exp(dot - norm / 2) / std::sqrt(double(c.features)));
    }
    break;
  }
  case Map::Cosformer: {
    double m = c.cosformerMaxLen ? double(*c.cosformerMaxLen)
                                 : double(std::max(c.qLen, c.kvLen));
    double angle = M_PI * double(pos) / (2 * m);
    for (double e : x)
      phi.push_back(std::max(e, 0.0) * std::cos(angle));
    for (double e : x)
      phi.push_back(std::max(e, 0.0) * std::sin(angle));
    break;
  }
  case Map::Hedgehog: {
    Vec z(c.features, 0.0);
    for (int64_t f = 0; f < c.features; ++f)
      for (int64_t i = 0; i < d; ++i)
        z[f] += x[i] * w[i * c.features + f];
    for (double sign : {1.0, -1.0}) {
      double top = -INFINITY, sum = 0;
      for (double e : z)
        top = std::max(top, sign * e);
      for (double e : z)
        sum += std::exp(sign * e - top);
      for (double e : z)
        phi.push_back(std::exp(sign * e - top) / sum);
    }
    break;
  }
  case Map::Identity:
    phi = x;
    break;
  case Map::L2Normalize: {
    double norm = 1e-6;
    for (double e : x)
      norm += e * e;
    for (double e : x)
      phi.push_back(e / std::sqrt(norm));
    break;
  }
  case Map::Taylor: {
    phi.push_back(1.0);
    for (double e : x)
      phi.push_back(e / std::pow(double(d), 0.25));
    if (c.features == 2)
      for (double a : x)
        for (double b : x)
          phi.push_back(a * b / (std::sqrt(2.0) * std::sqrt(double(d))));
    break;
  }
  }
  return phi;
}

struct Reference {
  std::vector<double> o, s, z;
};

Vec row(const HostTensor &t, int64_t index, int64_t width) {
  Vec r(width);
  for (int64_t i = 0; i < width; ++i)
    r[i] = t.at(index * width + i);
  return r;
}

/// The recurrence, one token at a time.
Reference reference(const LinearCase &c, const Inputs &in) {
  int64_t f = featureDim(c), dv = c.valueDim, group = c.qHeads / c.kvHeads;
  double eps = c.eps.value_or(1e-6);
  Vec w;
  if (c.map == Map::Favor && c.favorSeed)
    w = generateFavorWeights(c.features, c.headDim, *c.favorSeed, c.orthogonal);
  else if (!in.weights.shape().empty())
    for (int64_t i = 0; i < in.weights.numElements(); ++i)
      w.push_back(in.weights.at(i));
  Reference ref;
  ref.o.assign(c.batch * c.qHeads * c.qLen * dv, 0.0);
  ref.s.assign(c.batch * c.qHeads * f * dv, 0.0);
  ref.z.assign(c.batch * c.qHeads * f, 0.0);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.qHeads; ++h) {
      int64_t bh = b * c.qHeads + h, kvh = b * c.kvHeads + h / group;
      Vec s(f * dv, 0.0), z(f, 0.0);
      if (c.initialState) {
        s = row(in.s0, bh, f * dv);
        if (c.denominator)
          z = row(in.z0, bh, f);
      }
      double gamma = c.decay ? in.decay.at(h) : 1.0;
      // The factor on the state's feature a before key j: gamma or a gate.
      auto decayOf = [&](int64_t j, int64_t a) {
        if (c.gate == Gate::Token)
          return std::exp(in.gate.at(bh * c.qLen + j));
        if (c.gate == Gate::Feature)
          return std::exp(in.gate.at((bh * c.qLen + j) * f + a));
        return gamma;
      };
      bool raw = c.map == Map::Identity || c.map == Map::L2Normalize;
      double scale =
          c.scale.value_or(raw ? 1.0 / std::sqrt(double(c.headDim)) : 1.0);
      auto addKey = [&](int64_t j) {
        Vec phiK = features(c, row(in.k, kvh * c.kvLen + j, c.headDim), j, w);
        Vec vj = row(in.v, kvh * c.kvLen + j, dv);
        if (c.delta) {
          // S = a S; u = beta (v - S^T k); S += k u^T.
          for (int64_t a = 0; a < f; ++a)
            for (int64_t e = 0; e < dv; ++e)
              s[a * dv + e] *= decayOf(j, a);
          double strength = in.beta.at(bh * c.qLen + j);
          for (int64_t e = 0; e < dv; ++e) {
            double seen = 0;
            for (int64_t a = 0; a < f; ++a)
              seen += s[a * dv + e] * phiK[a];
            double u = strength * (vj[e] - seen);
            for (int64_t a = 0; a < f; ++a)
              s[a * dv + e] += phiK[a] * u;
          }
          return;
        }
        for (int64_t a = 0; a < f; ++a) {
          double decay = decayOf(j, a);
          z[a] = decay * z[a] + phiK[a];
          for (int64_t e = 0; e < dv; ++e)
            s[a * dv + e] = decay * s[a * dv + e] + phiK[a] * vj[e];
        }
      };
      auto output = [&](int64_t i) {
        Vec phiQ = features(c, row(in.q, bh * c.qLen + i, c.headDim), i, w);
        for (double &e : phiQ)
          e *= scale;
        double den = 0;
        for (int64_t a = 0; a < f; ++a)
          den += phiQ[a] * z[a];
        for (int64_t e = 0; e < dv; ++e) {
          double num = 0;
          for (int64_t a = 0; a < f; ++a)
            num += phiQ[a] * s[a * dv + e];
          ref.o[(bh * c.qLen + i) * dv + e] =
              c.denominator ? num / (den + eps) : num;
        }
      };
      if (c.causal) {
        for (int64_t i = 0; i < c.qLen; ++i) {
          addKey(i);
          output(i);
        }
      } else {
        for (int64_t j = 0; j < c.kvLen; ++j)
          addKey(j);
        for (int64_t i = 0; i < c.qLen; ++i)
          output(i);
      }
      std::copy(s.begin(), s.end(), ref.s.begin() + bh * f * dv);
      std::copy(z.begin(), z.end(), ref.z.begin() + bh * f);
    }
  return ref;
}



//===----------------------------------------------------------------------===//
// Against the reference
//===----------------------------------------------------------------------===//

class LinearAttentionNumerics
    : public testing::TestWithParam<std::tuple<LinearCase, int64_t>> {};

TEST_P(LinearAttentionNumerics, MatchesFloat64Recurrence) {
  const LinearCase &c = std::get<0>(GetParam());
  std::string spec = specText(c);
  SCOPED_TRACE(spec);
  jit::CpuOptions options;
  options.chunkSize = std::get<1>(GetParam());
  auto kernel = jit::CpuKernel::compile(spec, options);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());

  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  Inputs in = makeInputs(c, rng);
  int64_t f = featureDim(c);
  DType acc = computeDType(c);
  HostTensor o(c.dtype, {c.batch, c.qHeads, c.qLen, c.valueDim});
  HostTensor s(acc, {c.batch, c.qHeads, f, c.valueDim});
  HostTensor z(acc, {c.batch, c.qHeads, f});
  std::vector<runtime::TensorRef> outputs = {o.ref()};
  if (c.finalState) {
    outputs.push_back(s.ref());
    if (c.denominator)
      outputs.push_back(z.ref());
  }
  HostTensor initialState = in.s0;
  llvm::Error error = (*kernel)->run(in.refs(), outputs);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
  if (c.initialState) {
    EXPECT_EQ(relativeError(in.s0, initialState), 0.0)
        << "the kernel wrote into its initial state";
  }

  Reference ref = reference(c, in);
  EXPECT_LE(relativeError(o, fromDoubles(ref.o, o.shape())),
            tolerance(c.dtype));
  for (int64_t r : c.negativeQueryRows) {
    for (int64_t e = 0; e < c.valueDim; ++e) {
      EXPECT_EQ(o.at(r * c.valueDim + e), 0.0) << "row " << r << " has no "
                                                  "features: o must be 0";
    }
  }
  if (c.finalState) {
    double stateTolerance = acc == DType::F64 ? 1e-12 : 2e-5;
    EXPECT_LE(relativeError(s, fromDoubles(ref.s, s.shape())), stateTolerance);
    if (c.denominator) {
      EXPECT_LE(relativeError(z, fromDoubles(ref.z, z.shape())),
                stateTolerance);
    }
  }
}

LinearCase make(std::string name, int64_t b, int64_t hq, int64_t hkv,
                int64_t sq, int64_t skv, int64_t d, int64_t dv) {
  LinearCase c;
  c.name = std::move(name);
  c.batch = b;
  c.qHeads = hq;
  c.kvHeads = hkv;
  c.qLen = sq;
  c.kvLen = skv;
  c.headDim = d;
  c.valueDim = dv;
  return c;
}

std::vector<LinearCase> cases() {
  std::vector<LinearCase> all;
  {
    LinearCase c = make("EluCausalGqa", 2, 4, 2, 77, 77, 16, 24);
    c.causal = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("EluCausalF16Dynamic", 2, 2, 1, 45, 45, 16, 8);
    c.dtype = DType::F16;
    c.causal = true;
    c.dynamic = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("ReluCrossUnnormalizedBf16", 1, 3, 3, 33, 50, 8, 16);
    c.dtype = DType::BF16;
    c.map = Map::Relu;
    c.denominator = false;
    c.inputScale = 0.5;
    all.push_back(c);
  }
  {
    // Rows 0 and 7 have no positive entry: no features, o = 0.
    LinearCase c = make("ReluCausalEmptyRows", 1, 2, 1, 29, 29, 8, 8);
    c.map = Map::Relu;
    c.causal = true;
    c.negativeQueryRows = {0, 7};
    all.push_back(c);
  }
  {
    LinearCase c = make("FavorWeightsCausalDecayState", 1, 4, 2, 37, 37, 16, 8);
    c.map = Map::Favor;
    c.features = 24;
    c.causal = true;
    c.decay = true;
    c.finalState = true;
    c.inputScale = 0.5;
    all.push_back(c);
  }
  {
    LinearCase c = make("FavorSeedOrthogonalCross", 2, 2, 2, 19, 40, 16, 16);
    c.map = Map::Favor;
    c.features = 40; // two blocks of D = 16 rows and a truncated one
    c.favorSeed = 11;
    c.inputScale = 0.5;
    all.push_back(c);
  }
  {
    LinearCase c = make("FavorSeedIidBf16", 1, 2, 1, 30, 30, 8, 8);
    c.dtype = DType::BF16;
    c.map = Map::Favor;
    c.features = 16;
    c.favorSeed = 5;
    c.orthogonal = false;
    c.causal = true;
    c.inputScale = 0.5;
    all.push_back(c);
  }
  {
    LinearCase c = make("CosformerCausal", 1, 2, 2, 45, 45, 8, 12);
    c.map = Map::Cosformer;
    c.causal = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("CosformerCrossMaxLen", 1, 2, 1, 20, 31, 8, 8);
    c.map = Map::Cosformer;
    c.cosformerMaxLen = 100;
    all.push_back(c);
  }
  {
    LinearCase c = make("HedgehogCausalState", 2, 2, 2, 26, 26, 8, 8);
    c.map = Map::Hedgehog;
    c.features = 6;
    c.causal = true;
    c.finalState = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("TaylorCausalDecayInitialState", 1, 2, 1, 33, 33, 4, 8);
    c.map = Map::Taylor;
    c.features = 2;
    c.causal = true;
    c.decay = true;
    c.initialState = true;
    c.finalState = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("TaylorFirstOrderUnnormalized", 1, 1, 1, 21, 21, 8, 8);
    c.map = Map::Taylor;
    c.features = 1;
    c.denominator = false;
    c.initialState = true;
    c.finalState = true;
    all.push_back(c);
  }
  {
    // RetNet's retention: identity features, q scaled by D^-1/2 (the
    // default), a decay per head, no normalizer.
    LinearCase c = make("RetentionIdentityDecay", 2, 4, 4, 70, 70, 16, 16);
    c.map = Map::Identity;
    c.causal = true;
    c.decay = true;
    c.denominator = false;
    c.finalState = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("IdentityCrossScaledDenominatorF64", 1, 2, 1, 19, 33,
                        8, 8);
    c.dtype = DType::F64;
    c.map = Map::Identity;
    c.scale = 0.7;
    c.initialState = true;
    c.finalState = true;
    all.push_back(c);
  }
  {
    // Simple GLA / Mamba2-style: a scalar gate per token, GQA, pieces.
    LinearCase c = make("TokenGateGqaState", 2, 4, 2, 77, 77, 16, 8);
    c.map = Map::Identity;
    c.causal = true;
    c.gate = Gate::Token;
    c.denominator = false;
    c.initialState = true;
    c.finalState = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("TokenGateEluDenominatorBf16Dynamic", 1, 2, 2, 45, 45,
                        8, 8);
    c.dtype = DType::BF16;
    c.causal = true;
    c.dynamic = true;
    c.gate = Gate::Token;
    all.push_back(c);
  }
  {
    // GLA: a gate per token and feature.
    LinearCase c = make("FeatureGateGlaState", 1, 2, 1, 70, 70, 16, 12);
    c.map = Map::Identity;
    c.causal = true;
    c.gate = Gate::Feature;
    c.denominator = false;
    c.initialState = true;
    c.finalState = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("FeatureGateFavorDenominatorF16", 1, 2, 2, 37, 37, 8,
                        8);
    c.dtype = DType::F16;
    c.map = Map::Favor;
    c.features = 12;
    c.favorSeed = 3;
    c.inputScale = 0.5;
    c.causal = true;
    c.gate = Gate::Feature;
    all.push_back(c);
  }
  {
    // Strong gates over a long sequence: the cumulative gate reaches about
    // -1500, where exp of an undifferenced sum would be 0 or inf.
    LinearCase c = make("FeatureGateStrongLong", 1, 1, 1, 300, 300, 8, 8);
    c.map = Map::Identity;
    c.causal = true;
    c.gate = Gate::Feature;
    c.gateLow = -8.0;
    c.gateHigh = -2.0;
    c.denominator = false;
    c.finalState = true;
    all.push_back(c);
  }
  {
    // DeltaNet: unit-norm keys and queries, GQA, the state in and out.
    LinearCase c = make("DeltaRuleL2GqaState", 2, 4, 2, 77, 77, 16, 12);
    c.map = Map::L2Normalize;
    c.causal = true;
    c.delta = true;
    c.denominator = false;
    c.initialState = true;
    c.finalState = true;
    all.push_back(c);
  }
  {
    // Gated DeltaNet in bf16, dynamic lengths.
    LinearCase c = make("GatedDeltaRuleBf16Dynamic", 1, 2, 2, 50, 50, 16, 16);
    c.dtype = DType::BF16;
    c.map = Map::L2Normalize;
    c.causal = true;
    c.delta = true;
    c.gate = Gate::Token;
    c.denominator = false;
    c.dynamic = true;
    all.push_back(c);
  }
  {
    // Raw keys of norm about 1/2 (no normalization), gated, f64, state.
    LinearCase c = make("GatedDeltaRuleIdentityF64State", 1, 2, 1, 41, 41, 8,
                        8);
    c.dtype = DType::F64;
    c.map = Map::Identity;
    c.inputScale = 0.25;
    c.causal = true;
    c.delta = true;
    c.gate = Gate::Token;
    c.denominator = false;
    c.initialState = true;
    c.finalState = true;
    all.push_back(c);
  }
  {
    LinearCase c = make("EluNonCausalF64State", 1, 2, 2, 23, 17, 8, 8);
    c.dtype = DType::F64;
    c.initialState = true;
    c.finalState = true;
    all.push_back(c);
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LinearAttentionNumerics,
    testing::Combine(testing::ValuesIn(cases()), testing::Values(5, 32)),
    [](const testing::TestParamInfo<LinearAttentionNumerics::ParamType> &p) {
      return std::get<0>(p.param).name + "_chunk" +
             std::to_string(std::get<1>(p.param));
    });

} // namespace

namespace {

HostTensor slicePositions(const HostTensor &t, int64_t begin, int64_t end) {
  const std::vector<int64_t> &shape = t.shape();
  int64_t rows = shape[0] * shape[1], len = shape[2], width = shape[3];
  HostTensor piece(t.dtype(), {shape[0], shape[1], end - begin, width});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = begin; i < end; ++i)
      for (int64_t e = 0; e < width; ++e)
        piece.set((r * (end - begin) + i - begin) * width + e,
                  t.at((r * len + i) * width + e));
  return piece;
}

/// A causal sequence processed as two pieces, the state of the first passed
/// to the second, gives the outputs and final state of one run.
TEST(LinearAttentionPieces, TwoPiecesWithStatePassingEqualOneRun) {
  LinearCase c = make("Pieces", 2, 4, 2, 61, 61, 8, 8);
  c.causal = true;
  c.decay = true;
  c.initialState = true;
  c.finalState = true;
  c.dynamic = true;
  std::string spec = specText(c);
  SCOPED_TRACE(spec);
  jit::CpuOptions options;
  options.chunkSize = 16;
  auto kernel = jit::CpuKernel::compile(spec, options);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());

  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  Inputs in = makeInputs(c, rng);
  // Every piece starts from zero: the first run's initial state is zero.
  for (HostTensor *t : {&in.s0, &in.z0})
    for (int64_t i = 0; i < t->numElements(); ++i)
      t->set(i, 0.0);
  int64_t f = featureDim(c);
  auto run = [&](Inputs &pieceIn, int64_t len) {
    std::array<HostTensor, 3> out = {
        HostTensor(c.dtype, {c.batch, c.qHeads, len, c.valueDim}),
        HostTensor(DType::F32, {c.batch, c.qHeads, f, c.valueDim}),
        HostTensor(DType::F32, {c.batch, c.qHeads, f})};
    llvm::Error error = (*kernel)->run(
        pieceIn.refs(), {out[0].ref(), out[1].ref(), out[2].ref()});
    EXPECT_FALSE(bool(error)) << llvm::toString(std::move(error));
    return out;
  };
  std::array<HostTensor, 3> whole = run(in, c.qLen);

  int64_t split = 26; // not a multiple of the chunk size
  Inputs first = in, second = in;
  for (auto [piece, begin, end] :
       {std::tuple{&first, int64_t(0), split},
        std::tuple{&second, split, c.qLen}}) {
    piece->q = slicePositions(in.q, begin, end);
    piece->k = slicePositions(in.k, begin, end);
    piece->v = slicePositions(in.v, begin, end);
  }
  std::array<HostTensor, 3> a = run(first, split);
  second.s0 = a[1];
  second.z0 = a[2];
  std::array<HostTensor, 3> b = run(second, c.qLen - split);

  EXPECT_LE(relativeError(a[0], slicePositions(whole[0], 0, split)), 1e-5);
  EXPECT_LE(relativeError(b[0], slicePositions(whole[0], split, c.qLen)),
            1e-5);
  EXPECT_LE(relativeError(b[1], whole[1]), 1e-5);
  EXPECT_LE(relativeError(b[2], whole[2]), 1e-5);
}

/// Softmax attention in float64 with scale 1/sqrt(D), no mask.
std::vector<double> softmaxAttention(const LinearCase &c, const Inputs &in) {
  std::vector<double> o(c.batch * c.qHeads * c.qLen * c.valueDim, 0.0);
  double scale = 1.0 / std::sqrt(double(c.headDim));
  for (int64_t bh = 0; bh < c.batch * c.qHeads; ++bh)
    for (int64_t i = 0; i < c.qLen; ++i) {
      Vec q = row(in.q, bh * c.qLen + i, c.headDim);
      Vec s(c.kvLen);
      double top = -INFINITY, sum = 0;
      for (int64_t j = 0; j < c.kvLen; ++j) {
        Vec k = row(in.k, bh * c.kvLen + j, c.headDim);
        s[j] = 0;
        for (int64_t d = 0; d < c.headDim; ++d)
          s[j] += q[d] * k[d] * scale;
        top = std::max(top, s[j]);
      }
      for (int64_t j = 0; j < c.kvLen; ++j) {
        s[j] = std::exp(s[j] - top);
        sum += s[j];
      }
      for (int64_t j = 0; j < c.kvLen; ++j)
        for (int64_t e = 0; e < c.valueDim; ++e)
          o[(bh * c.qLen + i) * c.valueDim + e] +=
              s[j] / sum * in.v.at((bh * c.kvLen + j) * c.valueDim + e);
    }
  return o;
}

/// ||got - ref|| / ||ref|| over all elements (Frobenius norms).
double frobeniusError(const HostTensor &got, const std::vector<double> &ref) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff += (got.at(i) - ref[i]) * (got.at(i) - ref[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(diff / norm);
}

/// FAVOR+ estimates softmax attention; its error falls as the number of
/// random features m grows (as 1/sqrt(m)). With q, k ~ N(0, 0.5^2), D = 16,
/// 64 positions and 4 heads, the Frobenius error relative to softmax
/// attention is about 0.6 with 8 orthogonal features and 0.06 with 2048 (a
/// NumPy model of the estimator agrees). One draw of W has a heavy tail: a
/// single m=2048 draw reached 0.12 in 90 runs, and CI once failed a bound of
/// 0.15 on one draw. The mean over 6 draws stayed within 0.043-0.080 in 50
/// runs, so each m is judged by the mean error over 6 draws of the
/// documented generator, passed as the weights operand so that one kernel
/// per m serves every draw.
TEST(LinearAttentionFavor, ApproximatesSoftmaxBetterWithMoreFeatures) {
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  constexpr int draws = 6;
  std::vector<double> errors;
  std::vector<int64_t> counts = {8, 64, 512, 2048};
  LinearCase c = make("Favor", 1, 4, 4, 64, 64, 16, 16);
  c.map = Map::Favor;
  c.inputScale = 0.5;
  c.eps = 0.0; // the exact ratio of the estimator
  Inputs in;
  for (int64_t m : counts) {
    c.features = m;
    auto kernel = jit::CpuKernel::compile(specText(c));
    ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
    if (m == counts.front())
      in = makeInputs(c, rng);
    std::vector<double> reference = softmaxAttention(c, in);
    double sum = 0;
    for (int draw = 0; draw < draws; ++draw) {
      std::vector<double> w = generateFavorWeights(
          m, c.headDim, seed % 100000 + draw, /*orthogonal=*/true);
      in.weights = HostTensor(DType::F32, {m, c.headDim});
      for (size_t i = 0; i < w.size(); ++i)
        in.weights.set(i, w[i]);
      HostTensor o(DType::F32, {c.batch, c.qHeads, c.qLen, c.valueDim});
      llvm::Error error = (*kernel)->run(in.refs(), {o.ref()});
      ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
      sum += frobeniusError(o, reference);
    }
    errors.push_back(sum / draws);
    RecordProperty("error_m" + std::to_string(m), std::to_string(errors.back()));
  }
  SCOPED_TRACE(testing::Message() << "mean errors " << errors[0] << " "
                                  << errors[1] << " " << errors[2] << " "
                                  << errors[3]);
  EXPECT_LT(errors.back(), 0.11);
  EXPECT_LT(errors.back(), 0.3 * errors.front());
}

} // namespace
