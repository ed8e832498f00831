//===- BackwardToGPU.cpp - attn.attention_backward as a GPU launch plan ---===//
//
// FlashAttention-2's backward, built from the forward kernel's parts (the
// MMA atom, the cp.async tile loader, the mask-aware tile loops and the
// score function), as three kernels launched in order:
//
//   backward_prepare     one thread per query row: delta = rowsum(grad_o *
//                        o) into an f32 workspace [B, Hq, Sq] (softmax), and
//                        zeros into the per-score bias gradients when
//                        grad_bias is built (the tiles the mask skips have
//                        none to write).
//   backward_key_values  a block per (key tile, key/value head, batch
//                        entry), each warp owning 16 keys. K and V stay in
//                        shared memory; for every query head of the group,
//                        over the query tiles the mask allows
//                        (buildQueryTileLoop, prefetched), the Q and grad_o
//                        tiles are staged and each warp computes, keys as rows,
//                        S^T = K Q^T and dP^T = V grad_o^T, P^T and dS^T per
//                        fragment element (buildScoreGradients), then
//                        dV += P^T grad_o and dK += dS^T Q.
//   backward_queries     a block per (query tile, query head, batch entry),
//                        the forward's grid. Q and grad_o stay in shared
//                        memory; K and V tiles stream through the forward's
//                        prefetched key-tile loop: S, dP, dS, dQ += dS K,
//                        and dS ds/dbias at each visited score: into
//                        grad_bias when the bias has one element per score,
//                        else into an f32 workspace [B, Hq, Sq, Skv] that
//   backward_bias_reduce sums over the bias's broadcast dimensions.
//
// dq has a kernel of its own instead of FlashAttention-2's atomic adds into
// an f32 workspace: the result is deterministic and needs no workspace, no
// zeroing and no conversion, for recomputing S and dP once more (7 tile
// products per tile pair instead of 5). A key/value block sums its group's
// query heads itself, so no gradient needs an atomic.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "parts/MmaAtom.h"
#include "parts/ThreadLayout.h"
#include "parts/TileLoader.h"
#include "parts/WarpAuxReader.h"

#include "attn/Transforms/KeyTileLoop.h"
#include "attn/Transforms/ScoreFunction.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <algorithm>
#include <array>
#include <functional>

using namespace mlir;

namespace attn {

namespace {

constexpr int64_t kRowsPerWarp = 16;
constexpr int64_t kPrepareThreads = 128;

/// Sizes of one backward kernel: `rows` rows per block (keys for the
/// key/value kernel, queries for the query kernel), 16 per warp, that stay
/// in shared memory, and tiles of `streamRows` rows of the other side
/// streamed through it.
struct BackwardPlan {
  int64_t warps;
  int64_t rows;
  int64_t streamRows;
  int64_t headDim, valueDim;
  /// D and Dv rounded up to the mma's k: both are the k of a product.
  int64_t headDimPadded, valueDimPadded;
  MmaShape mma;
  /// The block's own rows ({D-wide tile, Dv-wide tile}: K and V, or Q and
  /// grad_o), then the streamed tiles of the same two widths.
  TileRing resident, stream;
  int64_t sharedBytes;

