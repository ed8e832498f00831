//===- AttentionGradient.cpp - A spec's forward and backward ops ----------===//

#include "attn/Dialect/AttentionGradient.h"
#include "attn/Dialect/SequenceLayout.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;

namespace attn {

namespace {
Value aux(AttentionSpecOpInterface op, AuxOperand a) {
  return op.getAuxOperands()[size_t(a)];
}

/// Copies the score_mod and mask_mod regions of `from` into `to`.
void cloneRegions(AttentionSpecOpInterface from, AttentionSpecOpInterface to) {
  IRMapping mapping;
  from.getScoreMod().cloneInto(&to.getScoreMod(), mapping);
  from.getMaskMod().cloneInto(&to.getMaskMod(), mapping);
}
} // namespace

AttentionOp buildForwardOf(OpBuilder &b, AttentionBackwardOp backward) {
  AttentionSpecOpInterface spec = backward;
  Type lseType = backward.getLse() ? backward.getLse().getType() : Type();
  auto forward = AttentionOp::create(
      b, backward.getLoc(), backward.getO().getType(), lseType,
      /*o_linear=*/Type(), backward.getQ(), backward.getK(), backward.getV(),
      /*feature_weights=*/Value(), aux(spec, AuxOperand::Layout),
      aux(spec, AuxOperand::QSegments), aux(spec, AuxOperand::KvSegments),
      aux(spec, AuxOperand::Bias), aux(spec, AuxOperand::AlibiSlopes),
      aux(spec, AuxOperand::CuSeqlensQ), aux(spec, AuxOperand::CuSeqlensKv),
      aux(spec, AuxOperand::BlockTable), aux(spec, AuxOperand::KvLens),
      aux(spec, AuxOperand::Positions), backward.getPageLayout(),
      backward.getScaleAttr(), backward.getMaskAttr(),
      backward.getScoreModsAttr(), backward.getNormalizationAttr(),
      backward.getAllowEmptyRows(), /*approximation=*/nullptr);
  cloneRegions(backward, forward);
  return forward;
}

AttentionBackwardOp buildBackwardOf(OpBuilder &b, AttentionOp forward,
                                    Value o, Value gradO, Value lse,
                                    bool gradBias) {
  AttentionSpecOpInterface spec = forward;
  Value bias = aux(spec, AuxOperand::Bias);
  Type gradBiasType = gradBias && bias ? bias.getType() : Type();
  auto backward = AttentionBackwardOp::create(
      b, forward.getLoc(), forward.getQ().getType(), forward.getK().getType(),
      forward.getV().getType(), gradBiasType, forward.getQ(), forward.getK(),
      forward.getV(), o, gradO, lse, aux(spec, AuxOperand::Layout),
      aux(spec, AuxOperand::QSegments), aux(spec, AuxOperand::KvSegments), bias,
      aux(spec, AuxOperand::AlibiSlopes), aux(spec, AuxOperand::CuSeqlensQ),
      aux(spec, AuxOperand::CuSeqlensKv), aux(spec, AuxOperand::BlockTable),
      aux(spec, AuxOperand::KvLens), aux(spec, AuxOperand::Positions),
      forward.getPageLayout(), forward.getScaleAttr(), forward.getMaskAttr(),
      forward.getScoreModsAttr(), forward.getNormalizationAttr(),
      forward.getAllowEmptyRows());
  cloneRegions(forward, backward);
  return backward;
}

namespace {
/// The function `entry` of `spec` (empty: the first), whose body holds
/// exactly one `Op`; `what` names the derivation in diagnostics.
template <typename Op>
FailureOr<std::pair<func::FuncOp, Op>> findSpecOp(ModuleOp spec,
                                                  StringRef entry,
                                                  StringRef what) {
  func::FuncOp function;
  for (auto f : spec.getOps<func::FuncOp>())
    if (entry.empty() ? !function : f.getName() == entry)
      function = f;
  if (!function)
    return emitError(spec.getLoc())
           << "no function '" << entry << "' to take the " << what << " of";
  SmallVector<Op> ops(function.getOps<Op>());
  if (ops.size() != 1)
    return function.emitError()
           << "the " << what << " is taken of a function with one "
           << Op::getOperationName() << ", found " << ops.size();
  return std::pair{function, ops.front()};
}
} // namespace

FailureOr<OwningOpRef<ModuleOp>> buildForwardSpec(ModuleOp spec,
                                                  StringRef entry) {
  auto found = findSpecOp<AttentionBackwardOp>(spec, entry, "forward");
  if (failed(found))
    return failure();
  auto [function, backward] = *found;
  OwningOpRef<ModuleOp> module = ModuleOp::create(spec.getLoc());
  OpBuilder b(spec.getContext());
  b.setInsertionPointToEnd(module->getBody());
  auto forwardFunction = cast<func::FuncOp>(b.clone(*function));
  forwardFunction.setName((function.getName() + "_forward").str());
  auto cloned = *forwardFunction.getOps<AttentionBackwardOp>().begin();
  Operation *terminator = forwardFunction.getBody().front().getTerminator();
  b.setInsertionPoint(terminator);
  AttentionOp forward = buildForwardOf(b, cloned);
  func::ReturnOp::create(b, terminator->getLoc(), forward.getResults());
  terminator->erase();
  // The arguments that stood for o, grad_o and lse go with the backward.
  llvm::BitVector unused(forwardFunction.getNumArguments());
  SmallVector<Value> gradientInputs = {cloned.getO(), cloned.getGradO()};
  if (cloned.getLse())
    gradientInputs.push_back(cloned.getLse());
  cloned->erase();
  for (Value v : gradientInputs)
    if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.use_empty())
      unused.set(arg.getArgNumber());
  if (failed(forwardFunction.eraseArguments(unused)))
    return failure();
  forwardFunction.setType(b.getFunctionType(
      forwardFunction.getArgumentTypes(), forward.getResultTypes()));
  if (failed(verify(*module)))
    return failure();
  return module;
}

