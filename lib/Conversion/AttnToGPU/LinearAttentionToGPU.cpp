//===- LinearAttentionToGPU.cpp - attn.linear_attention as a GPU kernel ---===//
//
// One thread block per (value-column tile, query head, batch entry) runs
// the chunked algorithm of Lightning Attention-2 over the whole sequence.
// Per chunk of 16 x warps positions:
//   - the threads stage the chunk's query and key rows in shared memory and
//     compute their features there, each thread its own elements
//     (FeatureMapAttrInterface::buildFeature): the feature map is fused,
//     features never go to global memory;
//   - each warp computes the outputs of its 16 queries on tensor cores
//     (mma.sync): phi(Q) phi(K)^T, masked causally and decayed, times V,
//     plus phi(Q) S for the state S carried in; a decay is gamma^(i - j)
//     (constant per head) or exp(c_i - c_j) with c the chunk's cumulative
//     per-token gates, which thread 0 sums into shared memory;
//   - the warps advance S by phi(K)^T V; each warp owns 16-row blocks of S
//     in f32 registers, and writes them to shared memory in the element
//     type for the next chunk's phi(Q) S.
// Non-causal ops first run the state over every key chunk, then the output
// of every query chunk. Fragments come from shared memory through the MMA
// atom (parts/MmaAtom.h), query, key and value rows through the tile
// loader (parts/TileLoader.h).
//
// An op is a plan of three kernels, so that a long sequence fills the GPU
// (a block per value tile, head and batch entry is a few dozen blocks): the
// sequence is cut into runs of whole chunks, their number chosen at launch
// from the grid and the device (launch choice "sequence_runs"; 1 where the
// grid fills the GPU already);
//   1. the state each run but the last adds, from zero, and the decay
//      across it: a block per (value tile x run, head, batch entry);
//   2. a scan of those into each run's incoming state, from initial_state;
//   3. each run's outputs from its incoming state, as the one-kernel form
//      computes them; the last run writes final_state.
// The state work of a causal run is done twice (1 and 3) for runs times the
// parallelism. A non-causal op cuts its keys and its queries into as many
// runs: 1 takes every key run, 2 sums them (its last slot), 3 takes the
// query runs, each from that sum, and none repeats work.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"
#include "parts/MmaAtom.h"
#include "parts/ThreadLayout.h"
#include "parts/TileLoader.h"

#include "attn/Dialect/LinalgBuilders.h"
#include "attn/Dialect/ValueBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace attn;

namespace {

/// Shared memory a block may use on every supported chip (sm_80 allows
/// 163 KiB of dynamic shared memory per block, sm_90 227 KiB).
constexpr int64_t kSharedMemoryLimit = 160 * 1024;
/// f32 registers per thread for the state (more would spill).
constexpr int64_t kStateRegisters = 32;

/// Sizes and shared-memory layout of one kernel.
struct LinearPlan {
  int64_t warps;
  /// Positions per chunk: 16 per warp.
  int64_t chunk;
  int64_t headDim, valueDim, features;
  /// F rounded up to 16 rows per warp (zero features).
  int64_t featuresPadded;
  /// Elements of padding per row of the element-type tiles.
  int64_t rowPadding;
  /// Value columns per block, and blocks along Dv.
  int64_t valueTile, valueTiles;
  MmaShape mma;
  /// The chunk's query or key rows and its value rows, as read.
  TileRing staging;
  /// Whether the state decays (a constant decay or per-token gates), and
  /// whether by gates.
  bool decay, gated, denominator;
  /// Whether the sequence runs in parallel runs (the three-kernel plan).
  bool runs;
  /// Byte offsets in dynamic shared memory.
  int64_t phiQAt, phiKAt, phiKDecayedAt, stateAt,
      normalizerAt, stagingAt, gateSumsAt, sharedBytes;

