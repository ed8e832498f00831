//===- AttnToGPU.cpp - attn.attention as a fused tensor-core kernel -------===//
//
// One thread block per (query tile, query head, batch entry), or for
// GQA-packed decoding per (key/value head, batch entry) with the rows of
// every query head of the group; each warp owns 16 rows and keeps, in
// registers, its query fragments, its score fragments of the current key
// tile and its output accumulator, all in the fragment layouts of mma.sync.
// Key and value tiles go through a ring of shared-memory slots. On sm_90a
// (FlashHopper) the block is warp-specialized: a producer warpgroup, which
// gives registers back (setmaxnreg), copies the tiles (queries included) by
// TMA into a ring whose slots are handed over and released on mbarriers,
// and each consumer warpgroup's 64 rows take their products from wgmma:
// Q K^T with both operands in shared memory, P V with P from the score
// registers; the accumulators keep the mma.sync fragment layout per warp,
// so the score function, the softmax and the epilogue are the same code.
// The loop over key tiles is the shared mask-aware loop (KeyTileLoop.h);
// scores are modified and masked through the same ScoreFunction as every
// other lowering, element by element at each fragment element's position.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "MergeKernel.h"
#include "parts/MmaAtom.h"
#include "parts/ThreadLayout.h"
#include "parts/TileLoader.h"
#include "parts/TmaTileLoader.h"
#include "parts/WarpAuxReader.h"
#include "parts/WarpgroupMma.h"

#include "attn/Dialect/SequenceLayout.h"
#include "attn/Dialect/ValueBuilders.h"
#include "attn/Transforms/KeyTileLoop.h"
#include "attn/Transforms/Passes.h"
#include "attn/Transforms/ScoreFunction.h"
#include "attn/Transforms/SoftmaxEpilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <limits>

namespace attn {
#define GEN_PASS_DEF_ATTNTOGPU
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

constexpr int64_t kRowsPerWarp = 16;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLog2E = 1.4426950408889634;

// Split-KV: blocks wanted per multiprocessor, the fewest key tiles worth a
// split of their own, the most splits (the partials' workspace grows with
// them).
constexpr int64_t kBlocksPerSM = 4;
constexpr int64_t kMinTilesPerSplit = 4;
constexpr int64_t kMaxSplits = 128;
// GQA packing: the most rows (query heads of a key/value head x queries) a
// packed decode block takes, in 4 warps; more rows are a prefill's worth
// of work per block.
constexpr int64_t kMaxPackedRows = 64;
// Decode kernels are bound by the K/V bandwidth. By Little's law an H200
// (4.8 TB/s, about 0.8 us of loaded HBM latency, 132 SMs) needs 4.8e12 *
// 0.8e-6 / 132 = 29 KB in flight per SM; short caches and small batches
// leave one block per SM, so a decode block keeps about twice that in
// flight by itself: stages - 1 K/V tiles of at least kDecodeBytesInFlight
// together, in at most kMaxStages slots and kMaxDecodeSharedBytes of
// shared memory (two blocks per SM on sm_90). Prefill kernels stay double
// buffered: their tiles are reused over many query rows.
constexpr int64_t kDecodeBytesInFlight = 64 * 1024;
constexpr int64_t kMaxStages = 4;
constexpr int64_t kMaxDecodeSharedBytes = 112 * 1024;

/// The kernel families of attn.attention.
enum class AttentionFamily {
  /// FlashAttention-2 on mma.sync: a block per query tile walks all keys.
  FlashMmaSync,
  /// Flash-decoding: blocks per (query tile, query head, key split) write
  /// f32 partials, a merge kernel combines them.
  SplitKvDecode,
  /// Flash-decoding with GQA packing: blocks per (key/value head, key split)
  /// whose rows are the queries of every query head of the group, so that
  /// each key/value tile is read once for all of them.
  PackedSplitKvDecode,
  /// FlashAttention-3's data path on sm_90a: a producer warpgroup copies
  /// the tiles by TMA into a ring handed over on mbarriers, consumer
  /// warpgroups of 64 query rows compute with wgmma (no ping-pong between
  /// them, no softmax overlapped with the next product yet).
  FlashHopper,
};

constexpr int64_t kWarpsPerWarpgroup = 4;
constexpr int64_t kWarpgroupThreads = kWarpsPerWarpgroup * kWarpSize;
/// FlashHopper's register split (setmaxnreg): the producer keeps what TMA
/// issue needs, the consumers share the rest of the 64K-register file
/// (512 per thread of a warpgroup), at most 240 each as in FA3.
constexpr int64_t kProducerRegisters = 24, kMaxConsumerRegisters = 240,
                  kRegistersPerWarpgroupThread = 65536 / kWarpgroupThreads;
constexpr int64_t kMaxHopperDim = 256;
/// The Hopper's dynamic shared memory per block.
constexpr int64_t kHopperSharedBytes = 227 * 1024;
/// Dynamic shared memory is aligned to the 128-byte swizzle's period.
constexpr int64_t kSwizzleAlignment = 1024;

/// The query heads per key/value head when GQA packing applies to `op`:
/// Sq static, not 0 (no rows to pack: the block would have no warp), and
/// G * Sq at most kMaxPackedRows; 0 otherwise.
int64_t packedGroupOf(AttentionOp op) {
  AttentionShape shape = op.getShape();
  int64_t qLen = shape.qLen;
  int64_t group = shape.qHeads / shape.kvHeads;
  if (ShapedType::isDynamic(qLen) || qLen == 0 ||
      group * qLen > kMaxPackedRows)
    return 0;
  return group;
}

/// Sizes of one kernel.
struct KernelPlan {
  int64_t warps;
  int64_t tileQ;
  int64_t tileKv;
  int64_t headDim;
  int64_t valueDim;
  /// The head dimension rounded up to the mma's k (zero columns).
  int64_t headDimPadded;
  /// Shared-memory row strides, in elements: 16 bytes of padding per row
  /// make the fragment reads of a warp hit 32 distinct banks.
  int64_t keyStride;
  int64_t valueStride;
  /// Elements per 16-byte asynchronous copy.
  int64_t copyElements;
  int64_t elementBytes;
  /// A ring of slots of a key tile and a value tile (the next tiles load
  /// while the current one is used: two slots, or up to kMaxStages for
  /// decoding), then the query tile (queriesInShared).
  TileRing keysAndValues, queries;
  int64_t sharedBytes;
  /// Large head dimensions keep the query tile in shared memory and load
  /// its fragments per key tile: in registers they would spill.
  bool queriesInShared;
  MmaShape mma;
  /// GQA packing (split-KV decode): the query heads per key/value head
  /// whose rows share the block's tile, or 0. Packed row r is query
  /// position r % Sq of query head kvHead * packedGroup + r / Sq.
  int64_t packedGroup = 0;
  /// Packed rows in use: packedGroup * Sq.
  int64_t packedRows = 0;
  /// FlashHopper: the TMA tiles of queries, keys and values, the
  /// key/value ring's stages, and the producer warpgroup's warps (the block
  /// is the producer's warps, then the `warps` of the consumers).
  bool hopper = false;
  SwizzledTileShape queryTile{0, 0, {}}, keyTile{0, 0, {}}, valueTile{0, 0, {}};
  int64_t hopperStages = 2;
  int64_t producerWarps = 0;

