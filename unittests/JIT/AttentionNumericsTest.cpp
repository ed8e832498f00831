//===- AttentionNumericsTest.cpp - attn.attention vs a float64 reference --===//
//
// Every case compiles a spec through the CPU pipeline, runs it on fresh
// random data and compares with a float64 attention written here, with its
// own definitions of every mask, score modifier and normalization (not the
// compiler's).
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include "AttentionCases.h"

#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

using namespace attn;
using namespace attn::test;

namespace {

/// Tile sizes of attn-tile-flash to run each case with.
struct Tiles {
  std::string name;
  int64_t q, kv;
};

void PrintTo(const Tiles &t, std::ostream *os) { *os << t.name; }

class AttentionNumerics
    : public testing::TestWithParam<std::tuple<Case, Tiles>> {};

TEST_P(AttentionNumerics, MatchesFloat64Reference) {
  const Case &c = std::get<0>(GetParam());
  const Tiles &tiles = std::get<1>(GetParam());
  std::string spec = specText(c);
  SCOPED_TRACE(spec);
  jit::CpuOptions options;
  options.tileQ = tiles.q;
  options.tileKv = tiles.kv;
  auto kernel = jit::CpuKernel::compile(spec, options);
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());

  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  std::array<HostTensor, 3> qkv = randomQkv(c, rng);
  HostTensor &q = qkv[0], &k = qkv[1], &v = qkv[2];
  AuxData aux = makeAux(c, rng);
  std::vector<runtime::TensorRef> inputs = {q.ref(), k.ref(), v.ref()};
  for (HostTensor *t : {&aux.layout, &aux.qSegments, &aux.kvSegments,
                        &aux.bias, &aux.slopes, &aux.captured})
    if (t->numElements() > 0 && !t->shape().empty())
      inputs.push_back(t->ref());

  HostTensor o(c.dtype, {c.batch, c.qHeads, c.qLen, c.valueDim});
  DType lseType = c.dtype == DType::F64 ? DType::F64 : DType::F32;
  HostTensor lse(lseType, {c.batch, c.qHeads, c.qLen});
  std::vector<runtime::TensorRef> outputs = {o.ref()};
  if (c.lse)
    outputs.push_back(lse.ref());
  llvm::Error error = (*kernel)->run(inputs, outputs);
  ASSERT_FALSE(bool(error)) << llvm::toString(std::move(error));

  std::vector<double> refO, refLse;
  reference(c, aux, q, k, v, refO, refLse);
  EXPECT_LE(relativeError(o, fromDoubles(refO, o.shape())), tolerance(c.dtype));
  if (c.lse) {
    EXPECT_LE(relativeError(lse, fromDoubles(refLse, lse.shape())),
              lseType == DType::F64 ? 1e-12 : 2e-5);
  }
}

//===----------------------------------------------------------------------===//
// The cases
//===----------------------------------------------------------------------===//

