//===- EmulateGPU.cpp - Run GPU kernels on the CPU in lock step -----------===//
//
// A kernel body is per-thread code. Executing all threads of a block in lock
// step turns it into vector code: each per-thread value becomes a vector with
// one lane per thread, innermost (`T` -> `vector<W x T>`, `vector<S x T>` ->
// `vector<S x W x T>`), so per-thread vector ops keep their static positions
// and the lane is always the last, dynamic-friendly index. In lock step a
// barrier is implied by program order, and warp-level operations (shuffles,
// mma.sync) see every lane's value at once.
//
//===----------------------------------------------------------------------===//

#include "attn/Conversion/MmaLayout.h"
#include "attn/Dialect/Attn.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"
#include "mlir/IR/SymbolTable.h"

namespace attn {
#define GEN_PASS_DEF_ATTNEMULATEGPU
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

constexpr int64_t kWarpSize = 32;

/// The static position in a fragment vector of its `i`-th element.
SmallVector<int64_t> delinearize(int64_t i, ArrayRef<int64_t> shape) {
  SmallVector<int64_t> position(shape.size());
  for (int64_t d = shape.size() - 1; d >= 0; --d) {
    position[d] = i % shape[d];
    i /= shape[d];
  }
  return position;
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// The lock-step type of a per-thread type, or null if it has none.
Type laneType(Type type, int64_t lanes) {
  if (type.isIntOrIndexOrFloat())
    return VectorType::get({lanes}, type);
  if (auto vector = dyn_cast<VectorType>(type)) {
    if (vector.isScalable())
      return Type();
    SmallVector<int64_t> shape(vector.getShape());
    shape.push_back(lanes);
    return VectorType::get(shape, vector.getElementType());
  }
  if (auto memref = dyn_cast<MemRefType>(type))
    return MemRefType::get(memref.getShape(), memref.getElementType(),
                           memref.getLayout());
  return Type();
}

Value indexConstant(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Builds `for lane in [lo, hi)` carrying `init`.
SmallVector<Value>
buildLoop(OpBuilder &b, Location loc, Value lo, Value hi, ValueRange init,
          function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, indexConstant(b, loc, 1), init,
      [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        scf::YieldOp::create(b, loc, body(iv, args));
      });
  return SmallVector<Value>(loop.getResults());
}

/// `x` with the 13 low mantissa bits cleared: the tf32 tensor cores read
/// only the top 10 bits of an f32 operand's mantissa.
Value truncateToTf32(OpBuilder &b, Location loc, Value x) {
  Type i32 = b.getI32Type();
  Value bits = arith::BitcastOp::create(b, loc, i32, x);
  Value mask = arith::ConstantOp::create(
      b, loc, IntegerAttr::get(i32, static_cast<int32_t>(0xffffe000u)));
  return arith::BitcastOp::create(b, loc, b.getF32Type(),
                                  arith::AndIOp::create(b, loc, bits, mask));
}

/// Returns (creating it once) a function emulating one mma.sync shape and
/// type for blocks of `lanes` threads: (A, B, C) -> D in lock-step types.
FailureOr<func::FuncOp> getOrCreateMmaEmulation(ModuleOp module,
                                                nvgpu::MmaSyncOp op,
                                                int64_t lanes) {
  SmallVector<int64_t> shape = llvm::to_vector(llvm::map_range(
      op.getMmaShape(), [](Attribute a) { return cast<IntegerAttr>(a).getInt(); }));
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
  os << "__attn_emulate_mma_m16n8k" << k << "_" << aType.getElementType()
     << "_" << cType.getElementType() << "_w" << lanes;
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;

  Location loc = op.getLoc();
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  Type types[3] = {laneType(aType, lanes), laneType(bType, lanes),
                   laneType(cType, lanes)};
  auto func = func::FuncOp::create(
      b, loc, name, b.getFunctionType(types, {types[2]}));
  func.setPrivate();
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);

  Type f32 = b.getF32Type();
  int64_t rows[3] = {m, k, m}, cols[3] = {k, n, n};
  auto c = [&](int64_t v) { return indexConstant(b, loc, v); };
  Value result = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(cast<VectorType>(types[2]),
                                     b.getZeroAttr(cType.getElementType())));
  Value matrices[3];
  for (int operand = 0; operand < 3; ++operand)
    matrices[operand] = memref::AllocaOp::create(
        b, loc, MemRefType::get({rows[operand], cols[operand]}, f32));

