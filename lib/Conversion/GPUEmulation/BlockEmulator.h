//===- BlockEmulator.h - One thread block in lock step, op hooks -*- C++
//-*-===//
//
// A kernel body is per-thread code. Executing all threads of a block in lock
// step turns it into vector code: each per-thread value becomes a vector with
// one lane per thread, innermost (`T` -> `vector<W x T>`, `vector<S x T>` ->
// `vector<S x W x T>`), so per-thread vector ops keep their static positions
// and the lane is always the last, dynamic-friendly index. In lock step a
// barrier is implied by program order, and warp-level operations (shuffles,
// mma.sync) see every lane's value at once.
//
// The BlockEmulator is the core: lane types, the value mapping, structured
// control flow (scf.for, scf.if with divergence masks), lane loops and the
// shared-memory race checker. Every other op is emulated by a hook looked up
// by op name in EmulationHooks; each op family registers its hooks from its
// own file (EmulationFamilies.def lists them).
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CONVERSION_GPUEMULATION_BLOCKEMULATOR_H
#define ATTN_CONVERSION_GPUEMULATION_BLOCKEMULATOR_H

#include "AsyncResults.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Support/TypeID.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <functional>
#include <memory>

namespace attn {
namespace gpu_emulation {

constexpr int64_t kWarpSize = 32;

/// The static position in a fragment vector of its `i`-th element.
llvm::SmallVector<int64_t> delinearize(int64_t i,
                                       llvm::ArrayRef<int64_t> shape);

/// The lock-step type of a per-thread type, or null if it has none.
mlir::Type laneType(mlir::Type type, int64_t lanes);

mlir::Value indexConstant(mlir::OpBuilder &b, mlir::Location loc, int64_t v);

/// Builds `for iv in [lo, hi)` carrying `init`.
llvm::SmallVector<mlir::Value>
buildLoop(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lo,
          mlir::Value hi, mlir::ValueRange init,
          llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value,
                                                            mlir::ValueRange)>
              body);

class BlockEmulator;

/// Emulates one op: maps its results to lock-step values built at the
/// emulator's insertion point, or reports why it cannot.
using EmulationHook =
    std::function<mlir::LogicalResult(BlockEmulator &, mlir::Operation *)>;

/// The hooks of the emulator, by op name.
class EmulationHooks {
public:
  /// Registers `hook(emulator, op)` for each of `OpTys`; `hook` takes the
  /// op typed (one op) or as an `Operation *`.
  template <typename... OpTys, typename Hook> void add(Hook hook) {
    (addOne<OpTys>(hook), ...);
  }

  /// The hook of `op`, or null.
  const EmulationHook *lookup(mlir::Operation *op) const {
    auto it = hooks.find(op->getName().getStringRef());
    return it == hooks.end() ? nullptr : &it->second;
  }

  /// `OpTys` are asynchronous products (wgmma): their results are in
  /// flight until a wait retires them (AsyncResults), and their hooks check
  /// their own operands (a product takes an accumulator in flight).
  template <typename... OpTys> void markAsynchronous() {
    (asynchronous.insert(OpTys::getOperationName()), ...);
  }
  bool isAsynchronous(mlir::Operation *op) const {
    return op && asynchronous.contains(op->getName().getStringRef());
  }
  /// `OpTys` commit or retire groups of asynchronous products.
  template <typename... OpTys> void markGroupOps() {
    (groupOps.insert(OpTys::getOperationName()), ...);
  }
  bool isGroupOp(mlir::Operation *op) const {
    return groupOps.contains(op->getName().getStringRef());
  }

private:
  template <typename OpTy, typename Hook> void addOne(Hook hook) {
    [[maybe_unused]] bool inserted =
        hooks
            .try_emplace(OpTy::getOperationName(),
                         [hook](BlockEmulator &emulator, mlir::Operation *op) {
                           return hook(emulator, llvm::cast<OpTy>(op));
                         })
            .second;
    assert(inserted && "two emulation hooks for one op");
  }