  int64_t threads() const { return warps * kWarpSize; }
  /// 16-row blocks of the state each warp owns.
  int64_t ownedBlocks() const { return featuresPadded / 16 / warps; }
  int64_t valueBlocks() const { return valueTile / 8; }
};

/// Whether `map` can build one feature at a time (tried in a scratch
/// module).
bool hasElementForm(FeatureMapAttrInterface map, Location loc,
                    FloatType type) {
  OpBuilder b(type.getContext());
  OwningOpRef<ModuleOp> scratch = ModuleOp::create(loc);
  b.setInsertionPointToStart(scratch->getBody());
  Value zero = floatConstant(b, loc, type, 0.0);
  Value index = arith::ConstantIndexOp::create(b, loc, 0);
  auto element = [&](OpBuilder &, Location, Value) { return zero; };
  auto weight = [&](OpBuilder &, Location, Value, Value) { return zero; };
  FeatureElementContext context{type, 1, element, weight, index, index};
  return bool(map.buildFeature(b, loc, context, index));
}

/// The sizes and shared memory of a kernel with `warps` warps.
LinearPlan layOut(LinearAttentionOp op, int64_t warps, bool runs) {
  Type element = op.getQ().getType().getElementType();
  LinearPlan plan;
  plan.warps = warps;
  plan.chunk = warps * 16;
  plan.headDim = op.getQ().getType().getDimSize(3);
  plan.valueDim = op.getV().getType().getDimSize(3);
  plan.features = op.getFeatureDim();
  plan.featuresPadded = llvm::alignTo(plan.features, 16 * warps);
  plan.mma = MmaShape::forElement(element);
  plan.gated = bool(op.getGate());
  plan.decay = op.getDecay() || plan.gated;
  plan.denominator = op.hasDenominator();
  plan.runs = runs;
  // The widest value tile (of at most 64 columns) whose state fits the
  // registers.
  plan.valueTile = std::min<int64_t>(llvm::alignTo(plan.valueDim, 8), 64);
  while (plan.valueTile > 8 &&
         plan.ownedBlocks() * plan.valueBlocks() * 4 > kStateRegisters)
    plan.valueTile -= 8;
  plan.valueTiles = llvm::divideCeil(plan.valueDim, plan.valueTile);

  int64_t elementBytes = element.getIntOrFloatBitWidth() / 8;
  int64_t offset = 0;
  auto allocate = [&](int64_t bytes) {
    int64_t at = offset;
    offset += llvm::alignTo(bytes, 16);
    return at;
  };
  // Rows of the tiles the warps gather fragments from carry 16 bytes of
  // padding, so that the 8 rows one fragment spans fall in distinct banks.
  plan.rowPadding = 16 / elementBytes;
  int64_t featureTile =
      plan.chunk * (plan.featuresPadded + plan.rowPadding) * elementBytes;
  plan.staging = {0,
                  {{plan.chunk, plan.headDim, element},
                   {plan.chunk, plan.valueTile + plan.rowPadding, element}},
                  1};
  plan.staging.offset = allocate(plan.staging.slotBytes());
  plan.phiQAt = allocate(featureTile);
  plan.phiKAt = allocate(featureTile);
  plan.phiKDecayedAt = plan.decay ? allocate(featureTile) : plan.phiKAt;
  plan.stateAt = allocate(plan.featuresPadded *
                          (plan.valueTile + plan.rowPadding) * elementBytes);
  plan.normalizerAt = allocate(plan.featuresPadded * 4);
  // The f32 state on its way from initial_state or to final_state (or a
  // run's workspaces).
  plan.stagingAt = op.getInitialState() || op.getFinalState() || runs
                       ? allocate(plan.featuresPadded * plan.valueTile * 4)
                       : 0;
  // The chunk's cumulative gates, from 0 before its first position.
  plan.gateSumsAt = plan.gated ? allocate((plan.chunk + 1) * 4) : 0;
  plan.sharedBytes = offset;
  return plan;
}

/// The layout with the most warps up to `warps` (the largest chunks) whose
/// shared memory fits a block: false, with the 1-warp layout, if none.
bool fitLayout(LinearAttentionOp op, int64_t warps, bool runs,
               LinearPlan &plan) {
  for (int64_t w = warps; w >= 1; --w) {
    plan = layOut(op, w, runs);
    if (plan.sharedBytes <= kSharedMemoryLimit)
      return true;
  }
  return false;
}

FailureOr<LinearPlan> planKernel(LinearAttentionOp op, int64_t warps,
                                 bool runs) {
  auto fail = [&]() {
    return op.emitOpError() << "cannot be compiled for the GPU: ";
  };
  Type element = op.getQ().getType().getElementType();
  if (failed(checkKernelSizes(op, element, {}, warps, std::nullopt)))
    return failure();
  FeatureMapAttrInterface map = op.getFeatureMap();
  if (op.getBeta())
    return fail() << "the delta rule is not in the GPU kernel yet; lower "
                     "this op on the CPU (attn-lower-to-cpu)";
  if (op.hasFeatureGate())
    return fail() << "gates per feature are not in the GPU kernel yet (gates "
                     "per token are); lower this op on the CPU "
                     "(attn-lower-to-cpu)";
  if (!hasElementForm(map, op.getLoc(), op.getComputeType()))
    return fail() << "the feature map " << map
                  << " has no per-element form for the GPU kernel (its "
                     "features depend on each other); run it on the CPU";

  LinearPlan plan, single;
  if (fitLayout(op, warps, runs, plan))
    return plan;
  InFlightDiagnostic diag =
      fail() << "the kernel needs " << plan.sharedBytes
             << " bytes of shared memory for " << plan.features
             << " features per row (D = " << plan.headDim
             << ") even with chunks of " << plan.chunk
             << " positions, more than the " << kSharedMemoryLimit
             << " a block can have; use a feature map with fewer features";
  if (runs && fitLayout(op, warps, false, single))
    diag << " (or split-kv=never: the parallel runs' kernels also stage "
            "the state in shared memory)";
  return diag;
}

/// The part a chunk kernel plays in the launch plan.
enum class LinearRole {
  /// The whole sequence.
  Whole,
  /// Kernel 1 of the sequence-parallel plan: each run's own state.
  RunStates,
  /// Kernel 3: each run's outputs from its incoming state.
  RunOutputs,
};

/// The workspaces of the sequence-parallel plan a chunk kernel takes after
/// the op's operands and results: [runs, B, H, F, Dv] states, [runs, B,
/// H, F] normalizers (with a denominator) and [runs, B, H] decays across
/// each run (RunStates, with a decay), all f32, and the run length (a
/// multiple of the chunk).
struct RunArgs {
  Value states, normalizers, decays, length;
};

/// Builds the body of one chunk kernel.
class LinearKernelBuilder : KernelBuilderBase {
public:
  /// `args`: the kernel's arguments (the op's operands, then its results);
  /// `weights`: the feature weights to read, or null.
  LinearKernelBuilder(OpBuilder &b, Location loc, LinearAttentionOp op,
                      const LinearPlan &plan, ValueRange args, Value weights,
                      LinearRole role = LinearRole::Whole, RunArgs run = {})
      : KernelBuilderBase(b, loc), op(op), plan(plan), map(op.getFeatureMap()),
        weights(weights), role(role), run(run) {
    unsigned next = 0;
    q = args[next++];
    k = args[next++];
    v = args[next++];
    next += op.getFeatureWeights() ? 1 : 0;
    decayArg = op.getDecay() ? args[next++] : Value();
    gateArg = op.getGate() ? args[next++] : Value();
    initialState = op.getInitialState() ? args[next++] : Value();
    initialNormalizer = op.getInitialNormalizer() ? args[next++] : Value();
    out = args[next++];
    finalState = op.getFinalState() ? args[next++] : Value();
    finalNormalizer = op.getFinalNormalizer() ? args[next++] : Value();
  }

  void build() {
    setUp();
    if (role == LinearRole::RunStates)
      return buildRunState();
    Value state = loadInitialState();
    barrier();
    if (op.getCausal()) {
      state = forChunks(begin, end, state, [&](Value c0, Value n, Value s) {
        stageFeatures(q, head, c0, qLen, n, phiQ, Value(), /*values=*/true);
        // After stageFeatures' barrier: no thread reads the last chunk's.
        if (plan.gated)
          sumGates(c0, n);
        stageFeatures(k, kvHead, c0, kvLen, n, phiK,
                      plan.decay ? phiKDecayed : Value(), /*values=*/false);
        barrier();
        writeOutputs(c0, /*withinChunk=*/true);
        barrier();
        return advanceState(s, n);
      });
    } else {
      // A run's outputs read the state over every key, which the scan
      // summed.
      if (role == LinearRole::Whole)
        state =
            forChunks(index(0), kvLen, state, [&](Value c0, Value n, Value s) {
              stageFeatures(k, kvHead, c0, kvLen, n, phiK, Value(),
                            /*values=*/true);
              barrier();
              return advanceState(s, n);
            });
      forChunks(begin, end, Value(), [&](Value c0, Value n, Value) {
        stageFeatures(q, head, c0, qLen, n, phiQ, Value(), /*values=*/false);
        barrier();
        writeOutputs(c0, /*withinChunk=*/false);
        return Value();
      });
    }
    storeFinalState(state);
  }

private:
  /// Kernel 1: this run's keys into a state from zero, its normalizer and
  /// the decay across it, into the workspaces at this run's index.
  void buildRunState() {
    Value state = loadInitialState();
    // The decay across the run is the product of its chunks' (every
    // thread computes the same).
    SmallVector<Value> carried = forChunks(
        begin, end, ValueRange{state, fconst(1.0)},
        [&](Value c0, Value n, ValueRange carried) -> SmallVector<Value> {
          // No thread still reads the previous chunk's gate sums.
          barrier();
          if (plan.gated)
            sumGates(c0, n);
          stageFeatures(k, kvHead, c0, kvLen, n, phiK,
                        plan.decay ? phiKDecayed : Value(), /*values=*/true);
          barrier();
          Value decay = carried[1];
          if (plan.decay)
            decay = fmul(decay, chunkDecay(n));
          Value next = advanceState(carried[0], n);
          return {next, decay};
        });
    storeState(carried[0], run.states, run.normalizers, {split, batch, head},
               Value());
    if (plan.decay) {
      Value writes =
          both(isFirstValueTile,
               arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, threadId,
                                     index(0)));
      storeIf(run.decays, {split, batch, head}, writes, carried[1]);
    }
  }