  int64_t threads() const { return warps * kWarpSize; }
  int64_t headSteps() const { return headDimPadded / mma.k; }
  int64_t valueSteps() const { return valueDimPadded / mma.k; }
  int64_t streamBlocks() const { return streamRows / 8; }
};

/// Which kernel of the plan.
enum class BackwardKernel { KeyValues, Queries };

FailureOr<BackwardPlan> planBackward(AttentionBackwardOp op, int64_t warps,
                                     int64_t tileKv, BackwardKernel kind) {
  Type element = op.getQ().getType().getElementType();
  AttentionShape shape = op.getShape();
  if (failed(checkKernelSizes(op, element,
                              {{"D", shape.headDim}, {"Dv", shape.valueDim}},
                              warps, tileKv)))
    return failure();

  // Tiles that divide the mask's blocks can be classified; the streamed
  // rows are the k of a product (multiples of 16), the block's rows whole
  // warps.
  bool keysAsRows = kind == BackwardKernel::KeyValues;
  int64_t rows = warps * kRowsPerWarp, streamRows = tileKv;
  auto [alignedQ, alignedKv] =
      keysAsRows ? alignTilesToMask(op, streamRows, rows)
                 : alignTilesToMask(op, rows, streamRows);
  int64_t alignedRows = keysAsRows ? alignedKv : alignedQ;
  int64_t alignedStream = keysAsRows ? alignedQ : alignedKv;
  if (alignedRows % kRowsPerWarp == 0)
    warps = alignedRows / kRowsPerWarp;
  if (alignedStream % 16 == 0)
    streamRows = alignedStream;
  // A warp holds its accumulators (dK and dV, 16 x (D + Dv) in f32, or dQ)
  // through the whole loop, plus S and dP of a streamed tile: past D = 64,
  // and for key/value warps whose masks read memory per score (segment
  // ids), 32-row streamed tiles keep them from spilling (ptxas, sm_90, bf16
  // D = 128 causal: 244 registers in the key/value kernel, 16 bytes of
  // spills in the query kernel with 64-row tiles).
  if (std::max(shape.headDim, shape.valueDim) > 64 ||
      (keysAsRows && readsMemoryAtPositions(op)))
    streamRows = std::min<int64_t>(streamRows, 32);

  BackwardPlan plan;
  plan.warps = warps;
  plan.rows = warps * kRowsPerWarp;
  plan.streamRows = streamRows;
  plan.headDim = shape.headDim;
  plan.valueDim = shape.valueDim;
  plan.mma = MmaShape::forElement(element);
  plan.headDimPadded = llvm::alignTo(shape.headDim, plan.mma.k);
  plan.valueDimPadded = llvm::alignTo(shape.valueDim, plan.mma.k);
  // 16 bytes of padding per row: fragment reads hit 32 distinct banks.
  int64_t pad = 128 / element.getIntOrFloatBitWidth();
  int64_t keyStride = plan.headDimPadded + pad;
  int64_t valueStride = plan.valueDimPadded + pad;
  plan.resident = {0,
                   {{plan.rows, keyStride, element},
                    {plan.rows, valueStride, element}},
                   1};
  // Both kernels prefetch their streamed tiles: the next one loads while
  // the current one is used.
  plan.stream = {plan.resident.end(),
                 {{streamRows, keyStride, element},
                  {streamRows, valueStride, element}},
                 2};
  plan.sharedBytes = plan.stream.end();
  return plan;
}

/// The kernel arguments of the key/value and query kernels, in order: q, k,
/// v, grad_o, lse and delta (softmax), the auxiliary operands present, the
/// captured tensors, then the kernel's two outputs (dk and dv, or dq and
/// grad_bias when built).
struct BackwardOperands {
  Value q, k, v, gradO, lse, delta;
  Value out0, out1;
};

/// Builds the body of the key/value or the query kernel.
class BackwardKernelBuilder : KernelBuilderBase {
public:
  BackwardKernelBuilder(OpBuilder &b, Location loc, AttentionBackwardOp op,
                        const BackwardPlan &plan, BackwardKernel kind,
                        const BackwardOperands &operands, OperandAuxReader &aux)
      : KernelBuilderBase(b, loc), op(op), plan(plan), kind(kind),
        in(operands), aux(aux),
        normalization(op.getNormalizationOrDefault()),
        softmax(normalization.normalizesRows()),
        readsAtPositions(readsMemoryAtPositions(op)) {}

  LogicalResult build() {
    setUp();
    if (kind == BackwardKernel::KeyValues)
      buildKeyValues();
    else
      buildQueries();
    return failure(undifferentiable);
  }

private:
  //===--------------------------------------------------------------------===//
  // Helpers
  //===--------------------------------------------------------------------===//