  auto positionOf = [&](const MatrixPosition &p, Value g, Value t) {
    auto affine = [&](int64_t gs, int64_t ts, int64_t c0) {
      Value v = c(c0);
      if (gs)
        v = arith::AddIOp::create(
            b, loc, v, arith::MulIOp::create(b, loc, g, c(gs)));
      if (ts)
        v = arith::AddIOp::create(
            b, loc, v, arith::MulIOp::create(b, loc, t, c(ts)));
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

  buildLoop(b, loc, c(0), c(lanes / kWarpSize), {},
            [&](Value warp, ValueRange) -> SmallVector<Value> {
    // Gathers (or scatters) the warp's fragments to (from) its matrices.
    auto forEachElement = [&](ArrayRef<int> operands, bool gather) {
      buildLoop(b, loc, c(0), c(kWarpSize), {},
                [&](Value lane, ValueRange) -> SmallVector<Value> {
        Value thread = arith::AddIOp::create(
            b, loc, arith::MulIOp::create(b, loc, warp, c(kWarpSize)), lane);
        Value g = arith::DivUIOp::create(b, loc, lane, c(4));
        Value t = arith::RemUIOp::create(b, loc, lane, c(4));
        for (int operand : operands) {
          Type element = fragmentTypes[operand].getElementType();
          for (auto [i, p] : llvm::enumerate(layouts[operand])) {
            auto [row, col] = positionOf(p, g, t);
            SmallVector<Value> fragmentAt = {c(i), thread};
            SmallVector<Value> matrixAt = {row, col};
            if (gather) {
              Value x = memref::LoadOp::create(b, loc, fragments[operand],
                                               fragmentAt);
              if (element != f32)
                x = arith::ExtFOp::create(b, loc, f32, x);
              else if (operand < 2 && op.getTf32Enabled())
                x = truncateToTf32(b, loc, x);
              memref::StoreOp::create(b, loc, x, matrices[operand], matrixAt);
            } else {
              Value x = memref::LoadOp::create(b, loc, matrices[operand],
                                               matrixAt);
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
        vector::LoadOp::create(
            b, loc, VectorType::get({lanes}, cType.getElementType()),
            fragments[2], ValueRange{c(i), c(0)}),
        warpResult, delinearize(i, cType.getShape()));
  func::ReturnOp::create(b, loc, warpResult);
  return func;
}

//===----------------------------------------------------------------------===//
// One kernel, one block at a time
//===----------------------------------------------------------------------===//

class BlockEmulator {
public:
  BlockEmulator(ModuleOp module, gpu::GPUFuncOp kernel, int64_t lanes)
      : module(module), kernel(kernel), lanes(lanes),
        b(kernel.getContext()) {}

  /// Creates `func.func @name(kernel args..., shared memory, block ids,
  /// grid sizes)` running one block of `kernel`.
  FailureOr<func::FuncOp> build(StringRef name) {
    Location loc = kernel.getLoc();
    SmallVector<Type> types;
    for (Type type : kernel.getArgumentTypes()) {
      Type converted = laneType(type, lanes);
      if (!converted)
        return kernel.emitOpError("attn-emulate-gpu: cannot emulate an "
                                  "argument of type ")
               << type;
      // Scalar arguments are the same for every thread.
      types.push_back(isa<MemRefType>(type) ? converted : type);
    }
    types.push_back(MemRefType::get({ShapedType::kDynamic}, b.getI8Type()));
    types.append(6, b.getIndexType());
    b.setInsertionPointToEnd(module.getBody());
    auto func = func::FuncOp::create(b, loc, name,
                                     b.getFunctionType(types, {}));
    func.setPrivate();
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    unsigned numArgs = kernel.getNumArguments();
    for (unsigned i = 0; i < numArgs; ++i) {
      Value arg = entry->getArgument(i);
      if (!isa<MemRefType>(arg.getType()))
        arg = vector::BroadcastOp::create(
            b, loc, laneType(arg.getType(), lanes), arg);
      map.map(kernel.getArgument(i), arg);
    }
    sharedMemory = entry->getArgument(numArgs);
    for (int d = 0; d < 3; ++d) {
      blockIds[d] = entry->getArgument(numArgs + 1 + d);
      gridSizes[d] = entry->getArgument(numArgs + 4 + d);
    }
    poisonSharedMemory(loc);
    setUpRaceDetection(loc);
    if (!kernel.getWorkgroupAttributions().empty() ||
        !kernel.getPrivateAttributions().empty())
      return kernel.emitOpError("attn-emulate-gpu: memory attributions are "
                                "not emulated; use gpu.dynamic_shared_memory");
    if (failed(emulateBlock(kernel.getBody().front())))
      return failure();
    func::ReturnOp::create(b, loc);
    return func;
  }

private:
  /// Fills shared memory with 0xff bytes (NaN in every float type), so that
  /// a kernel reading what it did not write gets NaN, not a lucky zero.
  void poisonSharedMemory(Location loc) {
    Value size = memref::DimOp::create(b, loc, sharedMemory, 0);
    Value poison = arith::ConstantIntOp::create(b, loc, b.getI8Type(), -1);
    buildLoop(b, loc, index(0), size, {}, [&](Value i, ValueRange) {
      memref::StoreOp::create(b, loc, poison, sharedMemory, i);
      return SmallVector<Value>{};
    });
  }

  //===--------------------------------------------------------------------===//
  // Shared-memory races
  //
  // Lock step executes a barrier's effect by program order, so a kernel
  // missing one would still compute the right answer here. Instead, every
  // shared-memory byte an access starts at records the lane that wrote it
  // and the lane that read it (-2: several) since the last barrier (-1:
  // none), and an access that another lane's access since the barrier
  // conflicts with (read after write, write after read or write) fails with
  // a race message. cp.async copies count as writes when issued; ldmatrix
  // reads count as the receiving lane's.
  //===--------------------------------------------------------------------===//

  /// The shadows are plain allocations: the host pipeline's buffer
  /// deallocation frees them.
  void setUpRaceDetection(Location loc) {
    Value size = memref::DimOp::create(b, loc, sharedMemory, 0);
    auto type = MemRefType::get({ShapedType::kDynamic}, b.getI32Type());
    writers = memref::AllocOp::create(b, loc, type, ValueRange{size});
    readers = memref::AllocOp::create(b, loc, type, ValueRange{size});
    sharedOffsets[sharedMemory] = index(0);
    forgetAccesses(loc);
  }

  /// What a barrier does: accesses before it no longer conflict.
  void forgetAccesses(Location loc) {
    Value size = memref::DimOp::create(b, loc, sharedMemory, 0);
    Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
    buildLoop(b, loc, index(0), size, {}, [&](Value i, ValueRange) {
      memref::StoreOp::create(b, loc, none, writers, i);
      memref::StoreOp::create(b, loc, none, readers, i);
      return SmallVector<Value>{};
    });
  }

  /// The shared-memory byte element `indices` of the (lock-step) memref
  /// `memref` starts at, or null when `memref` is not shared memory.
  Value sharedByte(Value memref, ValueRange indices, Location loc) {
    auto it = sharedOffsets.find(memref);
    if (it == sharedOffsets.end())
      return Value();
    auto type = cast<MemRefType>(memref.getType());
    Value linear = index(0);
    for (auto [d, i] : llvm::enumerate(indices))
      linear = arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(b, loc, linear,
                                index(type.isDynamicDim(d) ? 0
                                                           : type.getDimSize(d))),
          i);
    int64_t bytes = type.getElementTypeBitWidth() / 8;
    return arith::AddIOp::create(
        b, loc, it->second,
        arith::MulIOp::create(b, loc, linear, index(bytes)));
  }

  /// Fails unless `recorded` (a lane, or -1/-2) is -1 or `lane`.
  void assertNoOtherLane(Value recorded, Value lane, Location loc,
                         StringRef what) {
    Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
    Value ok = arith::OrIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, recorded,
                              none),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, recorded,
                              lane));
    std::string message;
    llvm::raw_string_ostream os(message);
    os << "attn-emulate-gpu: shared-memory race at " << loc << ": " << what
       << " since the last barrier";
    cf::AssertOp::create(b, loc, ok, message);
  }

  Value laneId(Value lane, Location loc) {
    return arith::IndexCastOp::create(b, loc, b.getI32Type(), lane);
  }

  /// `lane` reads the byte `byte` (null: not shared memory).
  void recordRead(Value byte, Value lane, Location loc) {
    if (!byte)
      return;
    Value id = laneId(lane, loc);
    assertNoOtherLane(memref::LoadOp::create(b, loc, writers, byte), id, loc,
                      "a thread reads what another thread wrote");
    Value reader = memref::LoadOp::create(b, loc, readers, byte);
    Value none = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -1);
    Value several = arith::ConstantIntOp::create(b, loc, b.getI32Type(), -2);
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        reader, none);
    Value same = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       reader, id);
    Value next = arith::SelectOp::create(
        b, loc, arith::OrIOp::create(b, loc, first, same), id, several);
    memref::StoreOp::create(b, loc, next, readers, byte);
  }

  /// `lane` writes the byte `byte` (null: not shared memory).
  void recordWrite(Value byte, Value lane, Location loc) {
    if (!byte)
      return;
    Value id = laneId(lane, loc);
    assertNoOtherLane(memref::LoadOp::create(b, loc, writers, byte), id, loc,
                      "two threads write the same byte");
    assertNoOtherLane(memref::LoadOp::create(b, loc, readers, byte), id, loc,
                      "a thread overwrites what another thread read");
    memref::StoreOp::create(b, loc, id, writers, byte);
  }

  Value index(int64_t v) { return indexConstant(b, kernel.getLoc(), v); }

  /// The lock-step value of `v`.
  Value lanesOf(Value v) { return map.lookup(v); }

  /// The value of lane 0 of a per-thread scalar, asserting that every lane
  /// has it (control flow must be uniform).
  Value uniform(Value v, Location loc) {
    Value all = lanesOf(v);
    Value first = vector::ExtractOp::create(b, loc, all, 0);
    if (first.getType().isIntOrIndex()) {
      Value same = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::eq, all,
          vector::BroadcastOp::create(b, loc, all.getType(), first));
      Value allSame = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::AND, same);
      std::string message;
      llvm::raw_string_ostream os(message);
      os << "attn-emulate-gpu: control flow diverges across the block at "
         << loc;
      cf::AssertOp::create(b, loc, allSame, message);
    }
    return first;
  }

