//===- AttentionNumericsTest.cpp - attn.attention vs a float64 reference --===//
//
// Every case compiles a spec through the CPU pipeline, runs it on fresh
// random data and compares with a float64 attention written here, with its
// own mask definitions (not the compiler's).
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

using namespace attn;
using runtime::DType;

namespace {

/// Independent mask definition: (q, kv, Sq, Skv) -> allowed.
using Predicate = std::function<bool(int64_t, int64_t, int64_t, int64_t)>;

struct Case {
  std::string name;
  int64_t batch, qHeads, kvHeads, qLen, kvLen, headDim, valueDim;
  DType dtype;
  std::string mask;   // MLIR text of the mask attribute, or empty
  Predicate allowed;  // the same mask, defined independently
  bool lse = true;
  bool dynamic = false;  // B, Sq and Skv dynamic in the spec
  std::optional<double> scale;
  bool allowEmptyRows = false;
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

std::string mlirType(DType t) {
  switch (t) {
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::F32:
    return "f32";
  default:
    return "f64";
  }
}

std::string specText(const Case &c) {
  auto dim = [&](int64_t size, bool dynamic) {
    return dynamic && c.dynamic ? std::string("?") : std::to_string(size);
  };
  std::string elt = mlirType(c.dtype);
  std::string qT = llvm::formatv("tensor<{0}x{1}x{2}x{3}x{4}>",
                                 dim(c.batch, true), c.qHeads,
                                 dim(c.qLen, true), c.headDim, elt);
  std::string kT = llvm::formatv("tensor<{0}x{1}x{2}x{3}x{4}>",
                                 dim(c.batch, true), c.kvHeads,
                                 dim(c.kvLen, true), c.headDim, elt);
  std::string vT = llvm::formatv("tensor<{0}x{1}x{2}x{3}x{4}>",
                                 dim(c.batch, true), c.kvHeads,
                                 dim(c.kvLen, true), c.valueDim, elt);
  std::string oT = llvm::formatv("tensor<{0}x{1}x{2}x{3}x{4}>",
                                 dim(c.batch, true), c.qHeads,
                                 dim(c.qLen, true), c.valueDim, elt);
  std::string lT = llvm::formatv("tensor<{0}x{1}x{2}x{3}>", dim(c.batch, true),
                                 c.qHeads, dim(c.qLen, true),
                                 c.dtype == DType::F64 ? "f64" : "f32");
  std::string attrs;
  if (!c.mask.empty())
    attrs += " mask(" + c.mask + ")";
  if (c.scale)
    attrs += llvm::formatv(" scale({0:e})", *c.scale).str();
  if (c.allowEmptyRows)
    attrs += " allow_empty_rows";
  std::string results = c.lse ? oT + ", " + lT : oT;
  return llvm::formatv(
      "func.func @attn(%q: {0}, %k: {1}, %v: {2}) -> ({3}) {{\n"
      "  {4} = attn.attention %q, %k, %v{5} : {0}, {1}, {2} -> {3}\n"
      "  return {4} : {3}\n}\n",
      qT, kT, vT, results, c.lse ? "%o, %lse" : "%o", attrs);
}

/// Float64 attention on the (already rounded) inputs.
void reference(const Case &c, const HostTensor &q, const HostTensor &k,
               const HostTensor &v, std::vector<double> &o,
               std::vector<double> &lse) {
  const int64_t group = c.qHeads / c.kvHeads;
  const double scale = c.scale ? *c.scale : 1.0 / std::sqrt(double(c.headDim));
  o.assign(c.batch * c.qHeads * c.qLen * c.valueDim, 0.0);
  lse.assign(c.batch * c.qHeads * c.qLen,
             -std::numeric_limits<double>::infinity());
  std::vector<double> s(c.kvLen);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.qHeads; ++h) {
      int64_t g = h / group;
      for (int64_t i = 0; i < c.qLen; ++i) {
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < c.kvLen; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < c.headDim; ++d)
            dot += q.at(((b * c.qHeads + h) * c.qLen + i) * c.headDim + d) *
                   k.at(((b * c.kvHeads + g) * c.kvLen + j) * c.headDim + d);
          bool ok = !c.allowed || c.allowed(i, j, c.qLen, c.kvLen);
          s[j] = ok ? dot * scale : -std::numeric_limits<double>::infinity();
          m = std::max(m, s[j]);
        }
        if (std::isinf(m))
          continue; // empty row: o = 0, lse = -inf
        double l = 0;
        int64_t row = (b * c.qHeads + h) * c.qLen + i;
        for (int64_t j = 0; j < c.kvLen; ++j) {
          double p = std::exp(s[j] - m);
          l += p;
          for (int64_t e = 0; e < c.valueDim; ++e)
            o[row * c.valueDim + e] +=
                p * v.at(((b * c.kvHeads + g) * c.kvLen + j) * c.valueDim + e);
        }
        for (int64_t e = 0; e < c.valueDim; ++e)
          o[row * c.valueDim + e] /= l;
        lse[row] = m + std::log(l);
      }
    }
}

