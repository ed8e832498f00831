//===- KernelSupport.cpp - What the attn-to-gpu kernels share -------------===//

#include "KernelSupport.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

using namespace mlir;

namespace attn {

LogicalResult checkKernelSizes(Operation *op, Type element,
                               ArrayRef<std::pair<StringRef, int64_t>> headDims,
                               int64_t warps, std::optional<int64_t> tileKv) {
  auto fail = [&]() {
    return op->emitOpError() << "cannot be compiled for the GPU: ";
  };
  if (!element.isF16() && !element.isBF16() && !element.isF32())
    return fail() << "elements must be f16, bf16 or f32 (tf32 tensor cores), "
                     "got "
                  << element;
  for (auto [name, size] : headDims)
    if (size % 8 != 0 || size > 256)
      return fail() << name << " = " << size
                    << " must be a multiple of 8 and at most 256 (pad the "
                       "head dimension with zeros)";
  if (warps < 1 || warps > 8)
    return fail() << "warps = " << warps << " must be between 1 and 8";
  if (tileKv && (*tileKv < 16 || *tileKv % 16 != 0 || *tileKv > 128))
    return fail() << "tile-kv = " << *tileKv
                  << " must be a multiple of 16 between 16 and 128";
  return success();
}

MemRefType memrefTypeOf(Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  return MemRefType::get(type.getShape(), type.getElementType());
}

gpu::GPUModuleOp kernelModule(OpBuilder &b, ModuleOp module,
                              SymbolTable &symbols) {
  if (auto existing = symbols.lookup<gpu::GPUModuleOp>(kKernelModuleName))
    return existing;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  auto gpuModule =
      gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModuleName);
  symbols.insert(gpuModule);
  return gpuModule;
}

gpu::GPUFuncOp createKernel(OpBuilder &b, Operation *op, ValueRange inputs,
                            StringRef suffix, ModuleOp module,
                            SymbolTable &symbols) {
  SmallVector<Type> types;
  for (Value input : inputs)
    types.push_back(memrefTypeOf(input));
  for (Value result : op->getResults())
    types.push_back(memrefTypeOf(result));
  return createKernel(b, op, types, suffix, module, symbols);
}

gpu::GPUFuncOp createKernel(OpBuilder &b, Operation *op, TypeRange types,
                            StringRef suffix, ModuleOp module,
                            SymbolTable &symbols) {
  auto parent = op->getParentOfType<FunctionOpInterface>();
  std::string name =
      (parent ? parent.getName().str() : std::string("kernel")) + "_" +
      suffix.str();
  Location loc = op->getLoc();
  gpu::GPUModuleOp gpuModule = kernelModule(b, module, symbols);
  SymbolTable kernels(gpuModule);
  b.clearInsertionPoint();
  auto kernel =
      gpu::GPUFuncOp::create(b, loc, name, b.getFunctionType(types, {}));
  // Renamed if taken (two ops of one function).
  kernels.insert(kernel);
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  // No known_block_size: it becomes .maxntid, under which ptxas caps the
  // registers to fit more blocks per SM and spills (measured: 96 registers
  // and 16 bytes of spills for 128 threads; 103 and none without it).
  b.setInsertionPointToStart(&kernel.getBody().front());
  return kernel;
}

SmallVector<Value> buffersOf(OpBuilder &b, Location loc, ValueRange tensors) {
  SmallVector<Value> buffers;
  for (Value tensor : tensors)
    buffers.push_back(bufferization::ToBufferOp::create(
        b, loc, memrefTypeOf(tensor), tensor, b.getUnitAttr()));
  return buffers;
}

FailureOr<SmallVector<Value>> allocateResults(OpBuilder &b, Operation *op) {
  ReifiedRankedShapedTypeDims shapes;
  if (failed(reifyResultShapes(b, op, shapes)))
    return op->emitOpError("cannot be compiled for the GPU: its result "
                           "shapes cannot be computed");
  Location loc = op->getLoc();
  SmallVector<Value> buffers;
  for (auto [result, shape] : llvm::zip(op->getResults(), shapes)) {
    MemRefType type = memrefTypeOf(result);
    SmallVector<Value> dynamicSizes;
    for (auto [dim, size] : llvm::enumerate(shape))
      if (type.isDynamicDim(dim))
        dynamicSizes.push_back(getValueOrCreateConstantIndexOp(b, loc, size));
    buffers.push_back(memref::AllocOp::create(b, loc, type, dynamicSizes));
  }
  return buffers;
}

