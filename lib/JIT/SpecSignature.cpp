//===- SpecSignature.cpp - The kernel signature of a spec -----------------===//

#include "attn/JIT/SpecSignature.h"
#include "attn/Dialect/Attn.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace attn {

FailureOr<func::FuncOp> findEntry(ModuleOp module, StringRef entry) {
  SmallVector<func::FuncOp> candidates;
  for (auto func : module.getOps<func::FuncOp>())
    if (!func.isExternal())
      candidates.push_back(func);
  auto names = [&] {
    return llvm::join(llvm::map_range(candidates,
                                      [](func::FuncOp f) {
                                        return f.getSymName().str();
                                      }),
                      ", ");
  };
  if (!entry.empty()) {
    for (func::FuncOp func : candidates)
      if (func.getSymName() == entry)
        return func;
    return module.emitError() << "no function named '" << entry
                              << "' in the spec (functions: " << names()
                              << ")";
  }
  if (candidates.size() != 1)
    return module.emitError()
           << "the spec has " << candidates.size()
           << " functions; name the entry (functions: " << names() << ")";
  return candidates.front();
}

std::optional<runtime::DType> toDType(Type t) {
  if (t.isF16())
    return runtime::DType::F16;
  if (t.isBF16())
    return runtime::DType::BF16;
  if (t.isF32())
    return runtime::DType::F32;
  if (t.isF64())
    return runtime::DType::F64;
  if (t.isInteger(1))
    return runtime::DType::I1;
  if (t.isInteger(8))
    return runtime::DType::I8;
  if (t.isInteger(32))
    return runtime::DType::I32;
  if (t.isInteger(64))
    return runtime::DType::I64;
  return std::nullopt;
}

namespace {
FailureOr<runtime::Param> makeParam(Operation *where, StringRef name,
                                    Type type, ArrayRef<DimName> dimNames) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return where->emitError() << "'" << name
                              << "' must be a ranked tensor, got " << type;
  std::optional<runtime::DType> dtype = toDType(tensor.getElementType());
  if (!dtype)
    return where->emitError() << "'" << name << "' has element type "
                              << tensor.getElementType()
                              << ", which kernels do not take";
  runtime::Param param{name.str(), *dtype, {}};
  for (auto [i, dimName, size] :
       llvm::enumerate(dimNames, tensor.getShape())) {
    // An unnamed dimension is one of its own.
    std::string unique =
        dimName.name.empty() ? (name + "." + Twine(i)).str() : dimName.name;
    param.dims.push_back(runtime::Dim{
        unique, ShapedType::isDynamic(size) ? runtime::Dim::kDynamic : size,
        dimName.derivedFrom, dimName.divisor});
  }
  return param;
}
} // namespace

FailureOr<runtime::KernelSignature> extractSignature(func::FuncOp func) {
  SmallVector<KernelOpInterface> kernels;
  func.walk([&](KernelOpInterface op) { kernels.push_back(op); });
  if (kernels.size() != 1)
    return func.emitError()
           << "a spec function must hold exactly one attn op, '"
           << func.getSymName() << "' holds " << kernels.size();
  KernelOpInterface kernel = kernels.front();
  Operation *op = kernel.getOperation();

  runtime::KernelSignature signature;
  signature.entry = func.getSymName().str();
  for (BlockArgument arg : func.getArguments()) {
    SmallVector<OpOperand *> uses;
    bool readInRegions = false;
    for (OpOperand &use : arg.getUses()) {
      if (use.getOwner() == op)
        uses.push_back(&use);
      else if (op->isProperAncestor(use.getOwner()))
        readInRegions = true;
    }
    if (uses.empty() && readInRegions) {
      // A tensor the score_mod / mask_mod regions read: its dimensions are
      // its own.
      std::string name = ("arg" + Twine(arg.getArgNumber())).str();
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      SmallVector<DimName> dims(type ? type.getRank() : 0, DimName{""});
      FailureOr<runtime::Param> param = makeParam(op, name, arg.getType(), dims);
      if (failed(param))
        return failure();
      signature.inputs.push_back(std::move(*param));
      continue;
    }
    if (uses.size() != 1)
      return func.emitError()
             << "argument #" << arg.getArgNumber()
             << " must be used exactly once, as an operand of the attn op "
                "(or only inside its regions)";
    unsigned index = uses.front()->getOperandNumber();
    FailureOr<runtime::Param> param =
        makeParam(op, kernel.getOperandRole(index), arg.getType(),
                  kernel.getOperandDimNames(index));
    if (failed(param))
      return failure();
    signature.inputs.push_back(std::move(*param));
  }
  // Every operand must come from an argument, so the kernel reads only what
  // the caller passes.
  for (Value operand : op->getOperands())
    if (!isa<BlockArgument>(operand) ||
        cast<BlockArgument>(operand).getOwner()->getParentOp() != func)
      return op->emitError()
             << "in a spec, every operand of the attn op must be an argument "
                "of the function";

  Operation *terminator = func.getBody().front().getTerminator();
  for (Value returned : terminator->getOperands()) {
    auto result = dyn_cast<OpResult>(returned);
    if (!result || result.getOwner() != op)
      return func.emitError()
             << "a spec function must return results of its attn op only";
    unsigned index = result.getResultNumber();
    FailureOr<runtime::Param> param =
        makeParam(op, kernel.getResultRole(index), result.getType(),
                  kernel.getResultDimNames(index));
    if (failed(param))
      return failure();
    signature.outputs.push_back(std::move(*param));
  }
  return signature;
}

} // namespace attn
