//===- SpecSignature.cpp - The kernel signature of a spec -----------------===//

#include "attn/JIT/SpecSignature.h"
#include "attn/Dialect/Attn.h"

#include "llvm/ADT/StringExtras.h"

#include <map>
#include <set>

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
/// A dimension name local to one attn op (its index in the function): ops
/// name their dimensions alike (B, Sq, ...), but only a tensor that two ops
/// share ties their dimensions together.
using LocalDim = std::pair<unsigned, std::string>;

/// `name`, or when `taken` holds it, `name_<op>` (and `_` until it is
/// free); the result is added to `taken`.
std::string claimName(std::string name, unsigned op,
                      std::set<std::string> &taken) {
  if (taken.count(name))
    name += "_" + std::to_string(op);
  while (taken.count(name))
    name += "_";
  taken.insert(name);
  return name;
}

/// Classes of local dimensions that must agree (a union-find), and their
/// names in the signature: the local name, or, when a dimension of an
/// earlier op has it, the local name and `_<op index>` (the second op's Sq
/// becomes Sq_1). A function of one op keeps its op's names.
class DimNamer {
public:
  LocalDim find(const LocalDim &d) {
    LocalDim up = parent.try_emplace(d, d).first->second;
    if (up == d)
      return d;
    LocalDim root = find(up);
    parent[d] = root;
    return root;
  }
  /// The class keeps the member of the earliest op as its root.
  void unite(const LocalDim &a, const LocalDim &b) {
    LocalDim ra = find(a), rb = find(b);
    if (ra != rb)
      parent[std::max(ra, rb)] = std::min(ra, rb);
  }
  std::string name(const LocalDim &d) {
    LocalDim root = find(d);
    auto [it, inserted] = names.try_emplace(root);
    if (inserted)
      it->second = claimName(root.second, root.first, taken);
    return it->second;
  }

private:
  std::map<LocalDim, LocalDim> parent;
  std::map<LocalDim, std::string> names;
  std::set<std::string> taken;
};

/// A parameter before its dimensions are named.
struct PendingParam {
  std::string name;
  unsigned op = 0;
  runtime::DType dtype = runtime::DType::F32;
  SmallVector<int64_t> sizes;
  SmallVector<DimName> dims;
};

FailureOr<PendingParam> makeParam(Operation *where, unsigned op,
                                  StringRef name, Type type,
                                  ArrayRef<DimName> dimNames) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return where->emitError() << "'" << name
                              << "' must be a ranked tensor, got " << type;
  std::optional<runtime::DType> dtype = toDType(tensor.getElementType());
  if (!dtype)
    return where->emitError() << "'" << name << "' has element type "
                              << tensor.getElementType()
                              << ", which kernels do not take";
  PendingParam param{name.str(), op, *dtype, {}, {}};
  for (auto [i, dimName, size] :
       llvm::enumerate(dimNames, tensor.getShape())) {
    // An unnamed dimension is one of its own.
    DimName d = dimName;
    if (d.name.empty())
      d.name = (name + "." + Twine(i)).str();
    param.dims.push_back(std::move(d));
    param.sizes.push_back(size);
  }
  return param;
}

/// The parameters' dimensions under their signature names; parameter
/// names that two ops share get the later op's index (`q_1`).
std::vector<runtime::Param> nameParams(ArrayRef<PendingParam> pending,
                                       DimNamer &dims,
                                       std::set<std::string> &paramNames) {
  std::vector<runtime::Param> out;
  for (const PendingParam &p : pending) {
    runtime::Param param{claimName(p.name, p.op, paramNames), p.dtype, {}};
    for (auto [d, size] : llvm::zip_equal(p.dims, p.sizes))
      param.dims.push_back(runtime::Dim{
          dims.name({p.op, d.name}),
          ShapedType::isDynamic(size) ? runtime::Dim::kDynamic : size,
          d.derivedFrom.empty() ? "" : dims.name({p.op, d.derivedFrom}),
          d.divisor});
    out.push_back(std::move(param));
  }
  return out;
}
} // namespace