double tolerance(DType t) {
  switch (t) {
  case DType::F16:
    return 2e-3;
  case DType::BF16:
    return 1e-2;
  case DType::F32:
    return 1e-5;
  default:
    return 1e-12;
  }
}

HostTensor fromDoubles(const std::vector<double> &values,
                       std::vector<int64_t> shape) {
  HostTensor t(DType::F64, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i)
    t.set(i, values[i]);
  return t;
}

class AttentionNumerics : public testing::TestWithParam<Case> {};

TEST_P(AttentionNumerics, MatchesFloat64Reference) {
  const Case &c = GetParam();
  std::string spec = specText(c);
  SCOPED_TRACE(spec);
  auto kernel = jit::CpuKernel::compile(spec);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());

  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  HostTensor q = HostTensor::randomNormal(
      c.dtype, {c.batch, c.qHeads, c.qLen, c.headDim}, rng);
  HostTensor k = HostTensor::randomNormal(
      c.dtype, {c.batch, c.kvHeads, c.kvLen, c.headDim}, rng);
  HostTensor v = HostTensor::randomNormal(
      c.dtype, {c.batch, c.kvHeads, c.kvLen, c.valueDim}, rng);
  HostTensor o(c.dtype, {c.batch, c.qHeads, c.qLen, c.valueDim});
  DType lseType = c.dtype == DType::F64 ? DType::F64 : DType::F32;
  HostTensor lse(lseType, {c.batch, c.qHeads, c.qLen});
  std::vector<runtime::TensorRef> outputs = {o.ref()};
  if (c.lse)
    outputs.push_back(lse.ref());
  llvm::Error error = (*kernel)->run({q.ref(), k.ref(), v.ref()}, outputs);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));

  std::vector<double> refO, refLse;
  reference(c, q, k, v, refO, refLse);
  EXPECT_LE(relativeError(o, fromDoubles(refO, o.shape())), tolerance(c.dtype));
  if (c.lse) {
    EXPECT_LE(relativeError(lse, fromDoubles(refLse, lse.shape())),
              lseType == DType::F64 ? 1e-12 : 1e-5);
  }
}

bool causalTopLeft(int64_t q, int64_t kv, int64_t, int64_t) { return kv <= q; }
bool causalBottomRight(int64_t q, int64_t kv, int64_t sq, int64_t skv) {
  return kv <= q + skv - sq;
}
Predicate window(int64_t left, int64_t right, bool bottomRight) {
  return [=](int64_t q, int64_t kv, int64_t sq, int64_t skv) {
    int64_t diag = q + (bottomRight ? skv - sq : 0);
    return diag - left <= kv && kv <= diag + right;
  };
}

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"dense_f32", 2, 4, 4, 64, 64, 32, 32, DType::F32, "", nullptr});
  c.push_back({"causal_top_left_cross_odd", 2, 3, 3, 37, 101, 40, 40,
               DType::F32, "#attn.causal", causalTopLeft});
  c.push_back({"causal_bottom_right_gqa_f16", 2, 8, 2, 37, 101, 40, 40,
               DType::F16, "#attn.causal<align = bottom_right>",
               causalBottomRight});
  c.push_back({"window_bf16", 1, 4, 2, 77, 77, 24, 24, DType::BF16,
               "#attn.window<left = 16, right = 3>", window(16, 3, false)});
  c.push_back({"window_bottom_right_cross", 1, 2, 2, 20, 45, 16, 16,
               DType::F32, "#attn.window<left = 5, right = 0, align = "
                           "bottom_right>",
               window(5, 0, true)});
  c.push_back({"mqa_value_dim_f16", 3, 6, 1, 19, 23, 40, 8, DType::F16, "",
               nullptr});
  Case dyn{"dynamic_causal", 2, 4, 2, 29, 29, 16, 16, DType::F32,
           "#attn.causal", causalTopLeft};
  dyn.dynamic = true;
  c.push_back(dyn);
  Case empty{"empty_rows_bottom_right", 1, 2, 1, 12, 5, 16, 16, DType::F32,
             "#attn.causal<align = bottom_right>", causalBottomRight};
  empty.allowEmptyRows = true;
  c.push_back(empty);
  // Dynamic shapes hide the empty rows from the verifier; the kernel still
  // gives o = 0 and lse = -inf for them.
  Case emptyDyn{"empty_rows_dynamic_window", 2, 2, 2, 16, 4, 8, 8, DType::F16,
                "#attn.window<left = 2, right = 0>", window(2, 0, false)};
  emptyDyn.dynamic = true;
  c.push_back(emptyDyn);
  Case f64{"dense_f64_scale", 1, 2, 2, 13, 17, 24, 24, DType::F64, "",
           nullptr};
  f64.scale = 0.3;
  c.push_back(f64);
  Case decode{"decode_single_query", 2, 8, 2, 1, 200, 64, 64, DType::F16,
              "#attn.causal<align = bottom_right>", causalBottomRight};
  decode.lse = false;
  c.push_back(decode);
  return c;
}

INSTANTIATE_TEST_SUITE_P(Cases, AttentionNumerics, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case> &info) {
                           return info.param.name;
                         });

} // namespace