  llvm::StringMap<EmulationHook> hooks;
  llvm::StringSet<> asynchronous, groupOps;
};

/// State a hook family keeps per emulated kernel (derive from it and give
/// the class a TypeID, e.g. MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID).
struct EmulationState {
  virtual ~EmulationState();
};

/// Builds the CPU function that runs one block of a kernel in lock step.
class BlockEmulator {
public:
  BlockEmulator(mlir::ModuleOp module, mlir::gpu::GPUFuncOp kernel,
                int64_t lanes, const EmulationHooks &hooks)
      : module(module), kernel(kernel), lanes(lanes), hooks(hooks),
        b(kernel.getContext()) {}

  /// Argument `i` of the kernel arrives as `type` (e.g. the tensor a TMA
  /// tensor map describes) instead of its own type's lock-step form.
  void setArgumentType(unsigned i, mlir::Type type) { argumentTypes[i] = type; }

  /// Creates `func.func @name(kernel args..., shared memory, block ids,
  /// grid sizes)` running one block of `kernel`.
  mlir::FailureOr<mlir::func::FuncOp> build(llvm::StringRef name);

  //===--------------------------------------------------------------------===//
  // For hooks: where code goes, and what the block is
  //===--------------------------------------------------------------------===//

  /// The host module the emulation is built in.
  mlir::ModuleOp getModule() { return module; }
  /// The kernel being emulated.
  mlir::gpu::GPUFuncOp getKernel() { return kernel; }
  /// Threads per block (the lanes of every lock-step value).
  int64_t getLanes() const { return lanes; }
  /// Builds at the point where the op being emulated goes.
  mlir::OpBuilder &getBuilder() { return b; }

  /// The block's shared memory (`memref<?xi8>`).
  mlir::Value getSharedMemory() { return sharedMemory; }
  /// The block's id and the grid's size in dimension `d` (index scalars).
  mlir::Value getBlockId(int d) { return blockIds[d]; }
  mlir::Value getGridSize(int d) { return gridSizes[d]; }

  /// vector<W x i1> of the lanes that execute (null: all, i.e. outside
  /// divergent control flow).
  mlir::Value getActiveLanes() { return activeLanes; }
  /// The wgmma results in flight at this point of the walk.
  AsyncResults &getAsyncResults() { return asyncResults; }
  /// Fails at `user` if it reads one of `values` while still in flight.
  mlir::LogicalResult checkRetired(mlir::Operation *user,
                                   mlir::ValueRange values);

  /// Asserts that each warp executes `op` whole or not at all (a warp
  /// collective under warpgroup roles).
  void assertWholeWarps(mlir::Operation *op);
  /// Asserts that every thread of the block executes `op` (a block-wide
  /// barrier).
  void assertWholeBlock(mlir::Operation *op);

  //===--------------------------------------------------------------------===//
  // Values
  //===--------------------------------------------------------------------===//

  /// The lock-step value of the per-thread `v`.
  mlir::Value lanesOf(mlir::Value v) { return map.lookup(v); }
  /// Records `lockStep` as the value of the per-thread `v`.
  void mapLanes(mlir::Value v, mlir::Value lockStep) { map.map(v, lockStep); }
  void mapLanes(mlir::ValueRange vs, mlir::ValueRange lockStep) {
    map.map(vs, lockStep);
  }

  /// The value of a per-thread scalar that every active lane has (control
  /// flow must be uniform across them), asserting that they agree; lane 0's
  /// when no lane is active.
  mlir::Value uniform(mlir::Value v, mlir::Location loc);

  mlir::Value index(int64_t v) { return indexConstant(b, kernel.getLoc(), v); }
  /// `vector<W x T>` of `value(lane)` for each lane.
  mlir::Value constantLanes(mlir::Type type, mlir::Location loc,
                            llvm::function_ref<int64_t(int64_t)> value);
  /// The scalar `scalar` in every lane.
  mlir::Value broadcast(mlir::Value scalar, mlir::Location loc);
  /// `x` broadcast to `like`'s shape (lock-step), or `x` if it has it.
  mlir::Value broadcastTo(mlir::Value x, mlir::VectorType like,
                          mlir::Location loc);
  mlir::Value zeros(mlir::Type type, mlir::Location loc);

