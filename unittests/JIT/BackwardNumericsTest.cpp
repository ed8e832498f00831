//===- BackwardNumericsTest.cpp - attn.attention_backward vs float64 ------===//
//
// Each case compiles the forward (attn.attention) and the backward
// (attn.attention_backward, derived by jit::backwardSpec) of one spec for
// the CPU, runs the forward on fresh random data for o and lse, then the
// backward, and compares grad_q,
// grad_k, grad_v (and grad_bias) with a float64 backward written here on the
// independent definitions of AttentionCases.h; the derivatives of its score
// modifiers are central differences of those definitions, not the
// compiler's symbolic derivatives. Float64 specs are also checked against
// central differences of the compiled forward itself.
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/JIT/Jit.h"

#include "AttentionCases.h"

#include <gtest/gtest.h>

using namespace attn;
using namespace attn::test;

namespace {

/// The backward spec of a case, derived from its forward by the JIT
/// (attn.attention_backward with the forward's operands and attributes, a
/// grad_bias result when the case has a bias).
std::string backwardSpecText(const Case &c) {
  llvm::Expected<std::string> text =
      jit::backwardSpec(specText(c), "", !c.biasShape.empty());
  if (!text)
    return "// " + llvm::toString(text.takeError());
  return *text;
}

/// Float64 gradients of a case.
struct Gradients {
  std::vector<double> q, k, v, bias;
};

/// The linear index in the bias of the element that (b, h, i, j) reads.
int64_t biasIndex(const HostTensor &bias, const Pos &p) {
  int64_t index[] = {p.b, p.h, p.i, p.j};
  int64_t linear = 0;
  for (auto [d, i] : llvm::zip_equal(bias.shape(), index))
    linear = linear * d + (d == 1 ? 0 : i);
  return linear;
}

/// d f / d x at x by central differences, in float64.
template <typename F>
double centralDifference(F f, double x) {
  double h = 1e-6 * std::max(1.0, std::abs(x));
  return (f(x + h) - f(x - h)) / (2 * h);
}

/// The float64 backward of `c` for the loss sum(o * dO): P from the float64
/// forward, dS per normalization, then the contractions.
Gradients referenceBackward(const Case &c, AuxData aux, const HostTensor &q,
                            const HostTensor &k, const HostTensor &v,
                            const HostTensor &dO) {
  std::vector<double> o, lse;
  reference(c, aux, q, k, v, o, lse);
  const int64_t group = c.qHeads / c.kvHeads;
  const double scale = c.scale ? *c.scale : 1.0 / std::sqrt(double(c.headDim));
  Gradients g;
  g.q.assign(q.numElements(), 0.0);
  g.k.assign(k.numElements(), 0.0);
  g.v.assign(v.numElements(), 0.0);
  if (!c.biasShape.empty()) {
    g.bias.assign(aux.bias.numElements(), 0.0);
    // Central differences need steps finer than the bias's own rounding.
    aux.bias = aux.bias.convertTo(DType::F64);
  }
  auto kAt = [&](int64_t b, int64_t h, int64_t j, int64_t d) {
    return ((b * c.kvHeads + h / group) * c.kvLen + j) * c.headDim + d;
  };
  auto vAt = [&](int64_t b, int64_t h, int64_t j, int64_t e) {
    return ((b * c.kvHeads + h / group) * c.kvLen + j) * c.valueDim + e;
  };
  double factor = c.norm == Norm::ReluByLength ? 1.0 / std::max<int64_t>(c.kvLen, 1)
                                               : 1.0;
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.qHeads; ++h)
      for (int64_t i = 0; i < c.qLen; ++i) {
        int64_t row = (b * c.qHeads + h) * c.qLen + i;
        double delta = 0;
        for (int64_t e = 0; e < c.valueDim; ++e)
          delta += dO.at(row * c.valueDim + e) * o[row * c.valueDim + e];
        for (int64_t j = 0; j < c.kvLen; ++j) {
          Pos p{b, h, i, j, c.qLen, c.kvLen};
          if (c.allowed && !c.allowed(aux, p))
            continue;
          double dot = 0;
          for (int64_t d = 0; d < c.headDim; ++d)
            dot += q.at(row * c.headDim + d) * k.at(kAt(b, h, j, d));
          double x = dot * scale;
          auto modified = [&](double at) {
            return c.modify ? c.modify(aux, p, at) : at;
          };
          double s = modified(x);
          double gradP = 0;
          for (int64_t e = 0; e < c.valueDim; ++e)
            gradP += dO.at(row * c.valueDim + e) * v.at(vAt(b, h, j, e));
          double weight, gradS;
          switch (c.norm) {
          case Norm::Softmax:
            weight = std::isinf(lse[row]) ? 0.0 : std::exp(s - lse[row]);
            gradS = weight * (gradP - delta);
            break;
          case Norm::Sigmoid: {
            double w = 1.0 / (1.0 + std::exp(-(s + c.sigmoidBias)));
            weight = w;
            gradS = gradP * w * (1 - w);
            break;
          }
          case Norm::Relu:
          case Norm::ReluByLength:
            weight = factor * std::max(s, 0.0);
            gradS = factor * gradP * (s > 0 ? 1.0 : 0.0);
            break;
          }
          double gradX = gradS * (c.modify ? centralDifference(modified, x) : 1.0);
          for (int64_t d = 0; d < c.headDim; ++d) {
            g.q[row * c.headDim + d] += scale * gradX * k.at(kAt(b, h, j, d));
            g.k[kAt(b, h, j, d)] += scale * gradX * q.at(row * c.headDim + d);
          }
          for (int64_t e = 0; e < c.valueDim; ++e)
            g.v[vAt(b, h, j, e)] += weight * dO.at(row * c.valueDim + e);
          if (!g.bias.empty()) {
            int64_t at = biasIndex(aux.bias, p);
            double original = aux.bias.at(at);
            auto withBias = [&](double value) {
              aux.bias.set(at, value);
              double r = modified(x);
              aux.bias.set(at, original);
              return r;
            };
            g.bias[at] += gradS * centralDifference(withBias, original);
          }
        }
      }
  return g;
}