  Value minimum(Value x, Value y) {
    return arith::MinSIOp::create(b, loc, x, y);
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  VectorType fragmentsOf(int64_t blocks) {
    return VectorType::get({blocks, 2, 2}, f32);
  }

  void setUp() {
    lanes = WarpLanes::build(b, loc);
    atom = MmaAtom::create(b, loc, lanes, plan.mma);
    block = BlockCoordinates::build(b, loc);
    batch = block.batch;
    qLen = sizeOf(in.q, 2);
    kvLen = sizeOf(in.k, 2);
    warpRowInTile = mul(lanes.warp, kRowsPerWarp);
    group = op.getShape().qHeads / op.getShape().kvHeads;
    if (!softmax)
      outputFactor =
          normalization.buildOutputFactor(b, loc, kvLen, b.getF32Type());
    shared = std::make_unique<SharedMemory>(b, loc);
    residentLoader = TileLoader::createCpAsync(
        b, loc, *shared, plan.resident, plan.threads(), lanes.threadId);
    streamLoader = TileLoader::createCpAsync(b, loc, *shared, plan.stream,
                                             plan.threads(), lanes.threadId);
  }

  /// Starts copying rows [row0, row0 + rows) of the D-wide `wide` and the
  /// Dv-wide `narrow` (of `head`, up to `len`) into slot `slot` of `loader`,
  /// zero-filling rows past `len` and the padding columns.
  void startRows(TileLoader &loader, Value slot, Value d, Value dv, Value head,
                 Value row0, Value len) {
    loader.start(slot, 0,
                 RowCopy{d, batch, head, row0, len, Value(), plan.headDimPadded,
                         plan.headDim});
    loader.start(slot, 1,
                 RowCopy{dv, batch, head, row0, len, Value(),
                         plan.valueDimPadded, plan.valueDim});
  }

  /// The A fragments of this warp's 16 rows of `tile` for `steps` k steps.
  SmallVector<Value> rowFragments(Value tile, int64_t steps) {
    SmallVector<Value> fragments;
    for (int64_t step = 0; step < steps; ++step)
      fragments.push_back(
          atom->loadA({tile, warpRowInTile, index(step * plan.mma.k)}));
    return fragments;
  }

  /// (the warp's rows) x `columns`^T over the k steps of `a`: `columns` is
  /// a streamed tile whose rows are the product's columns, as
  /// vector<streamBlocks x C>.
  Value productWithRowsOf(ArrayRef<Value> a, Value columns) {
    Value result = splat(fragmentsOf(plan.streamBlocks()), 0.0);
    for (int64_t blk = 0; blk < plan.streamBlocks(); ++blk) {
      SmallVector<FragmentOffset> offsets;
      for (int64_t step = 0; step < (int64_t)a.size(); ++step)
        offsets.push_back({step * plan.mma.k, blk * 8});
      SmallVector<Value> bFragments = atom->loadB(
          {columns, Value(), Value(), /*transposed=*/true}, offsets);
      Value c = extract(result, {blk});
      for (auto [fragment, bFragment] : llvm::zip(a, bFragments))
        c = atom->mma(fragment, bFragment, c);
      result = insert(c, result, {blk});
    }
    return result;
  }

  /// acc += weights . tile, with the fragments of `weights` (one column
  /// per streamed row) as the A operand and the first 8 `blocks` columns
  /// of `tile` as B.
  Value accumulate(Value weights, Value tile, int64_t blocks, Value acc) {
    for (const ReusedOperand &step : atom->accumulatorsAsA(weights)) {
      SmallVector<FragmentOffset> offsets;
      for (int64_t blk = 0; blk < blocks; ++blk)
        offsets.push_back({step.k0, blk * 8});
      SmallVector<Value> bFragments =
          atom->loadB({tile}, offsets, step.kStride);
      for (int64_t blk = 0; blk < blocks; ++blk)
        acc = insert(atom->mma(step.a, bFragments[blk], extract(acc, {blk})),
                     acc, {blk});
    }
    return acc;
  }

  /// lse and delta of query `at` of `head` (null for pointwise
  /// normalizations).
  std::pair<Value, Value> rowStatistics(Value head, Value at) {
    if (!softmax)
      return {Value(), Value()};
    Value lse =
        memref::LoadOp::create(b, loc, in.lse, ValueRange{batch, head, at});
    if (lse.getType() != f32)
      lse = arith::ExtFOp::create(b, loc, f32, lse);
    return {lse, memref::LoadOp::create(b, loc, in.delta,
                                        ValueRange{batch, head, at})};
  }

  /// One fragment element's score: its position and what is known of it.
  struct ElementScore {
    Value query, key;
    /// Clamped into the sequences (for reads at its position).
    Value queryAt, keyAt;
    Value lse, rowDelta;
  };

  /// The weights, grad_dot and (withBias) grad_bias fragments of the
  /// products `dots` and `gradWeights`, element (blk, r, e) at `at(blk,
  /// r, e)`; in partial tiles, pairs outside the sequences or the mask are
  /// 0.
  std::array<Value, 3>
  scoreGradientFragments(Value dots, Value gradWeights, Value head,
                         bool masked, bool withBias,
                         function_ref<ElementScore(int64_t, int64_t, int64_t)>
                             at) {
    Value zero = splat(fragmentsOf(plan.streamBlocks()), 0.0);
    std::array<Value, 3> results = {zero, zero, withBias ? zero : Value()};
    SequenceLengths lengths{qLen, kvLen};
    for (int64_t blk = 0; blk < plan.streamBlocks(); ++blk)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t e = 0; e < 2; ++e) {
          ElementScore element = at(blk, r, e);
          ScorePosition pos{batch, head,
                            readsAtPositions ? element.queryAt : element.query,
                            readsAtPositions ? element.keyAt : element.key};
          Value allowed;
          if (masked) {
            allowed = both(less(element.query, qLen),
                           less(element.key, kvLen));
            if (hasMask(op))
              allowed = both(allowed,
                             buildAllowedAt(b, loc, op, pos, lengths, aux));
          }
          FailureOr<ScoreGradients> g = buildScoreGradients(
              b, loc, op, normalization,
              {extract(dots, {blk, r, e}), extract(gradWeights, {blk, r, e}),
               element.lse, element.rowDelta, outputFactor, allowed},
              pos, lengths, aux, withBias);
          if (failed(g)) {
            undifferentiable = true;
            return results;
          }
          results[0] = insert(g->weight, results[0], {blk, r, e});
          results[1] = insert(g->gradDot, results[1], {blk, r, e});
          if (withBias)
            results[2] = insert(g->gradBias, results[2], {blk, r, e});
        }
    return results;
  }

  /// Stores the lane's rows `rowAt` (valid where `valid`) of the
  /// accumulator `acc` into `out` [batch, head, row, column].
  void storeRows(Value out, Value head, Value acc, ArrayRef<Value> rowAt,
                 ArrayRef<Value> valid) {
    Type element = cast<MemRefType>(out.getType()).getElementType();
    int64_t blocks = cast<VectorType>(acc.getType()).getDimSize(0);
    for (int64_t r = 0; r < 2; ++r) {
      Value mask = vector::BroadcastOp::create(
          b, loc, VectorType::get({2}, b.getI1Type()), valid[r]);
      for (int64_t blk = 0; blk < blocks; ++blk) {
        Value pair = extract(acc, {blk, r});
        if (element != f32)
          pair = arith::TruncFOp::create(b, loc,
                                         VectorType::get({2}, element), pair);
        Value col = atom->accumulatorColumn(Value(), blk, 0);
        vector::MaskedStoreOp::create(b, loc, out,
                                      ValueRange{batch, head, rowAt[r], col},
                                      mask, pair);
      }
    }
  }

