//===- Microkernels.cpp - Register-blocked FMA kernels for tile products --===//
//
// The matrix products of a flash tile (S = Q . K^T, acc += P . V) are small
// (64 x 64 x D) and static. Lowered as loops they run scalar, accumulating
// through memory; here each becomes the classic register-blocked kernel: a
// block of 4 rows x 16 columns of C lives in 8 vector registers across the
// whole reduction, each step loading one row of B and broadcasting four
// elements of A.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/AttnToCPU.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace attn {
#define GEN_PASS_DEF_ATTNCPUMICROKERNELS
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;

namespace {

constexpr int64_t kLanes = 8;   // f32 lanes of a 256-bit vector
constexpr int64_t kRows = 4;    // rows of C per block
constexpr int64_t kVectors = 2; // vectors of C per row per block

/// A matched product `C += A . op(B)`.
struct Product {
  Value a, b, c;
  bool transposedB;
};

/// Matches `c += ext(a) * ext(b)` on static rank-2 operands (tensors or
/// memrefs) in the forms C[m, n] += A[m, k] B[k, n] and
/// C[m, n] += A[m, k] B[n, k].
std::optional<Product> matchProductForm(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 3)
    return std::nullopt;
  Value a = op.getDpsInputs()[0], b = op.getDpsInputs()[1],
        c = op.getDpsInits()[0];
  for (Value v : {a, b, c}) {
    auto type = dyn_cast<ShapedType>(v.getType());
    if (!type || type.getRank() != 2 || !type.hasStaticShape())
      return std::nullopt;
  }
  if (!getElementTypeOrSelf(c.getType()).isF32())
    return std::nullopt;
  for (Value v : {a, b})
    if (!isa<Float16Type, BFloat16Type, Float32Type>(
            getElementTypeOrSelf(v.getType())))
      return std::nullopt;

  // The body: yield(addf(mulf(ext?(a), ext?(b)), c)).
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!add)
    return std::nullopt;
  Value acc = body.getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if ((add.getLhs() != acc && add.getRhs() != acc))
    return std::nullopt;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return std::nullopt;
  auto unwrap = [](Value v) {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      return ext.getIn();
    return v;
  };
  Value x = unwrap(mul.getLhs()), y = unwrap(mul.getRhs());
  if (!((x == body.getArgument(0) && y == body.getArgument(1)) ||
        (x == body.getArgument(1) && y == body.getArgument(0))))
    return std::nullopt;

  MLIRContext *ctx = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto m = [&](AffineExpr e0, AffineExpr e1) {
    return AffineMap::get(3, 0, {e0, e1}, ctx);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  auto par = utils::IteratorType::parallel, red = utils::IteratorType::reduction;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  // C[d0, d1] += A[d0, d2] B[d1, d2]
  if (iterators == SmallVector<utils::IteratorType>{par, par, red} &&
      maps == SmallVector<AffineMap>{m(d(0), d(2)), m(d(1), d(2)),
                                     m(d(0), d(1))})
    return Product{a, b, c, /*transposedB=*/true};
  // C[d0, d2] += A[d0, d1] B[d1, d2]
  if (iterators == SmallVector<utils::IteratorType>{par, red, par} &&
      maps == SmallVector<AffineMap>{m(d(0), d(1)), m(d(1), d(2)),
                                     m(d(0), d(2))})
    return Product{a, b, c, /*transposedB=*/false};
  return std::nullopt;
}

/// The buffer form the micro-kernels are emitted for: contiguous rows of B
/// and C (vector loads and stores).
std::optional<Product> matchProduct(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics())
    return std::nullopt;
  std::optional<Product> product = matchProductForm(op);
  if (!product)
    return std::nullopt;
  // Rows may be spaced by any stride (views into larger buffers), but each
  // must be contiguous: the most minor stride is statically 1.
  auto contiguousRows = [](Value v) {
    return cast<MemRefType>(v.getType()).isLastDimUnitStride();
  };
  if (!contiguousRows(product->c) ||
      (!product->transposedB && !contiguousRows(product->b)))
    return std::nullopt;
  return product;
}

class KernelEmitter {
public:
  KernelEmitter(RewriterBase &b, Location loc) : b(b), loc(loc) {}

  /// C[M, N] += A[M, K] . B[K, N] (B already in [K, N] layout); with
  /// `zeroInit`, C = A . B (C's old contents are not read).
  void emit(Value a, Value bMat, Value c, bool zeroInit) {
    this->zeroInit = zeroInit;
    auto aType = cast<MemRefType>(a.getType());
    auto cType = cast<MemRefType>(c.getType());
    int64_t m = cType.getDimSize(0), n = cType.getDimSize(1),
            k = aType.getDimSize(1);
    // Full blocks of 4 rows, then single rows.
    int64_t fullRows = m - m % kRows;
    if (fullRows > 0)
      forLoop(0, fullRows, kRows, [&](Value row) {
        emitRowBlock(a, bMat, c, row, kRows, n, k);
      });
    for (int64_t r = fullRows; r < m; ++r)
      emitRowBlock(a, bMat, c, index(r), 1, n, k);
  }