  int64_t threads() const { return (producerWarps + warps) * kWarpSize; }
  /// The registers per thread a launch of the block can have (in steps of
  /// 8, at most 255): the kernel's register limit.
  int64_t launchRegisters() const {
    return std::min<int64_t>(255, 65536 / threads()) / 8 * 8;
  }
  /// FlashHopper: each consumer warpgroup's registers after setmaxnreg.
  int64_t consumerRegisters() const {
    int64_t consumers = warps / kWarpsPerWarpgroup;
    int64_t share = (kRegistersPerWarpgroupThread - kProducerRegisters) /
                    consumers / 8 * 8;
    return std::max(launchRegisters(), std::min(kMaxConsumerRegisters, share));
  }
  /// FlashHopper with more than one consumer warpgroup: setmaxnreg gives
  /// the consumers more registers than a launch has (with one, the split
  /// would only cap the kernel at 1 block per multiprocessor).
  bool movesRegisters() const {
    return hopper && consumerRegisters() > launchRegisters();
  }
  int64_t keyBlocks() const { return tileKv / 8; }
  int64_t valueBlocks() const { return valueDim / 8; }
  int64_t headSteps() const { return headDimPadded / mma.k; }
};

/// The kernel of `family`: `warps` warps of 16 query rows each, or (GQA
/// packing) the G * Sq rows of a packed block in as many warps as they
/// need; split-KV decoding streams K/V through more stages.
FailureOr<KernelPlan>
planKernel(AttentionOp op, int64_t warps, int64_t tileKv,
           AttentionFamily family = AttentionFamily::FlashMmaSync) {
  int64_t packedGroup =
      family == AttentionFamily::PackedSplitKvDecode ? packedGroupOf(op) : 0;
  Type element = op.getQ().getType().getElementType();
  AttentionShape shape = op.getShape();
  int64_t headDim = shape.headDim;
  int64_t valueDim = shape.valueDim;
  if (failed(checkKernelSizes(op, element, {{"D", headDim}, {"Dv", valueDim}},
                              warps, tileKv)))
    return failure();

  // Tiles that divide the mask's blocks can be skipped; smaller ones than
  // the mma allows are not taken (straddling tiles are partial, still exact).
  // A packed tile holds every query row of its heads: its size is fixed.
  int64_t packedRows = packedGroup * shape.qLen;
  assert((!packedGroup || packedRows > 0) && "a packed block has rows");
  if (packedGroup)
    warps = llvm::divideCeil(packedRows, kRowsPerWarp);
  auto [alignedQ, alignedKv] =
      alignTilesToMask(op, warps * kRowsPerWarp, tileKv);
  if (alignedQ % kRowsPerWarp == 0 && !packedGroup)
    warps = alignedQ / kRowsPerWarp;
  if (alignedKv % 16 == 0)
    tileKv = alignedKv;

  KernelPlan plan;
  plan.warps = warps;
  plan.tileQ = warps * kRowsPerWarp;
  plan.tileKv = tileKv;
  plan.headDim = headDim;
  plan.valueDim = valueDim;
  plan.mma = MmaShape::forElement(element);
  plan.packedGroup = packedGroup;
  plan.packedRows = packedRows;
  plan.headDimPadded = llvm::alignTo(headDim, plan.mma.k);
  plan.elementBytes = element.getIntOrFloatBitWidth() / 8;
  plan.copyElements = 16 / plan.elementBytes;
  plan.keyStride = plan.headDimPadded + plan.copyElements;
  plan.valueStride = valueDim + plan.copyElements;
  plan.keysAndValues = {0,
                        {{tileKv, plan.keyStride, element},
                         {tileKv, plan.valueStride, element}},
                        2};
  int64_t fragmentRegisters = plan.mma.a.getNumElements() * plan.elementBytes / 4;
  plan.queriesInShared = plan.headSteps() * fragmentRegisters > 32;
  auto layOut = [&](int64_t stages) {
    plan.keysAndValues.slots = stages;
    plan.sharedBytes = plan.keysAndValues.end();
    if (plan.queriesInShared) {
      plan.queries = {plan.sharedBytes,
                      {{plan.tileQ, plan.keyStride, element}},
                      1};
      plan.sharedBytes = plan.queries.end();
    }
  };
  int64_t stages = 2;
  if (family != AttentionFamily::FlashMmaSync) {
    int64_t tileBytes = tileKv * (headDim + valueDim) * plan.elementBytes;
    stages = std::clamp<int64_t>(
        1 + llvm::divideCeil(kDecodeBytesInFlight, tileBytes), 2, kMaxStages);
  }
  layOut(stages);
  while (stages > 2 && plan.sharedBytes > kMaxDecodeSharedBytes)
    layOut(--stages);
  if (family == AttentionFamily::FlashHopper) {
    // Whole warpgroups of 64 rows; the product's N (keys) a multiple of 16
    // (P V's k steps) up to 256. Tiles the mask cut smaller than that take
    // the mma.sync kernel (chooseFamily checks).
    plan.hopper = true;
    plan.producerWarps = kWarpsPerWarpgroup;
    plan.queriesInShared = true;
    plan.queryTile = {plan.tileQ, headDim, element};
    plan.keyTile = {tileKv, headDim, element};
    plan.valueTile = {tileKv, valueDim, element};
    // The consumer holds two slots (tile i's P V runs in step i + 1): a
    // third lets the producer load the next tile meanwhile, where it fits.
    auto bytesWith = [&](int64_t stages) {
      return kSwizzleAlignment + plan.queryTile.bytes() +
             stages * (plan.keyTile.bytes() + plan.valueTile.bytes());
    };
    plan.hopperStages = bytesWith(3) <= kHopperSharedBytes ? 3 : 2;
    plan.sharedBytes = bytesWith(plan.hopperStages);
  }
  return plan;
}

/// Whether `plan` (sized for FlashHopper) fits it: whole warpgroups, key
/// tiles of a multiple of 16 up to 256 keys, and (the Hopper's 227 KiB)
/// shared memory.
bool fitsHopper(const KernelPlan &plan) {
  return plan.warps % kWarpsPerWarpgroup == 0 && plan.tileKv % 16 == 0 &&
         plan.tileKv <= kMaxHopperDim && plan.sharedBytes <= kHopperSharedBytes;
}

/// Where a kernel writes: the op's o (and lse) for the whole key range, or
/// (split-KV) the f32 partials of one key split, o normalized over the
/// split's keys and lse always, at [split, b, h, row(, column)].
struct KernelOutputs {
  Value o, lse;
  /// Split-KV: the number of splits (a kernel argument).
  Value splits = {};
};

/// Builds the body of one kernel.
class KernelBuilder : KernelBuilderBase {
public:
  KernelBuilder(OpBuilder &b, Location loc, AttentionOp op,
                const KernelPlan &plan, ValueRange inputs,
                const KernelOutputs &outputs, OperandAuxReader &aux,
                ValueRange tensorMaps = {})
      : KernelBuilderBase(b, loc), op(op), plan(plan), q(inputs[0]),
        k(inputs[1]), v(inputs[2]), tensorMaps(tensorMaps), out(outputs.o),
        lse(outputs.lse),
        splits(outputs.splits), aux(aux), layout(op, q, k),
        normalization(op.getNormalizationOrDefault()),
        softmax(normalization.normalizesRows()) {
    // Plain softmax of scaled scores: the scale joins the exp2 FMA (and the
    // row maximum) instead of costing a multiply per score.
    double scale = op.getScaleOrDefault();
    if (softmax && op.getScoreModList().empty() &&
        op.getScoreMod().empty() && scale > 0)
      foldedScale = scale;
    readsAtPositions = readsMemoryAtPositions(op);
  }

