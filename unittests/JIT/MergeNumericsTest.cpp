//===- MergeNumericsTest.cpp - attn.merge vs a float64 reference ----------===//
//
// Every case compiles an attn.merge spec through the CPU pipeline, runs it
// on fresh random partials (some empty, lse = -inf, over large finite o
// values that must not leak; some rows with no partial at all) and compares
// with a float64 merge written here. The real use closes the file: the keys
// of a random attention problem split into disjoint ranges, attn.attention
// with lse on each range, merged, against float64 attention over all keys.
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include "NumericsSupport.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

using namespace attn;
using attn::test::fromDoubles;
using attn::test::randomQkv;
using attn::test::tensorType;
using attn::test::tolerance;
using runtime::DType;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

DType accumulationType(DType t) {
  return t == DType::F64 ? DType::F64 : DType::F32;
}

struct MergeCase {
  std::string name;
  int64_t parts, batch, heads, len, valueDim;
  bool split = false;
  DType partType = DType::F32;
  DType outType = DType::F32;
  /// B and S (and N in the split form) dynamic.
  bool dynamic = false;
  /// The fraction of (partial, row) pairs that are empty.
  double empty = 0.3;
  bool lse = true;
};

void PrintTo(const MergeCase &c, std::ostream *os) { *os << c.name; }

std::string specText(const MergeCase &c) {
  bool dyn = c.dynamic;
  std::vector<int64_t> rows = {c.batch, c.heads, c.len};
  llvm::SmallVector<bool> rowDyn = {dyn, false, dyn};
  std::vector<int64_t> oShape = {c.batch, c.heads, c.len, c.valueDim};
  llvm::SmallVector<bool> oDyn = {dyn, false, dyn, false};
  DType acc = accumulationType(c.partType);
  std::string oPart, lsePart;
  int64_t operands = c.parts;
  if (c.split) {
    std::vector<int64_t> so = oShape, sl = rows;
    so.insert(so.begin(), c.parts);
    sl.insert(sl.begin(), c.parts);
    llvm::SmallVector<bool> dynO = oDyn, dynL = rowDyn;
    dynO.insert(dynO.begin(), dyn);
    dynL.insert(dynL.begin(), dyn);
    oPart = tensorType(so, c.partType, dynO);
    lsePart = tensorType(sl, acc, dynL);
    operands = 1;
  } else {
    oPart = tensorType(oShape, c.partType, oDyn);
    lsePart = tensorType(rows, acc, rowDyn);
  }
  std::vector<std::string> args, oNames, lseNames, oTypes, lseTypes;
  for (int64_t i = 0; i < operands; ++i) {
    oNames.push_back("%o" + std::to_string(i));
    oTypes.push_back(oPart);
    args.push_back(oNames.back() + ": " + oPart);
  }
  for (int64_t i = 0; i < operands; ++i) {
    lseNames.push_back("%l" + std::to_string(i));
    lseTypes.push_back(lsePart);
    args.push_back(lseNames.back() + ": " + lsePart);
  }
  std::string results = tensorType(oShape, c.outType, oDyn);
  if (c.lse)
    results += ", " + tensorType(rows, acc, rowDyn);
  return llvm::formatv("func.func @merge({0}) -> ({1}) {{\n"
                       "  {2} = attn.merge o({3} : {4}) lse({5} : {6})\n"
                       "      -> {1}\n"
                       "  return {2} : {1}\n}\n",
                       llvm::join(args, ", "), results,
                       c.lse ? "%o, %lse" : "%o", llvm::join(oNames, ", "),
                       llvm::join(oTypes, ", "), llvm::join(lseNames, ", "),
                       llvm::join(lseTypes, ", "))
      .str();
}

/// Partial `n` of a tensor stacked on its leading axis.
HostTensor partialOf(const HostTensor &stacked, int64_t n) {
  std::vector<int64_t> shape(stacked.shape().begin() + 1,
                             stacked.shape().end());
  HostTensor t(stacked.dtype(), shape);
  int64_t size = t.numElements();
  for (int64_t i = 0; i < size; ++i)
    t.set(i, stacked.at(n * size + i));
  return t;
}

