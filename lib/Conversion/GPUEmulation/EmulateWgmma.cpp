//===- EmulateWgmma.cpp - attn_gpu.wgmma and the wgmma fences -------------===//
//
// Each warpgroup's wgmma reads A and B from shared memory through their
// descriptors, decoded bit by bit as the PTX ISA defines them (start
// address, leading and stride byte offsets, swizzle mode) and addressed by
// the canonical layouts of "Shared Memory Matrix Layout" (K- or MN-major,
// without swizzle or with the 32-, 64- or 128-byte swizzle of the absolute
// address), so that a kernel whose descriptor or tile layout is wrong reads
// the wrong elements here as on a GPU. A from registers and the accumulator
// follow MmaLayout.h's wgmmaLayout. The product lands at once; commits and
// waits move its result through AsyncResults, which checks statically that
// nothing reads it (or releases its operands) before a wait retires it.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "attn/Conversion/MmaLayout.h"
#include "attn/Dialect/AttnGpu.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <optional>

using namespace mlir;

namespace attn {
namespace gpu_emulation {

namespace {
constexpr int64_t kWarpgroup = 128, kRows = 64, kDepth = 16;

/// The fields of a matrix descriptor (index values, bytes).
struct Descriptor {
  Value start, leading, stride, mode;

  static Descriptor decode(OpBuilder &b, Location loc, Value bits,
                           BlockEmulator &e) {
    Type i64 = b.getI64Type();
    auto field = [&](int64_t shift, int64_t width, int64_t scale) {
      Value x = arith::ShRUIOp::create(
          b, loc, bits, arith::ConstantIntOp::create(b, loc, i64, shift));
      x = arith::AndIOp::create(
          b, loc, x,
          arith::ConstantIntOp::create(b, loc, i64, (int64_t(1) << width) - 1));
      Value v = arith::IndexCastUIOp::create(b, loc, b.getIndexType(), x);
      return scale == 1 ? v
                        : arith::MulIOp::create(b, loc, v, e.index(scale))
                              .getResult();
    };
    Value baseOffset = field(wgmma::kBaseOffsetShift, 3, 1);
    std::string message;
    llvm::raw_string_ostream os(message);
    os << "attn-emulate-gpu: a wgmma descriptor at " << loc
       << " has a matrix base offset (bits 49-51), which is not emulated: "
          "start swizzled tiles on the swizzle's period";
    cf::AssertOp::create(b, loc,
                         arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                               baseOffset, e.index(0)),
                         message);
    return {field(wgmma::kAddressShift, 14, 16),
            field(wgmma::kLeadingShift, 14, 16),
            field(wgmma::kStrideShift, 14, 16), field(wgmma::kSwizzleShift, 2, 1)};
  }
};

/// `select(mode == m, values[m])` over the four swizzle modes.
Value selectByMode(OpBuilder &b, Location loc, Value mode,
                   ArrayRef<int64_t> values, BlockEmulator &e) {
  Value result = e.index(values[0]);
  for (int64_t m = 1; m < 4; ++m)
    result = arith::SelectOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, mode,
                              e.index(m)),
        e.index(values[m]), result);
  return result;
}
} // namespace