  void build() {
    setUpIndices();
    setUpSharedMemory();
    if (plan.hopper)
      return buildWarpSpecialized();
    // Either the fragments themselves, or (queriesInShared) a copy of the
    // tile that the first key-tile wait makes visible.
    Value queries;
    if (plan.queriesInShared)
      startQueryTileLoad();
    else
      queries = loadQueryFragments();

    auto start = [&](Value kv0, Value slot) { startKeyTileLoad(kv0, slot); };
    auto commit = [&] { keyValueLoader->commit(); };
    auto wait = [&](int64_t pending) { keyValueLoader->wait(pending); };
    TilePrefetch prefetch{start, commit, wait, plan.keysAndValues.slots};
    SmallVector<Value> final = buildKeyTileLoop(
        b, loc, op, aux, keyLoopTile(), plan.tileKv, initialState(),
        [&](const KeyTile &keys, bool masked, ValueRange state) {
          return updateWithKeyTile(queries, keys, masked, state);
        },
        &prefetch);
    writeOutputs(final);
  }

private:
  /// FlashHopper: warpgroup 0 produces (the query tile, then each key tile
  /// the loop visits into the ring, after its slot is released), the
  /// others consume (each key tile once it has landed, releasing its slot
  /// after P V) and write the outputs.
  void buildWarpSpecialized() {
    Value producer = less(threadId, index(kWarpgroupThreads));
    auto roles = scf::IfOp::create(b, loc, producer, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    auto reserve = [&](Value i) { kvTma->reserve(i); };
    auto produce = [&](Value kv0, Value slot, Value loaded) {
      auto load = scf::IfOp::create(b, loc, loaded, /*withElseRegion=*/false);
      {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPoint(load.thenBlock()->getTerminator());
        startKeyTileLoad(kv0, slot);
      }
      kvTma->commit(slot, loaded);
    };
    auto acquire = [&](Value i) { kvTma->wait(i); };
    auto release = [&](Value i) { kvTma->release(i); };
    auto drain = [&](ValueRange state) { return drainPendingValues(state); };
    TileHandOff handOff{reserve, produce, acquire, release,
                        plan.hopperStages, drain};

    b.setInsertionPoint(roles.thenBlock()->getTerminator());
    if (plan.movesRegisters())
      NVVM::SetMaxRegisterOp::create(b, loc, kProducerRegisters,
                                     NVVM::SetMaxRegisterAction::decrease);
    queryTma->start(index(0), 0, batch, head, q0);
    buildKeyTileProducerLoop(b, loc, op, aux, keyLoopTile(), plan.tileKv,
                             handOff);

    b.setInsertionPoint(roles.elseBlock()->getTerminator());
    if (plan.movesRegisters())
      NVVM::SetMaxRegisterOp::create(b, loc, plan.consumerRegisters(),
                                     NVVM::SetMaxRegisterAction::increase);
    queryTma->wait(index(0));
    SmallVector<Value> final = buildKeyTileConsumerLoop(
        b, loc, op, aux, keyLoopTile(), plan.tileKv, initialHopperState(),
        [&](const KeyTile &keys, bool masked, ValueRange state) {
          return updateWithKeyTileHopper(keys, masked, state);
        },
        handOff);
    final.resize(final.size() - kPendingState);
    writeOutputs(final);
  }

  /// The key-tile loop's initial state: (softmax) the row maxima and sums
  /// of the lane's two rows, then the output accumulator.
  SmallVector<Value> initialState() {
    SmallVector<Value> init;
    if (softmax) {
      init.push_back(splat(VectorType::get({2}, f32), -kInf));
      init.push_back(splat(VectorType::get({2}, f32), 0.0));
    }
    init.push_back(splat(accumulatorType(), 0.0));
    return init;
  }

  /// The block's query tile, for the key-tile loop.
  QueryTile keyLoopTile() {
    return QueryTile{batch, head,    q0,    q1,
                     qLen,  kvLen,   kvBegin, kvEnd,
                     std::max<int64_t>(plan.packedGroup, 1)};
  }

  //===--------------------------------------------------------------------===//
  // Helpers
  //===--------------------------------------------------------------------===//

  Value exp2(Value x) { return math::Exp2Op::create(b, loc, x); }
  VectorType accumulatorType() {
    return VectorType::get({plan.valueBlocks(), 2, 2}, f32);
  }
  VectorType scoreType() {
    return VectorType::get({plan.keyBlocks(), 2, 2}, f32);
  }

  //===--------------------------------------------------------------------===//
  // Set-up
  //===--------------------------------------------------------------------===//

  void setUpIndices() {
    lanes = WarpLanes::build(b, loc);
    atom = MmaAtom::create(b, loc, lanes, plan.mma);
    thread = lanes.thread;
    threadId = lanes.threadId;
    isLeader = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, thread,
                                     index(0));
    isFirstThread = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          threadId, index(0));

    BlockCoordinates block = BlockCoordinates::build(b, loc);
    Value qTile = block.tile;
    batch = block.batch;
    if (plan.packedGroup) {
      // Grid (splits, Hkv, B): the block's one tile holds every query row
      // of the key/value head's query heads.
      split = qTile;
      qTile = index(0);
      kvHead = block.head;
      head = mul(kvHead, plan.packedGroup);
    } else {
      if (splits) {
        // Block x = query tile * splits + split.
        split = arith::RemUIOp::create(b, loc, qTile, splits);
        qTile = arith::DivUIOp::create(b, loc, qTile, splits);
      }
      head = block.head;
      AttentionShape shape = op.getShape();
      kvHead = arith::DivUIOp::create(b, loc, head,
                                      index(shape.qHeads / shape.kvHeads));
    }
    // The block's sequence's own lengths (packed and paged sequences).
    qLen = layout.buildQueryLength(b, loc, aux, batch);
    kvLen = layout.buildKeyLength(b, loc, aux, batch);
    if (splits) {
      // Whole tiles per split, as evenly as they go; trailing splits may
      // be empty (they write lse = -inf).
      Value tiles = arith::CeilDivUIOp::create(b, loc, kvLen,
                                               index(plan.tileKv));
      Value perSplit = mul(arith::CeilDivUIOp::create(b, loc, tiles, splits),
                           plan.tileKv);
      kvBegin = arith::MulIOp::create(b, loc, split, perSplit);
      kvEnd = arith::AddIOp::create(b, loc, kvBegin, perSplit);
    }
    // The two query rows of this lane (fragment rows g and g + 8).
    // FlashHopper: the rows are the consumers' (warps from the producer's
    // on); the producer's own values are never used.
    Value warp = lanes.warp;
    if (plan.producerWarps)
      warp = arith::SubIOp::create(
          b, loc, arith::MaxUIOp::create(b, loc, warp, index(plan.producerWarps)),
          index(plan.producerWarps));
    warpRowInTile = mul(warp, kRowsPerWarp);
    warpgroupRow = mul(arith::DivUIOp::create(b, loc, warp,
                                              index(kWarpsPerWarpgroup)),
                       kWarpsPerWarpgroup * kRowsPerWarp);
    if (plan.packedGroup) {
      // Packed row p is query p % Sq of head `head` + p / Sq; padding rows
      // (p >= G Sq) are clamped to the last real one.
      q0 = index(0);
      q1 = qLen;
      for (int r = 0; r < 2; ++r) {
        Value packed = atom->accumulatorRow(warpRowInTile, r);
        rowValid[r] = less(packed, plan.packedRows);
        packed = arith::MinSIOp::create(b, loc, packed,
                                        index(plan.packedRows - 1));
        Value sq = index(plan.packedRows / plan.packedGroup);
        rows[r] = rowClamped[r] = arith::RemUIOp::create(b, loc, packed, sq);
        rowHeads[r] = add(head, arith::DivUIOp::create(b, loc, packed, sq));
      }
      return;
    }
    q0 = mul(qTile, plan.tileQ);
    q1 = add(q0, buildTileExtent(b, loc, qLen, q0, plan.tileQ));
    if (layout.queryForm() == QueryForm::Packed) {
      // Every sequence gets the query tiles of the longest; a tile past
      // its sequence's queries visits no key and writes nothing.
      Value live = less(q0, qLen);
      if (!kvBegin) {
        kvBegin = index(0);
        kvEnd = kvLen;
      }
      kvEnd = arith::SelectOp::create(b, loc, live, kvEnd, kvBegin);
      q1 = arith::SelectOp::create(b, loc, live, q1, q0);
    }
    Value warpRow = add(q0, warpRowInTile);
    for (int r = 0; r < 2; ++r)
      rows[r] = atom->accumulatorRow(warpRow, r);
    Value lastRow = arith::SubIOp::create(b, loc, qLen, index(1));
    for (int r = 0; r < 2; ++r) {
      rowValid[r] = less(rows[r], qLen);
      rowClamped[r] = arith::MinSIOp::create(b, loc, rows[r], lastRow);
      rowHeads[r] = head;
    }
  }

  void setUpSharedMemory() {
    if (plan.hopper) {
      shared = std::make_unique<SharedMemory>(b, loc, kSwizzleAlignment);
      queryTma = std::make_unique<TmaTileLoader>(
          b, loc, *shared, 0, ArrayRef{plan.queryTile}, 1,
          ValueRange{tensorMaps[0]}, isFirstThread);
      // Every consumer thread releases the slots.
      kvTma = std::make_unique<TmaTileLoader>(
          b, loc, *shared, plan.queryTile.bytes(),
          ArrayRef{plan.keyTile, plan.valueTile}, plan.hopperStages,
          ValueRange{tensorMaps[1], tensorMaps[2]}, isFirstThread,
          plan.warps * kWarpSize);
      wgmma = std::make_unique<WarpgroupMma>(b, loc, plan.mma.element);
      return;
    }
    shared = std::make_unique<SharedMemory>(b, loc);
    keyValueLoader = TileLoader::createCpAsync(
        b, loc, *shared, plan.keysAndValues, plan.threads(), threadId);
    if (plan.queriesInShared)
      queryLoader = TileLoader::createCpAsync(b, loc, *shared, plan.queries,
                                              plan.threads(), threadId);
  }

  /// The key and value tiles of buffer `slot` (0 or 1).
  std::pair<Value, Value> tilesOf(Value slot) {
    return {keyValueLoader->view(slot, 0), keyValueLoader->view(slot, 1)};
  }