  /// `x` broadcast to `shape` (lock-step), or `x` if it has that shape.
  Value broadcastTo(Value x, VectorType like, Location loc) {
    auto type = cast<VectorType>(x.getType());
    if (type.getShape() == like.getShape())
      return x;
    return vector::BroadcastOp::create(
        b, loc, VectorType::get(like.getShape(), type.getElementType()), x);
  }

  /// Runs `body(lane)` for every active lane (all, unless under a
  /// divergent scf.if). Lane loops carry no values: results go through
  /// scratch memory (see gatherLanes), which keeps the generated code small.
  void forEachLane(Location loc, function_ref<void(Value lane)> body) {
    buildLoop(b, loc, index(0), index(lanes), {},
              [&](Value lane, ValueRange) -> SmallVector<Value> {
                if (!activeLanes) {
                  body(lane);
                  return {};
                }
                Value active = vector::ExtractOp::create(
                    b, loc, activeLanes, ArrayRef<OpFoldResult>{lane});
                auto ifActive = scf::IfOp::create(b, loc, active,
                                                  /*withElseRegion=*/false);
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPoint(ifActive.thenBlock()->getTerminator());
                body(lane);
                return {};
              });
  }

  /// A lock-step value of per-thread type `type` computed lane by lane:
  /// `body(lane)` returns the lane's elements (a scalar, or the elements of
  /// a 1-D vector), stored to a scratch buffer read back as a whole.
  /// Inactive lanes read zero.
  Value gatherLanes(Location loc, Type type,
                    function_ref<SmallVector<Value>(Value lane)> body) {
    auto vector = dyn_cast<VectorType>(type);
    int64_t count = vector ? vector.getDimSize(0) : 1;
    Type element = getElementTypeOrSelf(type);
    Value scratch = memref::AllocaOp::create(
        b, loc, MemRefType::get({count, lanes}, element));
    Value zero = arith::ConstantOp::create(
        b, loc, cast<TypedAttr>(b.getZeroAttr(VectorType::get({lanes}, element))));
    for (int64_t e = 0; e < count; ++e)
      vector::StoreOp::create(b, loc, zero, scratch, ValueRange{index(e), index(0)});
    forEachLane(loc, [&](Value lane) {
      for (auto [e, x] : llvm::enumerate(body(lane)))
        memref::StoreOp::create(b, loc, x, scratch,
                                ValueRange{index(e), lane});
    });
    Value result = zeros(laneType(type, lanes), loc);
    for (int64_t e = 0; e < count; ++e) {
      Value row = vector::LoadOp::create(b, loc, VectorType::get({lanes}, element),
                                         scratch, ValueRange{index(e), index(0)});
      if (!vector)
        return row;
      result = vector::InsertOp::create(b, loc, row, result, e);
    }
    return result;
  }