void launchKernel(OpBuilder &b, Location loc, gpu::GPUFuncOp kernel,
                  const gpu::KernelDim3 &grid, int64_t threads,
                  int64_t sharedBytes, ValueRange args) {
  auto constant = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  gpu::LaunchFuncOp::create(
      b, loc, kernel, grid,
      gpu::KernelDim3{constant(threads), constant(1), constant(1)},
      arith::ConstantIntOp::create(b, loc, b.getI32Type(), sharedBytes),
      args);
}

void replaceWithBuffers(OpBuilder &b, Operation *op, ValueRange buffers) {
  SmallVector<Value> results;
  for (auto [result, buffer] : llvm::zip(op->getResults(), buffers))
    results.push_back(bufferization::ToTensorOp::create(
        b, op->getLoc(), result.getType(), buffer, b.getUnitAttr(),
        b.getUnitAttr()));
  op->replaceAllUsesWith(results);
  op->erase();
}

LogicalResult replaceWithLaunch(OpBuilder &b, Operation *op,
                                gpu::GPUFuncOp kernel, ValueRange inputs,
                                const gpu::KernelDim3 &grid, int64_t threads,
                                int64_t sharedBytes) {
  b.setInsertionPoint(op);
  SmallVector<Value> args = buffersOf(b, op->getLoc(), inputs);
  FailureOr<SmallVector<Value>> outputs = allocateResults(b, op);
  if (failed(outputs))
    return failure();
  llvm::append_range(args, *outputs);
  launchKernel(b, op->getLoc(), kernel, grid, threads, sharedBytes, args);
  replaceWithBuffers(b, op, *outputs);
  return success();
}

void forEachElement(OpBuilder &b, Location loc, int64_t count,
                    int64_t threads, Value threadId,
                    function_ref<void(Value)> body) {
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  int64_t rounds = llvm::divideCeil(count, threads);
  scf::ForOp::create(
      b, loc, index(0), index(rounds), index(1), ValueRange{},
      [&](OpBuilder &nb, Location, Value round, ValueRange) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        Value i = arith::AddIOp::create(
            b, loc, arith::MulIOp::create(b, loc, round, index(threads)),
            threadId);
        if (count % threads == 0) {
          body(i);
        } else {
          auto inRange = scf::IfOp::create(
              b, loc,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, i,
                                    index(count)),
              /*withElseRegion=*/false);
          OpBuilder::InsertionGuard ifGuard(b);
          b.setInsertionPoint(inRange.thenBlock()->getTerminator());
          body(i);
        }
        scf::YieldOp::create(b, loc);
      });
}

LogicalResult lowerCapturedTensorReads(gpu::GPUFuncOp kernel) {
  SmallVector<bufferization::ToTensorOp> captures;
  kernel.walk([&](bufferization::ToTensorOp t) { captures.push_back(t); });
  OpBuilder b(kernel.getContext());
  for (bufferization::ToTensorOp capture : captures) {
    for (Operation *user : llvm::make_early_inc_range(capture->getUsers())) {
      b.setInsertionPoint(user);
      if (auto extract = dyn_cast<tensor::ExtractOp>(user)) {
        extract.replaceAllUsesWith(memref::LoadOp::create(
            b, user->getLoc(), capture.getBuffer(), extract.getIndices())
                                       .getResult());
      } else if (auto dim = dyn_cast<tensor::DimOp>(user)) {
        dim.replaceAllUsesWith(memref::DimOp::create(b, user->getLoc(),
                                                     capture.getBuffer(),
                                                     dim.getIndex())
                                   .getResult());
      } else {
        return user->emitOpError()
               << "reads a tensor the region captures, which the GPU kernel "
                  "can only read with tensor.extract and tensor.dim";
      }
      user->erase();
    }
    capture->erase();
  }
  return success();
}

FailureOr<SmallVector<Value>>
capturedTensors(AttentionSpecOpInterface op,
                SmallVector<Operation *> &constants) {
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(op.getMaskMod(), captured);
  getUsedValuesDefinedAbove(op.getScoreMod(), captured);
  SmallVector<Value> tensors;
  for (Value value : captured) {
    Operation *def = value.getDefiningOp();
    if (def && def->hasTrait<OpTrait::ConstantLike>()) {
      constants.push_back(def);
      continue;
    }
    if (isa<BlockArgument>(value) && isa<RankedTensorType>(value.getType())) {
      tensors.push_back(value);
      continue;
    }
    return op.emitOpError()
           << "cannot be compiled for the GPU: a region uses " << value
           << " from the enclosing function; regions may only capture "
              "constants and tensor arguments of the function";
  }
  return tensors;
}

} // namespace attn