  /// The query fragments of this warp's 16 rows for every k step of the
  /// head dimension, as vector<steps x A>; rows past Sq and columns past D
  /// are zero.
  Value loadQueryFragments() {
    const MmaShape &mma = plan.mma;
    Type element = mma.element;
    SmallVector<int64_t> shape = {plan.headSteps()};
    llvm::append_range(shape, mma.a.getShape());
    Value fragments = splatElement(VectorType::get(shape, element));
    for (int64_t step = 0; step < plan.headSteps(); ++step) {
      Value fragment = splatElement(mma.a);
      for (int64_t r = 0; r < mma.a.getDimSize(0); ++r) {
        // a[r] holds adjacent columns of one of the lane's two rows.
        auto [rowIndex, firstCol] = atom->aRegisterPosition(Value(), r);
        Value col = add(firstCol, step * mma.k);
        int64_t width = mma.a.getDimSize(1);
        Value inside = arith::AndIOp::create(
            b, loc, rowValid[rowIndex], less(col, index(plan.headDim)));
        Value safeCol = arith::SelectOp::create(b, loc, inside, col, index(0));
        Value pair = vector::LoadOp::create(
            b, loc, VectorType::get({width}, element), q,
            queryIndices(rowHeads[rowIndex], rowClamped[rowIndex], safeCol));
        pair = arith::SelectOp::create(
            b, loc, inside, pair,
            splatElement(VectorType::get({width}, element)));
        fragment = insert(pair, fragment, {r});
      }
      fragments = insert(fragment, fragments, {step});
    }
    return fragments;
  }

  /// The query tile in shared memory, after the two key/value buffers.
  Value queryTile() { return queryLoader->view(index(0), 0); }

  void startQueryTileLoad() {
    RowCopy copy{q,       batch,  head, q0, qLen, Value(), plan.headDimPadded,
                 plan.headDim};
    if (plan.packedGroup) {
      copy.rowLimit = index(plan.packedRows);
      copy.rowsPerHead = plan.packedRows / plan.packedGroup;
    }
    auto indicesOf = [&](Value row, Value col) {
      return queryIndices(head, row, col);
    };
    if (layout.queryForm() != QueryForm::Dense)
      copy.indicesOf = indicesOf;
    queryLoader->start(index(0), 0, copy);
    queryLoader->commit();
  }

  /// The A fragment of k step `step` of this warp's rows, from the query
  /// tile in shared memory.
  Value queryFragment(int64_t step) {
    return atom->loadA(
        {queryTile(), warpRowInTile, index(step * plan.mma.k)});
  }