  //===--------------------------------------------------------------------===//
  // Lane by lane
  //===--------------------------------------------------------------------===//

  /// Runs `body(lane)` for every active lane (all, unless under a
  /// divergent scf.if). Lane loops carry no values: results go through
  /// scratch memory (see gatherLanes), which keeps the generated code small.
  void forEachLane(mlir::Location loc,
                   llvm::function_ref<void(mlir::Value lane)> body);

  /// A lock-step value of per-thread type `type` computed lane by lane:
  /// `body(lane)` returns the lane's elements (a scalar, or the elements of
  /// a 1-D vector), stored to a scratch buffer read back as a whole.
  /// Inactive lanes read zero.
  mlir::Value gatherLanes(
      mlir::Location loc, mlir::Type type,
      llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value lane)>
          body);

  /// The indices of `lane` from the lock-step values of per-thread indices.
  llvm::SmallVector<mlir::Value>
  laneIndices(mlir::ValueRange indices, mlir::Value lane, mlir::Location loc);

  /// Element `position` of `lane` in the lock-step value `all`.
  mlir::Value laneElement(mlir::Value all, llvm::ArrayRef<int64_t> position,
                          mlir::Value lane, mlir::Location loc);

  //===--------------------------------------------------------------------===//
  // Bounds
  //===--------------------------------------------------------------------===//

  /// Asserts that `lane`'s access (`what`: "read", "write") of `count`
  /// consecutive elements (a scalar: null) at `indices` of the lock-step
  /// memref `memref` stays inside it; a `count` of 0 accesses nothing. On
  /// a GPU such an access reads another buffer's data or faults; here it
  /// stops the emulation with the op's location.
  void assertInBounds(mlir::Value memref, mlir::ValueRange indices,
                      mlir::Value count, mlir::Location loc,
                      llvm::StringRef what);

  //===--------------------------------------------------------------------===//
  // Shared-memory accesses, for the race checker
  //===--------------------------------------------------------------------===//

  /// The shared-memory byte element `indices` of the (lock-step) memref
  /// `memref` starts at, or null when `memref` is not shared memory.
  mlir::Value sharedByte(mlir::Value memref, mlir::ValueRange indices,
                         mlir::Location loc);
  /// Records that the lock-step memref `view` starts `byteShift` bytes
  /// into `source` (nothing if `source` is not shared memory).
  void mapSharedView(mlir::Value view, mlir::Value source,
                     mlir::Value byteShift, mlir::Location loc);
  /// `lane` reads (writes) the byte `byte` (null: not shared memory).
  void recordRead(mlir::Value byte, mlir::Value lane, mlir::Location loc);
  void recordWrite(mlir::Value byte, mlir::Value lane, mlir::Location loc);
  /// `lane` writes `byte` with a cp.async copy of the open commit group.
  void recordAsyncWrite(mlir::Value byte, mlir::Value lane,
                        mlir::Location loc);
  /// cp.async.commit_group: closes the open group.
  void commitAsyncGroup(mlir::Location loc);
  /// cp.async.wait_group `pending`: every group but the `pending` newest
  /// has landed.
  void waitAsyncGroups(int64_t pending, mlir::Location loc);
  /// What a barrier does: accesses before it no longer conflict.
  void forgetAccesses(mlir::Location loc);

  //===--------------------------------------------------------------------===//
  // Addresses, mbarrier objects and TMA copies
  //===--------------------------------------------------------------------===//

  /// The address shared memory starts at as the kernel sees it: a multiple
  /// of 1024 (the period of the 128-byte swizzle), not 0, so that a kernel
  /// using an offset where an address is due reads the wrong bytes.
  static constexpr int64_t kSharedBase = 1024;
  /// The shared-memory address (index) of the lock-step view `view`, or
  /// null when it is not shared memory.
  mlir::Value sharedAddress(mlir::Value view, mlir::Location loc);
  /// The lock-step shared memory as a flat `memref<?xT>` (its byte `i` is
  /// element `i / sizeof(T)`), created once per type at the kernel's start.
  mlir::Value sharedMemoryAs(mlir::Type element, mlir::Location loc);