FailureOr<runtime::KernelSignature> extractSignature(func::FuncOp func) {
  SmallVector<KernelOpInterface> kernels;
  func.walk([&](KernelOpInterface op) { kernels.push_back(op); });
  if (kernels.empty())
    return func.emitError() << "a spec function must hold an attn op, '"
                            << func.getSymName() << "' holds none";
  auto opIndex = [&](Operation *op) -> std::optional<unsigned> {
    for (auto [i, k] : llvm::enumerate(kernels))
      if (k.getOperation() == op)
        return i;
    return std::nullopt;
  };

  DimNamer dims;
  SmallVector<PendingParam> inputs, outputs;
  for (BlockArgument arg : func.getArguments()) {
    // The attn ops that take the argument, in program order, and the
    // operand it is of each.
    SmallVector<std::pair<unsigned, unsigned>> uses;
    std::optional<unsigned> readInRegionsOf;
    for (OpOperand &use : arg.getUses()) {
      if (std::optional<unsigned> i = opIndex(use.getOwner())) {
        uses.emplace_back(*i, use.getOperandNumber());
        continue;
      }
      for (auto [i, k] : llvm::enumerate(kernels))
        if (k->isProperAncestor(use.getOwner()) && !readInRegionsOf)
          readInRegionsOf = i;
    }
    llvm::sort(uses);
    if (uses.empty() && readInRegionsOf) {
      // A tensor the score_mod / mask_mod regions read: its dimensions are
      // its own.
      std::string name = ("arg" + Twine(arg.getArgNumber())).str();
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      SmallVector<DimName> none(type ? type.getRank() : 0, DimName{""});
      FailureOr<PendingParam> param =
          makeParam(kernels[*readInRegionsOf], *readInRegionsOf, name,
                    arg.getType(), none);
      if (failed(param))
        return failure();
      inputs.push_back(std::move(*param));
      continue;
    }
    bool twiceByOneOp = llvm::adjacent_find(uses, [](auto a, auto b) {
                          return a.first == b.first;
                        }) != uses.end();
    if (uses.empty() || twiceByOneOp)
      return func.emitError()
             << "argument #" << arg.getArgNumber()
             << " must be used exactly once, as an operand of the attn op "
                "(or only inside its regions)";
    auto [first, operand] = uses.front();
    KernelOpInterface kernel = kernels[first];
    FailureOr<PendingParam> param =
        makeParam(kernel, first, kernel.getOperandRole(operand),
                  arg.getType(), kernel.getOperandDimNames(operand));
    if (failed(param))
      return failure();
    // Every op that takes the tensor sees the same sizes.
    for (auto [op, index] : llvm::drop_begin(uses)) {
      SmallVector<DimName> names = kernels[op].getOperandDimNames(index);
      for (auto [mine, theirs] : llvm::zip(param->dims, names))
        if (!theirs.name.empty())
          dims.unite({first, mine.name}, {op, theirs.name});
    }
    inputs.push_back(std::move(*param));
  }
  // Every operand must come from an argument, so the kernels read only what
  // the caller passes.
  for (KernelOpInterface kernel : kernels)
    for (Value operand : kernel->getOperands())
      if (!isa<BlockArgument>(operand) ||
          cast<BlockArgument>(operand).getOwner()->getParentOp() != func)
        return kernel->emitError()
               << "in a spec, every operand of the attn op must be an "
                  "argument of the function";

  Operation *terminator = func.getBody().front().getTerminator();
  for (Value returned : terminator->getOperands()) {
    auto result = dyn_cast<OpResult>(returned);
    std::optional<unsigned> op =
        result ? opIndex(result.getOwner()) : std::nullopt;
    if (!op)
      return func.emitError()
             << "a spec function must return results of its attn ops only";
    KernelOpInterface kernel = kernels[*op];
    unsigned index = result.getResultNumber();
    FailureOr<PendingParam> param =
        makeParam(kernel, *op, kernel.getResultRole(index), result.getType(),
                  kernel.getResultDimNames(index));
    if (failed(param))
      return failure();
    outputs.push_back(std::move(*param));
  }

  runtime::KernelSignature signature;
  signature.entry = func.getSymName().str();
  std::set<std::string> paramNames;
  signature.inputs = nameParams(inputs, dims, paramNames);
  signature.outputs = nameParams(outputs, dims, paramNames);
  return signature;
}

} // namespace attn