  /// The indices of `lane` from lock-step index vectors.
  SmallVector<Value> laneIndices(ValueRange indices, Value lane,
                                 Location loc) {
    SmallVector<Value> at;
    for (Value index : indices)
      at.push_back(vector::ExtractOp::create(
          b, loc, lanesOf(index), ArrayRef<OpFoldResult>{lane}));
    return at;
  }

  Value laneElement(Value all, ArrayRef<int64_t> position, Value lane,
                    Location loc) {
    SmallVector<OpFoldResult> at =
        getAsIndexOpFoldResult(b.getContext(), position);
    at.push_back(lane);
    return vector::ExtractOp::create(b, loc, all, at);
  }

  Value zeros(Type type, Location loc) {
    auto vector = cast<VectorType>(type);
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vector,
                                       b.getZeroAttr(vector.getElementType())));
  }

  LogicalResult emulateBlock(Block &block) {
    for (Operation &op : block.without_terminator())
      if (failed(emulate(&op)))
        return failure();
    return success();
  }

  LogicalResult emulate(Operation *op);
  LogicalResult emulateConstant(arith::ConstantOp op);
  LogicalResult emulateElementwise(Operation *op);
  LogicalResult emulateFor(scf::ForOp op);
  LogicalResult emulateIf(scf::IfOp op);
  LogicalResult emulateMma(nvgpu::MmaSyncOp op);

  ModuleOp module;
  gpu::GPUFuncOp kernel;
  int64_t lanes;
  OpBuilder b;
  IRMapping map;
  /// Race detection (see recordRead): per shared-memory byte, its writer
  /// and reader lanes since the last barrier; the byte offset of each
  /// lock-step view of shared memory.
  Value writers, readers;
  llvm::DenseMap<Value, Value> sharedOffsets;
  /// Host copies of the kernel module's globals.
  llvm::DenseMap<Operation *, StringAttr> hostGlobals;
  Value sharedMemory;
  Value blockIds[3], gridSizes[3];
  /// vector<W x i1> of the lanes that execute (null: all).
  Value activeLanes;
};

LogicalResult BlockEmulator::emulateConstant(arith::ConstantOp op) {
  Location loc = op.getLoc();
  Type type = laneType(op.getType(), lanes);
  if (!type)
    return op.emitOpError("attn-emulate-gpu: cannot emulate this constant");
  auto vector = cast<VectorType>(type);
  if (auto dense = dyn_cast<DenseElementsAttr>(op.getValue())) {
    // Each element repeated for every lane.
    SmallVector<Attribute> values;
    for (Attribute element : dense.getValues<Attribute>())
      values.append(lanes, element);
    map.map(op.getResult(), arith::ConstantOp::create(
                                b, loc, DenseElementsAttr::get(vector, values)));
    return success();
  }
  auto typed = cast<TypedAttr>(op.getValue());
  map.map(op.getResult(), arith::ConstantOp::create(
                              b, loc, DenseElementsAttr::get(vector, typed)));
  return success();
}

LogicalResult BlockEmulator::emulateElementwise(Operation *op) {
  SmallVector<Type> types;
  for (Type type : op->getResultTypes()) {
    Type converted = laneType(type, lanes);
    if (!converted || isa<MemRefType>(converted))
      return op->emitOpError("attn-emulate-gpu: cannot emulate results of "
                             "type ")
             << type;
    types.push_back(converted);
  }
  auto resultShape = cast<VectorType>(types.front());
  SmallVector<Value> operands;
  for (Value operand : op->getOperands())
    operands.push_back(broadcastTo(lanesOf(operand), resultShape, op->getLoc()));
  OperationState state(op->getLoc(), op->getName(), operands, types,
                       op->getAttrs());
  Operation *emulated = b.create(state);
  map.map(op->getResults(), emulated->getResults());
  return success();
}

LogicalResult BlockEmulator::emulateFor(scf::ForOp op) {
  Location loc = op.getLoc();
  SmallVector<Value> init;
  for (Value v : op.getInitArgs())
    init.push_back(lanesOf(v));
  Value lo = uniform(op.getLowerBound(), loc);
  Value hi = uniform(op.getUpperBound(), loc);
  Value step = uniform(op.getStep(), loc);
  LogicalResult result = success();
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, step, init,
      [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        map.map(op.getInductionVar(),
                vector::BroadcastOp::create(
                    b, loc, laneType(iv.getType(), lanes), iv));
        map.map(op.getRegionIterArgs(), args);
        result = emulateBlock(*op.getBody());
        SmallVector<Value> yielded;
        for (Value v : op.getBody()->getTerminator()->getOperands())
          yielded.push_back(lanesOf(v));
        scf::YieldOp::create(b, loc, yielded);
      });
  map.map(op.getResults(), loop.getResults());
  return result;
}