  /// Scratch memory of `type` allocated on the stack once, at the kernel's
  /// start (not in a loop, where each iteration would grow the stack).
  mlir::Value entryAlloca(mlir::MemRefType type, mlir::Location loc);

  /// The block's mbarrier objects live in a table of `kMaxBarriers` rows,
  /// one per barrier: pending arrivals, expected arrivals, pending
  /// transaction bytes, completed phases, then three columns per lane (see
  /// LaneColumn).
  static constexpr int64_t kMaxBarriers = 64;
  enum BarrierColumn : int64_t {
    kPending = 0,
    kExpected = 1,
    kTransactionBytes = 2,
    kPhases = 3,
    kPerLane = 4
  };
  /// Per lane: the phases it has seen complete (by a wait), the time on the
  /// block's arrival clock of its latest arrival, and the phase that
  /// arrival counts for.
  enum LaneColumn : int64_t { kSeen = 0, kArrivalTime = 1, kArrivalPhase = 2 };
  /// The table column of `lane`'s `column`.
  mlir::Value laneColumn(LaneColumn column, mlir::Value lane,
                         mlir::Location loc);
  /// Reserves `count` rows of the table (created by the first call, which
  /// must be at the kernel's top level); returns the first.
  mlir::FailureOr<int64_t> allocateBarriers(mlir::Operation *op,
                                            int64_t count);
  /// memref<kMaxBarriers x (kPerLane + 3 lanes) x i32>, or null.
  mlir::Value getBarrierTable() { return barriers; }
  /// Warpgroups (128 threads) of the block, the last possibly partial.
  int64_t getWarpgroups() const { return (lanes + 127) / 128; }

  /// Ordering across warpgroups by mbarriers. Within a warpgroup the race
  /// checker asks for barriers; across warpgroups, which run different
  /// code (a producer and its consumers), an mbarrier also orders: when
  /// `lane` waits on a phase, the arrivals that completed it happen before
  /// what the lane does next. `lane` arrives on table row `row` in phase
  /// `phase` (i32): the arrival takes the next tick of the clock.
  void recordArrival(mlir::Value row, mlir::Value lane, mlir::Value phase,
                     mlir::Location loc);
  /// `lane` passed a wait on row `row`, of which `phases` (i32) have
  /// completed: per warpgroup, it acquires the latest arrival that counted
  /// for one of them.
  void recordAcquire(mlir::Value row, mlir::Value lane, mlir::Value phases,
                     mlir::Location loc);
  /// `lane` issues a TMA copy that writes `byte`: a lane may read it once
  /// it has seen barrier row `barrier` complete `phases` phases.
  void recordTensorWrite(mlir::Value byte, mlir::Value lane,
                         mlir::Value barrier, mlir::Value phases,
                         mlir::Location loc);

  //===--------------------------------------------------------------------===//
  // Ops
  //===--------------------------------------------------------------------===//

  /// Emulates `op` at the insertion point: by its hook, as structured
  /// control flow, or elementwise.
  mlir::LogicalResult emulate(mlir::Operation *op);
  mlir::LogicalResult emulateBlock(mlir::Block &block);
  /// An elementwise-mappable op applied to the lock-step operands.
  mlir::LogicalResult emulateElementwise(mlir::Operation *op);

