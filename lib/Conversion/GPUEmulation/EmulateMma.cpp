//===- EmulateMma.cpp - nvgpu.mma.sync ------------------------------------===//
//
// A warp's mma.sync gathers the fragments of its 32 lanes into the A, B and
// C matrices following the PTX ISA fragment layouts (MmaLayout.h, the table
// the kernels use too), computes D = A B + C in f32 and scatters D back. One
// function per shape, type and block size does it for every warp.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "attn/Conversion/MmaLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace attn {
namespace gpu_emulation {

/// `x` with the 13 low mantissa bits cleared: the tf32 tensor cores read
/// only the top 10 bits of an f32 operand's mantissa.
static Value truncateToTf32(OpBuilder &b, Location loc, Value x) {
  Type i32 = b.getI32Type();
  Value bits = arith::BitcastOp::create(b, loc, i32, x);
  Value mask = arith::ConstantOp::create(
      b, loc, IntegerAttr::get(i32, static_cast<int32_t>(0xffffe000u)));
  return arith::BitcastOp::create(b, loc, b.getF32Type(),
                                  arith::AndIOp::create(b, loc, bits, mask));
}

/// Returns (creating it once) a function emulating one mma.sync shape and
/// type for blocks of `lanes` threads: (A, B, C) -> D in lock-step types.
static FailureOr<func::FuncOp>
getOrCreateMmaEmulation(ModuleOp module, nvgpu::MmaSyncOp op, int64_t lanes) {
  SmallVector<int64_t> shape =
      llvm::to_vector(llvm::map_range(op.getMmaShape(), [](Attribute a) {
        return cast<IntegerAttr>(a).getInt();
      }));
  int64_t m = shape[0], n = shape[1], k = shape[2];
  auto aType = cast<VectorType>(op.getMatrixA().getType());
  auto bType = cast<VectorType>(op.getMatrixB().getType());
  auto cType = cast<VectorType>(op.getMatrixC().getType());
  SmallVector<MatrixPosition> layouts[3] = {
      fragmentLayout(k, 0), fragmentLayout(k, 1), fragmentLayout(k, 2)};
  VectorType fragmentTypes[3] = {aType, bType, cType};
  if (m != 16 || n != 8 || layouts[0].empty())
    return op.emitOpError("attn-emulate-gpu: only m16n8k16 and m16n8k4 "
                          "mma.sync are emulated");
  for (int operand = 0; operand < 3; ++operand)
    if (fragmentTypes[operand].getNumElements() !=
        static_cast<int64_t>(layouts[operand].size()))
      return op.emitOpError("attn-emulate-gpu: unexpected fragment type ")
             << fragmentTypes[operand];

  std::string name;
  llvm::raw_string_ostream os(name);
  os << "__attn_emulate_mma_m16n8k" << k << "_" << aType.getElementType() << "_"
     << cType.getElementType() << "_w" << lanes;
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;

  Location loc = op.getLoc();
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  Type types[3] = {laneType(aType, lanes), laneType(bType, lanes),
                   laneType(cType, lanes)};
  auto func =
      func::FuncOp::create(b, loc, name, b.getFunctionType(types, {types[2]}));
  func.setPrivate();
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);