  //===--------------------------------------------------------------------===//
  // Helpers
  //===--------------------------------------------------------------------===//

  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value div(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, index(y));
  }
  Value rem(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, index(y));
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value toF32(Value x) { return convertFloat(b, loc, x, f32); }
  Value toElement(Value x) { return convertFloat(b, loc, x, plan.mma.element); }
  /// An index as f32.
  Value toFloat(Value i) {
    IndexExprBuilder ib(b, loc, b.getIndexType());
    return indexToFloat(ib, ib.value(i), f32);
  }
  /// The decay from just after chunk-local position `earlier` to just
  /// after `later` (>= earlier; -1 is the chunk's start): gamma^(later -
  /// earlier) as exp2((later - earlier) log2 gamma) (1 for equal positions
  /// even for gamma = 0), or exp(c_later - c_earlier) with the gates.
  Value decayBetween(Value later, Value earlier) {
    if (plan.gated)
      return math::ExpOp::create(
          b, loc,
          arith::SubFOp::create(b, loc,
                                load(gateSums, {add(later, 1)}),
                                load(gateSums, {add(earlier, 1)})));
    Value exponent = sub(later, earlier);
    Value power = math::Exp2Op::create(b, loc, fmul(toFloat(exponent),
                                                   log2Gamma));
    Value zero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       exponent, index(0));
    return select(zero, fconst(1.0), power);
  }

  /// The decay across a chunk of n positions.
  Value chunkDecay(Value n) {
    return decayBetween(sub(n, index(1)), index(-1));
  }

  /// gateSums[r + 1] = g_0 + .. + g_r for the chunk's positions (r < n),
  /// flat after them; gateSums[0] = 0. One thread sums, then a barrier.
  void sumGates(Value c0, Value n) {
    auto first = scf::IfOp::create(b, loc, arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq, threadId, index(0)));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(first.thenBlock());
      store(fconst(0.0), gateSums, {index(0)});
      forSteps(plan.chunk, fconst(0.0), [&](Value r, Value sum) {
        Value inside = less(r, n);
        Value g = load(gateArg, {batch, head,
                                 select(inside, add(c0, r), index(0))});
        Value next = fadd(sum, select(inside, toF32(g), fconst(0.0)));
        store(next, gateSums, {add(r, 1)});
        return next;
      });
    }
    barrier();
  }
  Value load(Value memref, ValueRange indices) {
    return memref::LoadOp::create(b, loc, memref, indices);
  }
  void store(Value value, Value memref, ValueRange indices) {
    memref::StoreOp::create(b, loc, value, memref, indices);
  }
  void barrier() { gpu::BarrierOp::create(b, loc); }
  /// The state registers of this warp: vector<owned x valueBlocks x 2x2>.
  VectorType stateType() {
    return VectorType::get({plan.ownedBlocks(), plan.valueBlocks(), 2, 2},
                           f32);
  }

  /// Runs `body(i)` for i in [0, count), spread over the block's threads.
  void forEachElement(int64_t count, function_ref<void(Value)> body) {
    attn::forEachElement(b, loc, count, plan.threads(), threadId, body);
  }

  /// forEachElement over the block's state tile [featuresPadded,
  /// valueTile]: `body(f, c, col, inside)` with c the tile column, col the
  /// value column, and whether (f, col) lies in [F, Dv].
  void forEachStateElement(
      function_ref<void(Value f, Value c, Value col, Value inside)> body) {
    forEachElement(plan.featuresPadded * plan.valueTile, [&](Value i) {
      Value f = div(i, plan.valueTile), c = rem(i, plan.valueTile);
      Value col = add(column0, c);
      Value inside = both(less(f, plan.features), less(col, plan.valueDim));
      body(f, c, col, inside);
    });
  }

  /// `prefix`, then each index of `tail`, or 0 where `inside` is false (so
  /// that threads past the edge address a valid element).
  SmallVector<Value> clampedIndices(ArrayRef<Value> prefix, Value inside,
                                    ArrayRef<Value> tail) {
    SmallVector<Value> at(prefix);
    for (Value x : tail)
      at.push_back(select(inside, x, index(0)));
    return at;
  }

  /// for c0 in [begin, end) step chunk, carrying `init`: `body(c0, n,
  /// carried)` returns the next values, with n = min(chunk, end - c0).
  SmallVector<Value>
  forChunks(Value begin, Value end, ValueRange init,
            function_ref<SmallVector<Value>(Value, Value, ValueRange)> body) {
    auto loop = scf::ForOp::create(
        b, loc, begin, end, index(plan.chunk), init,
        [&](OpBuilder &nb, Location, Value c0, ValueRange carried) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value n =
              arith::MinSIOp::create(b, loc, index(plan.chunk), sub(end, c0));
          scf::YieldOp::create(b, loc, body(c0, n, carried));
        });
    return SmallVector<Value>(loop.getResults());
  }
  /// The same carrying one `state` (or nothing).
  Value forChunks(Value begin, Value end, Value state,
                  function_ref<Value(Value, Value, Value)> body) {
    SmallVector<Value> init;
    if (state)
      init.push_back(state);
    SmallVector<Value> results = forChunks(
        begin, end, init,
        [&](Value c0, Value n, ValueRange carried) -> SmallVector<Value> {
          Value next = body(c0, n, carried.empty() ? Value() : carried[0]);
          return next ? SmallVector<Value>{next} : SmallVector<Value>{};
        });
    return state ? results[0] : Value();
  }

  /// The A fragment (16 x k) with A[i][j] = tile[row0 + i][col0 + j], or
  /// with `transposed`, tile[col0 + j][row0 + i].
  Value aFragment(Value tile, Value row0, Value col0, bool transposed) {
    return atom->loadA({tile, row0, col0, transposed});
  }

  /// The B fragments (k x 8) of `blocks` blocks of 8 columns: block i has
  /// B[j][n] = tile[k0 + j][n0 + 8 i + n] (`kMajor`) or tile[n0 + 8 i +
  /// n][k0 + j].
  SmallVector<Value> bFragments(Value tile, Value k0, Value n0,
                                int64_t blocks, bool kMajor) {
    SmallVector<FragmentOffset> offsets;
    for (int64_t i = 0; i < blocks; ++i)
      offsets.push_back({0, 8 * i});
    return atom->loadB({tile, k0, n0, !kMajor}, offsets);
  }

  Value mmaSync(Value a, Value bFragment, Value c) {
    return atom->mma(a, bFragment, c);
  }

  /// for step in [0, steps), carrying `init`: `body(step, carried)`.
  Value forSteps(int64_t steps, Value init,
                 function_ref<Value(Value, Value)> body) {
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(steps), index(1), ValueRange{init},
        [&](OpBuilder &nb, Location, Value step, ValueRange carried) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          scf::YieldOp::create(b, loc, ValueRange{body(step, carried[0])});
        });
    return loop.getResult(0);
  }

  /// Sums `x` over the four lanes of a fragment row.
  Value rowSum(Value x) {
    return atom->rowReduce(x, [&](Value x, Value y) { return fadd(x, y); });
  }

  //===--------------------------------------------------------------------===//
  // Set-up
  //===--------------------------------------------------------------------===//

  void setUp() {
    lanes = WarpLanes::build(b, loc);
    atom = MmaAtom::create(b, loc, lanes, plan.mma);
    threadId = lanes.threadId;
    thread = lanes.thread;
    Value warp = lanes.warp;
    warpRow = mul(warp, 16);
    BlockCoordinates block = BlockCoordinates::build(b, loc);
    // Runs: grid x is (run, value tile), the value tile minor.
    Value valueTileId = block.tile;
    if (role != LinearRole::Whole) {
      split = div(block.tile, plan.valueTiles);
      valueTileId = rem(block.tile, plan.valueTiles);
    }
    head = block.head;
    batch = block.batch;
    isFirstValueTile = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             valueTileId, index(0));
    // One value tile: every block's columns start at 0 (and fold).
    column0 = plan.valueTiles == 1 ? index(0)
                                   : mul(valueTileId, plan.valueTile);
    int64_t groupSize = op.getQ().getType().getDimSize(1) /
                        op.getK().getType().getDimSize(1);
    kvHead = div(head, groupSize);
    qLen = memref::DimOp::create(b, loc, q, 2);
    kvLen = memref::DimOp::create(b, loc, k, 2);
    maxLength = arith::MaxUIOp::create(b, loc, qLen, kvLen);
    // The positions of this block: a run's, or all of them. A non-causal
    // op's run states cut the keys, its run outputs the queries.
    begin = index(0);
    end = qLen;
    if (role != LinearRole::Whole) {
      Value positions =
          role == LinearRole::RunStates && !op.getCausal() ? kvLen : qLen;
      begin = arith::MulIOp::create(b, loc, split, run.length);
      Value runEnd = add(begin, run.length);
      end = arith::MinUIOp::create(b, loc, runEnd, positions);
      // The causal state after the last run is the final one; every
      // non-causal run has the whole state, and the first writes it.
      writesFinalState =
          op.getCausal()
              ? arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, runEnd,
                                      qLen)
              : arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, split,
                                      index(0));
    }
    if (decayArg) {
      gamma = load(decayArg, head);
      log2Gamma = math::Log2Op::create(b, loc, gamma);
    }
    // The first feature row of each state block of this warp.
    for (int64_t block = 0; block < plan.ownedBlocks(); ++block)
      stateRows.push_back(mul(add(warp, block * plan.warps), 16));

    shared = std::make_unique<SharedMemory>(b, loc);
    auto sharedView = [&](int64_t offset, int64_t rows, int64_t columns,
                          Type element) {
      return shared->view(offset, rows, columns, element);
    };
    Type element = plan.mma.element;
    int64_t fp = plan.featuresPadded;
    int64_t pad = plan.rowPadding;
    loader = TileLoader::createCpAsync(b, loc, *shared, plan.staging,
                                       plan.threads(), threadId);
    rows = loader->view(index(0), 0);
    values = loader->view(index(0), 1);
    phiQ = sharedView(plan.phiQAt, plan.chunk, fp + pad, element);
    phiK = sharedView(plan.phiKAt, plan.chunk, fp + pad, element);
    phiKDecayed = plan.decay
                      ? sharedView(plan.phiKDecayedAt, plan.chunk, fp + pad,
                                   element)
                      : phiK;
    stateTile =
        sharedView(plan.stateAt, fp, plan.valueTile + pad, element);
    normalizer = sharedView(plan.normalizerAt, 1, fp, f32);
    if (initialState || finalState || plan.runs)
      stateStaging = sharedView(plan.stagingAt, fp, plan.valueTile, f32);
    if (plan.gated)
      gateSums = shared->view(index(plan.gateSumsAt), {plan.chunk + 1}, f32);
  }

  /// The state registers and their shared copy from `initial_state` (or
  /// zero), a run's incoming state (run outputs) or zero (run states); the
  /// normalizer likewise.
  Value loadInitialState() {
    Value state = splat(stateType(), 0.0);
    // [B, H, ...] operands, or [runs, B, H, ...] workspaces.
    Value stateSource = initialState, normalizerSource = initialNormalizer;
    SmallVector<Value> prefix = {batch, head};
    if (role == LinearRole::RunOutputs) {
      stateSource = run.states;
      normalizerSource = run.normalizers;
      // A causal run's incoming state; the non-causal whole state, which
      // the scan writes last.
      Value slot = split;
      if (!op.getCausal()) {
        Value slots = memref::DimOp::create(b, loc, run.states, 0);
        Value one = index(1);
        slot = sub(slots, one);
      }
      prefix.insert(prefix.begin(), slot);
    } else if (role == LinearRole::RunStates) {
      // A run's own state starts from zero.
      stateSource = normalizerSource = Value();
    }
    if (stateSource) {
      // Through f32 shared memory: coalesced reads, and no per-fragment
      // global addresses kept alive across the chunk loop.
      forEachStateElement([&](Value f, Value c, Value col, Value inside) {
        Value x = load(stateSource, clampedIndices(prefix, inside, {f, col}));
        store(select(inside, x, fconst(0.0)), stateStaging, {f, c});
      });
      barrier();
      state = mapState(state, [&](Value, Value f, Value col) {
        return load(stateStaging, {f, sub(col, column0)});
      });
    }
    storeStateTile(state);
    if (plan.denominator)
      forEachElement(plan.featuresPadded, [&](Value f) {
        Value z = fconst(0.0);
        if (normalizerSource) {
          Value inside = less(f, plan.features);
          Value stored =
              load(normalizerSource, clampedIndices(prefix, inside, {f}));
          z = select(inside, stored, z);
        }
        store(z, normalizer, {index(0), f});
      });
    return state;
  }

  /// Applies `fn(element, feature row, value column)` to every element of
  /// the state registers.
  Value mapState(Value state, function_ref<Value(Value, Value, Value)> fn) {
    for (int64_t block = 0; block < plan.ownedBlocks(); ++block)
      for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
        for (int64_t r = 0; r < 2; ++r)
          for (int64_t e = 0; e < 2; ++e) {
            Value f = atom->accumulatorRow(stateRows[block], r);
            Value col = atom->accumulatorColumn(column0, vb, e);
            state = insert(fn(extract(state, {block, vb, r, e}), f, col),
                           state, {block, vb, r, e});
          }
    return state;
  }

  void storeStateTile(Value state) {
    mapState(state, [&](Value s, Value f, Value col) {
      store(toElement(s), stateTile, {f, sub(col, column0)});
      return s;
    });
  }

  //===--------------------------------------------------------------------===//
  // One chunk
  //===--------------------------------------------------------------------===//

  /// Stages the chunk's rows of `source` (and, with `values`, the chunk's
  /// value rows) and computes their features into `dest` (and `decayed`),
  /// once every thread is done with the previous contents.
  void stageFeatures(Value source, Value headIndex, Value row0, Value limit,
                     Value n, Value dest, Value decayed, bool values) {
    barrier();
    Value slot = index(0);
    loader->start(slot, 0,
                  {source, batch, headIndex, row0, limit, Value(),
                   plan.headDim, plan.headDim});
    // This block's value columns, zero past Skv and Dv.
    if (values)
      loader->start(slot, 1,
                    {v, batch, kvHead, row0, kvLen, column0, plan.valueTile,
                     plan.valueDim});
    loader->commit();
    loader->wait();
    computeFeatures(dest, decayed, row0, limit, n);
  }

  /// dest[r][f] = phi(rows[r])[f] for the chunk's n rows and F features,
  /// zero elsewhere, times the op's scale for the queries; `decayed` (if
  /// any) gets them times gamma^(n - 1 - r), the weight of key r in the
  /// state after the chunk.
  void computeFeatures(Value dest, Value decayed, Value row0, Value limit,
                       Value n) {
    int64_t fp = plan.featuresPadded;
    double scale = dest == phiQ ? op.getScaleOrDefault() : 1.0;
    forEachElement(plan.chunk * fp, [&](Value i) {
      Value r = div(i, fp), f = rem(i, fp);
      Value inside = both(less(add(row0, r), limit), less(f, plan.features));
      auto element = [&](OpBuilder &eb, Location eloc, Value d) -> Value {
        return convertFloat(
            eb, eloc, memref::LoadOp::create(eb, eloc, rows, ValueRange{r, d}),
            f32);
      };
      auto weight = [&](OpBuilder &wb, Location wloc, Value row,
                        Value col) -> Value {
        return convertFloat(
            wb, wloc, memref::LoadOp::create(wb, wloc, weights, {row, col}),
            f32);
      };
      FeatureElementContext context{
          op.getComputeType(), plan.headDim, element, weight, add(row0, r),
          maxLength};
      Value feature = map.buildFeature(
          b, loc, context,
          arith::MinSIOp::create(b, loc, f, index(plan.features - 1)));
      if (scale != 1.0)
        feature = fmul(feature, fconst(scale));
      store(toElement(select(inside, feature, fconst(0.0))), dest, {r, f});
      if (decayed) {
        // Rows past n are zero: their factor is never used.
        Value last = sub(n, index(1));
        Value factor = decayBetween(last, arith::MinSIOp::create(b, loc, r,
                                                                 last));
        store(toElement(select(inside, fmul(feature, factor), fconst(0.0))),
              decayed, {r, f});
      }
    });
  }

  /// The outputs of this warp's 16 queries of the chunk at `row0`: phi(Q) S
  /// (and phi(Q) z) decayed by gamma^(i + 1), plus, `withinChunk`, the
  /// causal products with the chunk's own keys.
  void writeOutputs(Value row0, bool withinChunk) {
    const MmaShape &mma = plan.mma;
    int64_t steps = plan.featuresPadded / mma.k;
    VectorType accType = VectorType::get({plan.valueBlocks(), 2, 2}, f32);
    // acc = phi(Q) S over the feature steps.
    Value acc = forSteps(steps, splat(accType, 0.0), [&](Value step, Value acc) {
      Value f0 = mul(step, mma.k);
      Value a = queryFragment(f0);
      SmallVector<Value> bs = bFragments(stateTile, f0, index(0),
                                         plan.valueBlocks(), /*kMajor=*/true);
      for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
        acc = insert(mmaSync(a, bs[vb], extract(acc, {vb})), acc, {vb});
      return acc;
    });
    // The chunk-local row of fragment row r, and phi(q) . z per row.
    Value localRow[2], denominator[2];
    for (int64_t r = 0; r < 2; ++r)
      localRow[r] = atom->accumulatorRow(warpRow, r);
    if (plan.denominator) {
      VectorType pair = VectorType::get({2}, f32);
      Value sums = forSteps(plan.featuresPadded / 4, splat(pair, 0.0),
                            [&](Value step, Value sums) {
        Value f = add(mul(step, 4), thread);
        Value z = load(normalizer, {index(0), f});
        for (int64_t r = 0; r < 2; ++r) {
          Value x = toF32(load(phiQ, {localRow[r], f}));
          sums = insert(math::FmaOp::create(b, loc, x, z, extract(sums, {r})),
                        sums, {r});
        }
        return sums;
      });
      for (int64_t r = 0; r < 2; ++r)
        denominator[r] = rowSum(extract(sums, {r}));
    }
    if (plan.decay && op.getCausal()) {
      for (int64_t r = 0; r < 2; ++r) {
        Value factor = decayBetween(localRow[r], index(-1));
        if (plan.denominator)
          denominator[r] = fmul(denominator[r], factor);
        Value factors = vector::BroadcastOp::create(
            b, loc, VectorType::get({2}, f32), factor);
        for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
          acc = insert(fmul(extract(acc, {vb, r}), factors), acc, {vb, r});
      }
    }
    if (withinChunk) {
      // 16 keys at a time, so that only their scores are live.
      VectorType pair = VectorType::get({2}, f32);
      Value sums = splat(pair, 0.0);
      auto loop = scf::ForOp::create(
          b, loc, index(0), index(plan.chunk / 16), index(1),
          ValueRange{acc, sums},
          [&](OpBuilder &nb, Location, Value keyGroup, ValueRange carried) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(),
                                nb.getInsertionPoint());
            Value key0 = mul(keyGroup, 16);
            Value weights = causalWeights(localRow, key0);
            Value sums = carried[1];
            for (int64_t r = 0; r < 2; ++r) {
              Value sum = extract(sums, {r});
              for (int64_t kb = 0; kb < 2; ++kb)
                for (int64_t e = 0; e < 2; ++e)
                  sum = fadd(sum, extract(weights, {kb, r, e}));
              sums = insert(sum, sums, {r});
            }
            Value next = accumulateValues(weights, key0, carried[0]);
            scf::YieldOp::create(b, loc, ValueRange{next, sums});
          });
      acc = loop.getResult(0);
      if (plan.denominator)
        for (int64_t r = 0; r < 2; ++r)
          denominator[r] = fadd(denominator[r],
                                rowSum(extract(loop.getResult(1), {r})));
    }
    storeOutputs(row0, localRow, acc, denominator);
  }

  /// The A fragment of this warp's query features, columns [f0, f0 + k).
  Value queryFragment(Value f0) {
    return aFragment(phiQ, warpRow, f0, /*transposed=*/false);
  }

  /// phi(q_i) . phi(k_j) gamma^(i - j) for the chunk's keys j in
  /// [key0, key0 + 16), 0 where j > i, as two C fragments
  /// (vector<2 x 2 x 2>).
  Value causalWeights(Value localRow[2], Value key0) {
    const MmaShape &mma = plan.mma;
    VectorType type = VectorType::get({2, 2, 2}, f32);
    Value scores = forSteps(plan.featuresPadded / mma.k, splat(type, 0.0),
                            [&](Value step, Value scores) {
      Value f0 = mul(step, mma.k);
      Value a = queryFragment(f0);
      SmallVector<Value> bs = bFragments(phiK, f0, key0, 2, /*kMajor=*/false);
      for (int64_t kb = 0; kb < 2; ++kb)
        scores = insert(mmaSync(a, bs[kb], extract(scores, {kb})), scores,
                        {kb});
      return scores;
    });
    for (int64_t kb = 0; kb < 2; ++kb)
      for (int64_t r = 0; r < 2; ++r)
        for (int64_t e = 0; e < 2; ++e) {
          Value key = atom->accumulatorColumn(key0, kb, e);
          Value s = extract(scores, {kb, r, e});
          if (plan.decay)
            s = fmul(s, decayBetween(localRow[r],
                                     arith::MinSIOp::create(b, loc, key,
                                                            localRow[r])));
          Value allowed = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::sle, key, localRow[r]);
          scores = insert(select(allowed, s, fconst(0.0)), scores,
                          {kb, r, e});
        }
    return scores;
  }

  /// acc + P V for the keys [key0, key0 + 16), with P (two C fragments)
  /// as the A operand.
  Value accumulateValues(Value weights, Value key0, Value acc) {
    for (const ReusedOperand &step : atom->accumulatorsAsA(weights)) {
      SmallVector<FragmentOffset> offsets;
      for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
        offsets.push_back({step.k0, 8 * vb});
      SmallVector<Value> bs =
          atom->loadB({values, key0, Value()}, offsets, step.kStride);
      for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
        acc = insert(mmaSync(step.a, bs[vb], extract(acc, {vb})), acc, {vb});
    }
    return acc;
  }

  /// o = acc / (den + eps) (or acc), for rows before Sq and columns
  /// before Dv.
  void storeOutputs(Value row0, Value localRow[2], Value acc,
                    Value denominator[2]) {
    Type outElement = cast<MemRefType>(out.getType()).getElementType();
    double eps = op.getEpsOrDefault();
    for (int64_t r = 0; r < 2; ++r) {
      Value position = add(row0, localRow[r]);
      Value rowInside = less(position, qLen);
      Value scale;
      if (plan.denominator)
        scale = arith::DivFOp::create(b, loc, fconst(1.0),
                                      fadd(denominator[r], fconst(eps)));
      for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
        for (int64_t e = 0; e < 2; ++e) {
          Value col = atom->accumulatorColumn(column0, vb, e);
          Value inside = both(rowInside, less(col, plan.valueDim));
          Value o = extract(acc, {vb, r, e});
          if (scale)
            o = fmul(o, scale);
          o = convertFloat(b, loc, o, outElement);
          storeIf(out,
                      {batch, head, select(inside, position, index(0)),
                       select(inside, col, index(0))},
                      inside, o);
        }
    }
  }

  /// The state after the chunk's n keys: S gamma^n + phi(K)'^T V in the
  /// registers and their shared copy, z gamma^n + sum_j phi(k_j)'.
  Value advanceState(Value state, Value n) {
    const MmaShape &mma = plan.mma;
    Value decayOfChunk = plan.decay ? chunkDecay(n) : Value();
    if (plan.decay)
      state = mapState(state, [&](Value s, Value, Value) {
        return fmul(s, decayOfChunk);
      });
    state = forSteps(plan.chunk / mma.k, state, [&](Value step, Value state) {
      Value j0 = mul(step, mma.k);
      SmallVector<Value> bs = bFragments(values, j0, index(0),
                                         plan.valueBlocks(), /*kMajor=*/true);
      for (int64_t block = 0; block < plan.ownedBlocks(); ++block) {
        // A[f][j] = phi(k_j)'[f]: the keys' features, transposed.
        Value a = aFragment(phiKDecayed, stateRows[block], j0,
                            /*transposed=*/true);
        for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
          state = insert(mmaSync(a, bs[vb], extract(state, {block, vb})),
                         state, {block, vb});
      }
      return state;
    });
    storeStateTile(state);
    if (plan.denominator)
      forEachElement(plan.featuresPadded, [&](Value f) {
        Value sum = forSteps(plan.chunk, fconst(0.0), [&](Value j, Value sum) {
          return fadd(sum, toF32(load(phiKDecayed, {j, f})));
        });
        Value z = load(normalizer, {index(0), f});
        if (plan.decay)
          z = fmul(z, decayOfChunk);
        store(fadd(z, sum), normalizer, {index(0), f});
      });
    return state;
  }

  //===--------------------------------------------------------------------===//
  // Results
  //===--------------------------------------------------------------------===//

  /// final_state and final_normalizer: the whole sequence's, those the last
  /// causal run ends with, or the non-causal sum the first run read.
  void storeFinalState(Value state) {
    storeState(state, finalState, finalNormalizer, {batch, head},
               writesFinalState);
  }

  /// Stores the state registers into `stateDest` [prefix..., F, Dv] and
  /// the normalizer into `normalizerDest` [prefix..., F] (either may be
  /// null), where `when` holds (null: always).
  void storeState(Value state, Value stateDest, Value normalizerDest,
                  ArrayRef<Value> prefix, Value when) {
    auto writes = [&](Value inside) {
      return when ? both(when, inside) : inside;
    };
    if (stateDest) {
      mapState(state, [&](Value s, Value f, Value col) {
        store(s, stateStaging, {f, sub(col, column0)});
        return s;
      });
      barrier();
      forEachStateElement([&](Value f, Value c, Value col, Value inside) {
        Value s = load(stateStaging, {f, c});
        SmallVector<Value> at = clampedIndices(prefix, inside, {f, col});
        storeIf(stateDest, at, writes(inside), s);
      });
    }
    // The same threads wrote each z element (forEachElement's order), so
    // no barrier is needed before reading it back.
    if (normalizerDest)
      forEachElement(plan.featuresPadded, [&](Value f) {
        Value inside = both(isFirstValueTile, less(f, plan.features));
        Value z = load(normalizer, {index(0), f});
        SmallVector<Value> at = clampedIndices(prefix, inside, {f});
        storeIf(normalizerDest, at, writes(inside), z);
      });
  }

  LinearAttentionOp op;
  const LinearPlan &plan;
  FeatureMapAttrInterface map;
  Value weights;

  Value q, k, v, decayArg, gateArg, initialState, initialNormalizer;
  Value out, finalState, finalNormalizer;
  WarpLanes lanes;
  std::unique_ptr<MmaAtom> atom;
  Value threadId, thread, warpRow;
  Value batch, head, kvHead, column0, isFirstValueTile;
  Value qLen, kvLen, maxLength, gamma, log2Gamma;
  LinearRole role;
  RunArgs run;
  /// This block's run (runs only), its positions [begin, end), and whether
  /// it writes final_state (null for the whole sequence: it does).
  Value split, begin, end, writesFinalState;
  SmallVector<Value> stateRows;
  std::unique_ptr<SharedMemory> shared;
  std::unique_ptr<TileLoader> loader;
  Value rows, values, phiQ, phiK, phiKDecayed, stateTile,
      normalizer, stateStaging, gateSums;
};