  /// The state of hook family `T` for this kernel, created on first use.
  template <typename T> T &getState() {
    std::unique_ptr<EmulationState> &state = states[mlir::TypeID::get<T>()];
    if (!state)
      state = std::make_unique<T>();
    return static_cast<T &>(*state);
  }

private:
  void poisonSharedMemory(mlir::Location loc);
  void setUpRaceDetection(mlir::Location loc);
  void assertNoOtherLane(mlir::Value recorded, mlir::Value lane,
                         mlir::Location loc, llvm::StringRef what);
  /// Stops the run with "shared-memory race at `loc`: `what`" unless `ok`.
  void assertRaceFree(mlir::Value ok, mlir::Location loc,
                      const llvm::Twine &what);
  /// The element of warpgroup `group`'s row of a per-warpgroup shadow.
  mlir::Value groupByte(mlir::Value group, mlir::Value byte,
                        mlir::Location loc);
  mlir::Value checkWriter(mlir::Value byte, mlir::Value lane,
                          mlir::Location loc, llvm::StringRef what);
  mlir::Value uniformOverActiveLanes(mlir::Value all, mlir::Value first,
                                     mlir::Location loc);
  mlir::LogicalResult emulateFor(mlir::scf::ForOp op);
  mlir::LogicalResult emulateIf(mlir::scf::IfOp op);
  /// Merges what `op`'s first branch left in flight (`afterThen`) into
  /// what its second did.
  mlir::LogicalResult mergeBranches(mlir::scf::IfOp op,
                                    const AsyncResults &afterThen);
  /// Warpgroup roles (EmulateRoles.cpp): an scf.if whose two branches each
  /// loop, handing work over by mbarriers, runs its loops interleaved.
  struct Role;
  static bool splitsRoles(mlir::scf::IfOp op);
  mlir::LogicalResult emulateRoles(mlir::scf::IfOp op);
  mlir::LogicalResult emulateRoleStep(const Role &role, mlir::Value done,
                                      mlir::ValueRange args,
                                      mlir::Value &nextDone,
                                      llvm::MutableArrayRef<mlir::Value> nextArgs,
                                      mlir::Value &progressed);

  mlir::ModuleOp module;
  mlir::gpu::GPUFuncOp kernel;
  int64_t lanes;
  const EmulationHooks &hooks;
  mlir::OpBuilder b;
  mlir::IRMapping map;
  /// Race detection (see recordRead): per shared-memory byte, its writer
  /// lane and, per warpgroup, its reader lanes since the last barrier, and
  /// the commit group of the cp.async copy that wrote it (-1: a plain
  /// store); the groups committed and landed (memref<2xi32>); the byte
  /// offset of each lock-step view of shared memory.
  mlir::Value writers, readers, asyncGroups, asyncCounters, sharedBytes;
  llvm::DenseMap<mlir::Value, mlir::Value> sharedOffsets;
  /// With mbarriers: the table, and per shared-memory byte the barrier row
  /// of the TMA copy that wrote it (-1: none) and the phases it needs; the
  /// arrival clock (memref<1xi32>); per warpgroup and byte, the clock's
  /// next tick when the warpgroup last read it; per lane and warpgroup, the
  /// latest arrival of that warpgroup the lane has acquired.
  mlir::Value barriers, tensorBarriers, tensorPhases, clock, readTimes,
      acquired;
  int64_t barrierRows = 0;
  mlir::Block *entryBlock = nullptr;
  llvm::DenseMap<mlir::Type, mlir::Value> typedSharedMemory;
  mlir::Value sharedMemory;
  mlir::Value blockIds[3], gridSizes[3];
  mlir::Value activeLanes;
  AsyncResults asyncResults;
  llvm::DenseMap<mlir::TypeID, std::unique_ptr<EmulationState>> states;
  llvm::DenseMap<unsigned, mlir::Type> argumentTypes;
};

/// A shared-memory byte address under Swizzle<bits, 4, 3> (TMA copies and
/// wgmma descriptors): address bits [4, 4 + bits) take bits [7, 7 + bits).
mlir::Value swizzleAddress(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value address, int64_t bits);

/// The registration functions of the op families, one per file.
#define ATTN_EMULATION_FAMILY(name) void name(EmulationHooks &hooks);
#include "EmulationFamilies.def"

} // namespace gpu_emulation
} // namespace attn

#endif // ATTN_CONVERSION_GPUEMULATION_BLOCKEMULATOR_H