  /// The lane's two rows of a block whose first row is `row0`, with `len`
  /// rows in the sequence: positions, whether real, clamped.
  void laneRows(Value row0, Value len, Value (&rows)[2], Value (&valid)[2],
                Value (&clamped)[2]) {
    Value last = arith::SubIOp::create(b, loc, len, index(1));
    for (int64_t r = 0; r < 2; ++r) {
      rows[r] = atom->accumulatorRow(add(row0, warpRowInTile), r);
      valid[r] = less(rows[r], len);
      clamped[r] = minimum(rows[r], last);
    }
  }

  //===--------------------------------------------------------------------===//
  // dk and dv: keys as rows, over the query tiles of the group's heads
  //===--------------------------------------------------------------------===//

  void buildKeyValues() {
    Value kvHead = block.head;
    Value kv0 = mul(block.tile, plan.rows);
    Value kvCols = buildTileExtent(b, loc, kvLen, kv0, plan.rows);
    laneRows(kv0, kvLen, rows, rowValid, rowClamped);
    startRows(*residentLoader, index(0), in.k, in.v, kvHead, kv0, kvLen);
    residentLoader->commit();
    residentLoader->wait(0);
    Value keys = residentLoader->view(index(0), 0);
    Value values = residentLoader->view(index(0), 1);

    Value head0 = mul(kvHead, group);
    SmallVector<Value> init = {
        splat(fragmentsOf(plan.headDim / 8), 0.0),
        splat(fragmentsOf(plan.valueDim / 8), 0.0)};
    auto heads = scf::ForOp::create(b, loc, index(0), index(group), index(1),
                                    init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(heads.getBody());
      Value head = add(head0, heads.getInductionVar());
      KeyTileRows tile{batch, head, kv0, kvCols, qLen, kvLen};
      auto start = [&](Value q0, Value slot) {
        startRows(*streamLoader, slot, in.q, in.gradO, head, q0, qLen);
      };
      auto commit = [&] { streamLoader->commit(); };
      auto wait = [&](int64_t pending) { streamLoader->wait(pending); };
      TilePrefetch prefetch{start, commit, wait, plan.stream.slots};
      SmallVector<Value> next = buildQueryTileLoop(
          b, loc, op, aux, tile, plan.streamRows, plan.rows,
          heads.getRegionIterArgs(),
          [&](const QueryRows &queryRows, bool masked, ValueRange state) {
            return keyValueUpdate(keys, values, head, queryRows, masked,
                                  state);
          },
          &prefetch);
      // The next head's first tiles go to the slots this head's last ones
      // were read from.
      gpu::BarrierOp::create(b, loc);
      scf::YieldOp::create(b, loc, next);
    }
    storeRows(in.out0, kvHead, heads.getResult(0), rowClamped, rowValid);
    storeRows(in.out1, kvHead, heads.getResult(1), rowClamped, rowValid);
  }

  /// dk and dv after the query tile `queryRows` of `head`.
  SmallVector<Value> keyValueUpdate(Value keys, Value values, Value head,
                                    const QueryRows &queryRows, bool masked,
                                    ValueRange state) {
    Value queries = streamLoader->view(queryRows.slot, 0);
    Value gradOut = streamLoader->view(queryRows.slot, 1);
    // S^T = K Q^T and dP^T = V grad_o^T: the block's keys are the rows.
    Value dots = productWithRowsOf(rowFragments(keys, plan.headSteps()),
                                   queries);
    Value gradWeights = productWithRowsOf(
        rowFragments(values, plan.valueSteps()), gradOut);
    Value lastQuery = arith::SubIOp::create(b, loc, qLen, index(1));
    // The statistics of a column's query, read once for both rows.
    SmallVector<std::pair<Value, Value>> columnStatistics;
    SmallVector<Value> columnQuery, columnQueryAt;
    for (int64_t blk = 0; blk < plan.streamBlocks(); ++blk)
      for (int64_t e = 0; e < 2; ++e) {
        Value query = atom->accumulatorColumn(queryRows.q0, blk, e);
        Value queryAt = minimum(query, lastQuery);
        columnQuery.push_back(query);
        columnQueryAt.push_back(queryAt);
        columnStatistics.push_back(rowStatistics(head, queryAt));
      }
    auto [weights, gradDots, unused] = scoreGradientFragments(
        dots, gradWeights, head, masked, /*withBias=*/false,
        [&](int64_t blk, int64_t r, int64_t e) {
          int64_t c = 2 * blk + e;
          return ElementScore{columnQuery[c], rows[r], columnQueryAt[c],
                              rowClamped[r], columnStatistics[c].first,
                              columnStatistics[c].second};
        });
    // dK += dS^T Q, dV += P^T grad_o.
    Value gradK = accumulate(gradDots, queries, plan.headDim / 8, state[0]);
    Value gradV = accumulate(weights, gradOut, plan.valueDim / 8, state[1]);
    return {gradK, gradV};
  }