/// The shared-memory byte address of element (mn, k) of a 16-bit operand
/// (mn: A's row or B's column) under descriptor `d`: the canonical layouts
/// in 16-byte units u, T = 8 elements each, W = 1, 2, 4, 8 units per
/// swizzled row (PTX ISA; CUTLASS writes them as cute layouts):
///   K-major,  no swizzle: ((8, m), (T, 2k)) : ((1 u, SBO), (1, LBO))
///   K-major,  swizzled:   ((8, m), (T, 2k)) : ((W u, SBO), (1, 1 u))
///   MN-major, no swizzle: ((T, m), (8, k))  : ((1, SBO), (1 u, LBO))
///   MN-major, swizzled:   ((T, W, m), (8, k)) : ((1, 1 u, LBO), (W u, SBO))
/// then swizzled on the address.
static Value operandAddress(OpBuilder &b, Location loc, BlockEmulator &e,
                            const Descriptor &d, Value mn, Value k,
                            bool mnMajor) {
  auto add = [&](Value x, Value y) {
    return arith::AddIOp::create(b, loc, x, y).getResult();
  };
  auto mul = [&](Value x, Value y) {
    return arith::MulIOp::create(b, loc, x, y).getResult();
  };
  auto div = [&](Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, e.index(y)).getResult();
  };
  auto rem = [&](Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, e.index(y)).getResult();
  };
  Value width = selectByMode(b, loc, d.mode, {1, 8, 4, 2}, e);
  Value unit = e.index(16);
  Value isPlain = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        d.mode, e.index(0));
  Value plain, swizzled, element;
  if (!mnMajor) {
    Value r0 = rem(mn, 8), r1 = div(mn, 8), kc = div(k, 8);
    element = mul(rem(k, 8), e.index(2));
    plain = add(add(mul(r0, unit), mul(r1, d.stride)), mul(kc, d.leading));
    swizzled = add(add(mul(mul(r0, width), unit), mul(r1, d.stride)),
                   mul(kc, unit));
  } else {
    Value chunk = div(mn, 8), k0 = rem(k, 8), k1 = div(k, 8);
    element = mul(rem(mn, 8), e.index(2));
    plain = add(add(mul(chunk, d.stride), mul(k0, unit)), mul(k1, d.leading));
    Value w = arith::RemUIOp::create(b, loc, chunk, width);
    Value mc = arith::DivUIOp::create(b, loc, chunk, width);
    swizzled = add(add(mul(w, unit), mul(mc, d.leading)),
                   add(mul(mul(k0, width), unit), mul(k1, d.stride)));
  }
  Value address = add(
      d.start, add(arith::SelectOp::create(b, loc, isPlain, plain, swizzled),
                   element));
  // The XOR of each mode (bits 0: none); chosen at run time like the rest.
  Value result = address;
  for (int64_t mode : {wgmma::Bytes128, wgmma::Bytes64, wgmma::Bytes32}) {
    Value isMode = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                         d.mode, e.index(mode));
    Value swizzled =
        swizzleAddress(b, loc, address, wgmma::swizzleBits(mode));
    result = arith::SelectOp::create(b, loc, isMode, swizzled, result);
  }
  return result;
}