LogicalResult BlockEmulator::emulateIf(scf::IfOp op) {
  Location loc = op.getLoc();
  if (op.getNumResults() == 0) {
    // Possibly divergent: each branch runs with its lanes active.
    Value condition = lanesOf(op.getCondition());
    Value outer = activeLanes;
    Value ones = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(cast<VectorType>(condition.getType()),
                                       b.getBoolAttr(true)));
    Value taken[2] = {condition, arith::XOrIOp::create(b, loc, condition, ones)};
    Region *branches[2] = {&op.getThenRegion(), &op.getElseRegion()};
    for (int i = 0; i < 2; ++i) {
      if (branches[i]->empty())
        continue;
      activeLanes =
          outer ? arith::AndIOp::create(b, loc, outer, taken[i]) : taken[i];
      if (failed(emulateBlock(branches[i]->front())))
        return failure();
    }
    activeLanes = outer;
    return success();
  }
  // With results: uniform.
  SmallVector<Type> types;
  for (Type type : op.getResultTypes())
    types.push_back(laneType(type, lanes));
  auto emulated = scf::IfOp::create(b, loc, types,
                                    uniform(op.getCondition(), loc),
                                    /*withElseRegion=*/true);
  Region *from[2] = {&op.getThenRegion(), &op.getElseRegion()};
  Block *to[2] = {emulated.thenBlock(), emulated.elseBlock()};
  for (int i = 0; i < 2; ++i) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(to[i]);
    if (failed(emulateBlock(from[i]->front())))
      return failure();
    SmallVector<Value> yielded;
    for (Value v : from[i]->front().getTerminator()->getOperands())
      yielded.push_back(lanesOf(v));
    scf::YieldOp::create(b, loc, yielded);
  }
  map.map(op.getResults(), emulated.getResults());
  return success();
}

LogicalResult BlockEmulator::emulateMma(nvgpu::MmaSyncOp op) {
  if (lanes % kWarpSize != 0)
    return op.emitOpError("attn-emulate-gpu: mma.sync needs whole warps");
  FailureOr<func::FuncOp> mma = getOrCreateMmaEmulation(module, op, lanes);
  if (failed(mma))
    return failure();
  auto call = func::CallOp::create(
      b, op.getLoc(), *mma,
      ValueRange{lanesOf(op.getMatrixA()), lanesOf(op.getMatrixB()),
                 lanesOf(op.getMatrixC())});
  map.map(op.getResult(), call.getResult(0));
  return success();
}