  //===--------------------------------------------------------------------===//
  // dq (and grad_bias): queries as rows, over the key tiles
  //===--------------------------------------------------------------------===//

  void buildQueries() {
    Value head = block.head;
    Value kvHead = arith::DivUIOp::create(b, loc, head, index(group));
    Value q0 = mul(block.tile, plan.rows);
    Value q1 = add(q0, buildTileExtent(b, loc, qLen, q0, plan.rows));
    laneRows(q0, qLen, rows, rowValid, rowClamped);
    std::pair<Value, Value> statistics[2] = {
        rowStatistics(head, rowClamped[0]), rowStatistics(head, rowClamped[1])};
    // The key loop's first wait makes the block's rows visible.
    startRows(*residentLoader, index(0), in.q, in.gradO, head, q0, qLen);
    residentLoader->commit();
    Value queries = residentLoader->view(index(0), 0);
    Value gradOut = residentLoader->view(index(0), 1);

    Value gradBias = in.out1;
    Value lastKey = arith::SubIOp::create(b, loc, kvLen, index(1));
    QueryTile tile{batch, head, q0, q1, qLen, kvLen};
    auto start = [&](Value kv0, Value slot) {
      startRows(*streamLoader, slot, in.k, in.v, kvHead, kv0, kvLen);
    };
    auto commit = [&] { streamLoader->commit(); };
    auto wait = [&](int64_t pending) { streamLoader->wait(pending); };
    TilePrefetch prefetch{start, commit, wait, plan.stream.slots};
    SmallVector<Value> final = buildKeyTileLoop(
        b, loc, op, aux, tile, plan.streamRows,
        ValueRange{splat(fragmentsOf(plan.headDim / 8), 0.0)},
        [&](const KeyTile &keyTile, bool masked, ValueRange state) {
          Value keys = streamLoader->view(keyTile.slot, 0);
          Value values = streamLoader->view(keyTile.slot, 1);
          // S = Q K^T, dP = grad_o V^T.
          Value dots = productWithRowsOf(
              rowFragments(queries, plan.headSteps()), keys);
          Value gradWeights = productWithRowsOf(
              rowFragments(gradOut, plan.valueSteps()), values);
          SmallVector<Value> columnKey, columnKeyAt;
          for (int64_t blk = 0; blk < plan.streamBlocks(); ++blk)
            for (int64_t e = 0; e < 2; ++e) {
              Value key = atom->accumulatorColumn(keyTile.kv0, blk, e);
              columnKey.push_back(key);
              columnKeyAt.push_back(minimum(key, lastKey));
            }
          auto [weights, gradDots, gradBiases] = scoreGradientFragments(
              dots, gradWeights, head, masked, static_cast<bool>(gradBias),
              [&](int64_t blk, int64_t r, int64_t e) {
                int64_t c = 2 * blk + e;
                return ElementScore{rows[r],          columnKey[c],
                                    rowClamped[r],    columnKeyAt[c],
                                    statistics[r].first,
                                    statistics[r].second};
              });
          if (gradBias)
            storeBiasGradients(gradBias, head, gradBiases, columnKey,
                               columnKeyAt);
          // dQ += dS K.
          return SmallVector<Value>{
              accumulate(gradDots, keys, plan.headDim / 8, state[0])};
        },
        &prefetch);
    storeRows(in.out0, head, final[0], rowClamped, rowValid);
  }

  /// grad_bias at the lane's scores of a key tile: one element per score.
  void storeBiasGradients(Value gradBias, Value head, Value fragments,
                          ArrayRef<Value> columnKey,
                          ArrayRef<Value> columnKeyAt) {
    Type element = cast<MemRefType>(gradBias.getType()).getElementType();
    for (int64_t blk = 0; blk < plan.streamBlocks(); ++blk)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t e = 0; e < 2; ++e) {
          int64_t c = 2 * blk + e;
          Value x = extract(fragments, {blk, r, e});
          if (element != f32)
            x = arith::TruncFOp::create(b, loc, element, x);
          storeIf(gradBias,
                  ValueRange{batch, head, rowClamped[r], columnKeyAt[c]},
                  both(rowValid[r], less(columnKey[c], kvLen)), x);
        }
  }

  AttentionBackwardOp op;
  const BackwardPlan &plan;
  BackwardKernel kind;
  BackwardOperands in;
  OperandAuxReader &aux;
  NormalizationAttrInterface normalization;
  bool softmax;
  /// Whether modifiers or masks read memory at a score's position.
  bool readsAtPositions;
  int64_t group = 1;

  WarpLanes lanes;
  std::unique_ptr<MmaAtom> atom;
  BlockCoordinates block;
  Value batch, qLen, kvLen, warpRowInTile;
  /// The output factor of a pointwise normalization (null for 1, softmax).
  Value outputFactor;
  /// The lane's two rows (keys or queries): position, whether real, and
  /// clamped into the sequence.
  Value rows[2], rowValid[2], rowClamped[2];
  std::unique_ptr<SharedMemory> shared;
  std::unique_ptr<TileLoader> residentLoader, streamLoader;
  bool undifferentiable = false;
};

/// The prepare kernel: one thread per query row computes delta (softmax)
/// and zeros the row of grad_bias (when given).
class PrepareKernelBuilder : KernelBuilderBase {
public:
  PrepareKernelBuilder(OpBuilder &b, Location loc, int64_t valueDim, Value o,
                       Value gradO, Value delta, Value gradBias)
      : KernelBuilderBase(b, loc), valueDim(valueDim), o(o), gradO(gradO),
        delta(delta), gradBias(gradBias) {}