std::vector<Case> foundationCases() {
  std::vector<Case> cases;
  cases.push_back(base("dense_f32", 2, 4, 4, 64, 64, 32, 32));
  cases.push_back(withMask(base("causal_top_left_cross_odd", 2, 3, 3, 37, 101,
                                40, 40),
                           "#attn.causal", causal()));
  cases.push_back(withMask(base("causal_bottom_right_gqa_f16", 2, 8, 2, 37,
                                101, 40, 40, DType::F16),
                           "#attn.causal<align = bottom_right>", causal(true)));
  cases.push_back(withMask(base("window_bf16", 1, 4, 2, 77, 77, 24, 24,
                                DType::BF16),
                           "#attn.window<left = 16, right = 3>",
                           window(16, 3)));
  cases.push_back(withMask(
      base("window_bottom_right_cross", 1, 2, 2, 20, 45, 16, 16),
      "#attn.window<left = 5, right = 0, align = bottom_right>",
      window(5, 0, true)));
  cases.push_back(base("mqa_value_dim_f16", 3, 6, 1, 19, 23, 40, 8, DType::F16));
  Case dyn = withMask(base("dynamic_causal", 2, 4, 2, 29, 29, 16, 16),
                      "#attn.causal", causal());
  dyn.dynamic = true;
  cases.push_back(dyn);
  Case empty = withMask(base("empty_rows_bottom_right", 1, 2, 1, 12, 5, 16, 16),
                        "#attn.causal<align = bottom_right>", causal(true));
  empty.allowEmptyRows = true;
  cases.push_back(empty);
  // Dynamic shapes hide the empty rows from the verifier; the kernel still
  // gives o = 0 and lse = -inf for them.
  Case emptyDyn = withMask(
      base("empty_rows_dynamic_window", 2, 2, 2, 16, 4, 8, 8, DType::F16),
      "#attn.window<left = 2, right = 0>", window(2, 0));
  emptyDyn.dynamic = true;
  cases.push_back(emptyDyn);
  Case f64 = base("dense_f64_scale", 1, 2, 2, 13, 17, 24, 24, DType::F64);
  f64.scale = 0.3;
  cases.push_back(f64);
  Case decode = withMask(base("decode_single_query", 2, 8, 2, 1, 200, 64, 64,
                              DType::F16),
                         "#attn.causal<align = bottom_right>", causal(true));
  decode.lse = false;
  cases.push_back(decode);
  return cases;
}

std::vector<Case> maskCases() {
  std::vector<Case> cases;
  cases.push_back(withMask(base("sinks", 1, 2, 2, 40, 40, 16, 16),
                           "#attn.sinks<3>", sinks(3)));
  cases.push_back(withMask(
      base("causal_and_window_or_sinks", 2, 4, 2, 70, 70, 16, 16, DType::F16),
      "#attn.or<[#attn.and<[#attn.causal, #attn.window<left = 9, right = "
      "4>]>, #attn.sinks<4>]>",
      either(both(causal(), window(9, 4)), sinks(4))));
  cases.push_back(withMask(
      base("neighborhood_2d_dilation_9x11", 1, 2, 2, 99, 99, 16, 16),
      "#attn.neighborhood<grid = [9, 11], kernel = [3, 5], dilation = [2, 2]>",
      neighborhood({9, 11}, {3, 5}, {2, 2}, {1, 1}, {false, false})));
  cases.push_back(withMask(
      base("neighborhood_1d_stride_causal", 2, 2, 1, 57, 57, 8, 8),
      "#attn.neighborhood<grid = [57], kernel = [7], stride = [3], causal = "
      "[true]>",
      neighborhood({57}, {7}, {1}, {3}, {true})));
  cases.push_back(withMask(
      base("neighborhood_1d_stride_dilation", 1, 2, 2, 50, 50, 8, 8),
      "#attn.neighborhood<grid = [50], kernel = [5], dilation = [3], stride = "
      "[2]>",
      neighborhood({50}, {5}, {3}, {2}, {false})));
  cases.push_back(withMask(
      base("neighborhood_3d_mixed_causal", 1, 2, 2, 120, 120, 8, 8, DType::BF16),
      "#attn.neighborhood<grid = [4, 5, 6], kernel = [2, 3, 3], causal = "
      "[true, false, false], dilation = [1, 1, 2]>",
      neighborhood({4, 5, 6}, {2, 3, 3}, {1, 1, 2}, {1, 1, 1},
                   {true, false, false})));
  Case sparse = withMask(base("block_sparse_empty_rows", 2, 4, 2, 45, 70, 16,
                              16),
                         "#attn.block_sparse<block = [8, 16]>",
                         blockSparse(8, 16));
  sparse.layoutShape = {2, 1, 6, 5};
  cases.push_back(sparse);
  Case sparseI1 = withMask(base("block_sparse_i1_dynamic_f16", 1, 2, 2, 64, 64,
                                16, 16, DType::F16),
                           "#attn.block_sparse<block = [16, 16]>",
                           blockSparse(16, 16));
  sparseI1.layoutShape = {1, 2, 4, 4};
  sparseI1.layoutType = DType::I1;
  sparseI1.dynamic = true;
  cases.push_back(sparseI1);
  Case doc = withMask(base("document_and_causal", 2, 4, 2, 90, 90, 16, 16),
                      "#attn.and<[#attn.document, #attn.causal]>",
                      both(document(), causal()));
  doc.segments = Case::Segments::Sorted;
  cases.push_back(doc);
  // Unsorted ids: tile classification must stay conservative.
  Case docRandom = withMask(base("document_random_ids_cross", 1, 2, 2, 33, 47,
                                 8, 8),
                            "#attn.document", document());
  docRandom.segments = Case::Segments::Random;
  cases.push_back(docRandom);
  cases.push_back(withMask(base("prefix_lm", 1, 2, 2, 50, 50, 16, 16),
                           "#attn.prefix_lm<13>", prefixLM(13)));
  cases.push_back(withMask(base("strided", 1, 2, 2, 77, 77, 16, 16),
                           "#attn.strided<stride = 7>", strided(7)));
  cases.push_back(withMask(base("fixed", 1, 2, 2, 77, 77, 16, 16),
                           "#attn.fixed<stride = 8, summary = 2>", fixed(8, 2)));
  cases.push_back(causalAndNotWindow("causal_and_not_window", 40));
  cases.push_back(maskModRegionAndCausal("mask_mod_region_and_causal", 41));
  return cases;
}

