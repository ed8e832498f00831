//===- SequenceNumericsTest.cpp - Paged and packed sequences vs float64 ---===//
//
// Serving forms of attn.attention through the C++ JIT: decoding (and
// speculative verification) against a paged KV cache, and packed (varlen)
// sequences, on random data; compared with a float64 attention written here
// that finds every key through the block table or the cumulative lengths
// itself and applies bottom-right causality per sequence.
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include "NumericsSupport.h"

#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

using namespace attn;
using attn::test::tolerance;
using runtime::DType;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// Element (sequence b, head h, row r, feature d) of q, k or v.
using RowReader = std::function<double(int64_t b, int64_t h, int64_t r,
                                       int64_t d)>;

/// Bottom-right causal attention of every sequence on its own, in float64:
/// o[b][h][i][e] flattened in that order, lse[b][h][i] likewise.
void referenceAttention(const RowReader &q, const RowReader &k,
                        const RowReader &v, const std::vector<int64_t> &qLens,
                        const std::vector<int64_t> &kvLens, int64_t qHeads,
                        int64_t group, int64_t d, int64_t dv,
                        std::vector<double> &o, std::vector<double> &lse) {
  double scale = 1 / std::sqrt(double(d));
  for (size_t b = 0; b < qLens.size(); ++b)
    for (int64_t h = 0; h < qHeads; ++h)
      for (int64_t i = 0; i < qLens[b]; ++i) {
        int64_t last = i + kvLens[b] - qLens[b]; // keys [0, last] allowed
        std::vector<double> s;
        for (int64_t j = 0; j <= std::min(last, kvLens[b] - 1); ++j) {
          double dot = 0;
          for (int64_t x = 0; x < d; ++x)
            dot += q(b, h, i, x) * k(b, h / group, j, x);
          s.push_back(dot * scale);
        }
        double m = s.empty() ? 0 : *std::max_element(s.begin(), s.end());
        double l = 0;
        for (double &x : s)
          l += x = std::exp(x - m);
        for (int64_t e = 0; e < dv; ++e) {
          double acc = 0;
          for (size_t j = 0; j < s.size(); ++j)
            acc += s[j] * v(b, h / group, j, e);
          o.push_back(s.empty() ? 0 : acc / l);
        }
        lse.push_back(s.empty() ? -kInf : m + std::log(l));
      }
}

/// A decode case: q [B, Hq, Sq, D] against pools of `page` keys.
struct PagedCase {
  std::string name;
  DType dtype;
  int64_t qHeads, kvHeads, qLen, headDim, page;
  bool hnd;
};

void PrintTo(const PagedCase &c, std::ostream *os) { *os << c.name; }

class PagedDecode : public ::testing::TestWithParam<PagedCase> {};