  void build() {
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    BlockCoordinates block = BlockCoordinates::build(b, loc);
    batch = block.batch;
    head = block.head;
    Value qLen = memref::DimOp::create(b, loc, gradO, 2);
    Value last = arith::SubIOp::create(b, loc, qLen, index(1));
    row0 = mul(block.tile, kPrepareThreads);
    Value row = add(row0, tid);
    // Threads past the last row compute on it and store nothing, so that
    // control flow stays uniform.
    Value valid = less(row, qLen);
    Value at = arith::MinSIOp::create(b, loc, row, last);
    if (delta)
      storeIf(delta, ValueRange{batch, head, at}, valid, rowDelta(at));
    if (gradBias)
      zeroBiasRows(tid, qLen, last);
  }

private:
  Value asF32(Value x) {
    return x.getType() == f32 ? x : arith::ExtFOp::create(b, loc, f32, x);
  }

  Value rowDelta(Value at) {
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(valueDim), index(1), ValueRange{fconst(0.0)},
        [&](OpBuilder &nb, Location, Value c, ValueRange sum) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value, 4> indices = {batch, head, at, c};
          Value gradOElement =
              asF32(memref::LoadOp::create(b, loc, gradO, indices));
          Value oElement = asF32(memref::LoadOp::create(b, loc, o, indices));
          Value product =
              arith::MulFOp::create(b, loc, gradOElement, oElement);
          scf::YieldOp::create(b, loc,
                               ValueRange{arith::AddFOp::create(
                                   b, loc, sum[0], product)});
        });
    return loop.getResult(0);
  }

  /// Zeros the block's rows of grad_bias: consecutive threads write
  /// consecutive elements, each thread every kPrepareThreads-th one.
  void zeroBiasRows(Value tid, Value qLen, Value last) {
    Value kvLen = memref::DimOp::create(b, loc, gradBias, 3);
    Value count = mul(kvLen, kPrepareThreads);
    Type element = cast<MemRefType>(gradBias.getType()).getElementType();
    Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(element));
    scf::ForOp::create(
        b, loc, index(0), count, index(kPrepareThreads), ValueRange{},
        [&](OpBuilder &nb, Location, Value base, ValueRange) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value i = add(base, tid);
          Value row = add(row0, arith::DivUIOp::create(b, loc, i, kvLen));
          Value col = arith::RemUIOp::create(b, loc, i, kvLen);
          storeIf(gradBias,
                  ValueRange{batch, head, arith::MinSIOp::create(b, loc, row, last),
                             col},
                  less(row, qLen), zero);
          scf::YieldOp::create(b, loc);
        });
  }

  int64_t valueDim;
  Value o, gradO, delta, gradBias;
  Value batch, head, row0;
};

/// The reduction of a broadcast bias's gradient: one thread per element of
/// grad_bias sums the f32 per-score gradients [B, Hq, Sq, Skv] over the
/// bias's broadcast dimensions (static size 1 where the scores have more).
class BiasReduceKernelBuilder : KernelBuilderBase {
public:
  BiasReduceKernelBuilder(OpBuilder &b, Location loc, Value scores,
                          Value gradBias)
      : KernelBuilderBase(b, loc), scores(scores), gradBias(gradBias) {}

  void build() {
    auto type = cast<MemRefType>(gradBias.getType());
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value blockId = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value i = add(mul(blockId, kPrepareThreads), tid);
    // The element's position in grad_bias, innermost dimension last.
    SmallVector<Value> sizes, position(4);
    Value count = index(1);
    for (int64_t d = 0; d < 4; ++d) {
      sizes.push_back(memref::DimOp::create(b, loc, gradBias, d));
      count = arith::MulIOp::create(b, loc, count, sizes.back());
    }
    Value valid = less(i, count);
    Value rest = arith::MinSIOp::create(
        b, loc, i, arith::SubIOp::create(b, loc, count, index(1)));
    for (int64_t d = 3; d >= 0; --d) {
      position[d] = arith::RemUIOp::create(b, loc, rest, sizes[d]);
      rest = arith::DivUIOp::create(b, loc, rest, sizes[d]);
    }
    // Nested loops over the broadcast dimensions (the same trip counts in
    // every thread).
    SmallVector<Value> at(position);
    std::function<Value(int64_t, Value)> sumFrom = [&](int64_t d,
                                                       Value sum) -> Value {
      if (d == 4)
        return arith::AddFOp::create(
            b, loc, sum, memref::LoadOp::create(b, loc, scores, at));
      auto scoresType = cast<MemRefType>(scores.getType());
      bool broadcast = type.getDimSize(d) == 1 && scoresType.getDimSize(d) != 1;
      if (!broadcast)
        return sumFrom(d + 1, sum);
      auto loop = scf::ForOp::create(
          b, loc, index(0), memref::DimOp::create(b, loc, scores, d), index(1),
          ValueRange{sum});
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      at[d] = loop.getInductionVar();
      scf::YieldOp::create(b, loc,
                           sumFrom(d + 1, loop.getRegionIterArgs()[0]));
      return loop.getResult(0);
    };
    Value total = sumFrom(0, fconst(0.0));
    if (type.getElementType() != f32)
      total = arith::TruncFOp::create(b, loc, type.getElementType(), total);
    storeIf(gradBias, position, valid, total);
  }

private:
  Value scores, gradBias;
};