LogicalResult BlockEmulator::emulate(Operation *op) {
  Location loc = op->getLoc();
  MLIRContext *ctx = op->getContext();
  auto constantLanes = [&](Type type, function_ref<int64_t(int64_t)> value) {
    SmallVector<Attribute> values;
    for (int64_t i = 0; i < lanes; ++i)
      values.push_back(IntegerAttr::get(type, value(i)));
    return arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(VectorType::get({lanes}, type), values));
  };
  auto broadcast = [&](Value scalar) -> Value {
    return vector::BroadcastOp::create(
        b, loc, VectorType::get({lanes}, scalar.getType()), scalar);
  };

  return TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](arith::ConstantOp c) { return emulateConstant(c); })
      .Case([&](scf::ForOp f) { return emulateFor(f); })
      .Case([&](scf::IfOp i) { return emulateIf(i); })
      .Case([&](nvgpu::MmaSyncOp m) { return emulateMma(m); })
      .Case([&](gpu::ThreadIdOp t) {
        map.map(t.getResult(),
                t.getDimension() == gpu::Dimension::x
                    ? constantLanes(IndexType::get(ctx),
                                    [](int64_t i) { return i; })
                    : constantLanes(IndexType::get(ctx),
                                    [](int64_t) { return 0; }));
        return success();
      })
      .Case([&](gpu::LaneIdOp l) {
        map.map(l.getResult(), constantLanes(IndexType::get(ctx), [](int64_t i) {
                  return i % kWarpSize;
                }));
        return success();
      })
      .Case([&](gpu::BlockIdOp id) {
        map.map(id.getResult(),
                broadcast(blockIds[static_cast<int>(id.getDimension())]));
        return success();
      })
      .Case([&](gpu::GridDimOp dim) {
        map.map(dim.getResult(),
                broadcast(gridSizes[static_cast<int>(dim.getDimension())]));
        return success();
      })
      .Case([&](gpu::BlockDimOp dim) {
        int64_t size = dim.getDimension() == gpu::Dimension::x ? lanes : 1;
        map.map(dim.getResult(), broadcast(index(size)));
        return success();
      })
      .Case([&](gpu::BarrierOp) {
        // Lock step: every thread has finished everything before.
        forgetAccesses(loc);
        return success();
      })
      .Case([&](gpu::ShuffleOp shuffle) -> LogicalResult {
        std::optional<int64_t> offset = getConstantIntValue(shuffle.getOffset());
        std::optional<int64_t> width = getConstantIntValue(shuffle.getWidth());
        if (shuffle.getMode() != gpu::ShuffleMode::XOR || !offset || !width ||
            *width != kWarpSize || !shuffle.getValue().getType().isIntOrFloat())
          return shuffle.emitOpError("attn-emulate-gpu: only xor shuffles "
                                     "of scalars with constant offsets over "
                                     "whole warps are emulated");
        if (activeLanes)
          return shuffle.emitOpError(
              "attn-emulate-gpu: a shuffle under divergent control flow");
        SmallVector<int64_t> permutation;
        for (int64_t i = 0; i < lanes; ++i)
          permutation.push_back(i ^ *offset);
        Value all = lanesOf(shuffle.getValue());
        map.map(shuffle.getShuffleResult(),
                vector::ShuffleOp::create(b, loc, all, all, permutation));
        map.map(shuffle.getValid(), constantLanes(b.getI1Type(), [](int64_t) {
                  return 1;
                }));
        return success();
      })
      .Case([&](nvgpu::LdMatrixOp ld) -> LogicalResult {
        // Lane l of a warp gets, for matrix m (rows addressed by lanes
        // 8m .. 8m + 7), row g = l / 4, columns 2t, 2t + 1 (t = l % 4);
        // transposed: rows 2t, 2t + 1 at column g.
        auto type = cast<VectorType>(ld.getRes().getType());
        int64_t tiles = type.getDimSize(0);
        if (ld.getSrcMemref().getType().getRank() != 2)
          return ld.emitOpError("attn-emulate-gpu: only 2-D sources");
        Value rows = lanesOf(ld.getIndices()[0]);
        Value cols = lanesOf(ld.getIndices()[1]);
        Value source = lanesOf(ld.getSrcMemref());
        auto flat = VectorType::get({tiles * 2}, type.getElementType());
        Value gathered = gatherLanes(loc, flat, [&](Value lane) {
          Value l = arith::RemUIOp::create(b, loc, lane, index(kWarpSize));
          Value warpBase = arith::SubIOp::create(b, loc, lane, l);
          Value g = arith::DivUIOp::create(b, loc, l, index(4));
          Value t = arith::RemUIOp::create(b, loc, l, index(4));
          SmallVector<Value> elements;
          for (int64_t m = 0; m < tiles; ++m)
            for (int64_t e = 0; e < 2; ++e) {
              Value inMatrix =
                  ld.getTranspose()
                      ? arith::AddIOp::create(
                            b, loc, arith::MulIOp::create(b, loc, t, index(2)),
                            index(e))
                      : g;
              Value addressLane = arith::AddIOp::create(
                  b, loc, warpBase,
                  arith::AddIOp::create(b, loc, inMatrix, index(8 * m)));
              auto at = [&](Value all) -> Value {
                return vector::ExtractOp::create(
                    b, loc, all, ArrayRef<OpFoldResult>{addressLane});
              };
              Value col = ld.getTranspose()
                              ? arith::AddIOp::create(b, loc, at(cols), g)
                              : arith::AddIOp::create(
                                    b, loc, at(cols),
                                    arith::AddIOp::create(
                                        b, loc,
                                        arith::MulIOp::create(b, loc, t,
                                                              index(2)),
                                        index(e)));
              SmallVector<Value> element = {at(rows), col};
              recordRead(sharedByte(source, element, loc), lane, loc);
              elements.push_back(
                  memref::LoadOp::create(b, loc, source, element));
            }
          return elements;
        });
        map.map(ld.getRes(),
                vector::ShapeCastOp::create(
                    b, loc, cast<VectorType>(laneType(type, lanes)), gathered));
        return success();
      })
      .Case([&](vector::ShuffleOp shuffle) {
        // Lanes are the innermost dimension: shuffling the leading one is
        // the same in lock step.
        map.map(shuffle.getResult(),
                vector::ShuffleOp::create(b, loc, lanesOf(shuffle.getV1()),
                                          lanesOf(shuffle.getV2()),
                                          shuffle.getMask()));
        return success();
      })
      .Case([&](NVVM::ReduxOp redux) -> LogicalResult {
        bool isMin = redux.getKind() == NVVM::ReduxKind::MIN;
        if ((!isMin && redux.getKind() != NVVM::ReduxKind::MAX) ||
            !redux.getVal().getType().isInteger(32))
          return redux.emitOpError("attn-emulate-gpu: only i32 min and max "
                                   "reductions are emulated");
        if (activeLanes)
          return redux.emitOpError(
              "attn-emulate-gpu: a reduction under divergent control flow");
        // Each warp's 32 lanes reduce to one value that all of them get.
        Value all = lanesOf(redux.getVal());
        auto warpType = VectorType::get({kWarpSize}, b.getI32Type());
        Value result = all;
        for (int64_t w = 0; w < lanes / kWarpSize; ++w) {
          Value slice = vector::ExtractStridedSliceOp::create(
              b, loc, all, ArrayRef<int64_t>{w * kWarpSize},
              ArrayRef<int64_t>{kWarpSize}, ArrayRef<int64_t>{1});
          Value reduced = vector::ReductionOp::create(
              b, loc,
              isMin ? vector::CombiningKind::MINSI
                    : vector::CombiningKind::MAXSI,
              slice);
          result = vector::InsertStridedSliceOp::create(
              b, loc, vector::BroadcastOp::create(b, loc, warpType, reduced),
              result, ArrayRef<int64_t>{w * kWarpSize}, ArrayRef<int64_t>{1});
        }
        map.map(redux.getRes(), result);
        return success();
      })
      .Case([&](gpu::DynamicSharedMemoryOp) {
        map.map(op->getResult(0), sharedMemory);
        return success();
      })
      .Case([&](memref::ViewOp view) -> LogicalResult {
        SmallVector<Value> sizes;
        for (Value size : view.getSizes())
          sizes.push_back(uniform(size, loc));
        auto type = cast<MemRefType>(laneType(view.getType(), lanes));
        Value shift = uniform(view.getByteShift(), loc);
        Value result = memref::ViewOp::create(
            b, loc, type, lanesOf(view.getSource()), shift, sizes);
        map.map(view.getResult(), result);
        auto base = sharedOffsets.find(lanesOf(view.getSource()));
        if (base != sharedOffsets.end())
          sharedOffsets[result] =
              arith::AddIOp::create(b, loc, base->second, shift);
        return success();
      })
      .Case([&](memref::DimOp dim) {
        Value size = memref::DimOp::create(b, loc, lanesOf(dim.getSource()),
                                           uniform(dim.getIndex(), loc));
        map.map(dim.getResult(), broadcast(size));
        return success();
      })
      .Case([&](memref::GetGlobalOp get) -> LogicalResult {
        // Globals of the kernel's module (constant tables) get a copy in
        // the host module, renamed if the name is taken.
        auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
            get, get.getNameAttr());
        if (!global)
          return get.emitOpError("attn-emulate-gpu: no global named ")
                 << get.getNameAttr();
        StringAttr &copyName = hostGlobals[global];
        if (!copyName) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(module.getBody());
          Operation *copy = b.clone(*global);
          copyName = SymbolTable(module).insert(copy);
        }
        map.map(get.getResult(), memref::GetGlobalOp::create(
                                     b, loc, get.getType(), copyName));
        return success();
      })
      .Case([&](memref::LoadOp load) {
        map.map(load.getResult(),
                gatherLanes(loc, load.getType(), [&](Value lane) {
                  Value memref = lanesOf(load.getMemRef());
                  SmallVector<Value> at =
                      laneIndices(load.getIndices(), lane, loc);
                  recordRead(sharedByte(memref, at, loc), lane, loc);
                  return SmallVector<Value>{
                      memref::LoadOp::create(b, loc, memref, at)};
                }));
        return success();
      })
      .Case([&](memref::StoreOp store) {
        forEachLane(loc, [&](Value lane) {
          Value memref = lanesOf(store.getMemRef());
          SmallVector<Value> at = laneIndices(store.getIndices(), lane, loc);
          recordWrite(sharedByte(memref, at, loc), lane, loc);
          memref::StoreOp::create(
              b, loc, laneElement(lanesOf(store.getValue()), {}, lane, loc),
              memref, at);
        });
        return success();
      })
      .Case([&](vector::LoadOp load) -> LogicalResult {
        VectorType type = load.getVectorType();
        if (type.getRank() != 1)
          return load.emitOpError("attn-emulate-gpu: only 1-D loads");
        map.map(load.getResult(), gatherLanes(loc, type, [&](Value lane) {
                  Value base = lanesOf(load.getBase());
                  SmallVector<Value> at =
                      laneIndices(load.getIndices(), lane, loc);
                  if (Value byte = sharedByte(base, at, loc)) {
                    int64_t bytes = type.getElementTypeBitWidth() / 8;
                    for (int64_t e = 0; e < type.getDimSize(0); ++e)
                      recordRead(arith::AddIOp::create(b, loc, byte,
                                                       index(e * bytes)),
                                 lane, loc);
                  }
                  Value x = vector::LoadOp::create(b, loc, type, base, at);
                  SmallVector<Value> elements;
                  for (int64_t e = 0; e < type.getDimSize(0); ++e)
                    elements.push_back(vector::ExtractOp::create(b, loc, x, e));
                  return elements;
                }));
        return success();
      })
      .Case([&](vector::MaskedStoreOp store) -> LogicalResult {
        VectorType type = store.getVectorType();
        if (type.getRank() != 1)
          return store.emitOpError("attn-emulate-gpu: only 1-D stores");
        forEachLane(loc, [&](Value lane) {
          SmallVector<Value> values, mask;
          for (int64_t e = 0; e < type.getDimSize(0); ++e) {
            values.push_back(
                laneElement(lanesOf(store.getValueToStore()), {e}, lane, loc));
            mask.push_back(
                laneElement(lanesOf(store.getMask()), {e}, lane, loc));
          }
          vector::MaskedStoreOp::create(
              b, loc, lanesOf(store.getBase()),
              laneIndices(store.getIndices(), lane, loc),
              vector::FromElementsOp::create(
                  b, loc, VectorType::get(type.getShape(), b.getI1Type()),
                  mask),
              vector::FromElementsOp::create(b, loc, type, values));
        });
        return success();
      })
      .Case([&](vector::ExtractOp extract) -> LogicalResult {
        if (!extract.getDynamicPosition().empty())
          return extract.emitOpError("attn-emulate-gpu: only static positions");
        map.map(extract.getResult(),
                vector::ExtractOp::create(b, loc, lanesOf(extract.getSource()),
                                          extract.getStaticPosition()));
        return success();
      })
      .Case([&](vector::InsertOp insert) -> LogicalResult {
        if (!insert.getDynamicPosition().empty())
          return insert.emitOpError("attn-emulate-gpu: only static positions");
        map.map(insert.getResult(),
                vector::InsertOp::create(b, loc, lanesOf(insert.getValueToStore()),
                                         lanesOf(insert.getDest()),
                                         insert.getStaticPosition()));
        return success();
      })
      .Case([&](vector::BroadcastOp broadcastOp) {
        map.map(broadcastOp.getResult(),
                vector::BroadcastOp::create(
                    b, loc, laneType(broadcastOp.getType(), lanes),
                    lanesOf(broadcastOp.getSource())));
        return success();
      })
      .Case([&](vector::FromElementsOp fromElements) {
        VectorType type = fromElements.getType();
        Value all = zeros(laneType(type, lanes), loc);
        for (auto [i, element] : llvm::enumerate(fromElements.getElements()))
          all = vector::InsertOp::create(b, loc, lanesOf(element), all,
                                         delinearize(i, type.getShape()));
        map.map(fromElements.getResult(), all);
        return success();
      })
      .Case([&](nvgpu::DeviceAsyncCopyOp copy) -> LogicalResult {
        // Completes at once; elements past srcElements are zero.
        int64_t count = copy.getDstElements().getZExtValue();
        auto dstType = cast<MemRefType>(lanesOf(copy.getDst()).getType());
        Type element = dstType.getElementType();
        forEachLane(loc, [&](Value lane) {
          SmallVector<Value> src = laneIndices(copy.getSrcIndices(), lane, loc);
          SmallVector<Value> dst = laneIndices(copy.getDstIndices(), lane, loc);
          Value available = index(count);
          if (Value srcElements = copy.getSrcElements())
            available = vector::ExtractOp::create(
                b, loc, lanesOf(srcElements), ArrayRef<OpFoldResult>{lane});
          for (int64_t e = 0; e < count; ++e) {
            Value inside = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::slt, index(e), available);
            auto ifInside = scf::IfOp::create(b, loc, element, inside, true);
            {
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPointToStart(ifInside.thenBlock());
              SmallVector<Value> at = src;
              at.back() = arith::AddIOp::create(b, loc, at.back(), index(e));
              scf::YieldOp::create(
                  b, loc,
                  ValueRange{memref::LoadOp::create(
                      b, loc, lanesOf(copy.getSrc()), at)});
              b.setInsertionPointToStart(ifInside.elseBlock());
              scf::YieldOp::create(
                  b, loc,
                  ValueRange{arith::ConstantOp::create(
                      b, loc, cast<TypedAttr>(b.getZeroAttr(element)))});
            }
            SmallVector<Value> at = dst;
            at.back() = arith::AddIOp::create(b, loc, at.back(), index(e));
            recordWrite(sharedByte(lanesOf(copy.getDst()), at, loc), lane,
                        loc);
            memref::StoreOp::create(b, loc, ifInside.getResult(0),
                                    lanesOf(copy.getDst()), at);
          }
        });
        return success();
      })
      // Copies complete at once here: groups and waits have nothing to do.
      .Case<nvgpu::DeviceAsyncCreateGroupOp, nvgpu::DeviceAsyncWaitOp,
            NVVM::CpAsyncWaitGroupOp>([&](Operation *) { return success(); })
      .Default([&](Operation *other) -> LogicalResult {
        if (OpTrait::hasElementwiseMappableTraits(other) &&
            other->getNumResults() > 0)
          return emulateElementwise(other);
        return other->emitOpError("attn-emulate-gpu: cannot emulate this op");
      });
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