TEST_P(PagedDecode, MatchesFloat64Reference) {
  const PagedCase &c = GetParam();
  std::mt19937_64 rng(std::hash<std::string>()(c.name));
  // Empty, one key, a page multiple, partial last pages.
  std::vector<int64_t> lens = {0, 1, c.page, 2 * c.page + 3, 5 * c.page - 1};
  int64_t batch = lens.size(), maxPages = 5, pages = 13;
  std::string et(runtime::dtypeName(c.dtype));
  std::string pool =
      c.hnd ? llvm::formatv("?x{0}x{1}x{2}x{3}", c.kvHeads, c.page, c.headDim, et)
            : llvm::formatv("?x{0}x{1}x{2}x{3}", c.page, c.kvHeads, c.headDim, et);
  std::string qT = llvm::formatv("tensor<?x{0}x{1}x{2}x{3}>", c.qHeads, c.qLen,
                                 c.headDim, et);
  std::string lT = llvm::formatv("tensor<?x{0}x{1}xf32>", c.qHeads, c.qLen);
  std::string spec = llvm::formatv(
      "func.func @decode(%q: {0}, %k: tensor<{1}>, %v: tensor<{1}>,\n"
      "    %t: tensor<?x?xi32>, %l: tensor<?xi32>) -> ({0}, {2}) {{\n"
      "  %o, %lse = attn.attention %q, %k, %v\n"
      "      paged_kv(%t, %l : tensor<?x?xi32>, tensor<?xi32>) page_layout({3})\n"
      "      mask(#attn.causal<align = bottom_right>)\n"
      "      : {0}, tensor<{1}>, tensor<{1}> -> {0}, {2}\n"
      "  return %o, %lse : {0}, {2}\n}\n",
      qT, pool, lT, c.hnd ? "hnd" : "nhd");
  auto kernel = jit::CpuKernel::compile(spec);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError()) << spec;

  std::vector<int64_t> poolShape =
      c.hnd ? std::vector<int64_t>{pages, c.kvHeads, c.page, c.headDim}
            : std::vector<int64_t>{pages, c.page, c.kvHeads, c.headDim};
  HostTensor q = HostTensor::randomNormal(
      c.dtype, {batch, c.qHeads, c.qLen, c.headDim}, rng);
  HostTensor k = HostTensor::randomNormal(c.dtype, poolShape, rng);
  HostTensor v = HostTensor::randomNormal(c.dtype, poolShape, rng);
  // Random pages, shared between sequences; unused entries out of range.
  HostTensor table(DType::I32, {batch, maxPages}), kvLens(DType::I32, {batch});
  std::uniform_int_distribution<int64_t> anyPage(0, pages - 1);
  for (int64_t b = 0; b < batch; ++b) {
    kvLens.set(b, lens[b]);
    for (int64_t p = 0; p < maxPages; ++p)
      table.set(b * maxPages + p,
                p * c.page < lens[b] ? anyPage(rng) : pages + 7);
  }
  HostTensor o(c.dtype, q.shape()), lse(DType::F32, {batch, c.qHeads, c.qLen});
  llvm::Error e = (*kernel)->run(
      {q.ref(), k.ref(), v.ref(), table.ref(), kvLens.ref()},
      {o.ref(), lse.ref()});
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));

  auto pooled = [&](const HostTensor &t) -> RowReader {
    return [&, t = &t](int64_t b, int64_t h, int64_t j, int64_t d) {
      int64_t page = int64_t(table.at(b * maxPages + j / c.page)),
              slot = j % c.page;
      int64_t row = c.hnd ? (page * c.kvHeads + h) * c.page + slot
                          : (page * c.page + slot) * c.kvHeads + h;
      return t->at(row * c.headDim + d);
    };
  };
  RowReader qAt = [&](int64_t b, int64_t h, int64_t i, int64_t d) {
    return q.at(((b * c.qHeads + h) * c.qLen + i) * c.headDim + d);
  };
  std::vector<double> refO, refLse;
  referenceAttention(qAt, pooled(k), pooled(v),
                     std::vector<int64_t>(batch, c.qLen), lens, c.qHeads,
                     c.qHeads / c.kvHeads, c.headDim, c.headDim, refO, refLse);
  EXPECT_LE(relativeError(o, test::fromDoubles(refO, o.shape())),
            tolerance(c.dtype));
  EXPECT_LE(relativeError(lse, test::fromDoubles(refLse, lse.shape())), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Serving, PagedDecode,
    ::testing::Values(
        PagedCase{"bf16_gqa4_decode_nhd16", DType::BF16, 8, 2, 1, 64, 16, false},
        PagedCase{"f32_gqa4_speculative3_hnd32", DType::F32, 8, 2, 3, 32, 32, true},
        PagedCase{"f16_mqa8_decode_hnd1", DType::F16, 8, 1, 1, 32, 1, true},
        PagedCase{"f32_mha_speculative5_nhd16", DType::F32, 4, 4, 5, 16, 16, false},
        // 16 heads x 5 rows exceed a 64-row tile: no head packing.
        PagedCase{"f32_gqa16_speculative5_nhd8", DType::F32, 16, 1, 5, 16, 8, false}),
    [](const auto &info) { return info.param.name; });