  Value splatElement(VectorType type) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, b.getZeroAttr(type.getElementType())));
  }

  //===--------------------------------------------------------------------===//
  // One key tile
  //===--------------------------------------------------------------------===//

  SmallVector<Value> updateWithKeyTile(Value queries, const KeyTile &keys,
                                       bool masked, ValueRange state) {
    std::tie(keyTile, valueTile) = tilesOf(keys.slot);
    Value scores = scoreFunction(scoreFragments(queries), keys, masked);
    TileWeights w = weigh(scores, state);
    Value acc = w.correction ? rescale(state.back(), w.correction)
                             : state.back();
    w.rows.push_back(accumulate(w.weights, acc));
    return w.rows;
  }

  /// The weights of a tile's (final) scores and, for softmax, the row
  /// maxima and sums after it and the correction of the accumulator.
  struct TileWeights {
    SmallVector<Value> rows;
    Value weights, correction;
  };
  TileWeights weigh(Value scores, ValueRange state) {
    if (!softmax)
      return {{}, mapScores(scores, [&](Value s, int64_t) {
                return normalization.buildWeight(b, loc, s, Value());
              }),
              Value()};
    auto [rowMax, rowSum, p, correction] =
        onlineSoftmax(scores, state[0], state[1]);
    return {{rowMax, rowSum}, p, correction};
  }

  //===--------------------------------------------------------------------===//
  // FlashHopper's consumer: tile i's Q K^T, then tile i - 1's P V under
  // tile i's softmax
  //===--------------------------------------------------------------------===//

  /// The state after initialState(): P of the tile whose P V is pending
  /// (in the element type, one A operand per k step; zero when none is),
  /// its buffer, and whether one is pending.
  static constexpr int64_t kPendingState = 3;
  SmallVector<Value> initialHopperState() {
    SmallVector<Value> init = initialState();
    init.push_back(splatElement(pendingWeightsType()));
    init.push_back(index(0));
    init.push_back(arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0));
    return init;
  }
  VectorType pendingWeightsType() {
    return VectorType::get({plan.tileKv / 16, 8}, plan.mma.element);
  }

  SmallVector<Value> updateWithKeyTileHopper(const KeyTile &keys, bool masked,
                                             ValueRange state) {
    ValueRange rows = state.drop_back(kPendingState + 1);
    Value acc = state[rows.size()];
    ValueRange pending = state.take_back(kPendingState);
    // Fence for the registers the last step wrote (P, the rescaled
    // accumulator); Q K^T, then the pending P V as the second group.
    // P V is issued whether one is pending or not: ptxas serializes every
    // product of a kernel with one in a branch inside a group. Without one
    // P is zero (see drainPendingValues) and V this tile's, landed: acc
    // stays acc.
    wgmma->fence();
    Value scores = warpgroupScores(keys.slot);
    wgmma->commit();
    Value valuesSlot =
        arith::SelectOp::create(b, loc, pending[2], pending[1], keys.slot);
    acc = warpgroupValues(pending[0], acc, valuesSlot);
    wgmma->commit();
    wgmma->wait(1);
    TileWeights w = weigh(scoreFunction(scores, keys, masked), rows);
    wgmma->wait(0);
    if (w.correction)
      acc = rescale(acc, w.correction);
    SmallVector<Value> next = w.rows;
    next.push_back(acc);
    next.push_back(packWeights(w.weights));
    keys.releasePrevious();
    next.push_back(keys.slot);
    next.push_back(arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
    return next;
  }

  /// TileHandOff::drain: the pending P V, if any, issued and waited for
  /// (a whole group inside the branch), then nothing pending and P zero.
  SmallVector<Value> drainPendingValues(ValueRange state) {
    SmallVector<Value> next(state);
    ValueRange pending = state.take_back(kPendingState);
    Value &acc = next[state.size() - kPendingState - 1];
    auto ifPending = scf::IfOp::create(b, loc, acc.getType(), pending[2],
                                       /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifPending.thenBlock());
      wgmma->fence();
      Value sum = warpgroupValues(pending[0], acc, pending[1]);
      wgmma->commit();
      wgmma->wait(0);
      scf::YieldOp::create(b, loc, sum);
      b.setInsertionPointToStart(ifPending.elseBlock());
      scf::YieldOp::create(b, loc, acc);
    }
    acc = ifPending.getResult(0);
    next[next.size() - 3] = splatElement(pendingWeightsType());
    next.back() = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    return next;
  }

  /// The weights as P V's A operands (vector<k steps x 8 x element>).
  Value packWeights(Value weights) {
    Value packed = splatElement(pendingWeightsType());
    for (int64_t step = 0; step < plan.tileKv / 16; ++step)
      packed = insert(wgmma->accumulatorsAsA(weights, step), packed, {step});
    return packed;
  }

  /// FlashHopper: Q K^T of the warpgroup's 64 rows and the keys of `slot`,
  /// both operands K-major in shared memory (issued, not committed).
  Value warpgroupScores(Value slot) {
    Value queries = queryTma->address(index(0), 0);
    Value keys = kvTma->address(slot, 0);
    Value scores = splat(scoreType(), 0.0);
    for (int64_t step = 0; step < plan.headSteps(); ++step)
      scores = wgmma->mma(
          wgmma->kMajor(queries, plan.tileQ, warpgroupRow, step),
          wgmma->kMajor(keys, plan.tileKv, index(0), step), scores,
          /*transposeB=*/false);
    return scores;
  }

  /// FlashHopper: acc += P V, P the packed weights, V MN-major in shared
  /// memory (issued, not committed). P is in registers before the fence
  /// that precedes this: a register written between the fence and the
  /// product that reads it makes ptxas insert its own warpgroup.arrive
  /// (C7519) and wait on each product.
  Value warpgroupValues(Value packedWeights, Value acc, Value slot) {
    Value values = kvTma->address(slot, 1);
    for (int64_t step = 0; step < plan.tileKv / 16; ++step)
      acc = wgmma->mma(extract(packedWeights, {step}),
                       wgmma->mnMajor(values, plan.tileKv, step), acc,
                       /*transposeB=*/true);
    return acc;
  }

  /// Starts copying the key and value rows [kv0, kv0 + tileKv) into buffer
  /// `slot`, zero-filling rows past Skv and the padding columns of the keys.
  void startKeyTileLoad(Value kv0, Value slot) {
    if (plan.hopper) {
      kvTma->start(slot, 0, batch, kvHead, kv0);
      kvTma->start(slot, 1, batch, kvHead, kv0);
      return;
    }
    RowCopy keys{k,       batch, kvHead, kv0, kvLen, Value(),
                 plan.headDimPadded, plan.headDim};
    RowCopy values{v, batch, kvHead, kv0, kvLen, Value(), plan.valueDim,
                   plan.valueDim};
    // Packed and paged keys: rows through the cumulative lengths or the
    // block table (one table read per copied row).
    auto indicesOf = [&](Value row, Value col) {
      return layout.buildKeyIndices(b, loc, aux, batch, kvHead, row, col);
    };
    if (layout.keyForm() != KeyForm::Dense)
      keys.indicesOf = values.indicesOf = indicesOf;
    keyValueLoader->start(slot, 0, keys);
    keyValueLoader->start(slot, 1, values);
  }

  /// The raw scores q.k of this warp's rows and the tile's keys, as
  /// vector<keyBlocks x 2 x 2 x f32> (one C fragment per 8 keys).
  Value scoreFragments(Value queries) {
    Value scores = splat(scoreType(), 0.0);
    for (int64_t block = 0; block < plan.keyBlocks(); ++block) {
      Value c = extract(scores, {block});
      SmallVector<Value> bFragments = keyFragments(block);
      for (int64_t step = 0; step < plan.headSteps(); ++step)
        c = atom->mma(queries ? extract(queries, {step}) : queryFragment(step),
                      bFragments[step], c);
      scores = insert(c, scores, {block});
    }
    return scores;
  }

  /// The B fragments of keys [8 block, 8 block + 8) for every k step: K
  /// is stored key-major, the transpose of B.
  SmallVector<Value> keyFragments(int64_t block) {
    SmallVector<FragmentOffset> offsets;
    for (int64_t step = 0; step < plan.headSteps(); ++step)
      offsets.push_back({step * plan.mma.k, block * 8});
    return atom->loadB({keyTile, Value(), Value(), /*transposed=*/true},
                       offsets);
  }

  /// Applies `fn(score, r)` to every element of score fragments (`r` tells
  /// the row: rows[r]).
  Value mapScores(Value scores,
                  function_ref<Value(Value score, int64_t r)> fn) {
    Value result = scores;
    for (int64_t block = 0; block < plan.keyBlocks(); ++block)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t e = 0; e < 2; ++e)
          result = insert(fn(extract(scores, {block, r, e}), r), result,
                          {block, r, e});
    return result;
  }

  /// The key position of element (block, e) of the fragments of `keys`.
  Value keyPosition(Value kv0, int64_t block, int64_t e) {
    return atom->accumulatorColumn(kv0, block, e);
  }

  /// Scaled, modified and (in partial tiles) masked scores; padded keys
  /// are masked too. When they read memory at a score's position (a bias,
  /// segment ids, a layout, a tensor a region captures), modifiers and
  /// masks see padding rows (never stored) at the last query and padded
  /// keys (masked) at the last key, so that the reads stay inside the
  /// operand.
  Value scoreFunction(Value scores, const KeyTile &keys, bool masked) {
    SequenceLengths lengths{qLen, kvLen};
    Value kvEnd = add(keys.kv0, keys.kvCols);
    // Only partial tiles have padded keys.
    bool clampKeys = readsAtPositions && masked;
    Value lastKey =
        clampKeys ? arith::SubIOp::create(b, loc, kvLen, index(1)) : Value();
    Value result = scores;
    for (int64_t block = 0; block < plan.keyBlocks(); ++block) {
      for (int64_t e = 0; e < 2; ++e) {
        Value key = keyPosition(keys.kv0, block, e);
        Value keyAt =
            clampKeys ? arith::MinSIOp::create(b, loc, key, lastKey) : key;
        for (int64_t r = 0; r < 2; ++r) {
          ScorePosition pos{batch, rowHeads[r],
                            readsAtPositions ? rowClamped[r] : rows[r], keyAt};
          Value s = extract(scores, {block, r, e});
          if (!foldedScale)
            s = buildModifiedScore(b, loc, op, s, pos, lengths, aux);
          if (masked) {
            Value allowed = less(key, kvEnd);
            if (hasMask(op))
              allowed = arith::AndIOp::create(
                  b, loc, allowed,
                  buildAllowedAt(b, loc, op, pos, lengths, aux));
            s = arith::SelectOp::create(b, loc, allowed, s, fconst(-kInf));
          }
          result = insert(s, result, {block, r, e});
        }
      }
    }
    return result;
  }

  /// Combines `x` across the four lanes that hold one fragment row.
  Value rowReduce(Value x, function_ref<Value(Value, Value)> combine) {
    return atom->rowReduce(x, combine);
  }

  /// The online-softmax step: new row maxima and sums, the weights
  /// exp(s - m) and the correction exp(m_old - m_new) of the accumulator.
  std::tuple<Value, Value, Value, Value>
  onlineSoftmax(Value scores, Value rowMax, Value rowSum) {
    auto maximum = [&](Value x, Value y) -> Value {
      return arith::MaximumFOp::create(b, loc, x, y);
    };
    auto sum = [&](Value x, Value y) -> Value {
      return arith::AddFOp::create(b, loc, x, y);
    };
    Value newMax[2], correction[2], negScaledMax[2];
    for (int64_t r = 0; r < 2; ++r) {
      // With the scale folded, `scores` are raw and the maximum is scaled
      // once per row (exact for a positive scale).
      Value m = foldedScale ? fconst(-kInf) : extract(rowMax, {r});
      for (int64_t block = 0; block < plan.keyBlocks(); ++block)
        for (int64_t e = 0; e < 2; ++e)
          m = maximum(m, extract(scores, {block, r, e}));
      newMax[r] = rowReduce(m, maximum);
      if (foldedScale)
        newMax[r] = maximum(
            extract(rowMax, {r}),
            arith::MulFOp::create(b, loc, newMax[r], fconst(*foldedScale)));
      // 1 while the row has seen no allowed key (m = -inf).
      Value stillEmpty = arith::CmpFOp::create(
          b, loc, arith::CmpFPredicate::OEQ, newMax[r], fconst(-kInf));
      Value e = exp2(arith::MulFOp::create(
          b, loc,
          arith::SubFOp::create(b, loc, extract(rowMax, {r}), newMax[r]),
          fconst(kLog2E)));
      correction[r] =
          arith::SelectOp::create(b, loc, stillEmpty, fconst(1.0), e);
      // exp(s - m) = exp2(s log2 e - m log2 e): one FMA and the hardware
      // ex2 per score. Rows with no allowed key yet subtract 0 instead of
      // -inf, so their (-inf) scores give 0 without a select per score.
      negScaledMax[r] = arith::MulFOp::create(
          b, loc,
          arith::SelectOp::create(b, loc, stillEmpty, fconst(0.0), newMax[r]),
          fconst(-kLog2E));
    }
    Value weights = mapScores(scores, [&](Value s, int64_t r) {
      double scale = foldedScale.value_or(1.0);
      if (Value w = normalization.buildBase2Weight(b, loc, s, scale,
                                                   negScaledMax[r]))
        return w;
      if (foldedScale)
        s = arith::MulFOp::create(b, loc, s, fconst(scale));
      return normalization.buildWeight(b, loc, s, newMax[r]);
    });
    Value newMaxVector = vector::FromElementsOp::create(
        b, loc, VectorType::get({2}, f32), ValueRange{newMax[0], newMax[1]});
    Value newSum = rowSum;
    for (int64_t r = 0; r < 2; ++r) {
      Value partial = fconst(0.0);
      for (int64_t block = 0; block < plan.keyBlocks(); ++block)
        for (int64_t e = 0; e < 2; ++e)
          partial = sum(partial, extract(weights, {block, r, e}));
      partial = rowReduce(partial, sum);
      Value scaled = arith::MulFOp::create(b, loc, extract(rowSum, {r}),
                                           correction[r]);
      newSum = insert(sum(scaled, partial), newSum, {r});
    }
    Value correctionVector = vector::FromElementsOp::create(
        b, loc, VectorType::get({2}, f32),
        ValueRange{correction[0], correction[1]});
    return {newMaxVector, newSum, weights, correctionVector};
  }

  /// acc[.][r][.] *= correction[r].
  Value rescale(Value acc, Value correction) {
    Value factors[2];
    for (int64_t r = 0; r < 2; ++r)
      factors[r] = vector::BroadcastOp::create(
          b, loc, VectorType::get({2}, f32), extract(correction, {r}));
    for (int64_t block = 0; block < plan.valueBlocks(); ++block)
      for (int64_t r = 0; r < 2; ++r)
        acc = insert(arith::MulFOp::create(b, loc, extract(acc, {block, r}),
                                           factors[r]),
                     acc, {block, r});
    return acc;
  }

  /// The B fragments of the value tile for the keys of one k step, one
  /// per 8 value columns: key firstKey + kStride j for k index j.
  SmallVector<Value> valueFragments(int64_t firstKey, int64_t kStride) {
    SmallVector<FragmentOffset> offsets;
    for (int64_t block = 0; block < plan.valueBlocks(); ++block)
      offsets.push_back({firstKey, block * 8});
    return atom->loadB({valueTile}, offsets, kStride);
  }

  /// acc += P V, with the weight fragments as the A operand.
  Value accumulate(Value weights, Value acc) {
    for (const ReusedOperand &step : atom->accumulatorsAsA(weights)) {
      SmallVector<Value> bFragments = valueFragments(step.k0, step.kStride);
      for (int64_t block = 0; block < plan.valueBlocks(); ++block)
        acc = insert(
            atom->mma(step.a, bFragments[block], extract(acc, {block})), acc,
            {block});
    }
    return acc;
  }

  //===--------------------------------------------------------------------===//
  // Results
  //===--------------------------------------------------------------------===//

  /// Indices of `out` or `lse` at the lane's row `r` (and column if
  /// given): a split's partials lead with the split.
  SmallVector<Value> outputIndices(int64_t r, Value col = {}) {
    if (!splits)
      return queryIndices(rowHeads[r], rowClamped[r], col);
    SmallVector<Value> indices = {split, batch, rowHeads[r], rowClamped[r]};
    if (col)
      indices.push_back(col);
    return indices;
  }

  /// The indices in q and o of (query `row` of this block's sequence,
  /// head `h`, column `col`; without `col`, in lse). Packed rows are
  /// clamped into the tensor: a tile past its sequence still forms (and
  /// never uses) the address of a row.
  SmallVector<Value> queryIndices(Value h, Value row, Value col = {}) {
    SmallVector<Value> at =
        layout.buildQueryIndices(b, loc, aux, batch, h, row, col);
    if (layout.queryForm() == QueryForm::Packed) {
      Value last = arith::SubIOp::create(b, loc, sizeOf(q, 0), index(1));
      at[0] = arith::MinSIOp::create(
          b, loc, arith::MaxSIOp::create(b, loc, at[0], index(0)), last);
    }
    return at;
  }

  void writeOutputs(ValueRange final) {
    Value acc = final.back();
    Type outElement = cast<MemRefType>(out.getType()).getElementType();
    Value factor =
        normalization.buildOutputFactor(b, loc, kvLen, cast<FloatType>(f32));
    VectorType pairType = VectorType::get({2}, f32);
    for (int64_t r = 0; r < 2; ++r) {
      // The row's output of an accumulator of 1: one division per row,
      // then a multiply per element.
      Value scale = softmax ? buildRowOutput(b, loc, fconst(1.0),
                                             extract(final[1], {r}), factor)
                            : factor;
      Value mask = vector::BroadcastOp::create(
          b, loc, VectorType::get({2}, b.getI1Type()), rowValid[r]);
      for (int64_t block = 0; block < plan.valueBlocks(); ++block) {
        Value o = extract(acc, {block, r});
        if (scale)
          o = arith::MulFOp::create(
              b, loc, o, vector::BroadcastOp::create(b, loc, pairType, scale));
        if (outElement != f32)
          o = arith::TruncFOp::create(b, loc,
                                      VectorType::get({2}, outElement), o);
        Value col = atom->accumulatorColumn(Value(), block, 0);
        vector::MaskedStoreOp::create(b, loc, out,
                                      outputIndices(r, col), mask,
                                      o);
      }
      if (lse) {
        // One lane per row writes.
        Value value = buildRowLogSumExp(b, loc, extract(final[0], {r}),
                                        extract(final[1], {r}));
        Value writes = arith::AndIOp::create(b, loc, rowValid[r], isLeader);
        Value mask = vector::BroadcastOp::create(
            b, loc, VectorType::get({1}, b.getI1Type()), writes);
        Value element =
            vector::BroadcastOp::create(b, loc, VectorType::get({1}, f32), value);
        vector::MaskedStoreOp::create(b, loc, lse, outputIndices(r), mask,
                                      element);
      }
    }
  }

  AttentionOp op;
  const KernelPlan &plan;
  Value q, k, v;
  /// FlashHopper: the tensor maps of q, k and v.
  SmallVector<Value> tensorMaps;
  Value out, lse, splits;
  OperandAuxReader &aux;
  /// Where the rows of q, k, v and o lie (dense, packed or paged).
  SequenceLayout layout;
  NormalizationAttrInterface normalization;
  bool softmax;
  /// The scale, when it is applied inside the softmax (see the constructor).
  std::optional<double> foldedScale;

  WarpLanes lanes;
  std::unique_ptr<MmaAtom> atom;
  /// isLeader: the lane of each row's four that writes its lse;
  /// isFirstThread: the block's thread 0, which issues the TMA copies.
  Value threadId, thread, isLeader, isFirstThread;
  /// The first query row of this warp within the tile.
  Value warpRowInTile;
  /// `head`: the block's query head, or (packed) the first of its group.
  Value batch, head, kvHead, qLen, kvLen, q0, q1;
  /// Split-KV: this block's split and its key range.
  Value split, kvBegin, kvEnd;
  /// The lane's two rows: query position, whether real, clamped into
  /// range (for addresses), query head.
  Value rows[2], rowValid[2], rowClamped[2], rowHeads[2];
  /// Whether modifiers or masks read memory at a score's position.
  bool readsAtPositions = false;
  std::unique_ptr<SharedMemory> shared;
  std::unique_ptr<TileLoader> keyValueLoader, queryLoader;
  /// FlashHopper: the TMA rings, the product and the warpgroup's first row
  /// in the tile.
  std::unique_ptr<TmaTileLoader> queryTma, kvTma;
  std::unique_ptr<WarpgroupMma> wgmma;
  Value warpgroupRow;
  /// The tiles of the key tile being computed on.
  Value keyTile, valueTile;
};