/// The float64 merge of `parts` pairs stacked on the leading axis of `o`
/// ([N, rows, Dv]) and `lse` ([N, rows]).
void referenceMerge(const HostTensor &o, const HostTensor &lse, int64_t parts,
                    int64_t rows, int64_t valueDim, std::vector<double> &refO,
                    std::vector<double> &refLse) {
  refO.assign(rows * valueDim, 0.0);
  refLse.assign(rows, -kInf);
  for (int64_t r = 0; r < rows; ++r) {
    double m = -kInf;
    for (int64_t n = 0; n < parts; ++n)
      m = std::max(m, lse.at(n * rows + r));
    if (m == -kInf)
      continue;
    double sum = 0;
    for (int64_t n = 0; n < parts; ++n)
      sum += std::exp(lse.at(n * rows + r) - m);
    double total = m + std::log(sum);
    refLse[r] = total;
    for (int64_t n = 0; n < parts; ++n) {
      double l = lse.at(n * rows + r);
      if (l == -kInf)
        continue;
      double w = std::exp(l - total);
      for (int64_t e = 0; e < valueDim; ++e)
        refO[r * valueDim + e] += w * o.at((n * rows + r) * valueDim + e);
    }
  }
}

/// A merge's inputs: the o partials, then the lse ones.
std::vector<runtime::TensorRef> mergeInputs(std::vector<HostTensor> &oParts,
                                            std::vector<HostTensor> &lseParts) {
  std::vector<runtime::TensorRef> inputs;
  for (HostTensor &t : llvm::concat<HostTensor>(oParts, lseParts))
    inputs.push_back(t.ref());
  return inputs;
}

class MergeNumerics : public testing::TestWithParam<MergeCase> {};

TEST_P(MergeNumerics, MatchesFloat64Merge) {
  const MergeCase &c = GetParam();
  std::string spec = specText(c);
  SCOPED_TRACE(spec);
  auto kernel = jit::CpuKernel::compile(spec, jit::CpuOptions());
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());

  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  int64_t rows = c.batch * c.heads * c.len;
  HostTensor o = HostTensor::randomNormal(
      c.partType, {c.parts, c.batch, c.heads, c.len, c.valueDim}, rng);
  HostTensor lse(accumulationType(c.partType),
                 {c.parts, c.batch, c.heads, c.len});
  std::uniform_real_distribution<double> value(-4.0, 4.0);
  std::bernoulli_distribution empty(c.empty);
  for (int64_t n = 0; n < c.parts; ++n)
    for (int64_t r = 0; r < rows; ++r) {
      // The last row has no partial at all.
      bool isEmpty = r == rows - 1 || empty(rng);
      lse.set(n * rows + r, isEmpty ? -kInf : value(rng));
      if (!isEmpty)
        continue;
      // Whatever an empty partial's o holds must weigh nothing.
      for (int64_t e = 0; e < c.valueDim; ++e)
        o.set((n * rows + r) * c.valueDim + e, 1e4 * (1 + e % 4));
    }

  std::vector<HostTensor> oParts, lseParts;
  if (c.split) {
    oParts = {o};
    lseParts = {lse};
  } else {
    for (int64_t n = 0; n < c.parts; ++n) {
      oParts.push_back(partialOf(o, n));
      lseParts.push_back(partialOf(lse, n));
    }
  }
  std::vector<runtime::TensorRef> inputs = mergeInputs(oParts, lseParts);
  HostTensor outO(c.outType, {c.batch, c.heads, c.len, c.valueDim});
  HostTensor outLse(accumulationType(c.partType), {c.batch, c.heads, c.len});
  std::vector<runtime::TensorRef> outputs = {outO.ref()};
  if (c.lse)
    outputs.push_back(outLse.ref());
  llvm::Error error = (*kernel)->run(inputs, outputs);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));

  std::vector<double> refO, refLse;
  referenceMerge(o, lse, c.parts, rows, c.valueDim, refO, refLse);
  EXPECT_LE(relativeError(outO, fromDoubles(refO, outO.shape())),
            tolerance(c.outType));
  // A row without partials is exactly o = 0 (lse = -inf below).
  for (int64_t e = 0; e < c.valueDim; ++e)
    EXPECT_EQ(outO.at((rows - 1) * c.valueDim + e), 0.0);
  if (c.lse) {
    EXPECT_LE(relativeError(outLse, fromDoubles(refLse, outLse.shape())),
              c.partType == DType::F64 ? 1e-12 : 2e-5);
    EXPECT_EQ(outLse.at(rows - 1), -kInf);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MergeNumerics,
    testing::Values(
        MergeCase{"list_two_f32", 2, 2, 3, 37, 24},
        MergeCase{"list_three_dynamic", 3, 3, 2, 19, 33, false, DType::F32,
                  DType::F32, /*dynamic=*/true},
        MergeCase{"list_one", 1, 1, 4, 9, 8},
        MergeCase{"list_f32_to_bf16", 3, 2, 2, 21, 64, false, DType::F32,
                  DType::BF16, true},
        MergeCase{"list_f16_no_lse", 2, 1, 3, 13, 16, false, DType::F16,
                  DType::F16, false, 0.3, /*lse=*/false},
        MergeCase{"list_f64", 4, 2, 2, 11, 7, false, DType::F64, DType::F64},
        MergeCase{"list_mostly_empty", 2, 2, 2, 29, 12, false, DType::F32,
                  DType::F32, false, /*empty=*/0.8},
        MergeCase{"split_four", 4, 2, 3, 23, 40, /*split=*/true},
        MergeCase{"split_dynamic", 5, 2, 2, 17, 24, true, DType::F32,
                  DType::F32, true},
        MergeCase{"split_f32_to_bf16_dynamic", 3, 1, 4, 31, 64, true,
                  DType::F32, DType::BF16, true},
        MergeCase{"split_bf16_to_f32", 2, 3, 1, 7, 9, true, DType::BF16,
                  DType::F32},
        MergeCase{"split_one", 1, 2, 2, 5, 6, true}),
    [](const testing::TestParamInfo<MergeCase> &info) {
      return info.param.name;
    });

