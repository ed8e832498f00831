//===- EmulateGPU.cpp - Run GPU kernels on the CPU in lock step -----------===//
//
// The pass: each gpu.launch_func becomes loops over its grid calling a CPU
// function that runs one thread block in lock step (BlockEmulator.h). Ops
// are emulated by the hooks of the op families in EmulationFamilies.def.
//
//===----------------------------------------------------------------------===//

#include "BlockEmulator.h"

#include "attn/Dialect/Attn.h"
#include "attn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

namespace attn {
#define GEN_PASS_DEF_ATTNEMULATEGPU
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;
using namespace attn::gpu_emulation;

namespace {

/// Every op family's hooks.
EmulationHooks buildEmulationHooks() {
  EmulationHooks hooks;
#define ATTN_EMULATION_FAMILY(name) name(hooks);
#include "EmulationFamilies.def"
  return hooks;
}

/// The constant value of `v`, or failure with a diagnostic on `op`.
FailureOr<int64_t> requireConstant(Operation *op, Value v, StringRef what) {
  std::optional<int64_t> c = getConstantIntValue(v);
  if (!c)
    return op->emitOpError("attn-emulate-gpu: the ")
           << what << " must be a constant";
  return *c;
}

/// The tensor a TMA tensor map describes, as a ranked memref, after checking
/// that its box is the descriptor type's tile (padded with leading 1s), the
/// box the emulated copies use.
FailureOr<Value> tensorOfMap(OpBuilder &b, Operation *launch, Value map) {
  auto create = map.getDefiningOp<nvgpu::TmaCreateDescriptorOp>();
  if (!create)
    return launch->emitOpError("attn-emulate-gpu: a tensor map argument must "
                               "come from nvgpu.tma.create.descriptor");
  auto type = cast<nvgpu::TensorMapDescriptorType>(map.getType());
  ArrayRef<int64_t> tile = type.getTensor().getShape();
  int64_t rank = create.getBoxDimensions().size();
  int64_t ones = rank - static_cast<int64_t>(tile.size());
  for (auto [d, size] : llvm::enumerate(create.getBoxDimensions())) {
    int64_t expected = static_cast<int64_t>(d) < ones ? 1 : tile[d - ones];
    std::optional<int64_t> c = getConstantIntValue(size);
    if (ones < 0 || !c || *c != expected)
      return create.emitOpError("attn-emulate-gpu: the box must be constant "
                                "and equal the descriptor's tile ")
             << type.getTensor() << ", padded with leading 1s";
  }
  auto source = cast<UnrankedMemRefType>(create.getTensor().getType());
  auto ranked = MemRefType::get(SmallVector<int64_t>(rank, ShapedType::kDynamic),
                                source.getElementType());
  return memref::CastOp::create(b, create.getLoc(), ranked, create.getTensor())
      .getResult();
}

struct AttnEmulateGPUPass : attn::impl::AttnEmulateGPUBase<AttnEmulateGPUPass> {
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
    EmulationHooks hooks = buildEmulationHooks();
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
      // TMA tensor maps: the kernel gets the tensor they describe.
      OpBuilder b(launch);
      SmallVector<Value> args(launch.getKernelOperands());
      llvm::DenseMap<unsigned, Type> mapTypes;
      for (auto [i, arg] : llvm::enumerate(args)) {
        if (!isa<nvgpu::TensorMapDescriptorType>(arg.getType()))
          continue;
        FailureOr<Value> tensor = tensorOfMap(b, launch, arg);
        if (failed(tensor))
          return signalPassFailure();
        arg = *tensor;
        mapTypes[i] = arg.getType();
      }
      func::FuncOp &block = emulations[{kernel, *lanes}];
      if (block && llvm::any_of(mapTypes, [&](auto entry) {
            return block.getArgumentTypes()[entry.first] != entry.second;
          })) {
        launch.emitOpError("attn-emulate-gpu: the kernel's tensor maps "
                           "describe tensors of another rank than before");
        return signalPassFailure();
      }
      if (!block) {
        std::string name =
            (kernel->getParentOfType<gpu::GPUModuleOp>().getName() + "__" +
             kernel.getName() + "__block")
                .str();
        BlockEmulator emulator(module, kernel, *lanes, hooks);
        for (auto [i, type] : mapTypes)
          emulator.setArgumentType(i, type);
        FailureOr<func::FuncOp> built = emulator.build(name);
        if (failed(built))
          return signalPassFailure();
        block = *built;
        symbols.insert(block);
      }

      // The grid, one block after the other. (The host pipeline's
      // deallocation passes free the shared-memory buffer.)
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
            SmallVector<Value> callArgs(args);
            callArgs.append({shared, x, y, z, grid[0], grid[1], grid[2]});
            func::CallOp::create(b, loc, block, callArgs);
            return SmallVector<Value>{};
          });
          return SmallVector<Value>{};
        });
        return SmallVector<Value>{};
      });
      launch.erase();
    }
    module.walk([](nvgpu::TmaCreateDescriptorOp create) {
      if (create->use_empty())
        create.erase();
    });
    for (auto gpuModule :
         llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>()))
      gpuModule.erase();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }
};

} // namespace