  Type f32 = b.getF32Type();
  int64_t rows[3] = {m, k, m}, cols[3] = {k, n, n};
  auto c = [&](int64_t v) { return indexConstant(b, loc, v); };
  Value result = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(cast<VectorType>(types[2]),
                             b.getZeroAttr(cType.getElementType())));
  Value matrices[3];
  for (int operand = 0; operand < 3; ++operand)
    matrices[operand] = memref::AllocaOp::create(
        b, loc, MemRefType::get({rows[operand], cols[operand]}, f32));

  auto positionOf = [&](const MatrixPosition &p, Value g, Value t) {
    auto affine = [&](int64_t gs, int64_t ts, int64_t c0) {
      Value v = c(c0);
      if (gs)
        v = arith::AddIOp::create(b, loc, v,
                                  arith::MulIOp::create(b, loc, g, c(gs)));
      if (ts)
        v = arith::AddIOp::create(b, loc, v,
                                  arith::MulIOp::create(b, loc, t, c(ts)));
      return v;
    };
    return std::pair{affine(p.gRow, p.tRow, p.row),
                     affine(p.gCol, p.tCol, p.col)};
  };

  // Fragments go through scratch memory, element by element:
  // fragments[operand][i, thread] is element i of a thread's fragment.
  Value fragments[3];
  for (int operand = 0; operand < 3; ++operand) {
    VectorType type = fragmentTypes[operand];
    fragments[operand] = memref::AllocaOp::create(
        b, loc,
        MemRefType::get({type.getNumElements(), lanes}, type.getElementType()));
  }
  for (int operand = 0; operand < 3; ++operand) {
    VectorType type = fragmentTypes[operand];
    for (int64_t i = 0; i < type.getNumElements(); ++i)
      vector::StoreOp::create(
          b, loc,
          vector::ExtractOp::create(b, loc, entry->getArgument(operand),
                                    delinearize(i, type.getShape())),
          fragments[operand], ValueRange{c(i), c(0)});
  }

  buildLoop(
      b, loc, c(0), c(lanes / kWarpSize), {},
      [&](Value warp, ValueRange) -> SmallVector<Value> {
        // Gathers (or scatters) the warp's fragments to (from) its matrices.
        auto forEachElement = [&](ArrayRef<int> operands, bool gather) {
          buildLoop(
              b, loc, c(0), c(kWarpSize), {},
              [&](Value lane, ValueRange) -> SmallVector<Value> {
                Value thread = arith::AddIOp::create(
                    b, loc, arith::MulIOp::create(b, loc, warp, c(kWarpSize)),
                    lane);
                Value g = arith::DivUIOp::create(b, loc, lane, c(4));
                Value t = arith::RemUIOp::create(b, loc, lane, c(4));
                for (int operand : operands) {
                  Type element = fragmentTypes[operand].getElementType();
                  for (auto [i, p] : llvm::enumerate(layouts[operand])) {
                    auto [row, col] = positionOf(p, g, t);
                    SmallVector<Value> fragmentAt = {c(i), thread};
                    SmallVector<Value> matrixAt = {row, col};
                    if (gather) {
                      Value x = memref::LoadOp::create(
                          b, loc, fragments[operand], fragmentAt);
                      if (element != f32)
                        x = arith::ExtFOp::create(b, loc, f32, x);
                      else if (operand < 2 && op.getTf32Enabled())
                        x = truncateToTf32(b, loc, x);
                      memref::StoreOp::create(b, loc, x, matrices[operand],
                                              matrixAt);
                    } else {
                      Value x = memref::LoadOp::create(
                          b, loc, matrices[operand], matrixAt);
                      if (element != f32)
                        x = arith::TruncFOp::create(b, loc, element, x);
                      memref::StoreOp::create(b, loc, x, fragments[operand],
                                              fragmentAt);
                    }
                  }
                }
                return {};
              });
        };
        forEachElement({0, 1, 2}, /*gather=*/true);
        // D = A B + C, in f32.
        buildLoop(b, loc, c(0), c(m), {}, [&](Value i, ValueRange) {
          buildLoop(b, loc, c(0), c(n), {}, [&](Value j, ValueRange) {
            Value acc =
                memref::LoadOp::create(b, loc, matrices[2], ValueRange{i, j});
            Value sum = buildLoop(
                b, loc, c(0), c(k), {acc},
                [&](Value kk, ValueRange sumArgs) -> SmallVector<Value> {
                  Value x = memref::LoadOp::create(b, loc, matrices[0],
                                                   ValueRange{i, kk});
                  Value y = memref::LoadOp::create(b, loc, matrices[1],
                                                   ValueRange{kk, j});
                  Value p = arith::MulFOp::create(b, loc, x, y);
                  return {arith::AddFOp::create(b, loc, sumArgs[0], p)};
                })[0];
            memref::StoreOp::create(b, loc, sum, matrices[2], ValueRange{i, j});
            return SmallVector<Value>{};
          });
          return SmallVector<Value>{};
        });
        forEachElement({2}, /*gather=*/false);
        return {};
      });

  Value warpResult = result;
  for (int64_t i = 0; i < cType.getNumElements(); ++i)
    warpResult = vector::InsertOp::create(
        b, loc,
        vector::LoadOp::create(b, loc,
                               VectorType::get({lanes}, cType.getElementType()),
                               fragments[2], ValueRange{c(i), c(0)}),
        warpResult, delinearize(i, cType.getShape()));
  func::ReturnOp::create(b, loc, warpResult);
  return func;
}

static LogicalResult emulateMma(BlockEmulator &e, nvgpu::MmaSyncOp op) {
  if (e.getLanes() % kWarpSize != 0)
    return op.emitOpError("attn-emulate-gpu: mma.sync needs whole warps");
  FailureOr<func::FuncOp> mma =
      getOrCreateMmaEmulation(e.getModule(), op, e.getLanes());
  if (failed(mma))
    return failure();
  auto call = func::CallOp::create(e.getBuilder(), op.getLoc(), *mma,
                                   ValueRange{e.lanesOf(op.getMatrixA()),
                                              e.lanesOf(op.getMatrixB()),
                                              e.lanesOf(op.getMatrixC())});
  e.mapLanes(op.getResult(), call.getResult(0));
  return success();
}

void registerMmaHooks(EmulationHooks &hooks) {
  hooks.add<nvgpu::MmaSyncOp>(emulateMma);
}

} // namespace gpu_emulation
} // namespace attn