/// The relative error each gradient of element type `t` may have: the
/// forward's rounding of o and lse enters dS, and the sums run over both
/// sequence lengths.
double gradientTolerance(DType t) {
  switch (t) {
  case DType::F16:
    return 1e-2;
  case DType::BF16:
    return 5e-2;
  case DType::F32:
    return 1e-4;
  default:
    return 1e-9;
  }
}

/// The inputs of a case in the order of the spec's arguments.
std::vector<runtime::TensorRef> forwardInputs(std::array<HostTensor, 3> &qkv,
                                              AuxData &aux) {
  std::vector<runtime::TensorRef> inputs = {qkv[0].ref(), qkv[1].ref(),
                                            qkv[2].ref()};
  for (HostTensor *t : {&aux.layout, &aux.qSegments, &aux.kvSegments,
                        &aux.bias, &aux.slopes, &aux.captured})
    if (t->numElements() > 0 && !t->shape().empty())
      inputs.push_back(t->ref());
  return inputs;
}

/// A case compiled (its forward and its backward) and its random data.
struct CaseRun {
  Case c;
  std::unique_ptr<jit::CpuKernel> forward, backward;
  uint64_t seed;
  std::mt19937_64 rng;
  std::array<HostTensor, 3> qkv;
  AuxData aux;
  HostTensor dO;

  /// o (and lse) of the forward on the current inputs.
  void runForward(HostTensor &o, HostTensor &lse) {
    std::vector<runtime::TensorRef> outputs = {o.ref()};
    if (c.lse)
      outputs.push_back(lse.ref());
    llvm::Error error = forward->run(forwardInputs(qkv, aux), outputs);
    ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
  }
};