/// Threads of the scan kernel.
constexpr int64_t kScanThreads = 128;

/// Kernel 2: each run's incoming state, a block per (head, batch entry)
/// whose threads each scan their elements of the state over the runs: S_0
/// = initial_state (or 0), S_{r+1} = d_r S_r + dS_r with kernel 1's run
/// states dS and decays d; the normalizer likewise.
class RunScanBuilder : KernelBuilderBase {
public:
  struct Args {
    Value initialState, initialNormalizer;
    RunArgs own;
    /// [runs, B, H, F, Dv] and [runs, B, H, F]: what the scan writes.
    Value incomingStates, incomingNormalizers;
  };

  RunScanBuilder(OpBuilder &b, Location loc, const LinearPlan &plan, Args args)
      : KernelBuilderBase(b, loc), plan(plan), args(args) {}

  void build() {
    BlockCoordinates block = BlockCoordinates::build(b, loc);
    head = block.head;
    batch = block.batch;
    threadId = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value runs = memref::DimOp::create(b, loc, args.incomingStates, 0);
    last = arith::SubIOp::create(b, loc, runs, index(1));
    scan(plan.features * plan.valueDim, plan.valueDim, args.initialState,
         args.own.states, args.incomingStates);
    if (plan.denominator)
      scan(plan.features, 0, args.initialNormalizer, args.own.normalizers,
           args.incomingNormalizers);
  }

private:
  /// The scan of `count` elements, [f, c] of `columns` columns (0: [f]).
  void scan(int64_t count, int64_t columns, Value initial, Value own,
            Value incoming) {
    forEachElement(b, loc, count, kScanThreads, threadId, [&](Value i) {
      SmallVector<Value> element = {i};
      if (columns) {
        Value f = arith::DivUIOp::create(b, loc, i, index(columns));
        Value c = arith::RemUIOp::create(b, loc, i, index(columns));
        element = {f, c};
      }
      auto at = [&](ArrayRef<Value> prefix) {
        SmallVector<Value> indices(prefix);
        indices.append(element);
        return indices;
      };
      Value s = fconst(0.0);
      if (initial)
        s = convertFloat(
            b, loc, memref::LoadOp::create(b, loc, initial, at({batch, head})),
            f32);
      auto loop = scf::ForOp::create(
          b, loc, index(0), last, index(1), ValueRange{s},
          [&](OpBuilder &nb, Location, Value r, ValueRange carried) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            Value s = carried[0];
            memref::StoreOp::create(b, loc, s, incoming, at({r, batch, head}));
            if (args.own.decays) {
              Value d = memref::LoadOp::create(b, loc, args.own.decays,
                                               ValueRange{r, batch, head});
              s = arith::MulFOp::create(b, loc, d, s);
            }
            Value delta =
                memref::LoadOp::create(b, loc, own, at({r, batch, head}));
            scf::YieldOp::create(
                b, loc, ValueRange{arith::AddFOp::create(b, loc, s, delta)});
          });
      memref::StoreOp::create(b, loc, loop.getResult(0), incoming,
                              at({last, batch, head}));
    });
  }

  const LinearPlan &plan;
  Args args;
  Value head, batch, threadId, last;
};