  /// A [K, N] f32 copy of `bMat` [N, K], in a buffer of the enclosing
  /// allocation scope.
  Value transposed(Value bMat) {
    auto type = cast<MemRefType>(bMat.getType());
    int64_t n = type.getDimSize(0), k = type.getDimSize(1);
    Value scratch;
    {
      OpBuilder::InsertionGuard guard(b);
      // scf.for counts as an allocation scope, but its lowering to branches
      // frees nothing: an alloca in a key-tile loop would grow the stack
      // every iteration (and overflow an OpenMP thread's stack on long
      // sequences). Go out to a scope that ends (the parallel iteration or
      // the function).
      Operation *scope = b.getInsertionBlock()->getParentOp();
      while (!scope->hasTrait<OpTrait::AutomaticAllocationScope>() ||
             isa<scf::ForOp>(scope))
        scope = scope->getParentOp();
      b.setInsertionPointToStart(&scope->getRegion(0).front());
      scratch = memref::AllocaOp::create(
          b, loc, MemRefType::get({k, n}, b.getF32Type()));
    }
    if (n % kLanes == 0 && k % kLanes == 0) {
      // 8 x 8 blocks: eight row loads, one register transpose (shuffles),
      // eight row stores.
      Type element = type.getElementType();
      auto rowType = VectorType::get({kLanes}, element);
      auto blockType = VectorType::get({kLanes, kLanes}, b.getF32Type());
      forLoop(0, n, kLanes, [&](Value j) {
        forLoop(0, k, kLanes, [&](Value kk) {
          Value block = arith::ConstantOp::create(
              b, loc, DenseElementsAttr::get(blockType, b.getF32FloatAttr(0)));
          for (int64_t r = 0; r < kLanes; ++r) {
            Value row = arith::AddIOp::create(b, loc, j, index(r));
            Value x = toF32(
                vector::LoadOp::create(b, loc, rowType, bMat, ValueRange{row, kk}));
            block = vector::InsertOp::create(b, loc, x, block, r);
          }
          Value t = vector::TransposeOp::create(b, loc, block,
                                                ArrayRef<int64_t>{1, 0});
          for (int64_t r = 0; r < kLanes; ++r) {
            Value row = arith::AddIOp::create(b, loc, kk, index(r));
            vector::StoreOp::create(b, loc,
                                    vector::ExtractOp::create(b, loc, t, r),
                                    scratch, ValueRange{row, j});
          }
        });
      });
    } else {
      forLoop(0, n, 1, [&](Value j) {
        forLoop(0, k, 1, [&](Value kk) {
          Value x = memref::LoadOp::create(b, loc, bMat, ValueRange{j, kk});
          memref::StoreOp::create(b, loc, toF32(x), scratch, ValueRange{kk, j});
        });
      });
    }
    return scratch;
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// scf.for lo..hi step s around `body` (static bounds).
  void forLoop(int64_t lo, int64_t hi, int64_t step,
               function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, loc, index(lo), index(hi), index(step));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVar());
  }

  Value toF32(Value x) {
    Type want = b.getF32Type();
    if (auto vec = dyn_cast<VectorType>(x.getType()))
      want = VectorType::get(vec.getShape(), want);
    if (x.getType() == want)
      return x;
    return arith::ExtFOp::create(b, loc, want, x);
  }

  /// The 8-lane vector of `mem` at (row, col); the first `lanes` are read
  /// (masked when fewer than 8).
  Value loadVector(Value mem, Value row, Value col, int64_t lanes) {
    Type element = cast<MemRefType>(mem.getType()).getElementType();
    auto type = VectorType::get({kLanes}, element);
    if (lanes == kLanes)
      return toF32(vector::LoadOp::create(b, loc, type, mem,
                                          ValueRange{row, col}));
    Value passThrough = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, b.getZeroAttr(element)));
    return toF32(vector::MaskedLoadOp::create(b, loc, type, mem,
                                              ValueRange{row, col},
                                              mask(lanes), passThrough));
  }

  void storeVector(Value v, Value mem, Value row, Value col, int64_t lanes) {
    if (lanes == kLanes) {
      vector::StoreOp::create(b, loc, v, mem, ValueRange{row, col});
      return;
    }
    vector::MaskedStoreOp::create(b, loc, mem, ValueRange{row, col},
                                  mask(lanes), v);
  }

  Value mask(int64_t lanes) {
    return vector::ConstantMaskOp::create(
        b, loc, VectorType::get({kLanes}, b.getI1Type()),
        ArrayRef<int64_t>{lanes});
  }

  /// Rows [row, row + rows) of C, all columns: blocks of 16 columns, then
  /// the 8-lane and masked remainders.
  void emitRowBlock(Value a, Value bMat, Value c, Value row, int64_t rows,
                    int64_t n, int64_t k) {
    int64_t blockWidth = kVectors * kLanes;
    int64_t fullCols = n - n % blockWidth;
    if (fullCols > 0)
      forLoop(0, fullCols, blockWidth, [&](Value col) {
        emitBlock(a, bMat, c, row, rows, col, kVectors, kLanes, k);
      });
    int64_t rest = n - fullCols;
    if (rest > 0) {
      int64_t vectors = (rest + kLanes - 1) / kLanes;
      int64_t lastLanes = rest - (vectors - 1) * kLanes;
      emitBlock(a, bMat, c, row, rows, index(fullCols), vectors, lastLanes, k);
    }
  }

  /// The register block: rows x (vectors x 8) accumulators over the whole
  /// reduction; the last vector holds `lastLanes` valid columns.
  void emitBlock(Value a, Value bMat, Value c, Value row, int64_t rows,
                 Value col, int64_t vectors, int64_t lastLanes, int64_t k) {
    auto lanesOf = [&](int64_t v) {
      return v == vectors - 1 ? lastLanes : kLanes;
    };
    auto rowAt = [&](int64_t r) {
      return r == 0 ? row : arith::AddIOp::create(b, loc, row, index(r));
    };
    auto colAt = [&](int64_t v) {
      return v == 0 ? col
                    : arith::AddIOp::create(b, loc, col, index(v * kLanes));
    };
    SmallVector<Value> rowIdx, colIdx;
    for (int64_t r = 0; r < rows; ++r)
      rowIdx.push_back(rowAt(r));
    for (int64_t v = 0; v < vectors; ++v)
      colIdx.push_back(colAt(v));

    SmallVector<Value> init;
    auto vecType = VectorType::get({kLanes}, b.getF32Type());
    Value zeros = zeroInit ? arith::ConstantOp::create(
                                 b, loc, DenseElementsAttr::get(
                                             vecType, b.getF32FloatAttr(0)))
                           : Value();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < vectors; ++v)
        init.push_back(zeroInit
                           ? zeros
                           : loadVector(c, rowIdx[r], colIdx[v], lanesOf(v)));
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(k), index(1), init,
        [&](OpBuilder &nb, Location, Value kk, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> bRow;
          for (int64_t v = 0; v < vectors; ++v)
            bRow.push_back(loadVector(bMat, kk, colIdx[v], lanesOf(v)));
          SmallVector<Value> next;
          auto vecType = VectorType::get({kLanes}, b.getF32Type());
          for (int64_t r = 0; r < rows; ++r) {
            Value x = toF32(
                memref::LoadOp::create(b, loc, a, ValueRange{rowIdx[r], kk}));
            Value broadcast = vector::BroadcastOp::create(b, loc, vecType, x);
            for (int64_t v = 0; v < vectors; ++v)
              next.push_back(vector::FMAOp::create(
                  b, loc, broadcast, bRow[v], acc[r * vectors + v]));
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t v = 0; v < vectors; ++v)
        storeVector(loop.getResult(r * vectors + v), c, rowIdx[r], colIdx[v],
                    lanesOf(v));
  }

  RewriterBase &b;
  Location loc;
  bool zeroInit = false;
};