/// Compiles `c`'s forward and backward and draws its data from a fresh
/// seed (which the tests trace).
void prepare(const Case &c, const jit::CpuOptions &options, CaseRun &setup) {
  setup.c = c;
  // The backward reads lse exactly when the normalization is softmax.
  setup.c.lse = c.norm == Norm::Softmax;
  std::string backwardSpec = backwardSpecText(setup.c);
  SCOPED_TRACE(backwardSpec);
  auto forward = jit::CpuKernel::compile(specText(setup.c), options);
  ASSERT_TRUE(bool(forward)) << llvm::toString(forward.takeError());
  auto backward = jit::CpuKernel::compile(backwardSpec, options);
  ASSERT_TRUE(bool(backward)) << llvm::toString(backward.takeError());
  setup.forward = std::move(*forward);
  setup.backward = std::move(*backward);
  setup.seed = std::random_device{}();
  setup.rng.seed(setup.seed);
  setup.qkv = randomQkv(setup.c, setup.rng);
  setup.aux = makeAux(setup.c, setup.rng);
  setup.dO = HostTensor::randomNormal(
      c.dtype, {c.batch, c.qHeads, c.qLen, c.valueDim}, setup.rng);
}

/// The backward's inputs: the forward's, then o, grad_o and (softmax) lse.
std::vector<runtime::TensorRef> backwardInputs(CaseRun &s, HostTensor &o,
                                               HostTensor &lse) {
  std::vector<runtime::TensorRef> inputs = forwardInputs(s.qkv, s.aux);
  inputs.push_back(o.ref());
  inputs.push_back(s.dO.ref());
  if (s.c.lse)
    inputs.push_back(lse.ref());
  return inputs;
}

class BackwardNumerics : public testing::TestWithParam<Case> {};

TEST_P(BackwardNumerics, MatchesFloat64Reference) {
  jit::CpuOptions options;
  options.tileQ = 16;
  options.tileKv = 16;
  CaseRun s;
  ASSERT_NO_FATAL_FAILURE(prepare(GetParam(), options, s));
  SCOPED_TRACE(testing::Message() << "seed " << s.seed);
  const Case &c = s.c;
  HostTensor o(c.dtype, s.dO.shape());
  HostTensor lse(c.dtype == DType::F64 ? DType::F64 : DType::F32,
                 {c.batch, c.qHeads, c.qLen});
  ASSERT_NO_FATAL_FAILURE(s.runForward(o, lse));
  HostTensor dq(c.dtype, s.qkv[0].shape()), dk(c.dtype, s.qkv[1].shape()),
      dv(c.dtype, s.qkv[2].shape()), db;
  std::vector<runtime::TensorRef> outputs = {dq.ref(), dk.ref(), dv.ref()};
  if (!c.biasShape.empty()) {
    db = HostTensor(c.dtype, c.biasShape);
    outputs.push_back(db.ref());
  }
  llvm::Error error = s.backward->run(backwardInputs(s, o, lse), outputs);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));

  Gradients ref =
      referenceBackward(c, s.aux, s.qkv[0], s.qkv[1], s.qkv[2], s.dO);
  double tol = gradientTolerance(c.dtype);
  EXPECT_LE(relativeError(dq, fromDoubles(ref.q, dq.shape())), tol) << "grad_q";
  EXPECT_LE(relativeError(dk, fromDoubles(ref.k, dk.shape())), tol) << "grad_k";
  EXPECT_LE(relativeError(dv, fromDoubles(ref.v, dv.shape())), tol) << "grad_v";
  if (!c.biasShape.empty())
    EXPECT_LE(relativeError(db, fromDoubles(ref.bias, db.shape())), tol)
        << "grad_bias";
}