static LogicalResult emulateWgmma(BlockEmulator &e, gpu_ops::WgmmaOp op) {
  Location loc = op.getLoc();
  OpBuilder &b = e.getBuilder();
  int64_t lanes = e.getLanes();
  if (lanes % kWarpgroup != 0)
    return op.emitOpError("attn-emulate-gpu: wgmma needs whole warpgroups (")
           << kWarpgroup << " threads); the block has " << lanes;
  int64_t n = op.getN();
  Type element = op.getElementType(), f32 = b.getF32Type(), i64 = b.getI64Type();
  auto accType = cast<VectorType>(op.getAcc().getType());
  int64_t accCount = accType.getNumElements();
  Value smem = e.sharedMemoryAs(element, loc);

  Type resultType = laneType(accType, lanes);
  auto c = [&](int64_t v) { return e.index(v); };
  auto scratch = [&](ArrayRef<int64_t> shape, Type type) {
    return e.entryAlloca(MemRefType::get(shape, type), loc);
  };

  Value accScratch = scratch({accCount, lanes}, f32);
  Value acc = e.lanesOf(op.getAcc());
  for (int64_t i = 0; i < accCount; ++i)
    vector::StoreOp::create(b, loc, vector::ExtractOp::create(b, loc, acc, i),
                            accScratch, ValueRange{c(i), c(0)});
  Value descriptors = scratch({2, lanes}, i64);
  vector::StoreOp::create(b, loc, e.lanesOf(op.getB()), descriptors,
                          ValueRange{c(1), c(0)});
  Value aScratch;
  if (op.hasRegisterA()) {
    aScratch = scratch({8, lanes}, element);
    for (int64_t i = 0; i < 8; ++i)
      vector::StoreOp::create(
          b, loc, vector::ExtractOp::create(b, loc, e.lanesOf(op.getA()), i),
          aScratch, ValueRange{c(i), c(0)});
  } else {
    vector::StoreOp::create(b, loc, e.lanesOf(op.getA()), descriptors,
                            ValueRange{c(0), c(0)});
  }
  Value matrixA = scratch({kRows, kDepth}, f32);
  Value matrixB = scratch({kDepth, n}, f32);

  buildLoop(b, loc, c(0), c(lanes / kWarpgroup), {}, [&](Value group,
                                                         ValueRange) {
    Value first = arith::MulIOp::create(b, loc, group, c(kWarpgroup));
    // Under a role split only some warpgroups run it, each whole (it is
    // .sync.aligned); the others keep their accumulators.
    std::optional<OpBuilder::InsertionGuard> inactiveSkipped;
    if (Value active = e.getActiveLanes()) {
      Value on = vector::ExtractOp::create(b, loc, active,
                                           ArrayRef<OpFoldResult>{first});
      buildLoop(b, loc, c(0), c(kWarpgroup), {}, [&](Value t, ValueRange) {
        Value mine = vector::ExtractOp::create(
            b, loc, active,
            ArrayRef<OpFoldResult>{
                arith::AddIOp::create(b, loc, first, t).getResult()});
        std::string message;
        llvm::raw_string_ostream os(message);
        os << "attn-emulate-gpu: some threads of a warpgroup execute the "
              "wgmma at "
           << loc << " and others do not";
        cf::AssertOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, mine, on),
            message);
        return SmallVector<Value>{};
      });
      auto ifOn = scf::IfOp::create(b, loc, on, /*withElseRegion=*/false);
      inactiveSkipped.emplace(b);
      b.setInsertionPoint(ifOn.thenBlock()->getTerminator());
    }
    // Every thread of the warpgroup must pass the same descriptors.
    buildLoop(b, loc, c(0), c(kWarpgroup), {}, [&](Value t, ValueRange) {
      Value thread = arith::AddIOp::create(b, loc, first, t);
      for (int64_t operand = op.hasRegisterA() ? 1 : 0; operand < 2; ++operand) {
        Value mine = memref::LoadOp::create(b, loc, descriptors,
                                            ValueRange{c(operand), thread});
        Value leader = memref::LoadOp::create(b, loc, descriptors,
                                              ValueRange{c(operand), first});
        std::string message;
        llvm::raw_string_ostream os(message);
        os << "attn-emulate-gpu: the threads of a warpgroup pass different "
              "wgmma descriptors at "
           << loc;
        cf::AssertOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, mine,
                                  leader),
            message);
      }
      return SmallVector<Value>{};
    });

    // Gathers rows x cols of an operand from shared memory.
    auto gather = [&](int64_t operand, Value matrix, int64_t mnSize,
                      bool mnMajor, bool kFirst) {
      Descriptor d = Descriptor::decode(
          b, loc,
          memref::LoadOp::create(b, loc, descriptors,
                                 ValueRange{c(operand), first}),
          e);
      buildLoop(b, loc, c(0), c(mnSize), {}, [&](Value mn, ValueRange) {
        buildLoop(b, loc, c(0), c(kDepth), {}, [&](Value k, ValueRange) {
          Value address = operandAddress(b, loc, e, d, mn, k, mnMajor);
          Value byte = arith::SubIOp::create(
              b, loc, address, c(BlockEmulator::kSharedBase));
          Value at = arith::DivUIOp::create(b, loc, byte, c(2));
          e.assertInBounds(smem, ValueRange{at}, Value(), loc, "wgmma read");
          e.recordRead(byte, first, loc);
          Value x = arith::ExtFOp::create(
              b, loc, f32,
              memref::LoadOp::create(b, loc, smem, at).getResult());
          memref::StoreOp::create(
              b, loc, x, matrix,
              kFirst ? ValueRange{k, mn} : ValueRange{mn, k});
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{};
      });
    };
    gather(1, matrixB, n, op.getTransposeB(), /*kFirst=*/true);

    // Per thread of the warpgroup: its (warp, g, t) and fragment positions.
    auto forEachThread = [&](function_ref<void(Value thread, Value row0,
                                               Value g, Value t)>
                                 bodyFn) {
      buildLoop(b, loc, c(0), c(kWarpgroup), {}, [&](Value i, ValueRange) {
        Value thread = arith::AddIOp::create(b, loc, first, i);
        Value lane = arith::RemUIOp::create(b, loc, i, c(kWarpSize));
        Value row0 = arith::MulIOp::create(
            b, loc, arith::DivUIOp::create(b, loc, i, c(kWarpSize)), c(16));
        Value group = arith::DivUIOp::create(b, loc, lane, c(4));
        Value inGroup = arith::RemUIOp::create(b, loc, lane, c(4));
        bodyFn(thread, row0, group, inGroup);
        return SmallVector<Value>{};
      });
    };
    auto position = [&](const MatrixPosition &p, Value row0, Value g,
                        Value t) {
      auto affine = [&](Value base, int64_t gs, int64_t ts, int64_t c0) {
        Value v = arith::AddIOp::create(b, loc, base, c(c0));
        v = arith::AddIOp::create(b, loc, v,
                                  arith::MulIOp::create(b, loc, g, c(gs)));
        return arith::AddIOp::create(b, loc, v,
                                     arith::MulIOp::create(b, loc, t, c(ts)))
            .getResult();
      };
      return std::pair{affine(row0, p.gRow, p.tRow, p.row),
                       affine(c(0), p.gCol, p.tCol, p.col)};
    };

    if (op.hasRegisterA()) {
      SmallVector<MatrixPosition> layout = wgmmaLayout(0, n);
      forEachThread([&](Value thread, Value row0, Value g, Value t) {
        for (auto [i, p] : llvm::enumerate(layout)) {
          auto [row, col] = position(p, row0, g, t);
          Value x = memref::LoadOp::create(b, loc, aScratch,
                                           ValueRange{c(i), thread});
          memref::StoreOp::create(b, loc,
                                  arith::ExtFOp::create(b, loc, f32, x).getResult(),
                                  matrixA, ValueRange{row, col});
        }
      });
    } else {
      gather(0, matrixA, kRows, op.getTransposeA(), /*kFirst=*/false);
    }

    // D = A B + C, one n8 block of four accumulators at a time.
    SmallVector<MatrixPosition> block = fragmentLayout(16, 2);
    forEachThread([&](Value thread, Value row0, Value g, Value t) {
      buildLoop(b, loc, c(0), c(n / 8), {}, [&](Value j, ValueRange) {
        for (auto [q, p] : llvm::enumerate(block)) {
          auto [row, col] = position(p, row0, g, t);
          col = arith::AddIOp::create(b, loc, col,
                                      arith::MulIOp::create(b, loc, j, c(8)));
          Value i = arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, j, c(4)), c(q));
          Value sum = memref::LoadOp::create(b, loc, accScratch,
                                             ValueRange{i, thread});
          sum = buildLoop(b, loc, c(0), c(kDepth), {sum},
                          [&](Value k, ValueRange args) -> SmallVector<Value> {
                            Value x = memref::LoadOp::create(
                                b, loc, matrixA, ValueRange{row, k});
                            Value y = memref::LoadOp::create(
                                b, loc, matrixB, ValueRange{k, col});
                            return {arith::AddFOp::create(
                                b, loc, args[0],
                                arith::MulFOp::create(b, loc, x, y))};
                          })[0];
          memref::StoreOp::create(b, loc, sum, accScratch,
                                  ValueRange{i, thread});
        }
        return SmallVector<Value>{};
      });
    });
    return SmallVector<Value>{};
  });

  Value result = e.zeros(resultType, loc);
  for (int64_t i = 0; i < accCount; ++i)
    result = vector::InsertOp::create(
        b, loc,
        vector::LoadOp::create(b, loc, VectorType::get({lanes}, f32),
                               accScratch, ValueRange{c(i), c(0)}),
        result, i);
  e.mapLanes(op.getResult(), result);
  return success();
}