std::vector<Case> scoreCases() {
  std::vector<Case> cases;
  Case alibiDefault = withMask(base("alibi_default_slopes_causal", 1, 8, 2,
                                    50, 50, 16, 16),
                               "#attn.causal", causal());
  alibiDefault.scoreMods = "[#attn.alibi]";
  alibiDefault.modify = alibi(8, false, false);
  cases.push_back(alibiDefault);
  Case alibiSym = base("alibi_symmetric_operand_slopes_bottom_right", 2, 4, 4,
                       23, 41, 16, 16);
  alibiSym.scoreMods = "[#attn.alibi<symmetric = true, align = bottom_right>]";
  alibiSym.slopes = true;
  alibiSym.modify = alibi(4, true, true, true);
  cases.push_back(alibiSym);
  Case softcapCase = base("softcap_f16", 2, 2, 2, 33, 33, 64, 64, DType::F16);
  softcapCase.scale = 2.0; // large scores, so that the cap matters
  softcapCase.scoreMods = "[#attn.softcap<5.0>]";
  softcapCase.modify = softcap(5.0);
  cases.push_back(softcapCase);
  Case biasFull = base("bias_full_then_softcap", 2, 2, 1, 17, 29, 16, 16);
  biasFull.biasShape = {2, 2, 17, 29};
  biasFull.scoreMods = "[#attn.bias, #attn.softcap<4.0>]";
  biasFull.modify = then(bias(), softcap(4.0));
  cases.push_back(biasFull);
  Case biasBroadcast = withMask(base("bias_broadcast_bf16", 2, 4, 2, 31, 31,
                                     16, 16, DType::BF16),
                                "#attn.causal", causal());
  biasBroadcast.biasShape = {1, 4, 1, 31};
  biasBroadcast.scoreMods = "[#attn.bias]";
  biasBroadcast.modify = bias();
  cases.push_back(biasBroadcast);
  Case region = base("score_mod_region_reads_tensor", 1, 3, 3, 19, 22, 16, 16);
  region.capturedShape = {3};
  region.scoreModBody = R"mlir(
  %d = arith.subi %i, %j : index
  %di = arith.index_cast %d : index to i64
  %df = arith.sitofp %di : i64 to f32
  %w = tensor.extract %captured[%h] : tensor<3xf32>
  %t = arith.mulf %df, %w : f32
  %r = arith.addf %s, %t : f32
  attn.yield %r : f32)mlir";
  region.modify = [](const AuxData &aux, const Pos &p, double s) {
    return s + double(float(p.i - p.j) * float(aux.captured.at(p.h)));
  };
  cases.push_back(region);
  return cases;
}