/// Float64 specs: the compiled backward against central differences of the
/// compiled forward's loss sum(o * dO), at random elements of q, k, v and
/// the bias.
TEST_P(BackwardNumerics, MatchesFiniteDifferencesOfTheForward) {
  Case c = GetParam();
  if (!c.scoreModBody.empty())
    GTEST_SKIP() << "score_mod regions compute in f32 (their contract), too "
                    "coarse for central differences of a float64 loss";
  c.dtype = DType::F64;
  CaseRun s;
  ASSERT_NO_FATAL_FAILURE(prepare(c, jit::CpuOptions(), s));
  SCOPED_TRACE(testing::Message() << "seed " << s.seed);
  HostTensor o(c.dtype, s.dO.shape()), lse(DType::F64, {c.batch, c.qHeads, c.qLen});
  auto loss = [&]() {
    s.runForward(o, lse);
    double sum = 0;
    for (int64_t i = 0; i < o.numElements(); ++i)
      sum += o.at(i) * s.dO.at(i);
    return sum;
  };
  loss();
  HostTensor grads[] = {HostTensor(c.dtype, s.qkv[0].shape()),
                        HostTensor(c.dtype, s.qkv[1].shape()),
                        HostTensor(c.dtype, s.qkv[2].shape()),
                        c.biasShape.empty() ? HostTensor()
                                            : HostTensor(c.dtype, c.biasShape)};
  std::vector<runtime::TensorRef> outputs = {grads[0].ref(), grads[1].ref(),
                                             grads[2].ref()};
  if (!c.biasShape.empty())
    outputs.push_back(grads[3].ref());
  llvm::Error error = s.backward->run(backwardInputs(s, o, lse), outputs);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));

  HostTensor *wrt[] = {&s.qkv[0], &s.qkv[1], &s.qkv[2], &s.aux.bias};
  const char *names[] = {"q", "k", "v", "bias"};
  for (size_t t = 0; t < outputs.size(); ++t) {
    HostTensor &x = *wrt[t];
    std::uniform_int_distribution<int64_t> pick(0, x.numElements() - 1);
    for (int sample = 0; sample < 6; ++sample) {
      int64_t at = pick(s.rng);
      double original = x.at(at);
      double numeric = centralDifference(
          [&](double value) {
            x.set(at, value);
            double l = loss();
            x.set(at, original);
            return l;
          },
          original);
      // Central differences of a smooth loss are accurate to ~1e-8 here;
      // a relu or a mask boundary crossed by the step is not smooth, hence
      // the absolute floor.
      EXPECT_NEAR(grads[t].at(at), numeric, 1e-5 * std::max(1.0, std::abs(numeric)))
          << "d loss / d " << names[t] << "[" << at << "]";
    }
  }
}

//===----------------------------------------------------------------------===//
// The cases
//===----------------------------------------------------------------------===//

