//===- MmaAtom.cpp - mma.sync as the warp-level product -------------------===//

#include "parts/MmaAtom.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {

MmaShape MmaShape::forElement(Type element) {
  MLIRContext *ctx = element.getContext();
  Type f32 = Float32Type::get(ctx);
  if (element.isF32())
    return {4, true, element, VectorType::get({2, 1}, element),
            VectorType::get({1, 1}, element), VectorType::get({2, 2}, f32)};
  return {16, false, element, VectorType::get({4, 2}, element),
          VectorType::get({2, 2}, element), VectorType::get({2, 2}, f32)};
}

namespace {

enum Operand { kA = 0, kB = 1, kC = 2 };

/// mma.sync m16n8k16 / m16n8k4 (tf32). Fragments of 16-bit elements are
/// loaded with ldmatrix, tf32 fragments element by element; both from the
/// positions of the layout table.
class MmaSyncAtom final : public MmaAtom, KernelBuilderBase {
public:
  MmaSyncAtom(OpBuilder &b, Location loc, const WarpLanes &lanes,
              const MmaShape &shape)
      : MmaAtom(shape), KernelBuilderBase(b, loc), lanes(lanes) {
    for (int operand : {kA, kB, kC})
      layouts[operand] = fragmentLayout(shape.k, operand);
  }

  Value loadA(const TileOperand &source) override {
    if (mmaShape.tf32)
      return gather(source, kA, mmaShape.a, {0, 0}, 1);
    SmallVector<std::pair<int64_t, int64_t>> origins;
    for (int64_t reg = 0; reg < mmaShape.a.getDimSize(0); ++reg)
      origins.push_back(matrixOrigin(kA, reg));
    return loadMatrices(source, kA, origins);
  }

  SmallVector<Value> loadB(const TileOperand &source,
                           ArrayRef<FragmentOffset> offsets,
                           int64_t kStride) override {
    SmallVector<Value> fragments;
    if (mmaShape.tf32) {
      for (FragmentOffset offset : offsets)
        fragments.push_back(
            gather(source, kB, mmaShape.b, {offset.k, offset.n}, kStride));
      return fragments;
    }
    assert(kStride == 1 && "ldmatrix reads 8 adjacent rows");
    // Two fragments per ldmatrix.x4: matrices 2 and 3 are the second's.
    int64_t registers = mmaShape.b.getDimSize(0);
    for (size_t i = 0; i < offsets.size(); i += 2) {
      bool pair = i + 1 < offsets.size();
      SmallVector<std::pair<int64_t, int64_t>> origins;
      for (size_t f = i; f < (pair ? i + 2 : i + 1); ++f)
        for (int64_t reg = 0; reg < registers; ++reg) {
          auto [k, n] = matrixOrigin(kB, reg);
          origins.push_back({k + offsets[f].k, n + offsets[f].n});
        }
      Value x = loadMatrices(source, kB, origins);
      for (int64_t reg = 0; reg < (int64_t)origins.size(); reg += registers)
        fragments.push_back(vector::ShuffleOp::create(
            b, loc, x, x, ArrayRef<int64_t>{reg, reg + 1}));
    }
    return fragments;
  }

  Value mma(Value a, Value bFragment, Value c) override {
    return nvgpu::MmaSyncOp::create(b, loc, a, bFragment, c,
                                    ArrayRef<int64_t>{16, 8, mmaShape.k},
                                    mmaShape.tf32);
  }