/// The kernel `kind` of `op`'s plan on `inputs` (q, k, v, grad_o, lse,
/// delta, the auxiliary operands present, the captured tensors: memref
/// types) writing `outputTypes`.
FailureOr<gpu::GPUFuncOp>
buildBackwardKernel(AttentionBackwardOp op, const BackwardPlan &plan,
                    BackwardKernel kind, TypeRange inputTypes,
                    ArrayRef<Value> captured, ArrayRef<Operation *> constants,
                    TypeRange outputTypes, ModuleOp module,
                    SymbolTable &symbols) {
  OpBuilder b(op.getContext());
  Location loc = op.getLoc();
  SmallVector<Type> types(inputTypes);
  llvm::append_range(types, outputTypes);
  gpu::GPUFuncOp kernel = createKernel(
      b, op, types,
      kind == BackwardKernel::KeyValues ? "backward_key_values"
                                        : "backward_queries",
      module, symbols);
  ValueRange args = kernel.getArguments();
  bool softmax = op.getNormalizationOrDefault().normalizesRows();
  BackwardOperands operands;
  operands.q = args[0];
  operands.k = args[1];
  operands.v = args[2];
  operands.gradO = args[3];
  unsigned next = 4;
  if (softmax) {
    operands.lse = args[next++];
    operands.delta = args[next++];
  }
  AuxOperandValues auxArgs;
  for (auto [i, operand] : llvm::enumerate(op.getAuxOperands()))
    if (operand)
      auxArgs[i] = args[next++];
  WarpAuxReader aux(auxArgs);
  for (Value tensor : captured)
    aux.mapCaptured(tensor, bufferization::ToTensorOp::create(
                                b, loc, tensor.getType(), args[next++],
                                b.getUnitAttr()));
  for (Operation *constant : constants)
    aux.mapCaptured(constant->getResult(0), b.clone(*constant)->getResult(0));
  operands.out0 = args[next++];
  if (next < args.size())
    operands.out1 = args[next++];
  if (failed(BackwardKernelBuilder(b, loc, op, plan, kind, operands, aux)
                 .build()))
    return failure();
  gpu::ReturnOp::create(b, loc);
  if (failed(lowerCapturedTensorReads(kernel)))
    return failure();
  return kernel;
}

} // namespace