std::vector<Case> backwardCases() {
  std::vector<Case> cases;
  cases.push_back(base("dense_odd_sizes", 2, 3, 3, 37, 29, 16, 24));
  cases.push_back(withMask(base("causal_gqa_cross", 1, 4, 2, 33, 47, 16, 16),
                           "#attn.causal", causal()));
  cases.push_back(withMask(base("causal_gqa_bf16", 1, 4, 2, 40, 40, 32, 32,
                                DType::BF16),
                           "#attn.causal", causal()));
  Case empty = withMask(base("empty_rows", 1, 2, 1, 12, 5, 16, 8),
                        "#attn.causal<align = bottom_right>", causal(true));
  empty.allowEmptyRows = true;
  cases.push_back(empty);
  cases.push_back(withMask(
      base("window_sinks", 1, 2, 2, 45, 45, 16, 16),
      "#attn.or<[#attn.window<left = 8, right = 0>, #attn.sinks<4>]>",
      either(window(8, 0), sinks(4))));
  Case docs = withMask(base("documents_f16", 2, 2, 1, 31, 31, 16, 16,
                            DType::F16),
                       "#attn.document", document());
  docs.segments = Case::Segments::Sorted;
  cases.push_back(docs);
  Case sparse = withMask(base("block_sparse_empty_block_row", 1, 2, 2, 40, 40,
                              16, 16),
                         "#attn.block_sparse<block = [8, 8]>",
                         blockSparse(8, 8));
  sparse.layoutShape = {1, 2, 5, 5};
  sparse.allowEmptyRows = true;
  cases.push_back(sparse);
  cases.push_back(withMask(
      base("neighborhood_2d", 1, 2, 2, 30, 30, 16, 16),
      "#attn.neighborhood<grid = [5, 6], kernel = [3, 3], dilation = [1, 1], "
      "stride = [1, 1], causal = [false, false]>",
      neighborhood({5, 6}, {3, 3}, {1, 1}, {1, 1}, {false, false})));

  // The query range of a key tile (the per-key-tile loops) of each family:
  // a prefix all later queries see, Sparse Transformer patterns, a negated
  // window leaving empty rows, a mask_mod region (every tile partial).
  cases.push_back(withMask(base("prefix_lm_cross", 1, 2, 1, 37, 50, 16, 16),
                           "#attn.prefix_lm<13>", prefixLM(13)));
  cases.push_back(withMask(base("strided", 1, 2, 2, 53, 53, 16, 16),
                           "#attn.strided<stride = 7>", strided(7)));
  cases.push_back(withMask(base("fixed_f16", 1, 2, 2, 45, 45, 16, 16,
                                DType::F16),
                           "#attn.fixed<stride = 8, summary = 2>", fixed(8, 2)));
  cases.push_back(
      causalAndNotWindow("causal_and_not_window_empty_rows", 34));
  cases.push_back(maskModRegionAndCausal("mask_mod_region_and_causal", 29));

  Case cap = withMask(base("softcap_causal", 1, 2, 2, 25, 25, 16, 16),
                      "#attn.causal", causal());
  cap.scoreMods = "[#attn.softcap<2.0>]";
  cap.modify = softcap(2.0);
  cases.push_back(cap);
  Case region = base("softcap_score_mod_region", 1, 2, 1, 21, 27, 16, 16);
  region.scoreModBody = "%c = arith.constant 0.5 : f32\n"
                        "%x = arith.mulf %s, %c : f32\n"
                        "%t = math.tanh %x : f32\n"
                        "%r = arith.divf %t, %c : f32\n"
                        "attn.yield %r : f32";
  region.modify = softcap(2.0);
  cases.push_back(region);
  Case alibiCase = withMask(base("alibi_slopes_causal", 1, 4, 2, 23, 23, 16, 16),
                            "#attn.causal", causal());
  alibiCase.scoreMods = "[#attn.alibi]";
  alibiCase.slopes = true;
  alibiCase.modify = alibi(4, /*symmetric=*/false, /*fromOperand=*/true);
  cases.push_back(alibiCase);
  Case biased = base("bias_gradient_full", 2, 2, 1, 13, 19, 16, 16);
  biased.scoreMods = "[#attn.bias]";
  biased.biasShape = {2, 2, 13, 19};
  biased.modify = bias();
  cases.push_back(biased);
  // A bias of one element per score takes the tiled backward; with GQA,
  // empty rows (bottom-right causal, Sq > Skv) and a modifier after it.
  Case scoreShaped = withMask(base("bias_gradient_gqa_empty_rows_bf16", 2, 4,
                                   2, 23, 17, 16, 16, DType::BF16),
                              "#attn.causal<align = bottom_right>",
                              causal(true));
  scoreShaped.allowEmptyRows = true;
  scoreShaped.scoreMods = "[#attn.bias, #attn.softcap<3.0>]";
  scoreShaped.biasShape = {2, 4, 23, 17};
  scoreShaped.modify = then(bias(), softcap(3.0));
  cases.push_back(scoreShaped);
  Case broadcast = withMask(base("bias_broadcast_then_softcap", 2, 2, 2, 17,
                                 17, 16, 16),
                            "#attn.causal", causal());
  broadcast.scoreMods = "[#attn.bias, #attn.softcap<3.0>]";
  broadcast.biasShape = {1, 1, 17, 17};
  broadcast.modify = then(bias(), softcap(3.0));
  cases.push_back(broadcast);

  Case sigmoid = base("sigmoid", 1, 2, 2, 19, 23, 16, 16);
  sigmoid.normalization = "#attn.sigmoid<bias = -1.5>";
  sigmoid.norm = Norm::Sigmoid;
  sigmoid.sigmoidBias = -1.5;
  cases.push_back(sigmoid);
  Case relu = withMask(base("relu_by_length_causal", 1, 2, 2, 19, 19, 16, 16),
                       "#attn.causal", causal());
  relu.normalization = "#attn.relu<divide_by_length = true>";
  relu.norm = Norm::ReluByLength;
  cases.push_back(relu);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Specs, BackwardNumerics,
                         testing::ValuesIn(backwardCases()),
                         [](const testing::TestParamInfo<Case> &info) {
                           return info.param.name;
                         });

} // namespace