void registerWgmmaHooks(EmulationHooks &hooks) {
  // A product may take the accumulator of one in flight (a chain); its
  // result is in flight until a wait retires its group.
  hooks.add<gpu_ops::WgmmaOp>([](BlockEmulator &e, gpu_ops::WgmmaOp op) {
    if (failed(e.checkRetired(op, {op.getA(), op.getB()})) ||
        failed(emulateWgmma(e, op)))
      return failure();
    e.getAsyncResults().issue(op.getResult());
    return success();
  });
  hooks.markAsynchronous<gpu_ops::WgmmaOp>();
  hooks.markGroupOps<NVVM::WgmmaGroupSyncAlignedOp,
                     NVVM::WgmmaWaitGroupSyncOp>();
  // The product lands when issued; commits and waits move its result
  // through AsyncResults, which checks that nothing sees it early.
  hooks.add<NVVM::WgmmaGroupSyncAlignedOp>([](BlockEmulator &e, Operation *) {
    e.getAsyncResults().commit();
    return success();
  });
  hooks.add<NVVM::WgmmaWaitGroupSyncOp>(
      [](BlockEmulator &e, NVVM::WgmmaWaitGroupSyncOp op) {
        e.getAsyncResults().wait(op.getGroup());
        return success();
      });
  hooks.add<NVVM::WgmmaFenceAlignedOp>(
      [](BlockEmulator &, Operation *) { return success(); });
}

} // namespace gpu_emulation
} // namespace attn