/// The `linalg.fill` of zeros into `c` that `op` reads, when nothing between
/// them touches `c`: the product can start from zero instead.
linalg::FillOp zeroFillBefore(Operation *op, Value c) {
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev);
        fill && fill.getOutputs()[0] == c) {
      if (matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
        return fill;
      return nullptr;
    }
    if (llvm::is_contained(prev->getOperands(), c) ||
        prev->getNumRegions() > 0)
      return nullptr;
  }
  return nullptr;
}

struct LowerProduct : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<Product> product = matchProduct(op);
    if (!product)
      return failure();
    KernelEmitter emitter(rewriter, op.getLoc());
    linalg::FillOp zeroFill = zeroFillBefore(op, product->c);
    Value bMat = product->transposedB ? emitter.transposed(product->b)
                                      : product->b;
    emitter.emit(product->a, bMat, product->c, /*zeroInit=*/bool(zeroFill));
    rewriter.eraseOp(op);
    if (zeroFill)
      rewriter.eraseOp(zeroFill);
    return success();
  }
};

struct AttnCpuMicrokernelsPass
    : attn::impl::AttnCpuMicrokernelsBase<AttnCpuMicrokernelsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerProduct>(&getContext());
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace

bool attn::isTileProduct(linalg::GenericOp op) {
  return matchProductForm(op).has_value();
}