/// Zero partials (the split form with N = 0): every row is empty.
TEST(MergeNumerics, NoPartialsGiveZeroAndMinusInfinity) {
  MergeCase c{"split_none", 3, 2, 2, 5, 8, true, DType::F32, DType::BF16, true};
  auto kernel = jit::CpuKernel::compile(specText(c), jit::CpuOptions());
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  HostTensor o(DType::F32, {0, 2, 2, 5, 8}), lse(DType::F32, {0, 2, 2, 5});
  HostTensor outO(DType::BF16, {2, 2, 5, 8}), outLse(DType::F32, {2, 2, 5});
  llvm::Error error =
      (*kernel)->run({o.ref(), lse.ref()}, {outO.ref(), outLse.ref()});
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
  for (int64_t i = 0; i < outO.numElements(); ++i)
    ASSERT_EQ(outO.at(i), 0.0) << "at " << i;
  for (int64_t i = 0; i < outLse.numElements(); ++i)
    ASSERT_EQ(outLse.at(i), -kInf) << "at " << i;
}

//===----------------------------------------------------------------------===//
// The real use: attention over disjoint key ranges, merged
//===----------------------------------------------------------------------===//

struct SplitKeysCase {
  std::string name;
  int64_t batch, qHeads, kvHeads, qLen, kvLen, headDim, valueDim;
  std::vector<int64_t> cuts; // range boundaries inside (0, kvLen)
  DType dtype = DType::F32;
};

void PrintTo(const SplitKeysCase &c, std::ostream *os) { *os << c.name; }

/// Keys [lo, hi) of a [B, H, S, D] tensor.
HostTensor keyRange(const HostTensor &t, int64_t lo, int64_t hi) {
  const std::vector<int64_t> &s = t.shape();
  HostTensor out(t.dtype(), {s[0], s[1], hi - lo, s[3]});
  for (int64_t bh = 0; bh < s[0] * s[1]; ++bh)
    for (int64_t j = lo; j < hi; ++j)
      for (int64_t d = 0; d < s[3]; ++d)
        out.set(((bh * (hi - lo)) + j - lo) * s[3] + d,
                t.at((bh * s[2] + j) * s[3] + d));
  return out;
}

class SplitKeysNumerics : public testing::TestWithParam<SplitKeysCase> {};