  SmallVector<ReusedOperand> accumulatorsAsA(Value accumulators) override {
    // A column j sits at t coefficient tA, accumulator columns at tC: the
    // k index of the A operand runs tC / tA times as fast as the columns
    // of the accumulator (tf32: A column t is accumulator column 2 t + h,
    // one step per h).
    const MatrixPosition &a0 = layouts[kA][0], &c0 = layouts[kC][0];
    int64_t kStride = c0.tCol / a0.tCol;
    int64_t blocks = cast<VectorType>(accumulators.getType()).getDimSize(0);
    int64_t span = mmaShape.k * kStride; // accumulator columns per step
    int64_t width = mmaShape.a.getDimSize(1);
    Type element = mmaShape.element;
    SmallVector<ReusedOperand> steps;
    for (int64_t first = 0; first + span <= blocks * 8; first += span)
      for (int64_t phase = 0; phase < kStride; ++phase) {
        int64_t k0 = first + phase;
        Value a = arith::ConstantOp::create(
            b, loc,
            DenseElementsAttr::get(mmaShape.a, b.getZeroAttr(element)));
        for (int64_t reg = 0; reg < mmaShape.a.getDimSize(0); ++reg) {
          // The accumulator element of A element (reg, 0); the others of
          // the register follow it in the same accumulator row.
          const MatrixPosition &p = layouts[kA][reg * width];
          int64_t column = k0 + kStride * p.col;
          int64_t block = column / 8, e = column % 8;
          int64_t r = p.row / 8;
          assert(p.gRow == c0.gRow && p.tCol * kStride == c0.tCol &&
                 e + width <= 2 && "A and C rows must line up");
          Value row = extract(accumulators, {block, r});
          if (width == 2) {
            if (element != f32)
              row = arith::TruncFOp::create(
                  b, loc, VectorType::get({2}, element), row);
            a = insert(row, a, {reg});
          } else {
            Value x = extract(row, {e});
            if (element != f32)
              x = arith::TruncFOp::create(b, loc, element, x);
            a = insert(x, a, {reg, 0});
          }
        }
        steps.push_back({a, k0, kStride});
      }
    return steps;
  }

  Value accumulatorRow(Value origin, int64_t r) override {
    const MatrixPosition &p = layouts[kC][2 * r];
    return position(origin, p.gRow, p.tRow, p.row);
  }

  Value accumulatorColumn(Value origin, int64_t block, int64_t e) override {
    const MatrixPosition &p = layouts[kC][e];
    return position(origin, p.gCol, p.tCol, p.col + 8 * block);
  }

  std::pair<int64_t, Value> aRegisterPosition(Value origin,
                                              int64_t reg) override {
    const MatrixPosition &p = layouts[kA][reg * mmaShape.a.getDimSize(1)];
    return {p.row / 8, position(origin, p.gCol, p.tCol, p.col)};
  }

  Value rowReduce(Value x, function_ref<Value(Value, Value)> combine) override {
    // The lanes of a row differ in t = lane % 4 only.
    for (int32_t offset : {1, 2}) {
      Value other = gpu::ShuffleOp::create(b, loc, x, offset, kWarpSize,
                                           gpu::ShuffleMode::XOR)
                        .getShuffleResult();
      x = combine(x, other);
    }
    return x;
  }

private:
  /// origin + gCoef g + tCoef t + constant (origin null: 0).
  Value position(Value origin, int64_t gCoef, int64_t tCoef,
                 int64_t constant) {
    Value x = origin;
    auto term = [&](Value lane, int64_t coefficient) {
      if (!coefficient)
        return;
      Value t = coefficient == 1 ? lane : mul(lane, coefficient);
      x = x ? add(x, t) : t;
    };
    term(lanes.group, gCoef);
    term(lanes.thread, tCoef);
    return x ? add(x, constant) : index(constant);
  }

  /// The operand position of register `reg`'s 8x8 matrix (its first
  /// element without the lane terms).
  std::pair<int64_t, int64_t> matrixOrigin(int operand, int64_t reg) {
    int64_t width = operand == kA ? mmaShape.a.getDimSize(1)
                                  : mmaShape.b.getDimSize(1);
    const MatrixPosition &p = layouts[operand][reg * width];
    return {p.row, p.col};
  }