FailureOr<OwningOpRef<ModuleOp>>
buildBackwardSpec(ModuleOp spec, StringRef entry, bool gradBias) {
  MLIRContext *ctx = spec.getContext();
  auto found = findSpecOp<AttentionOp>(spec, entry, "backward");
  if (failed(found))
    return failure();
  auto [function, forward] = *found;
  if (!SequenceLayout(forward).isDense())
    return forward.emitOpError()
           << "has packed or paged sequences, which have no backward";
  if (forward.getApproximationAttr())
    return forward.emitOpError()
           << "has an approximation, whose backward is not supported yet; "
              "train with the exact attention";
  if (gradBias && !aux(forward, AuxOperand::Bias))
    return forward.emitOpError()
           << "reads no bias, so it has no bias gradient to return";

  // The forward's function with o, grad_o and (softmax) lse appended to its
  // arguments; the body is the backward.
  OwningOpRef<ModuleOp> module = ModuleOp::create(spec.getLoc());
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module->getBody());
  SmallVector<Type> inputs(function.getArgumentTypes());
  Type oType = forward.getO().getType();
  inputs.append({oType, oType});
  bool softmax = forward.getNormalizationOrDefault().normalizesRows();
  if (softmax)
    inputs.push_back(RankedTensorType::get(
        cast<RankedTensorType>(oType).getShape().drop_back(),
        forward.getComputeType()));
  SmallVector<Type> results = {forward.getQ().getType(),
                               forward.getK().getType(),
                               forward.getV().getType()};
  if (gradBias)
    results.push_back(aux(forward, AuxOperand::Bias).getType());
  auto backwardFunction = func::FuncOp::create(
      b, function.getLoc(), (function.getName() + "_backward").str(),
      b.getFunctionType(inputs, results));
  Block *body = backwardFunction.addEntryBlock();
  b.setInsertionPointToStart(body);
  // The forward's ops up to the attention (constants the regions capture)
  // come along; the attention's operands map to the new arguments.
  IRMapping mapping;
  mapping.map(function.getArguments(),
              body->getArguments().take_front(function.getNumArguments()));
  for (Operation &op : function.getBody().front()) {
    if (&op == forward.getOperation())
      break;
    b.clone(op, mapping);
  }
  auto cloned = cast<AttentionOp>(b.clone(*forward, mapping));
  ValueRange extra = body->getArguments().drop_front(function.getNumArguments());
  AttentionBackwardOp backward =
      buildBackwardOf(b, cloned, extra[0], extra[1],
                      softmax ? extra[2] : Value(), gradBias);
  cloned->erase();
  func::ReturnOp::create(b, function.getLoc(), backward.getResults());
  if (failed(verify(*module)))
    return failure();
  return module;
}

} // namespace attn