TEST_P(SplitKeysNumerics, MergedRangesMatchAttentionOverAllKeys) {
  const SplitKeysCase &c = GetParam();
  DType acc = accumulationType(c.dtype);
  // One attention kernel (dynamic Skv) serves every range.
  std::string qT = tensorType({c.batch, c.qHeads, c.qLen, c.headDim}, c.dtype);
  std::string kT = tensorType({c.batch, c.kvHeads, 0, c.headDim}, c.dtype,
                              {false, false, true});
  std::string vT = tensorType({c.batch, c.kvHeads, 0, c.valueDim}, c.dtype,
                              {false, false, true});
  std::string oT = tensorType({c.batch, c.qHeads, c.qLen, c.valueDim}, c.dtype);
  std::string lT = tensorType({c.batch, c.qHeads, c.qLen}, acc);
  std::string attention = llvm::formatv(
      "func.func @part(%q: {0}, %k: {1}, %v: {2}) -> ({3}, {4}) {{\n"
      "  %o, %lse = attn.attention %q, %k, %v : {0}, {1}, {2} -> {3}, {4}\n"
      "  return %o, %lse : {3}, {4}\n}\n",
      qT, kT, vT, oT, lT);
  auto attentionKernel = jit::CpuKernel::compile(attention, jit::CpuOptions());
  ASSERT_TRUE(bool(attentionKernel))
      << llvm::toString(attentionKernel.takeError());
  int64_t parts = c.cuts.size() + 1;
  MergeCase m{"merge",    parts, c.batch, c.qHeads, c.qLen,
              c.valueDim, false, c.dtype, c.dtype};
  auto mergeKernel = jit::CpuKernel::compile(specText(m), jit::CpuOptions());
  ASSERT_TRUE(bool(mergeKernel)) << llvm::toString(mergeKernel.takeError());

  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  std::array<HostTensor, 3> qkv = randomQkv(c, rng);
  HostTensor &q = qkv[0], &k = qkv[1], &v = qkv[2];

  std::vector<int64_t> bounds = {0};
  bounds.insert(bounds.end(), c.cuts.begin(), c.cuts.end());
  bounds.push_back(c.kvLen);
  std::vector<HostTensor> os, lses;
  for (int64_t p = 0; p < parts; ++p) {
    HostTensor kp = keyRange(k, bounds[p], bounds[p + 1]);
    HostTensor vp = keyRange(v, bounds[p], bounds[p + 1]);
    os.emplace_back(
        c.dtype, std::vector<int64_t>{c.batch, c.qHeads, c.qLen, c.valueDim});
    lses.emplace_back(acc, std::vector<int64_t>{c.batch, c.qHeads, c.qLen});
    llvm::Error error = (*attentionKernel)
                            ->run({q.ref(), kp.ref(), vp.ref()},
                                  {os.back().ref(), lses.back().ref()});
    ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));
  }
  std::vector<runtime::TensorRef> inputs = mergeInputs(os, lses);
  HostTensor o(c.dtype, {c.batch, c.qHeads, c.qLen, c.valueDim});
  HostTensor lse(acc, {c.batch, c.qHeads, c.qLen});
  llvm::Error error = (*mergeKernel)->run(inputs, {o.ref(), lse.ref()});
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));

  // Float64 softmax attention over all keys.
  int64_t group = c.qHeads / c.kvHeads;
  double scale = 1.0 / std::sqrt(double(c.headDim));
  std::vector<double> refO(o.numElements(), 0.0), refLse(lse.numElements());
  std::vector<double> s(c.kvLen);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.qHeads; ++h)
      for (int64_t i = 0; i < c.qLen; ++i) {
        int64_t row = (b * c.qHeads + h) * c.qLen + i;
        int64_t kvRow = (b * c.kvHeads + h / group) * c.kvLen;
        double m = -kInf;
        for (int64_t j = 0; j < c.kvLen; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < c.headDim; ++d)
            dot +=
                q.at(row * c.headDim + d) * k.at((kvRow + j) * c.headDim + d);
          s[j] = dot * scale;
          m = std::max(m, s[j]);
        }
        double l = 0;
        for (int64_t j = 0; j < c.kvLen; ++j) {
          double w = std::exp(s[j] - m);
          l += w;
          for (int64_t e = 0; e < c.valueDim; ++e)
            refO[row * c.valueDim + e] +=
                w * v.at((kvRow + j) * c.valueDim + e);
        }
        for (int64_t e = 0; e < c.valueDim; ++e)
          refO[row * c.valueDim + e] /= l;
        refLse[row] = m + std::log(l);
      }
  // The partials are rounded to the element type before merging: one more
  // rounding than attention over all keys.
  EXPECT_LE(relativeError(o, fromDoubles(refO, o.shape())),
            2 * tolerance(c.dtype));
  EXPECT_LE(relativeError(lse, fromDoubles(refLse, lse.shape())), 2e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SplitKeysNumerics,
    testing::Values(
        SplitKeysCase{"two_ranges", 2, 4, 2, 13, 150, 32, 24, {61}},
        SplitKeysCase{"three_ranges_odd", 1, 3, 1, 29, 97, 16, 40, {5, 70}},
        SplitKeysCase{"three_ranges_bf16",
                      2,
                      2,
                      2,
                      7,
                      200,
                      64,
                      64,
                      {64, 129},
                      DType::BF16},
        SplitKeysCase{"decode_one_query", 3, 8, 2, 1, 333, 64, 32, {100, 217}}),
    [](const testing::TestParamInfo<SplitKeysCase> &info) {
      return info.param.name;
    });

} // namespace