  /// Element by element: element (i, j) of `type`'s fragment read at
  /// operand position (offset.first + kStride i, offset.second + j).
  Value gather(const TileOperand &source, int operand, VectorType type,
               std::pair<int64_t, int64_t> offset, int64_t kStride) {
    SmallVector<Value> elements;
    for (const MatrixPosition &p : layouts[operand]) {
      Value i = position(source.i0, kStride * p.gRow, kStride * p.tRow,
                         offset.first + kStride * p.row);
      Value j = position(source.j0, p.gCol, p.tCol, offset.second + p.col);
      elements.push_back(memref::LoadOp::create(
          b, loc, source.tile,
          source.transposed ? ValueRange{j, i} : ValueRange{i, j}));
    }
    return vector::FromElementsOp::create(b, loc, type, elements);
  }

  /// ldmatrix.x`origins.size()`: matrix m starts at operand position
  /// origins[m] from `source`'s origin. Whether it transposes follows from
  /// the layout: ldmatrix gives lane (g, t) row g, columns 2 t, 2 t + 1 of
  /// each stored matrix, .trans the transpose.
  Value loadMatrices(const TileOperand &source, int operand,
                     ArrayRef<std::pair<int64_t, int64_t>> origins) {
    const MatrixPosition &p = layouts[operand][0];
    bool transpose = (source.transposed ? p.gCol : p.gRow) == 0;
    int64_t count = origins.size();
    // Stored (row, column) of each matrix's origin.
    SmallVector<std::pair<int64_t, int64_t>> stored;
    for (auto [i, j] : origins)
      stored.push_back(source.transposed ? std::pair{j, i} : std::pair{i, j});
    Value storedRow0 = source.transposed ? source.j0 : source.i0;
    Value storedCol0 = source.transposed ? source.i0 : source.j0;
    // Lanes 8 m .. 8 m + 7 address matrix m; with x2, lanes 16..31 give
    // unused addresses, kept in bounds as those of matrices 0 and 1.
    Value m = count == 4 ? lanes.matrix : arith::RemUIOp::create(
                                              b, loc, lanes.matrix, index(2));
    // The origins are affine in (m % 2, m / 2).
    auto along = [&](int64_t first, int64_t second, int64_t third) -> Value {
      int64_t d1 = second - first, d2 = third - first;
      if (count == 2 || d2 == 2 * d1)
        return d1 ? mul(m, d1) : Value();
      Value x;
      if (d1)
        x = mul(arith::RemUIOp::create(b, loc, m, index(2)), d1);
      if (d2) {
        Value y = mul(arith::DivUIOp::create(b, loc, m, index(2)), d2);
        x = x ? add(x, y) : y;
      }
      return x;
    };
    const std::pair<int64_t, int64_t> &third = stored[count == 4 ? 2 : 0];
    Value rowTerm = along(stored[0].first, stored[1].first, third.first);
    Value colTerm = along(stored[0].second, stored[1].second, third.second);
    assert((count == 2 || (stored[3].first - stored[2].first ==
                               stored[1].first - stored[0].first &&
                           stored[3].second - stored[2].second ==
                               stored[1].second - stored[0].second)) &&
           "matrix origins must be affine in (m % 2, m / 2)");
    auto sum = [&](Value x, Value y) -> Value {
      if (!x)
        return y;
      return y ? add(x, y) : x;
    };
    // The lane's part first: one value per load pattern, shared by all
    // loads of the kernel.
    Value row = add(sum(storedRow0, sum(lanes.matrixRow, rowTerm)),
                    stored[0].first);
    Value col = sum(storedCol0, colTerm);
    col = col ? add(col, stored[0].second) : index(stored[0].second);
    return nvgpu::LdMatrixOp::create(
        b, loc, VectorType::get({count, 2}, mmaShape.element), source.tile,
        ValueRange{row, col}, transpose, count);
  }

  const WarpLanes &lanes;
  SmallVector<MatrixPosition> layouts[3];
};

} // namespace

std::unique_ptr<MmaAtom> MmaAtom::create(OpBuilder &b, Location loc,
                                         const WarpLanes &lanes,
                                         const MmaShape &shape) {
  return std::make_unique<MmaSyncAtom>(b, loc, lanes, shape);
}

} // namespace attn
