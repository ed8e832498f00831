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
//     plus phi(Q) S for the state S carried in;
//   - the warps advance S by phi(K)^T V; each warp owns 16-row blocks of S
//     in f32 registers, and writes them to shared memory in the element
//     type for the next chunk's phi(Q) S.
// Non-causal ops first run the state over every key chunk, then the output
// of every query chunk. Fragments are gathered from shared memory element
// by element, following the layout table of attn/Conversion/MmaLayout.h.
//
//===----------------------------------------------------------------------===//

#include "KernelSupport.h"

#include "attn/Conversion/MmaLayout.h"
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
  bool decay, denominator;
  /// Byte offsets in dynamic shared memory.
  int64_t rowsAt, valuesAt, phiQAt, phiKAt, phiKDecayedAt, stateAt,
      normalizerAt, stagingAt, sharedBytes;

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
LinearPlan layOut(LinearAttentionOp op, int64_t warps) {
  Type element = op.getQ().getType().getElementType();
  LinearPlan plan;
  plan.warps = warps;
  plan.chunk = warps * 16;
  plan.headDim = op.getQ().getType().getDimSize(3);
  plan.valueDim = op.getV().getType().getDimSize(3);
  plan.features = op.getFeatureDim();
  plan.featuresPadded = llvm::alignTo(plan.features, 16 * warps);
  plan.mma = MmaShape::forElement(element);
  plan.decay = bool(op.getDecay());
  plan.denominator = op.hasDenominator();
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
  plan.rowsAt = allocate(plan.chunk * plan.headDim * 4);
  plan.valuesAt = allocate(plan.chunk * (plan.valueTile + plan.rowPadding) *
                           elementBytes);
  plan.phiQAt = allocate(featureTile);
  plan.phiKAt = allocate(featureTile);
  plan.phiKDecayedAt = plan.decay ? allocate(featureTile) : plan.phiKAt;
  plan.stateAt = allocate(plan.featuresPadded *
                          (plan.valueTile + plan.rowPadding) * elementBytes);
  plan.normalizerAt = allocate(plan.featuresPadded * 4);
  // The f32 state on its way from initial_state or to final_state.
  plan.stagingAt = op.getInitialState() || op.getFinalState()
                       ? allocate(plan.featuresPadded * plan.valueTile * 4)
                       : 0;
  plan.sharedBytes = offset;
  return plan;
}

FailureOr<LinearPlan> planKernel(LinearAttentionOp op, int64_t warps) {
  auto fail = [&]() {
    return op.emitOpError() << "cannot be compiled for the GPU: ";
  };
  Type element = op.getQ().getType().getElementType();
  if (!element.isF16() && !element.isBF16() && !element.isF32())
    return fail() << "elements must be f16, bf16 or f32 (tf32 tensor cores), "
                     "got "
                  << element;
  FeatureMapAttrInterface map = op.getFeatureMap();
  if (!hasElementForm(map, op.getLoc(), op.getComputeType()))
    return fail() << "the feature map " << map
                  << " has no per-element form for the GPU kernel (its "
                     "features depend on each other); run it on the CPU";
  if (warps < 1 || warps > 8)
    return fail() << "warps = " << warps << " must be between 1 and 8";

  // Fewer warps (smaller chunks) than asked when the features of a chunk
  // do not fit in shared memory otherwise.
  LinearPlan plan;
  for (int64_t w = warps; w >= 1; --w) {
    plan = layOut(op, w);
    if (plan.sharedBytes <= kSharedMemoryLimit)
      return plan;
  }
  return fail() << "the kernel needs " << plan.sharedBytes
                << " bytes of shared memory for " << plan.features
                << " features per row (D = " << plan.headDim
                << ") even with chunks of " << plan.chunk
                << " positions, more than the " << kSharedMemoryLimit
                << " a block can have; use a feature map with fewer features";
}

