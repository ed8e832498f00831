//===- SequenceCheckTest.cpp - The contract of packed and paged inputs ----===//

#include "attn/Runtime/SequenceCheck.h"

#include <gtest/gtest.h>

using namespace attn::runtime;

namespace {
constexpr int64_t dyn = Dim::kDynamic;

/// A paged decode: q [B, 8, 1, 64], NHD pages of 16 keys, a block table.
KernelSignature pagedSignature() {
  KernelSignature sig;
  sig.entry = "decode";
  sig.inputs = {
      {"q", DType::F16, {{"B", dyn}, {"Hq", 8}, {"Sq", 1}, {"D", 64}}},
      {"k", DType::F16, {{"Pages", dyn}, {"P", 16}, {"Hkv", 2}, {"D", 64}}},
      {"v", DType::F16, {{"Pages", dyn}, {"P", 16}, {"Hkv", 2}, {"Dv", 64}}},
      {"block_table", DType::I32, {{"B", dyn}, {"MaxPages", dyn}}},
      {"kv_lens", DType::I32, {{"B", dyn}}}};
  return sig;
}

/// Packed queries and keys (FlashAttention's varlen).
KernelSignature varlenSignature() {
  KernelSignature sig;
  sig.entry = "varlen";
  sig.inputs = {{"q", DType::F32, {{"Tq", dyn}, {"Hq", 4}, {"D", 32}}},
                {"k", DType::F32, {{"Tk", dyn}, {"Hkv", 2}, {"D", 32}}},
                {"v", DType::F32, {{"Tk", dyn}, {"Hkv", 2}, {"Dv", 32}}},
                {"cu_seqlens_q", DType::I32, {{"B1", dyn}}},
                {"cu_seqlens_kv", DType::I32, {{"B1", dyn}}}};
  return sig;
}

std::string check(const KernelSignature &sig, std::vector<TensorRef> inputs) {
  llvm::Error e = checkSequenceInputs(sig, inputs);
  return e ? llvm::toString(std::move(e)) : "";
}

struct Paged {
  std::vector<int32_t> table, lens;
  int64_t batch, maxPages, pages;

  std::vector<TensorRef> refs() {
    return {{nullptr, DType::F16, {batch, 8, 1, 64}},
            {nullptr, DType::F16, {pages, 16, 2, 64}},
            {nullptr, DType::F16, {pages, 16, 2, 64}},
            {table.data(), DType::I32, {batch, maxPages}},
            {lens.data(), DType::I32, {int64_t(lens.size())}}};
  }
};

struct Varlen {
  std::vector<int32_t> cq, ck;
  int64_t tq, tk;

  std::vector<TensorRef> refs() {
    return {{nullptr, DType::F32, {tq, 4, 32}},
            {nullptr, DType::F32, {tk, 2, 32}},
            {nullptr, DType::F32, {tk, 2, 32}},
            {cq.data(), DType::I32, {int64_t(cq.size())}},
            {ck.data(), DType::I32, {int64_t(ck.size())}}};
  }
};
} // namespace

TEST(SequenceCheck, AcceptsTheContract) {
  // Shared pages, unused entries out of range, lengths 0, 1, 16 and full.
  Paged paged{{3, 99, 99, 99, 0, 1, 2, 99, 2, 1, 0, 3, 99, 99, 99, 99},
              {1, 48, 64, 0},
              4,
              4,
              4};
  EXPECT_EQ(check(pagedSignature(), paged.refs()), "");
  Varlen varlen{{0, 3, 3, 10}, {0, 5, 9, 20}, 10, 20};
  EXPECT_EQ(check(varlenSignature(), varlen.refs()), "");
  EXPECT_TRUE(hasSequenceInputs(varlenSignature()));
}

TEST(SequenceCheck, RejectsBadCacheData) {
  Paged negative{{0, 1}, {-1}, 1, 2, 4};
  EXPECT_EQ(check(pagedSignature(), negative.refs()),
            "'kv_lens'[0] = -1 is negative");
  Paged tooLong{{0, 1}, {33}, 1, 2, 4};
  EXPECT_EQ(check(pagedSignature(), tooLong.refs()),
            "'kv_lens'[0] = 33 is more than the block table holds (2 pages "
            "of 16 keys = 32): widen 'block_table'");
  Paged badPage{{0, 1, 2, 4}, {16, 17}, 2, 2, 4};
  EXPECT_EQ(check(pagedSignature(), badPage.refs()),
            "'block_table'[1, 1] = 4 is not a page of the cache: 'k' has 4 "
            "pages, and the 2 pages sequence 1 uses ('kv_lens'[1] = 17) must "
            "lie in [0, 4)");
  Paged batch{{0, 1}, {3, 3}, 1, 2, 4};
  EXPECT_EQ(check(pagedSignature(), batch.refs()),
            "the number of sequences differs: size('block_table', 0) is 1 but "
            "size('kv_lens', 0) is 2");
}

TEST(SequenceCheck, RejectsBadCumulativeLengths) {
  Varlen decreasing{{0, 5, 4, 10}, {0, 5, 9, 20}, 10, 20};
  EXPECT_EQ(check(varlenSignature(), decreasing.refs()),
            "'cu_seqlens_q'[2] = 4 is less than 'cu_seqlens_q'[1] = 5: "
            "cumulative lengths never decrease");
  Varlen start{{1, 5, 6, 10}, {0, 5, 9, 20}, 10, 20};
  EXPECT_EQ(check(varlenSignature(), start.refs()),
            "'cu_seqlens_q'[0] = 1: cumulative lengths start at 0");
  Varlen end{{0, 5, 6, 10}, {0, 5, 9, 19}, 10, 20};
  EXPECT_EQ(check(varlenSignature(), end.refs()),
            "'cu_seqlens_kv' ends at 19 but 'k' holds 20 rows (Tk): the last "
            "entry is the number of packed rows");
  Varlen count{{0, 5, 10}, {0, 5, 9, 20}, 10, 20};
  EXPECT_EQ(check(varlenSignature(), count.refs()),
            "the number of sequences differs: size('cu_seqlens_q') - 1 is 2 "
            "but size('cu_seqlens_kv') - 1 is 3");
}