/// What `attn-to-gpu` was asked for.
struct GpuTarget {
  int64_t warps;
  int64_t tileKv;
  std::string splitKv;
  /// sm_90a: wgmma and TMA exist.
  bool hopper = false;
};

/// Whether the FlashHopper family can run `op`: f16 or bf16, dense q, k and
/// v (TMA boxes of [batch, head, row, column] tensors, rows 16-byte
/// aligned: D and Dv multiples of 8) and D, Dv up to 256 (one wgmma's N).
bool hopperApplies(AttentionOp op, const GpuTarget &target) {
  if (!target.hopper)
    return false;
  Type element = op.getQ().getType().getElementType();
  SequenceLayout layout(op);
  AttentionShape shape = op.getShape();
  auto fits = [](int64_t dim) {
    return dim > 0 && dim % 8 == 0 && dim <= kMaxHopperDim;
  };
  return (element.isF16() || element.isBF16()) &&
         layout.queryForm() == QueryForm::Dense &&
         layout.keyForm() == KeyForm::Dense && fits(shape.headDim) &&
         fits(shape.valueDim);
}

/// The one place that picks the family of an op for a chip and shapes.
/// The whole key range per block runs on FlashHopper on sm_90a where it
/// applies (hopperApplies), on mma.sync otherwise; decoding's split-KV
/// families are mma.sync on every chip.
/// Split-KV (auto: when the keys are enough to split and the queries few)
/// packs the query heads of a key/value head into one block when their
/// G * Sq rows fit kMaxPackedRows (Sq static), and otherwise takes a block
/// per query tile and query head.
FailureOr<AttentionFamily> chooseFamily(AttentionOp op, const GpuTarget &target,
                                        const KernelPlan &plan) {
  if (FeatureMapAttrInterface estimate = op.getApproximationAttr())
    return op.emitOpError()
           << "has approximation(" << estimate
           << "), which no GPU kernel computes yet; run it on the CPU "
              "(attn-lower-to-cpu) or drop the approximation";
  bool softmax = op.getNormalizationOrDefault().normalizesRows();
  AttentionFamily flash = hopperApplies(op, target)
                              ? AttentionFamily::FlashHopper
                              : AttentionFamily::FlashMmaSync;
  if (target.splitKv == "never")
    return flash;
  AttentionFamily decode = packedGroupOf(op)
                               ? AttentionFamily::PackedSplitKvDecode
                               : AttentionFamily::SplitKvDecode;
  // Partials are [splits, B, Hq, Sq, Dv]: queries of one length.
  bool denseQueries =
      SequenceLayout(op).queryForm() == QueryForm::Dense;
  if (target.splitKv == "always") {
    if (!softmax)
      return op.emitOpError()
             << "cannot be compiled with split-kv=always: key splits are "
                "merged by their log-sum-exp, which needs the softmax "
                "normalization (use split-kv=auto or never)";
    if (!denseQueries)
      return op.emitOpError()
             << "cannot be compiled with split-kv=always: split-KV partials "
                "hold [B, Hq, Sq] rows, and packed queries ('cu_seqlens_q') "
                "have no Sq (use split-kv=auto or never)";
    return decode;
  }
  // auto: when one block holds every query of its heads, the grid has B *
  // Hq (or, packed, B * Hkv) blocks, too few to fill the GPU for decoding;
  // unless the keys are too few to split.
  // Paged and packed keys have lengths of their own: unknown here.
  AttentionShape shape = op.getShape();
  int64_t qLen = shape.qLen, kvLen = shape.kvLen;
  // No query (static Sq = 0 or B = 0): every grid is empty, and one kernel
  // without workspaces says so more simply than partials and a merge.
  if (qLen == 0 || op.getQ().getType().getDimSize(0) == 0)
    return flash;
  bool fewQueries = decode == AttentionFamily::PackedSplitKvDecode ||
                    (!ShapedType::isDynamic(qLen) && qLen <= plan.tileQ);
  bool fewKeys = !ShapedType::isDynamic(kvLen) &&
                 kvLen < kMinTilesPerSplit * 2 * plan.tileKv;
  return softmax && denseQueries && fewQueries && !fewKeys ? decode : flash;
}