/// Builds the body of one kernel.
class LinearKernelBuilder : KernelBuilderBase {
public:
  /// `args`: the kernel's arguments (the op's operands, then its results);
  /// `weights`: the feature weights to read, or null.
  LinearKernelBuilder(OpBuilder &b, Location loc, LinearAttentionOp op,
                      const LinearPlan &plan, ValueRange args, Value weights)
      : KernelBuilderBase(b, loc), op(op), plan(plan),
        map(op.getFeatureMap()), weights(weights) {
    unsigned next = 0;
    q = args[next++];
    k = args[next++];
    v = args[next++];
    next += op.getFeatureWeights() ? 1 : 0;
    decayArg = op.getDecay() ? args[next++] : Value();
    initialState = op.getInitialState() ? args[next++] : Value();
    initialNormalizer = op.getInitialNormalizer() ? args[next++] : Value();
    out = args[next++];
    finalState = op.getFinalState() ? args[next++] : Value();
    finalNormalizer = op.getFinalNormalizer() ? args[next++] : Value();
  }

  void build() {
    setUp();
    Value state = loadInitialState();
    barrier();
    if (op.getCausal()) {
      state = forChunks(qLen, state, [&](Value c0, Value n, Value s) {
        stageFeatures(q, head, c0, qLen, n, phiQ, Value(), /*values=*/true);
        stageFeatures(k, kvHead, c0, kvLen, n, phiK,
                      plan.decay ? phiKDecayed : Value(), /*values=*/false);
        barrier();
        writeOutputs(c0, /*withinChunk=*/true);
        barrier();
        return advanceState(s, n);
      });
    } else {
      state = forChunks(kvLen, state, [&](Value c0, Value n, Value s) {
        stageFeatures(k, kvHead, c0, kvLen, n, phiK, Value(), /*values=*/true);
        barrier();
        return advanceState(s, n);
      });
      forChunks(qLen, Value(), [&](Value c0, Value n, Value) {
        stageFeatures(q, head, c0, qLen, n, phiQ, Value(), /*values=*/false);
        barrier();
        writeOutputs(c0, /*withinChunk=*/false);
        return Value();
      });
    }
    storeFinalState(state);
  }

private:
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
  /// gamma^exponent for an index exponent >= 0, as exp2(exponent log2
  /// gamma) (gamma^0 = 1 even for gamma = 0).
  Value decayPower(Value exponent) {
    Value power = math::Exp2Op::create(b, loc, fmul(toFloat(exponent),
                                                   log2Gamma));
    Value zero = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       exponent, index(0));
    return select(zero, fconst(1.0), power);
  }
  Value load(Value memref, ValueRange indices) {
    return memref::LoadOp::create(b, loc, memref, indices);
  }
  void store(Value value, Value memref, ValueRange indices) {
    memref::StoreOp::create(b, loc, value, memref, indices);
  }
  void barrier() { gpu::BarrierOp::create(b, loc); }
  /// A static [rows, columns] view of shared memory at byte `offset`.
  Value sharedView(int64_t offset, int64_t rows, int64_t columns,
                   Type element) {
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                                gpu::AddressSpace::Workgroup);
    auto type = MemRefType::get({rows, columns}, element,
                                MemRefLayoutAttrInterface(), workgroup);
    return memref::ViewOp::create(b, loc, type, sharedBytes, index(offset),
                                  ValueRange{});
  }
  /// The state registers of this warp: vector<owned x valueBlocks x 2x2>.
  VectorType stateType() {
    return VectorType::get({plan.ownedBlocks(), plan.valueBlocks(), 2, 2},
                           f32);
  }

  /// Runs `body(i)` for i in [0, count), spread over the block's threads.
  void forEachElement(int64_t count, function_ref<void(Value)> body) {
    attn::forEachElement(b, loc, count, plan.threads(), threadId, body);
  }

  /// for c0 in [0, length) step chunk, carrying `state` (or nothing):
  /// `body(c0, n, state)` with n = min(chunk, length - c0).
  Value forChunks(Value length, Value state,
                  function_ref<Value(Value, Value, Value)> body) {
    SmallVector<Value> init;
    if (state)
      init.push_back(state);
    auto loop = scf::ForOp::create(
        b, loc, index(0), length, index(plan.chunk), init,
        [&](OpBuilder &nb, Location, Value c0, ValueRange carried) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value n = arith::MinSIOp::create(b, loc, index(plan.chunk),
                                           sub(length, c0));
          Value next = body(c0, n, carried.empty() ? Value() : carried[0]);
          scf::YieldOp::create(b, loc, next ? ValueRange{next} : ValueRange{});
        });
    return state ? loop.getResult(0) : Value();
  }

  /// The fragment of `type` for operand `operand` (0: A, 1: B) of this
  /// lane, element (row, column) of the warp's matrix being `read(row,
  /// column)`.
  Value gather(VectorType type, int operand,
               function_ref<Value(Value row, Value column)> read) {
    SmallVector<Value> elements;
    for (const MatrixPosition &p : fragmentLayout(plan.mma.k, operand)) {
      Value row = add(add(mul(group, p.gRow), mul(thread, p.tRow)), p.row);
      Value column = add(add(mul(group, p.gCol), mul(thread, p.tCol)), p.col);
      elements.push_back(read(row, column));
    }
    return vector::FromElementsOp::create(b, loc, type, elements);
  }

  /// ldmatrix.x`count` (16-bit elements) of the 8x8 matrices m whose row
  /// r starts at tile[rowOf(m) + r][colOf(m)]; `transpose` as ldmatrix.
  Value loadMatrices(Value tile, int64_t count, bool transpose,
                     function_ref<Value(Value m)> rowOf,
                     function_ref<Value(Value m)> colOf) {
    // With x2, lanes 16..31 give unused addresses: keep them in bounds.
    Value m = count == 4 ? matrix : rem(matrix, 2);
    return nvgpu::LdMatrixOp::create(
        b, loc, VectorType::get({count, 2}, plan.mma.element), tile,
        ValueRange{add(rowOf(m), matrixRow), colOf(m)}, transpose, count);
  }

  /// The A fragment (16 x k) with A[i][j] = tile[row0 + i][col0 + j], or
  /// with `transposed`, tile[col0 + j][row0 + i].
  Value aFragment(Value tile, Value row0, Value col0, bool transposed) {
    if (plan.mma.tf32)
      return gather(plan.mma.a, 0, [&](Value row, Value col) {
        Value i = add(row0, row), j = add(col0, col);
        return transposed ? load(tile, {j, i}) : load(tile, {i, j});
      });
    // a[m] is 8x8 matrix m: rows + 8 (m % 2), columns + 8 (m / 2).
    auto rows = [&](Value m) { return add(row0, mul(rem(m, 2), 8)); };
    auto cols = [&](Value m) { return add(col0, mul(div(m, 2), 8)); };
    if (transposed) // stored as (column, row): swap, transpose on load
      return loadMatrices(tile, 4, true, cols, rows);
    return loadMatrices(tile, 4, false, rows, cols);
  }

  /// The B fragments (k x 8) of `blocks` blocks of 8 columns: block i has
  /// B[j][n] = tile[k0 + j][n0 + 8 i + n] (`kMajor`) or tile[n0 + 8 i +
  /// n][k0 + j].
  SmallVector<Value> bFragments(Value tile, Value k0, Value n0,
                                int64_t blocks, bool kMajor) {
    SmallVector<Value> fragments;
    if (plan.mma.tf32) {
      for (int64_t i = 0; i < blocks; ++i)
        fragments.push_back(gather(plan.mma.b, 1, [&](Value row, Value col) {
          Value j = add(k0, row), n = add(add(n0, col), 8 * i);
          return kMajor ? load(tile, {j, n}) : load(tile, {n, j});
        }));
      return fragments;
    }
    // b[r] is the 8x8 matrix of k rows + 8 r; matrices 2 and 3 (x4) are
    // the next block's.
    for (int64_t i = 0; i < blocks; i += 2) {
      int64_t count = i + 1 < blocks ? 4 : 2;
      auto kRows = [&](Value m) { return add(k0, mul(rem(m, 2), 8)); };
      auto nRows = [&](Value m) {
        return add(add(n0, mul(div(m, 2), 8)), 8 * i);
      };
      Value x = kMajor ? loadMatrices(tile, count, true, kRows, nRows)
                       : loadMatrices(tile, count, false, nRows, kRows);
      for (int64_t t = 0; t < count; t += 2)
        fragments.push_back(vector::ShuffleOp::create(
            b, loc, x, x, ArrayRef<int64_t>{t, t + 1}));
    }
    return fragments;
  }

  Value mmaSync(Value a, Value bFragment, Value c) {
    return nvgpu::MmaSyncOp::create(b, loc, a, bFragment, c,
                                    ArrayRef<int64_t>{16, 8, plan.mma.k},
                                    plan.mma.tf32);
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
    for (int32_t offset : {1, 2})
      x = fadd(x, gpu::ShuffleOp::create(b, loc, x, offset, kWarpSize,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult());
    return x;
  }

  //===--------------------------------------------------------------------===//
  // Set-up
  //===--------------------------------------------------------------------===//

  void setUp() {
    threadId = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value lane = rem(threadId, kWarpSize);
    Value warp = div(threadId, kWarpSize);
    group = div(lane, 4);
    thread = rem(lane, 4);
    // ldmatrix: lanes 8m .. 8m + 7 give the row addresses of matrix m.
    matrixRow = rem(lane, 8);
    matrix = div(lane, 8);
    warpRow = mul(warp, 16);
    Value valueTileId = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    head = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    batch = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    isFirstValueTile = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                             valueTileId, index(0));
    column0 = mul(valueTileId, plan.valueTile);
    int64_t groupSize = op.getQ().getType().getDimSize(1) /
                        op.getK().getType().getDimSize(1);
    kvHead = div(head, groupSize);
    qLen = memref::DimOp::create(b, loc, q, 2);
    kvLen = memref::DimOp::create(b, loc, k, 2);
    maxLength = arith::MaxUIOp::create(b, loc, qLen, kvLen);
    if (decayArg) {
      gamma = load(decayArg, head);
      log2Gamma = math::Log2Op::create(b, loc, gamma);
    }
    // The first feature row of each state block of this warp.
    for (int64_t block = 0; block < plan.ownedBlocks(); ++block)
      stateRows.push_back(mul(add(warp, block * plan.warps), 16));

    sharedBytes = dynamicSharedMemory(b, loc);
    Type element = plan.mma.element;
    int64_t fp = plan.featuresPadded;
    rows = sharedView(plan.rowsAt, plan.chunk, plan.headDim, f32);
    int64_t pad = plan.rowPadding;
    values =
        sharedView(plan.valuesAt, plan.chunk, plan.valueTile + pad, element);
    phiQ = sharedView(plan.phiQAt, plan.chunk, fp + pad, element);
    phiK = sharedView(plan.phiKAt, plan.chunk, fp + pad, element);
    phiKDecayed = plan.decay
                      ? sharedView(plan.phiKDecayedAt, plan.chunk, fp + pad,
                                   element)
                      : phiK;
    stateTile =
        sharedView(plan.stateAt, fp, plan.valueTile + pad, element);
    normalizer = sharedView(plan.normalizerAt, 1, fp, f32);
    if (initialState || finalState)
      stateStaging = sharedView(plan.stagingAt, fp, plan.valueTile, f32);
  }

  /// The state registers and their shared copy from `initial_state` (or
  /// zero); the normalizer from `initial_normalizer` (or zero).
  Value loadInitialState() {
    Value state = splat(stateType(), 0.0);
    if (initialState) {
      // Through f32 shared memory: coalesced reads, and no per-fragment
      // global addresses kept alive across the chunk loop.
      forEachElement(plan.featuresPadded * plan.valueTile, [&](Value i) {
        Value f = div(i, plan.valueTile), c = rem(i, plan.valueTile);
        Value col = add(column0, c);
        Value inside = both(less(f, plan.features), less(col, plan.valueDim));
        Value x = load(initialState, {batch, head, select(inside, f, index(0)),
                                      select(inside, col, index(0))});
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
        if (initialNormalizer) {
          Value inside = less(f, plan.features);
          z = select(inside,
                     load(initialNormalizer,
                          {batch, head, select(inside, f, index(0))}),
                     fconst(0.0));
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
            Value f = add(add(stateRows[block], group), 8 * r);
            Value col = add(add(column0, mul(thread, 2)), vb * 8 + e);
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

  /// Elements per global load of rows `columns` long: 16 bytes when rows
  /// are whole 16-byte units (the runtime aligns every tensor to 16), else 1.
  int64_t loadWidth(int64_t columns) {
    int64_t width = 16 / (plan.mma.element.getIntOrFloatBitWidth() / 8);
    return columns % width == 0 ? width : 1;
  }

  /// `width` elements of `source` from `indices`, in one 16-byte load when
  /// width > 1.
  SmallVector<Value> loadElements(Value source, ValueRange indices,
                                  int64_t width) {
    if (width == 1)
      return {load(source, indices)};
    auto type = VectorType::get({width}, plan.mma.element);
    Value x = vector::LoadOp::create(b, loc, type, source, indices,
                                     /*nontemporal=*/false,
                                     b.getI64IntegerAttr(16));
    SmallVector<Value> elements;
    for (int64_t e = 0; e < width; ++e)
      elements.push_back(extract(x, {e}));
    return elements;
  }

  /// rows[r] = source[batch, headIndex, row0 + r] in f32, zero past `limit`.
  void loadRows(Value source, Value headIndex, Value row0, Value limit) {
    int64_t width = loadWidth(plan.headDim);
    int64_t units = plan.headDim / width;
    forEachElement(plan.chunk * units, [&](Value i) {
      Value r = div(i, units), d = mul(rem(i, units), width);
      Value position = add(row0, r);
      Value inside = less(position, limit);
      SmallVector<Value> x = loadElements(
          source, {batch, headIndex, select(inside, position, index(0)), d},
          width);
      for (int64_t e = 0; e < width; ++e)
        store(select(inside, toF32(x[e]), fconst(0.0)), rows, {r, add(d, e)});
    });
  }

  /// The chunk's value rows, this block's columns; zero past Skv and Dv.
  void loadValues(Value row0) {
    int64_t width = loadWidth(plan.valueDim);
    int64_t units = plan.valueTile / width;
    forEachElement(plan.chunk * units, [&](Value i) {
      Value r = div(i, units), c = mul(rem(i, units), width);
      Value position = add(row0, r), col = add(column0, c);
      Value inside = both(less(position, kvLen), less(col, plan.valueDim));
      SmallVector<Value> x = loadElements(
          v, {batch, kvHead, select(inside, position, index(0)),
              select(inside, col, index(0))},
          width);
      for (int64_t e = 0; e < width; ++e)
        store(select(inside, x[e], toElement(fconst(0.0))), values,
              {r, add(c, e)});
    });
  }

  /// Stages the chunk's rows of `source` (and, with `values`, the chunk's
  /// value rows) and computes their features into `dest` (and `decayed`),
  /// once every thread is done with the previous contents.
  void stageFeatures(Value source, Value headIndex, Value row0, Value limit,
                     Value n, Value dest, Value decayed, bool values) {
    barrier();
    loadRows(source, headIndex, row0, limit);
    if (values)
      loadValues(row0);
    barrier();
    computeFeatures(dest, decayed, row0, limit, n);
  }

  /// dest[r][f] = phi(rows[r])[f] for the chunk's n rows and F features,
  /// zero elsewhere; `decayed` (if any) gets them times gamma^(n - 1 - r),
  /// the weight of key r in the state after the chunk.
  void computeFeatures(Value dest, Value decayed, Value row0, Value limit,
                       Value n) {
    int64_t fp = plan.featuresPadded;
    forEachElement(plan.chunk * fp, [&](Value i) {
      Value r = div(i, fp), f = rem(i, fp);
      Value inside = both(less(add(row0, r), limit), less(f, plan.features));
      auto element = [&](OpBuilder &eb, Location eloc, Value d) -> Value {
        return memref::LoadOp::create(eb, eloc, rows, ValueRange{r, d});
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
      store(toElement(select(inside, feature, fconst(0.0))), dest, {r, f});
      if (decayed) {
        Value exponent = sub(sub(n, r), index(1));
        store(toElement(select(inside, fmul(feature, decayPower(exponent)),
                               fconst(0.0))),
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
      localRow[r] = add(add(warpRow, group), 8 * r);
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
    if (gamma) {
      for (int64_t r = 0; r < 2; ++r) {
        Value factor = decayPower(add(localRow[r], 1));
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
          Value key = add(add(key0, mul(thread, 2)), kb * 8 + e);
          Value s = extract(scores, {kb, r, e});
          if (gamma)
            s = fmul(s, decayPower(arith::MaxSIOp::create(
                            b, loc, sub(localRow[r], key), index(0))));
          Value allowed = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::sle, key, localRow[r]);
          scores = insert(select(allowed, s, fconst(0.0)), scores,
                          {kb, r, e});
        }
    return scores;
  }

  /// acc + P V for the keys [key0, key0 + 16), with P (two C fragments)
  /// as the A operand: the C layout of two adjacent 8-key blocks is the A
  /// layout of 16 keys (k = 16); for tf32, each 8-key block splits into
  /// keys 2t and 2t + 1 (k = 4).
  Value accumulateValues(Value weights, Value key0, Value acc) {
    const MmaShape &mma = plan.mma;
    auto step = [&](Value a, ArrayRef<Value> bs) {
      for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
        acc = insert(mmaSync(a, bs[vb], extract(acc, {vb})), acc, {vb});
    };
    if (mma.tf32) {
      for (int64_t kb = 0; kb < 2; ++kb)
        for (int64_t half = 0; half < 2; ++half) {
          Value a = vector::FromElementsOp::create(
              b, loc, mma.a,
              ValueRange{extract(weights, {kb, 0, half}),
                         extract(weights, {kb, 1, half})});
          // The k index t stands for key 2t + half of the block.
          SmallVector<Value> bs;
          for (int64_t vb = 0; vb < plan.valueBlocks(); ++vb)
            bs.push_back(gather(mma.b, 1, [&](Value row, Value col) {
              return load(values, {add(add(key0, mul(row, 2)), kb * 8 + half),
                                   add(col, vb * 8)});
            }));
          step(a, bs);
        }
      return acc;
    }
    VectorType pair = VectorType::get({2}, mma.element);
    Value a = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(mma.a, b.getZeroAttr(mma.element)));
    for (int64_t i = 0; i < 4; ++i)
      a = insert(arith::TruncFOp::create(b, loc, pair,
                                         extract(weights, {i / 2, i % 2})),
                 a, {i});
    step(a, bFragments(values, key0, index(0), plan.valueBlocks(),
                       /*kMajor=*/true));
    return acc;
  }

  /// o = acc / (den + eps) (or acc), for rows before Sq and columns
  /// before Dv.
  void storeOutputs(Value row0, Value localRow[2], Value acc,
                    Value denominator[2]) {
    Type outElement = cast<MemRefType>(out.getType()).getElementType();
    VectorType one = VectorType::get({1}, outElement);
    VectorType oneMask = VectorType::get({1}, b.getI1Type());
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
          Value col = add(add(column0, mul(thread, 2)), vb * 8 + e);
          Value inside = both(rowInside, less(col, plan.valueDim));
          Value o = extract(acc, {vb, r, e});
          if (scale)
            o = fmul(o, scale);
          vector::MaskedStoreOp::create(
              b, loc, out,
              ValueRange{batch, head, select(inside, position, index(0)),
                         select(inside, col, index(0))},
              vector::BroadcastOp::create(b, loc, oneMask, inside),
              vector::BroadcastOp::create(
                  b, loc, one, convertFloat(b, loc, o, outElement)));
        }
    }
  }

  /// The state after the chunk's n keys: S gamma^n + phi(K)'^T V in the
  /// registers and their shared copy, z gamma^n + sum_j phi(k_j)'.
  Value advanceState(Value state, Value n) {
    const MmaShape &mma = plan.mma;
    Value decayOfChunk = gamma ? decayPower(n) : Value();
    if (gamma)
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
        if (gamma)
          z = fmul(z, decayOfChunk);
        store(fadd(z, sum), normalizer, {index(0), f});
      });
    return state;
  }

  //===--------------------------------------------------------------------===//
  // Results
  //===--------------------------------------------------------------------===//

  void storeFinalState(Value state) {
    VectorType one = VectorType::get({1}, f32);
    VectorType oneMask = VectorType::get({1}, b.getI1Type());
    if (finalState) {
      mapState(state, [&](Value s, Value f, Value col) {
        store(s, stateStaging, {f, sub(col, column0)});
        return s;
      });
      barrier();
      forEachElement(plan.featuresPadded * plan.valueTile, [&](Value i) {
        Value f = div(i, plan.valueTile), c = rem(i, plan.valueTile);
        Value col = add(column0, c);
        Value inside = both(less(f, plan.features), less(col, plan.valueDim));
        vector::MaskedStoreOp::create(
            b, loc, finalState,
            ValueRange{batch, head, select(inside, f, index(0)),
                       select(inside, col, index(0))},
            vector::BroadcastOp::create(b, loc, oneMask, inside),
            vector::BroadcastOp::create(b, loc, one,
                                        load(stateStaging, {f, c})));
      });
    }
    // The same threads wrote each z element (forEachElement's order), so
    // no barrier is needed before reading it back.
    if (finalNormalizer)
      forEachElement(plan.featuresPadded, [&](Value f) {
        Value inside = both(isFirstValueTile, less(f, plan.features));
        vector::MaskedStoreOp::create(
            b, loc, finalNormalizer,
            ValueRange{batch, head, select(inside, f, index(0))},
            vector::BroadcastOp::create(b, loc, oneMask, inside),
            vector::BroadcastOp::create(
                b, loc, one, load(normalizer, {index(0), f})));
      });
  }

  LinearAttentionOp op;
  const LinearPlan &plan;
  FeatureMapAttrInterface map;
  Value weights;

  Value q, k, v, decayArg, initialState, initialNormalizer;
  Value out, finalState, finalNormalizer;
  Value threadId, group, thread, matrixRow, matrix, warpRow;
  Value batch, head, kvHead, column0, isFirstValueTile;
  Value qLen, kvLen, maxLength, gamma, log2Gamma;
  SmallVector<Value> stateRows;
  Value sharedBytes, rows, values, phiQ, phiK, phiKDecayed, stateTile,
      normalizer, stateStaging;
};

} // namespace

LogicalResult attn::lowerLinearAttentionToGPU(LinearAttentionOp op,
                                              int64_t warps, ModuleOp module,
                                              SymbolTable &symbols) {
  FailureOr<LinearPlan> plan = planKernel(op, warps);
  if (failed(plan))
    return failure();
  SmallVector<Value> inputs(op->getOperands());
  Location loc = op.getLoc();
  OpBuilder b(op.getContext());
  gpu::GPUFuncOp kernel =
      createKernel(b, op, inputs, "linear_attention", module, symbols);
  ValueRange args = kernel.getArguments();

  // The weights: the operand, or those the map carries, as a constant
  // global of the kernel's module.
  Value weights;
  if (op.getFeatureWeights())
    weights = args[3];
  int64_t headDim = op.getQ().getType().getDimSize(3);
  FeatureMapAttrInterface map = op.getFeatureMap();
  if (std::optional<std::vector<double>> builtin =
          map.getBuiltinWeights(headDim)) {
    FloatType type = op.getComputeType();
    int64_t rows = builtin->size() / headDim;
    auto memrefType = MemRefType::get({rows, headDim}, type);
    auto tensorType = RankedTensorType::get({rows, headDim}, type);
    SmallVector<Attribute> elements;
    for (double e : *builtin)
      elements.push_back(FloatAttr::get(type, e));
    OpBuilder::InsertionGuard guard(b);
    SymbolTable kernelSymbols(kernel->getParentOp());
    b.clearInsertionPoint();
    auto global = memref::GlobalOp::create(
        b, loc, "feature_weights", b.getStringAttr("private"), memrefType,
        DenseElementsAttr::get(tensorType, elements), /*constant=*/true,
        /*alignment=*/IntegerAttr());
    // Renamed if another kernel of the module has weights too.
    kernelSymbols.insert(global, Block::iterator(kernel));
    b.setInsertionPointToStart(&kernel.getBody().front());
    weights = memref::GetGlobalOp::create(b, loc, memrefType,
                                          global.getSymName());
  }
  LinearKernelBuilder(b, loc, op, *plan, args, weights).build();
  gpu::ReturnOp::create(b, loc);

  b.setInsertionPoint(op);
  Value batch = tensor::DimOp::create(b, loc, op.getQ(), 0);
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  return replaceWithLaunch(
      b, op, kernel, inputs,
      gpu::KernelDim3{constant(plan->valueTiles),
                      constant(op.getQ().getType().getDimSize(1)), batch},
      plan->threads(), plan->sharedBytes);
}