TEST(VarlenNumerics, PackedSequencesMatchFloat64Reference) {
  std::mt19937_64 rng(11);
  const int64_t hq = 4, hkv = 2, d = 32;
  std::vector<int64_t> qLens = {3, 0, 17, 1, 64}, kvLens = {3, 5, 20, 0, 70};
  std::vector<int64_t> cq = {0}, ck = {0};
  for (size_t b = 0; b < qLens.size(); ++b) {
    cq.push_back(cq.back() + qLens[b]);
    ck.push_back(ck.back() + kvLens[b]);
  }
  std::string spec = llvm::formatv(
      "func.func @varlen(%q: tensor<?x{0}x{2}xf32>, %k: tensor<?x{1}x{2}xf32>,\n"
      "    %v: tensor<?x{1}x{2}xf32>, %cq: tensor<?xi32>, %ck: tensor<?xi32>)\n"
      "    -> (tensor<?x{0}x{2}xf32>, tensor<?x{0}xf32>) {{\n"
      "  %o, %lse = attn.attention %q, %k, %v cu_seqlens_q(%cq : tensor<?xi32>)\n"
      "      cu_seqlens_kv(%ck : tensor<?xi32>) mask(#attn.causal<align = bottom_right>)\n"
      "      : tensor<?x{0}x{2}xf32>, tensor<?x{1}x{2}xf32>, tensor<?x{1}x{2}xf32>\n"
      "      -> tensor<?x{0}x{2}xf32>, tensor<?x{0}xf32>\n"
      "  return %o, %lse : tensor<?x{0}x{2}xf32>, tensor<?x{0}xf32>\n}\n",
      hq, hkv, d);
  auto kernel = jit::CpuKernel::compile(spec);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());

  HostTensor q = HostTensor::randomNormal(DType::F32, {cq.back(), hq, d}, rng);
  HostTensor k = HostTensor::randomNormal(DType::F32, {ck.back(), hkv, d}, rng);
  HostTensor v = HostTensor::randomNormal(DType::F32, {ck.back(), hkv, d}, rng);
  HostTensor cqT(DType::I32, {int64_t(cq.size())}),
      ckT(DType::I32, {int64_t(ck.size())});
  for (size_t i = 0; i < cq.size(); ++i) {
    cqT.set(i, cq[i]);
    ckT.set(i, ck[i]);
  }
  HostTensor o(DType::F32, q.shape()), lse(DType::F32, {cq.back(), hq});
  llvm::Error e = (*kernel)->run({q.ref(), k.ref(), v.ref(), cqT.ref(), ckT.ref()},
                                 {o.ref(), lse.ref()});
  ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));

  auto packed = [](const HostTensor &t, const std::vector<int64_t> &cu,
                   int64_t heads) -> RowReader {
    return [&t, &cu, heads](int64_t b, int64_t h, int64_t r, int64_t x) {
      return t.at(((cu[b] + r) * heads + h) * t.shape()[2] + x);
    };
  };
  std::vector<double> refO, refLse;
  referenceAttention(packed(q, cq, hq), packed(k, ck, hkv), packed(v, ck, hkv),
                     qLens, kvLens, hq, hq / hkv, d, d, refO, refLse);
  // The reference runs (b, h, i); the kernel's rows are (cq[b] + i, h).
  std::vector<double> wantO(refO.size()), wantLse(refLse.size());
  size_t at = 0;
  for (size_t b = 0; b < qLens.size(); ++b)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < qLens[b]; ++i, ++at) {
        int64_t row = (cq[b] + i) * hq + h;
        wantLse[row] = refLse[at];
        std::copy_n(refO.begin() + at * d, d, wantO.begin() + row * d);
      }
  EXPECT_LE(relativeError(o, test::fromDoubles(wantO, o.shape())),
            tolerance(DType::F32));
  EXPECT_LE(relativeError(lse, test::fromDoubles(wantLse, lse.shape())), 1e-5);
}

} // namespace