/// The compute capability of `chip` ("sm_80", "sm_90a"), or failure with a
/// diagnostic on `op`.
FailureOr<int64_t> parseChip(Operation *op, StringRef chip) {
  int64_t capability = 0;
  StringRef digits = chip;
  if (!digits.consume_front("sm_") || digits.empty())
    return op->emitOpError() << "cannot be compiled for chip '" << chip
                             << "': expected sm_<major><minor>, e.g. sm_90";
  digits.consume_back("a");
  if (digits.getAsInteger(10, capability))
    return op->emitOpError() << "cannot be compiled for chip '" << chip
                             << "': expected sm_<major><minor>, e.g. sm_90";
  if (capability < 80)
    return op->emitOpError() << "cannot be compiled for " << chip
                             << ": the kernels use bf16 mma.sync and "
                                "cp.async, which need sm_80 or newer";
  return capability;
}

/// The flash kernel of `op` (the whole key range per block, or one split's
/// partials): its parameters are q, k, v, the auxiliary operands present,
/// the captured tensors, then `outputTypes` (and the split count).
FailureOr<gpu::GPUFuncOp>
buildAttentionKernel(AttentionOp op, const KernelPlan &plan,
                     ValueRange inputs, ArrayRef<Value> captured,
                     ArrayRef<Operation *> constants, TypeRange outputTypes,
                     bool split, ModuleOp module, SymbolTable &symbols) {
  OpBuilder b(op.getContext());
  Location loc = op.getLoc();
  SmallVector<Type> types;
  for (Value input : inputs)
    types.push_back(memrefTypeOf(input));
  llvm::append_range(types, outputTypes);
  if (split)
    types.push_back(b.getIndexType());
  // FlashHopper: the tensor maps of q, k and v come last.
  if (plan.hopper)
    for (const SwizzledTileShape *tile :
         {&plan.queryTile, &plan.keyTile, &plan.valueTile})
      types.push_back(tile->tensorMapType());
  gpu::GPUFuncOp kernel =
      createKernel(b, op, types, split ? "attention_partials" : "attention",
                   module, symbols);
  // setmaxnreg moves registers between warpgroups from a known count at
  // launch: without .maxnreg ptxas drops it (no USETMAXREG in the SASS).
  if (plan.movesRegisters())
    kernel->setAttr(NVVM::NVVMDialect::getMaxnregAttrName(),
                    b.getI32IntegerAttr(plan.launchRegisters()));

  // The body reads the kernel's arguments in place of the op's operands.
  ValueRange args = kernel.getArguments();
  AuxOperandValues auxOperands = op.getAuxOperands();
  AuxOperandValues auxArgs;
  unsigned next = 3;
  for (auto [i, operand] : llvm::enumerate(auxOperands))
    if (operand)
      auxArgs[i] = args[next++];
  WarpAuxReader aux(auxArgs);
  for (Value tensor : captured)
    aux.mapCaptured(tensor, bufferization::ToTensorOp::create(
                                b, loc, tensor.getType(), args[next++],
                                b.getUnitAttr()));
  for (Operation *constant : constants)
    aux.mapCaptured(constant->getResult(0), b.clone(*constant)->getResult(0));
  KernelOutputs outputs{args[inputs.size()],
                        outputTypes.size() > 1 ? args[inputs.size() + 1]
                                               : Value()};
  if (split)
    outputs.splits = args.back();
  ValueRange tensorMaps = plan.hopper ? args.take_back(3) : ValueRange();
  KernelBuilder(b, loc, op, plan, args.take_front(3), outputs, aux,
                tensorMaps)
      .build();
  gpu::ReturnOp::create(b, loc);
  if (failed(lowerCapturedTensorReads(kernel)))
    return failure();
  return kernel;
}