/// Runs of the sequence-parallel plan: enough blocks for kRunBlocksPerSM per
/// multiprocessor, at most kMaxRuns runs of whole chunks.
constexpr int64_t kRunBlocksPerSM = 2;
constexpr int64_t kMaxRuns = 64;

/// The f32 type [runs, B, H, trailing...] of a run workspace.
MemRefType runWorkspaceType(LinearAttentionOp op, ArrayRef<int64_t> trailing) {
  RankedTensorType q = op.getQ().getType();
  SmallVector<int64_t> shape = {ShapedType::kDynamic, q.getDimSize(0),
                                q.getDimSize(1)};
  shape.append(trailing.begin(), trailing.end());
  return MemRefType::get(shape, Float32Type::get(op.getContext()));
}

} // namespace

LogicalResult attn::lowerLinearAttentionToGPU(LinearAttentionOp op,
                                              int64_t warps, StringRef splitKv,
                                              ModuleOp module,
                                              SymbolTable &symbols) {
  // Ops run as the plan of three kernels (1 run where the grid fills the
  // GPU already). Its chunk kernels stage the f32 state in shared memory;
  // where that does not fit, auto keeps the one kernel.
  bool runs = splitKv != "never";
  LinearPlan quiet;
  if (runs && splitKv == "auto" && !fitLayout(op, warps, true, quiet))
    runs = false;
  FailureOr<LinearPlan> plan = planKernel(op, warps, runs);
  if (failed(plan))
    return failure();
  SmallVector<Value> inputs(op->getOperands());
  Location loc = op.getLoc();
  OpBuilder b(op.getContext());
  MemRefType stateType = runWorkspaceType(op, {plan->features, plan->valueDim});
  MemRefType normalizerType = runWorkspaceType(op, {plan->features});
  MemRefType decayType = runWorkspaceType(op, {});
  Type indexType = b.getIndexType();

  // The weights: the operand, or those the map carries, as one constant
  // global of the kernel module that each chunk kernel reads.
  int64_t headDim = op.getQ().getType().getDimSize(3);
  FeatureMapAttrInterface map = op.getFeatureMap();
  std::optional<std::vector<double>> builtin = map.getBuiltinWeights(headDim);
  memref::GlobalOp global;
  auto weightsOf = [&](gpu::GPUFuncOp kernel) -> Value {
    if (op.getFeatureWeights())
      return kernel.getArgument(3);
    if (!builtin)
      return Value();
    FloatType type = op.getComputeType();
    int64_t rows = builtin->size() / headDim;
    auto memrefType = MemRefType::get({rows, headDim}, type);
    if (!global) {
      auto tensorType = RankedTensorType::get({rows, headDim}, type);
      SmallVector<Attribute> elements;
      for (double e : *builtin)
        elements.push_back(FloatAttr::get(type, e));
      OpBuilder::InsertionGuard guard(b);
      SymbolTable kernelSymbols(kernel->getParentOp());
      b.clearInsertionPoint();
      global = memref::GlobalOp::create(
          b, loc, "feature_weights", b.getStringAttr("private"), memrefType,
          DenseElementsAttr::get(tensorType, elements), /*constant=*/true,
          /*alignment=*/IntegerAttr());
      // Renamed if another kernel of the module has weights too.
      kernelSymbols.insert(global, Block::iterator(kernel));
    }
    return memref::GetGlobalOp::create(b, loc, memrefType, global.getSymName());
  };
  // A chunk kernel of `role` on the op's operands and results, then
  // `extra` arguments: its RunArgs' workspaces and the run length.
  auto chunkKernel = [&](StringRef name, LinearRole role,
                         ArrayRef<Type> extra) -> gpu::GPUFuncOp {
    SmallVector<Type> types;
    for (Value input : inputs)
      types.push_back(memrefTypeOf(input));
    for (Value result : op->getResults())
      types.push_back(memrefTypeOf(result));
    llvm::append_range(types, extra);
    gpu::GPUFuncOp kernel = createKernel(b, op, types, name, module, symbols);
    ValueRange args = kernel.getArguments();
    Value weights = weightsOf(kernel);
    RunArgs run;
    if (role != LinearRole::Whole) {
      ValueRange trailing = args.take_back(extra.size());
      unsigned next = 0;
      run.states = trailing[next++];
      if (plan->denominator)
        run.normalizers = trailing[next++];
      if (role == LinearRole::RunStates && plan->decay)
        run.decays = trailing[next++];
      run.length = trailing[next++];
    }
    LinearKernelBuilder(b, loc, op, *plan, args, weights, role, run).build();
    gpu::ReturnOp::create(b, loc);
    return kernel;
  };

  if (!runs) {
    gpu::GPUFuncOp kernel =
        chunkKernel("linear_attention", LinearRole::Whole, {});
    b.setInsertionPoint(op);
    Value valueTiles = arith::ConstantIndexOp::create(b, loc, plan->valueTiles);
    return replaceWithLaunch(b, op, kernel, inputs,
                             headBatchGrid(b, loc, op.getQ(), valueTiles),
                             plan->threads(), plan->sharedBytes);
  }

  SmallVector<Type> ownTypes = {stateType};
  if (plan->denominator)
    ownTypes.push_back(normalizerType);
  if (plan->decay)
    ownTypes.push_back(decayType);
  SmallVector<Type> incomingTypes = {stateType};
  if (plan->denominator)
    incomingTypes.push_back(normalizerType);
  SmallVector<Type> statesArgs(ownTypes), outputsArgs(incomingTypes);
  statesArgs.push_back(indexType);
  outputsArgs.push_back(indexType);
  gpu::GPUFuncOp states =
      chunkKernel("linear_run_states", LinearRole::RunStates, statesArgs);
  gpu::GPUFuncOp outputs =
      chunkKernel("linear_run_outputs", LinearRole::RunOutputs, outputsArgs);
  SmallVector<Type> scanTypes;
  if (op.getInitialState())
    scanTypes.push_back(memrefTypeOf(op.getInitialState()));
  if (op.getInitialNormalizer())
    scanTypes.push_back(memrefTypeOf(op.getInitialNormalizer()));
  llvm::append_range(scanTypes, ownTypes);
  llvm::append_range(scanTypes, incomingTypes);
  gpu::GPUFuncOp scan =
      createKernel(b, op, scanTypes, "linear_run_scan", module, symbols);
  {
    ValueRange args = scan.getArguments();
    unsigned next = 0;
    RunScanBuilder::Args scanArgs;
    if (op.getInitialState())
      scanArgs.initialState = args[next++];
    if (op.getInitialNormalizer())
      scanArgs.initialNormalizer = args[next++];
    scanArgs.own.states = args[next++];
    if (plan->denominator)
      scanArgs.own.normalizers = args[next++];
    if (plan->decay)
      scanArgs.own.decays = args[next++];
    scanArgs.incomingStates = args[next++];
    if (plan->denominator)
      scanArgs.incomingNormalizers = args[next++];
    RunScanBuilder(b, loc, *plan, scanArgs).build();
    gpu::ReturnOp::create(b, loc);
  }

  // The host side: the runs chosen at launch, the workspaces, the three
  // launches.
  b.setInsertionPoint(op);
  PlanArithmetic host{b, loc};
  SmallVector<Value> args = buffersOf(b, loc, inputs);
  FailureOr<SmallVector<Value>> results = allocateResults(b, op);
  if (failed(results))
    return failure();
  llvm::append_range(args, *results);
  Value batch = tensor::DimOp::create(b, loc, op.getQ(), 0);
  Value qLen = tensor::DimOp::create(b, loc, op.getQ(), 2);
  Value heads = host.index(op.getQ().getType().getDimSize(1));
  Value valueTiles = host.index(plan->valueTiles);
  Value blocks = host.maxOf(host.times(host.times(valueTiles, heads), batch),
                            host.index(1));
  Value multiprocessors = MultiprocessorCountOp::create(b, loc);
  Value wanted = host.ceilDiv(
      host.times(multiprocessors, host.index(kRunBlocksPerSM)), blocks);
  Value chunkSize = host.index(plan->chunk);
  Value one = host.index(1);
  Value queryChunks = host.ceilDiv(qLen, chunkSize);
  Value chunks = host.maxOf(queryChunks, one);
  Value keyChunks;
  if (!op.getCausal()) {
    Value kvLen = tensor::DimOp::create(b, loc, op.getK(), 2);
    keyChunks = host.ceilDiv(kvLen, chunkSize);
    chunks = host.maxOf(chunks, keyChunks);
  }
  Value wantedRuns =
      host.minOf(host.minOf(wanted, chunks), host.index(kMaxRuns));
  if (splitKv == "always")
    wantedRuns = host.maxOf(wantedRuns, host.minOf(chunks, host.index(2)));
  // Runs of whole chunks; the last may be shorter. A non-causal op cuts
  // its keys (states) and its queries (outputs) into as many runs, some
  // possibly empty.
  Value runCount, stateLength, outputLength;
  if (op.getCausal()) {
    Value length = host.times(host.ceilDiv(chunks, host.maxOf(wantedRuns, one)),
                              chunkSize);
    runCount = LaunchChoiceOp::create(
        b, loc, "sequence_runs", host.maxOf(host.ceilDiv(qLen, length), one));
    stateLength = outputLength = length;
  } else {
    runCount = LaunchChoiceOp::create(b, loc, "sequence_runs",
                                      host.maxOf(wantedRuns, one));
    stateLength = host.times(host.ceilDiv(keyChunks, runCount), chunkSize);
    outputLength = host.times(host.ceilDiv(queryChunks, runCount), chunkSize);
  }

  auto workspace = [&](MemRefType type, Value slots) -> Value {
    SmallVector<Value> sizes = {slots};
    if (op.getQ().getType().isDynamicDim(0))
      sizes.push_back(batch);
    return memref::AllocOp::create(b, loc, type, sizes);
  };
  SmallVector<Value> own = {workspace(stateType, runCount)};
  if (plan->denominator)
    own.push_back(workspace(normalizerType, runCount));
  if (plan->decay)
    own.push_back(workspace(decayType, runCount));
  // The scan writes a causal op's incoming state of each run; a non-causal
  // op's after every run, the whole state, comes last.
  Value slots = op.getCausal() ? runCount : host.plus(runCount, one);
  SmallVector<Value> incoming = {workspace(stateType, slots)};
  if (plan->denominator)
    incoming.push_back(workspace(normalizerType, slots));

  // 1: the runs but the last (causal), or every run.
  SmallVector<Value> statesLaunch(args);
  llvm::append_range(statesLaunch, own);
  statesLaunch.push_back(stateLength);
  Value stateRuns =
      op.getCausal() ? arith::SubIOp::create(b, loc, runCount, one) : runCount;
  launchKernel(b, loc, states,
               gpu::KernelDim3{host.times(valueTiles, stateRuns), heads, batch},
               plan->threads(), plan->sharedBytes, statesLaunch);
  // 2: the scan.
  SmallVector<Value> scanLaunch;
  if (op.getInitialState())
    scanLaunch.push_back(buffersOf(b, loc, op.getInitialState())[0]);
  if (op.getInitialNormalizer())
    scanLaunch.push_back(buffersOf(b, loc, op.getInitialNormalizer())[0]);
  llvm::append_range(scanLaunch, own);
  llvm::append_range(scanLaunch, incoming);
  launchKernel(b, loc, scan, gpu::KernelDim3{host.index(1), heads, batch},
               kScanThreads, 0, scanLaunch);
  // 3: every run's outputs.
  SmallVector<Value> outputsLaunch(args);
  llvm::append_range(outputsLaunch, incoming);
  outputsLaunch.push_back(outputLength);
  launchKernel(b, loc, outputs,
               gpu::KernelDim3{host.times(valueTiles, runCount), heads, batch},
               plan->threads(), plan->sharedBytes, outputsLaunch);
  // Bufferization's deallocation frees the workspaces after their last use.
  replaceWithBuffers(b, op, *results);
  return success();
}