/// The constant value of `v`, or failure with a diagnostic on `op`.
FailureOr<int64_t> requireConstant(Operation *op, Value v, StringRef what) {
  std::optional<int64_t> c = getConstantIntValue(v);
  if (!c)
    return op->emitOpError("attn-emulate-gpu: the ")
           << what << " must be a constant";
  return *c;
}

struct AttnEmulateGPUPass
    : attn::impl::AttnEmulateGPUBase<AttnEmulateGPUPass> {
  using Base::Base;

  /// The emulated device: its multiprocessor count is the option, and a
  /// launch plan's run-time choices are the values they name.
  void resolveDeviceValues(ModuleOp module) {
    module.walk([&](MultiprocessorCountOp op) {
      OpBuilder b(op);
      op.replaceAllUsesWith(
          arith::ConstantIndexOp::create(b, op.getLoc(), multiprocessors)
              .getResult());
      op.erase();
    });
    module.walk([&](LaunchChoiceOp op) {
      op.replaceAllUsesWith(op.getValue());
      op.erase();
    });
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    resolveDeviceValues(module);
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
    // One block function per kernel and block size.
    llvm::DenseMap<std::pair<Operation *, int64_t>, func::FuncOp> emulations;
    SymbolTable symbols(module);
    for (gpu::LaunchFuncOp launch : launches) {
      Location loc = launch.getLoc();
      auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
          launch, launch.getKernel());
      if (!kernel) {
        launch.emitOpError("attn-emulate-gpu: the kernel is not a gpu.func");
        return signalPassFailure();
      }
      FailureOr<int64_t> lanes =
          requireConstant(launch, launch.getBlockSizeX(), "block size x");
      FailureOr<int64_t> sizeY =
          requireConstant(launch, launch.getBlockSizeY(), "block size y");
      FailureOr<int64_t> sizeZ =
          requireConstant(launch, launch.getBlockSizeZ(), "block size z");
      if (failed(lanes) || failed(sizeY) || failed(sizeZ))
        return signalPassFailure();
      if (*sizeY != 1 || *sizeZ != 1 || *lanes < 1) {
        launch.emitOpError("attn-emulate-gpu: only 1-D blocks are emulated");
        return signalPassFailure();
      }
      func::FuncOp &block = emulations[{kernel, *lanes}];
      if (!block) {
        std::string name = (kernel->getParentOfType<gpu::GPUModuleOp>()
                                .getName() +
                            "__" + kernel.getName() + "__block")
                               .str();
        FailureOr<func::FuncOp> built =
            BlockEmulator(module, kernel, *lanes).build(name);
        if (failed(built))
          return signalPassFailure();
        block = *built;
        symbols.insert(block);
      }

      // The grid, one block after the other. (The host pipeline's
      // deallocation passes free the shared-memory buffer.)
      OpBuilder b(launch);
      Value bytes = arith::ConstantIndexOp::create(b, loc, 0);
      if (Value dynamic = launch.getDynamicSharedMemorySize())
        bytes = arith::IndexCastOp::create(b, loc, b.getIndexType(), dynamic);
      Value shared = memref::AllocOp::create(
          b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
          ValueRange{bytes});
      Value grid[3] = {launch.getGridSizeX(), launch.getGridSizeY(),
                       launch.getGridSizeZ()};
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      buildLoop(b, loc, zero, grid[2], {}, [&](Value z, ValueRange) {
        buildLoop(b, loc, zero, grid[1], {}, [&](Value y, ValueRange) {
          buildLoop(b, loc, zero, grid[0], {}, [&](Value x, ValueRange) {
            SmallVector<Value> args(launch.getKernelOperands());
            args.append({shared, x, y, z, grid[0], grid[1], grid[2]});
            func::CallOp::create(b, loc, block, args);
            return SmallVector<Value>{};
          });
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{};
      });
      launch.erase();
    }
    for (auto gpuModule :
         llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>()))
      gpuModule.erase();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }
};

} // namespace