std::vector<Case> normalizationCases() {
  std::vector<Case> cases;
  Case sigmoid = withMask(base("sigmoid_causal", 2, 4, 2, 37, 37, 16, 16),
                          "#attn.causal", causal());
  sigmoid.normalization = "#attn.sigmoid<bias = -3.5>";
  sigmoid.norm = Norm::Sigmoid;
  sigmoid.sigmoidBias = -3.5;
  sigmoid.lse = false;
  cases.push_back(sigmoid);
  Case relu = withMask(base("relu_window_f16", 1, 2, 2, 45, 45, 16, 16,
                            DType::F16),
                       "#attn.window<left = 6, right = 6>", window(6, 6));
  relu.normalization = "#attn.relu";
  relu.norm = Norm::Relu;
  relu.lse = false;
  cases.push_back(relu);
  Case reluLen = base("relu_divide_by_length_dynamic", 2, 2, 1, 27, 33, 16, 8);
  reluLen.normalization = "#attn.relu<divide_by_length = true>";
  reluLen.norm = Norm::ReluByLength;
  reluLen.dynamic = true;
  reluLen.lse = false;
  cases.push_back(reluLen);
  return cases;
}

/// Sizes that span many tiles of every configuration, with ragged edges.
std::vector<Case> multiTileCases() {
  std::vector<Case> cases;
  cases.push_back(withMask(base("many_tiles_causal_bottom_right_f16", 1, 4, 2,
                                150, 333, 64, 64, DType::F16),
                           "#attn.causal<align = bottom_right>", causal(true)));
  cases.push_back(withMask(base("many_tiles_window_bf16", 1, 2, 2, 300, 300,
                                32, 32, DType::BF16),
                           "#attn.window<left = 80, right = 7>", window(80, 7)));
  Case doc = withMask(base("many_tiles_document_causal", 2, 2, 1, 257, 257, 24,
                           40),
                      "#attn.and<[#attn.document, #attn.causal]>",
                      both(document(), causal()));
  doc.segments = Case::Segments::Sorted;
  cases.push_back(doc);
  Case sparse = withMask(base("many_tiles_block_sparse_32", 1, 2, 2, 200, 260,
                              16, 16),
                         "#attn.block_sparse<block = [32, 32]>",
                         blockSparse(32, 32));
  sparse.layoutShape = {1, 2, 7, 9};
  cases.push_back(sparse);
  cases.push_back(withMask(
      base("many_tiles_neighborhood_16x24", 1, 2, 2, 384, 384, 16, 16),
      "#attn.neighborhood<grid = [16, 24], kernel = [7, 7]>",
      neighborhood({16, 24}, {7, 7}, {1, 1}, {1, 1}, {false, false})));
  // Head dimensions that are not multiples of 8: masked vector columns.
  cases.push_back(withMask(base("odd_head_dims_20_12", 1, 2, 2, 90, 111, 20,
                                12),
                           "#attn.sinks<5>", sinks(5)));
  return cases;
}

std::vector<Case> allCases() {
  std::vector<Case> all;
  for (auto list : {foundationCases(), maskCases(), scoreCases(),
                    normalizationCases(), multiTileCases()})
    all.insert(all.end(), list.begin(), list.end());
  return all;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AttentionNumerics,
    testing::Combine(testing::ValuesIn(allCases()),
                     testing::Values(Tiles{"tiles64x64", 64, 64},
                                     Tiles{"tiles16x32", 16, 32},
                                     Tiles{"tiles13x7", 13, 7})),
    [](const testing::TestParamInfo<std::tuple<Case, Tiles>> &info) {
      return std::get<0>(info.param).name + "_" + std::get<1>(info.param).name;
    });

} // namespace