/// The host side of split-KV: the number of splits chosen at run time from
/// the grid and the device, the f32 partials as workspaces, the partials
/// kernel over (query tile x split, Hq, B) or, GQA-packed, (split, Hkv, B),
/// then the merge kernel into the op's results.
LogicalResult buildSplitKvPlan(OpBuilder &b, AttentionOp op,
                               const KernelPlan &plan, ValueRange inputs,
                               ArrayRef<Value> captured,
                               ArrayRef<Operation *> constants,
                               ModuleOp module, SymbolTable &symbols) {
  Location loc = op.getLoc();
  MLIRContext *ctx = op.getContext();
  Type f32 = Float32Type::get(ctx);
  RankedTensorType qType = op.getQ().getType();
  AttentionShape shape = op.getShape();
  int64_t qHeads = shape.qHeads;
  int64_t valueDim = shape.valueDim;
  // [splits, B, Hq, Sq, Dv] and [splits, B, Hq, Sq] (q is dense).
  SmallVector<int64_t> partialShape = {ShapedType::kDynamic,
                                       qType.getDimSize(0), qHeads,
                                       qType.getDimSize(2), valueDim};
  auto oPartsType = MemRefType::get(partialShape, f32);
  auto lsePartsType =
      MemRefType::get(ArrayRef(partialShape).drop_back(), f32);
  FailureOr<gpu::GPUFuncOp> partials = buildAttentionKernel(
      op, plan, inputs, captured, constants,
      TypeRange{oPartsType, lsePartsType}, /*split=*/true, module, symbols);
  if (failed(partials))
    return failure();
  FailureOr<MergeKernel> merge = buildMergeKernel(
      b, op, {oPartsType}, {lsePartsType}, memrefTypeOf(op.getO()),
      op.getLse() ? memrefTypeOf(op.getLse()) : MemRefType(), module,
      symbols);
  if (failed(merge))
    return failure();

  b.setInsertionPoint(op);
  PlanArithmetic host{b, loc};
  SmallVector<Value> args = buffersOf(b, loc, inputs);
  FailureOr<SmallVector<Value>> outputs = allocateResults(b, op);
  if (failed(outputs))
    return failure();
  SequenceLayout layout(op);
  Value batch = tensor::DimOp::create(b, loc, op.getQ(), 0);
  Value qLen = tensor::DimOp::create(b, loc, op.getQ(), 2);
  // The splits follow the longest sequence (paged: the table's capacity).
  Value kvLen = getValueOrCreateConstantIndexOp(
      b, loc, layout.buildMaxKeyLength(b, loc, op.getAuxOperands()));
  // Packed: one tile of every query row of a key/value head's group.
  Value qTiles = plan.packedGroup ? host.index(1)
                                  : host.ceilDiv(qLen, host.index(plan.tileQ));
  int64_t gridHeads =
      plan.packedGroup ? shape.kvHeads : qHeads;
  // Enough blocks for kBlocksPerSM per multiprocessor, each split at least
  // kMinTilesPerSplit key tiles long, at most kMaxSplits splits.
  Value blocks = host.maxOf(
      arith::MulIOp::create(
          b, loc, arith::MulIOp::create(b, loc, qTiles, host.index(gridHeads)),
          batch),
      host.index(1));
  Value multiprocessors = MultiprocessorCountOp::create(b, loc);
  Value wanted = host.ceilDiv(
      arith::MulIOp::create(b, loc, multiprocessors, host.index(kBlocksPerSM)),
      blocks);
  Value longest = host.ceilDiv(host.ceilDiv(kvLen, host.index(plan.tileKv)),
                               host.index(kMinTilesPerSplit));
  Value splits = host.maxOf(
      host.minOf(host.minOf(wanted, longest), host.index(kMaxSplits)),
      host.index(1));
  splits = LaunchChoiceOp::create(b, loc, "kv_splits", splits);

  SmallVector<Value> partialSizes = {splits};
  if (qType.isDynamicDim(0))
    partialSizes.push_back(batch);
  if (qType.isDynamicDim(2))
    partialSizes.push_back(qLen);
  Value oParts = memref::AllocOp::create(b, loc, oPartsType, partialSizes);
  Value lseParts = memref::AllocOp::create(b, loc, lsePartsType, partialSizes);
  args.append({oParts, lseParts, splits});
  Value gridX =
      plan.packedGroup ? splits : arith::MulIOp::create(b, loc, qTiles, splits);
  launchKernel(b, loc, *partials,
               gpu::KernelDim3{gridX, host.index(gridHeads), batch},
               plan.threads(), plan.sharedBytes, args);
  SmallVector<Value> mergeArgs = {oParts, lseParts};
  llvm::append_range(mergeArgs, *outputs);
  launchKernel(b, loc, merge->kernel,
               merge->grid(b, loc, batch, host.index(qHeads), qLen),
               merge->threads, 0, mergeArgs);
  // Bufferization's deallocation frees the workspaces after their last use.
  replaceWithBuffers(b, op, *outputs);
  return success();
}

LogicalResult lowerToGPU(AttentionOp op, const GpuTarget &target,
                         ModuleOp module, SymbolTable &symbols) {
  FailureOr<KernelPlan> plan = planKernel(op, target.warps, target.tileKv);
  if (failed(plan))
    return failure();
  FailureOr<AttentionFamily> family = chooseFamily(op, target, *plan);
  if (failed(family))
    return failure();
  if (*family == AttentionFamily::FlashHopper) {
    // Whole warpgroups; a mask whose blocks cut the tiles below what wgmma
    // takes keeps the mma.sync kernel.
    FailureOr<KernelPlan> hopper = planKernel(
        op, llvm::alignTo(target.warps, kWarpsPerWarpgroup), target.tileKv,
        *family);
    if (failed(hopper))
      return failure();
    if (fitsHopper(*hopper))
      plan = hopper;
    else
      family = AttentionFamily::FlashMmaSync;
  } else if (*family != AttentionFamily::FlashMmaSync) {
    plan = planKernel(op, target.warps, target.tileKv, *family);
    if (failed(plan))
      return failure();
  }
  SmallVector<Operation *> constants;
  FailureOr<SmallVector<Value>> captured = capturedTensors(op, constants);
  if (failed(captured))
    return failure();

  // Kernel inputs: q, k, v, the auxiliary operands present, the captured
  // tensors.
  SmallVector<Value> inputs = {op.getQ(), op.getK(), op.getV()};
  for (Value operand : op.getAuxOperands())
    if (operand)
      inputs.push_back(operand);
  llvm::append_range(inputs, *captured);
  OpBuilder b(op.getContext());
  if (*family != AttentionFamily::FlashMmaSync &&
      *family != AttentionFamily::FlashHopper)
    return buildSplitKvPlan(b, op, *plan, inputs, *captured, constants,
                            module, symbols);

  SmallVector<Type> outputTypes;
  for (Value result : op->getResults())
    outputTypes.push_back(memrefTypeOf(result));
  FailureOr<gpu::GPUFuncOp> kernel =
      buildAttentionKernel(op, *plan, inputs, *captured, constants,
                           outputTypes, /*split=*/false, module, symbols);
  if (failed(kernel))
    return failure();
  b.setInsertionPoint(op);
  Location loc = op.getLoc();
  // (query tiles of the longest sequence, Hq, B).
  SequenceLayout layout(op);
  Value qLen = getValueOrCreateConstantIndexOp(
      b, loc, layout.buildMaxQueryLength(b, loc));
  Value qTiles = arith::CeilDivUIOp::create(
      b, loc, qLen, arith::ConstantIndexOp::create(b, loc, plan->tileQ));
  gpu::KernelDim3 grid{
      qTiles, arith::ConstantIndexOp::create(b, loc, op.getShape().qHeads),
      getValueOrCreateConstantIndexOp(
          b, loc, layout.buildBatchSize(b, loc, op.getAuxOperands()))};
  if (!plan->hopper)
    return replaceWithLaunch(b, op, *kernel, inputs, grid, plan->threads(),
                             plan->sharedBytes);
  SmallVector<Value> args = buffersOf(b, loc, inputs);
  FailureOr<SmallVector<Value>> outputs = allocateResults(b, op);
  if (failed(outputs))
    return failure();
  llvm::append_range(args, *outputs);
  // The tensor maps of q, k and v: boxes of one tile's rows and 64 columns.
  Value qkv[3] = {args[0], args[1], args[2]};
  const SwizzledTileShape *tiles[3] = {&plan->queryTile, &plan->keyTile,
                                       &plan->valueTile};
  for (int i = 0; i < 3; ++i) {
    auto type = cast<MemRefType>(qkv[i].getType());
    Value unranked = memref::CastOp::create(
        b, loc, UnrankedMemRefType::get(type.getElementType(), Attribute()),
        qkv[i]);
    SmallVector<Value> box;
    for (int64_t size : tiles[i]->boxShape())
      box.push_back(arith::ConstantIndexOp::create(b, loc, size));
    args.push_back(nvgpu::TmaCreateDescriptorOp::create(
        b, loc, tiles[i]->tensorMapType(), unranked, box));
  }
  launchKernel(b, loc, *kernel, grid, plan->threads(), plan->sharedBytes,
               args);
  replaceWithBuffers(b, op, *outputs);
  return success();
}

struct AttnToGPUPass : attn::impl::AttnToGPUBase<AttnToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<AttentionOp, AttentionBackwardOp, LinearAttentionOp, MergeOp>(
              op))
        ops.push_back(op);
    });
    if (ops.empty())
      return;
    if (splitKv != "auto" && splitKv != "always" && splitKv != "never") {
      emitError(module.getLoc())
          << "attn-to-gpu: split-kv must be auto, always or never, got '"
          << splitKv << "'";
      return signalPassFailure();
    }
    // Every family needs sm_80 or newer; sm_90a adds FlashHopper
    // (chooseFamily).
    if (failed(parseChip(ops.front(), chip)))
      return signalPassFailure();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(&getContext()));
    SymbolTable symbols(module);
    GpuTarget target{warps, tileKv, splitKv, chip == "sm_90a"};
    for (Operation *op : ops) {
      LogicalResult lowered =
          TypeSwitch<Operation *, LogicalResult>(op)
              .Case([&](AttentionOp attention) {
                return lowerToGPU(attention, target, module, symbols);
              })
              .Case([&](AttentionBackwardOp backward) {
                return lowerAttentionBackwardToGPU(backward, warps, tileKv,
                                                   module, symbols);
              })
              .Case([&](LinearAttentionOp linear) {
                return lowerLinearAttentionToGPU(linear, warps, splitKv, module,
                                                 symbols);
              })
              .Case([&](MergeOp merge) {
                return lowerMergeToGPU(merge, module, symbols);
              });
      if (failed(lowered))
        return signalPassFailure();
    }
  }
};

} // namespace