LogicalResult lowerAttentionBackwardToGPU(AttentionBackwardOp op,
                                          int64_t warps, int64_t tileKv,
                                          ModuleOp module,
                                          SymbolTable &symbols) {
  FailureOr<BackwardPlan> keyValuePlan =
      planBackward(op, warps, tileKv, BackwardKernel::KeyValues);
  if (failed(keyValuePlan))
    return failure();
  FailureOr<BackwardPlan> queryPlan =
      planBackward(op, warps, tileKv, BackwardKernel::Queries);
  if (failed(queryPlan))
    return failure();
  SmallVector<Operation *> constants;
  FailureOr<SmallVector<Value>> captured = capturedTensors(op, constants);
  if (failed(captured))
    return failure();

  Location loc = op.getLoc();
  OpBuilder b(op);
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  bool softmax = op.getNormalizationOrDefault().normalizesRows();
  FailureOr<SmallVector<Value>> outputs = allocateResults(b, op);
  if (failed(outputs))
    return failure();
  Value gradQ = (*outputs)[0], gradK = (*outputs)[1], gradV = (*outputs)[2];
  Value gradBias = op.getGradBias() ? (*outputs)[3] : Value();

  RankedTensorType qType = op.getQ().getType();
  Value batch = tensor::DimOp::create(b, loc, op.getQ(), 0);
  Value qLen = tensor::DimOp::create(b, loc, op.getQ(), 2);
  Value kvLen = tensor::DimOp::create(b, loc, op.getK(), 2);
  Value qHeads = index(op.getShape().qHeads);
  SmallVector<Value> buffers =
      buffersOf(b, loc, ValueRange{op.getQ(), op.getK(), op.getV(), op.getO(),
                                   op.getGradO()});
  Value o = buffers[3], gradO = buffers[4];

  // The query kernel writes one bias gradient per score: into grad_bias
  // itself when the bias has one element per score, else into an f32
  // workspace [B, Hq, Sq, Skv] that a last kernel sums over the bias's
  // broadcast dimensions.
  Value scoreGradients = gradBias;
  if (gradBias && !op.hasScoreShapedBias()) {
    SmallVector<int64_t> shape(qType.getShape().drop_back());
    shape.push_back(op.getK().getType().getDimSize(2));
    auto type = MemRefType::get(shape, Float32Type::get(op.getContext()));
    Value scoreSizes[] = {batch, qHeads, qLen, kvLen};
    SmallVector<Value> sizes;
    for (auto [d, size] : llvm::enumerate(scoreSizes))
      if (type.isDynamicDim(d))
        sizes.push_back(size);
    scoreGradients = memref::AllocOp::create(b, loc, type, sizes);
  }

  // delta [B, Hq, Sq] in f32, freed by bufferization's deallocation.
  Value delta;
  if (softmax) {
    auto deltaType = MemRefType::get(qType.getShape().drop_back(),
                                     Float32Type::get(op.getContext()));
    SmallVector<Value> sizes;
    if (qType.isDynamicDim(0))
      sizes.push_back(batch);
    if (qType.isDynamicDim(2))
      sizes.push_back(qLen);
    delta = memref::AllocOp::create(b, loc, deltaType, sizes);
  }
  if (delta || scoreGradients) {
    SmallVector<Type> types = {o.getType(), gradO.getType()};
    SmallVector<Value> args = {o, gradO};
    for (Value extra : {delta, scoreGradients})
      if (extra) {
        types.push_back(extra.getType());
        args.push_back(extra);
      }
    gpu::GPUFuncOp prepare =
        createKernel(b, op, types, "backward_prepare", module, symbols);
    ValueRange params = prepare.getArguments();
    PrepareKernelBuilder(b, loc, op.getShape().valueDim, params[0], params[1],
                         delta ? params[2] : Value(),
                         scoreGradients ? params.back() : Value())
        .build();
    gpu::ReturnOp::create(b, loc);
    b.setInsertionPoint(op);
    Value blocks =
        arith::CeilDivUIOp::create(b, loc, qLen, index(kPrepareThreads));
    launchKernel(b, loc, prepare, gpu::KernelDim3{blocks, qHeads, batch},
                 kPrepareThreads, 0, args);
  }

  // Both tile kernels read q, k, v, grad_o, lse and delta, the auxiliary
  // operands and the captured tensors.
  SmallVector<Value> inputs = {buffers[0], buffers[1], buffers[2], gradO};
  if (softmax) {
    inputs.push_back(buffersOf(b, loc, ValueRange{op.getLse()})[0]);
    inputs.push_back(delta);
  }
  SmallVector<Value> tensors;
  for (Value operand : op.getAuxOperands())
    if (operand)
      tensors.push_back(operand);
  llvm::append_range(tensors, *captured);
  llvm::append_range(inputs, buffersOf(b, loc, tensors));
  TypeRange inputTypes = ValueRange(inputs).getTypes();

  auto launch = [&](const BackwardPlan &plan, BackwardKernel kind,
                    ValueRange kernelOutputs, Value gridX,
                    Value gridY) -> LogicalResult {
    FailureOr<gpu::GPUFuncOp> kernel = buildBackwardKernel(
        op, plan, kind, inputTypes, *captured, constants,
        ValueRange(kernelOutputs).getTypes(), module, symbols);
    if (failed(kernel))
      return failure();
    b.setInsertionPoint(op);
    SmallVector<Value> args(inputs);
    llvm::append_range(args, kernelOutputs);
    launchKernel(b, loc, *kernel,
                 gpu::KernelDim3{arith::CeilDivUIOp::create(
                                     b, loc, gridX, index(plan.rows)),
                                 gridY, batch},
                 plan.threads(), plan.sharedBytes, args);
    return success();
  };
  if (failed(launch(*keyValuePlan, BackwardKernel::KeyValues,
                    ValueRange{gradK, gradV}, kvLen,
                    index(op.getShape().kvHeads))))
    return failure();
  SmallVector<Value> queryOutputs = {gradQ};
  if (scoreGradients)
    queryOutputs.push_back(scoreGradients);
  if (failed(launch(*queryPlan, BackwardKernel::Queries, queryOutputs, qLen,
                    qHeads)))
    return failure();
  if (scoreGradients && scoreGradients != gradBias) {
    gpu::GPUFuncOp reduce = createKernel(
        b, op, TypeRange{scoreGradients.getType(), gradBias.getType()},
        "backward_bias_reduce", module, symbols);
    BiasReduceKernelBuilder(b, loc, reduce.getArgument(0),
                            reduce.getArgument(1))
        .build();
    gpu::ReturnOp::create(b, loc);
    b.setInsertionPoint(op);
    Value elements = index(1);
    for (int64_t d = 0; d < 4; ++d)
      elements = arith::MulIOp::create(
          b, loc, elements, memref::DimOp::create(b, loc, gradBias, d));
    launchKernel(b, loc, reduce,
                 gpu::KernelDim3{arith::CeilDivUIOp::create(
                                     b, loc, elements, index(kPrepareThreads)),
                                 index(1), index(1)},
                 kPrepareThreads, 0, ValueRange{scoreGradients, gradBias});
  }
  replaceWithBuffers(b, op, *outputs);
  return success();
}

} // namespace attn
