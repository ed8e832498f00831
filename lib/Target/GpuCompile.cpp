//===- GpuCompile.cpp - A spec to a GPU binary and its manifest -----------===//

#include "attn/Target/GpuCompile.h"
#include "attn/Dialect/Attn.h"
#include "attn/JIT/SpecSignature.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Runtime/BinaryPath.h"
#include "attn/Runtime/Swizzle.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/xxhash.h"


using namespace mlir;

namespace attn {

using runtime::Expr;

namespace {
/// Per GpuEmit: its name (the manifest's binary_format) and the
/// gpu-module-to-binary format that produces it.
struct EmitFormat {
  StringRef name;
  StringRef pipelineFormat;
};
constexpr EmitFormat kEmitFormats[] = {{"ptx", "isa"},
                                       {"cubin", "bin"},
                                       {"fatbin", "fatbin"},
                                       {"llvmir", "llvm"}};
const EmitFormat &formatOf(GpuEmit emit) { return kEmitFormats[int(emit)]; }
} // namespace

std::string GpuCompileOptions::str() const {
  return (llvm::Twine("emit=") + formatOf(emit).name + " chip=" + chip +
          " warps=" + llvm::Twine(warps) + " tile-kv=" + llvm::Twine(tileKv) +
          " split-kv=" + splitKv +
          " entry=" + entry + " toolkit=" + toolkit)
      .str();
}

llvm::StringRef compilerVersion() {
  // The hash of the binary that holds the compiler: any rebuild changes
  // it, so caches keyed by it never serve code of an older compiler.
  static const std::string version = [] {
    std::string v = "attn-mlir " ATTN_VERSION;
    if (!runtime::binaryPath().empty())
      if (auto buffer = llvm::MemoryBuffer::getFile(runtime::binaryPath()))
        v += " (" +
             llvm::utohexstr(llvm::xxh3_64bits((*buffer)->getBuffer())) + ")";
    return v;
  }();
  return version;
}

namespace {

/// Describes host-side values of the lowered entry for the manifest: index
/// values as formulas in the signature's dimension names (memref.dim of the
/// function's arguments, constants and integer arithmetic, the device's
/// multiprocessor count and named run-time choices), and memref.alloc
/// results as workspaces.
class ExprBuilder {
public:
  ExprBuilder(func::FuncOp func, const runtime::KernelSignature &sig,
              runtime::Manifest &manifest)
      : func(func), sig(sig), manifest(manifest) {}

  FailureOr<Expr> build(Value v, Operation *user) {
    if (auto c = v.getDefiningOp<arith::ConstantOp>())
      if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
        return Expr::constant(i.getInt());
    if (auto dim = v.getDefiningOp<memref::DimOp>()) {
      auto arg = dyn_cast<BlockArgument>(dim.getSource());
      std::optional<int64_t> index = dim.getConstantIndex();
      if (arg && arg.getOwner()->getParentOp() == func && index) {
        const runtime::Param *param = paramOf(arg.getArgNumber());
        if (param && *index < int64_t(param->dims.size())) {
          const runtime::Dim &d = param->dims[*index];
          if (d.size != runtime::Dim::kDynamic)
            return Expr::constant(d.size);
          return Expr::dimension(d.name);
        }
      }
    }
    if (v.getDefiningOp<MultiprocessorCountOp>())
      return Expr::dimension(runtime::Manifest::kMultiprocessors);
    if (auto choice = v.getDefiningOp<LaunchChoiceOp>())
      return buildChoice(choice);
    Operation *def = v.getDefiningOp();
    if (def && isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtUIOp,
                   arith::ExtSIOp, arith::TruncIOp>(def))
      return build(def->getOperand(0), user);
    std::optional<Expr::Kind> kind =
        def ? llvm::TypeSwitch<Operation *, std::optional<Expr::Kind>>(def)
                  .Case<arith::AddIOp>([](auto) { return Expr::Kind::Add; })
                  .Case<arith::SubIOp>([](auto) { return Expr::Kind::Sub; })
                  .Case<arith::MulIOp>([](auto) { return Expr::Kind::Mul; })
                  .Case<arith::DivUIOp, arith::DivSIOp, arith::FloorDivSIOp>(
                      [](auto) { return Expr::Kind::DivFloor; })
                  .Case<arith::CeilDivUIOp, arith::CeilDivSIOp>(
                      [](auto) { return Expr::Kind::CeilDiv; })
                  .Case<arith::RemUIOp, arith::RemSIOp>(
                      [](auto) { return Expr::Kind::Rem; })
                  .Case<arith::MaxUIOp, arith::MaxSIOp>(
                      [](auto) { return Expr::Kind::Max; })
                  .Case<arith::MinUIOp, arith::MinSIOp>(
                      [](auto) { return Expr::Kind::Min; })
                  .Default([](Operation *) { return std::nullopt; })
            : std::nullopt;
    if (kind) {
      FailureOr<Expr> lhs = build(def->getOperand(0), user);
      if (failed(lhs))
        return failure();
      FailureOr<Expr> rhs = build(def->getOperand(1), user);
      if (failed(rhs))
        return failure();
      return Expr::binary(*kind, std::move(*lhs), std::move(*rhs));
    }
    InFlightDiagnostic diag = user->emitError(
        "the launch depends on a value the manifest cannot describe (only "
        "constants, tensor sizes, the multiprocessor count, launch choices "
        "and integer arithmetic on them)");
    if (def)
      diag.attachNote(def->getLoc()) << "computed by " << def->getName();
    return failure();
  }

  /// A run-time choice: its formula goes to the manifest's choices (once,
  /// after the choices it uses), its name into the formulas that use it.
  FailureOr<Expr> buildChoice(LaunchChoiceOp choice) {
    StringRef name = choice.getName();
    auto [it, inserted] = choices.try_emplace(name, choice);
    if (!inserted) {
      if (it->second == choice)
        return Expr::dimension(name);
      InFlightDiagnostic diag = choice.emitError()
                                << "launch choice '" << name
                                << "' is made twice; name each choice once";
      diag.attachNote(it->second.getLoc()) << "first made here";
      return failure();
    }
    bool clashes =
        name == runtime::Manifest::kMultiprocessors ||
        llvm::any_of(llvm::concat<const runtime::Param>(sig.inputs,
                                                        sig.outputs),
                     [&](const runtime::Param &p) {
                       return llvm::any_of(p.dims, [&](const runtime::Dim &d) {
                         return d.name == name;
                       });
                     });
    if (clashes) {
      choice.emitError() << "launch choice '" << name
                         << "' has the name of a dimension of the signature "
                            "or of a device property; rename it";
      return failure();
    }
    FailureOr<Expr> value = build(choice.getValue(), choice);
    if (failed(value))
      return failure();
    manifest.choices.push_back({name.str(), std::move(*value)});
    return Expr::dimension(name);
  }

  /// The workspace `alloc` allocates, named and described at its first use.
  FailureOr<unsigned> workspace(memref::AllocOp alloc, Operation *user) {
    auto [it, inserted] =
        workspaces.try_emplace(alloc, manifest.workspaces.size());
    if (!inserted)
      return it->second;
    MemRefType type = alloc.getType();
    std::optional<runtime::DType> dtype = toDType(type.getElementType());
    if (!dtype || !type.getLayout().isIdentity() || type.getMemorySpace()) {
      workspaces.erase(alloc);
      InFlightDiagnostic diag =
          user->emitError() << "a workspace must be a dense row-major memref "
                               "in global memory of a tensor element type, "
                               "got "
                            << type;
      diag.attachNote(alloc.getLoc()) << "allocated here";
      return failure();
    }
    runtime::Workspace w;
    w.name = "workspace" + std::to_string(manifest.workspaces.size());
    w.dtype = *dtype;
    unsigned dynamic = 0;
    for (int64_t size : type.getShape()) {
      if (!ShapedType::isDynamic(size)) {
        w.shape.push_back(Expr::constant(size));
        continue;
      }
      FailureOr<Expr> e = build(alloc.getDynamicSizes()[dynamic++], alloc);
      if (failed(e))
        return failure();
      w.shape.push_back(std::move(*e));
    }
    manifest.workspaces.push_back(std::move(w));
    return it->second;
  }

  const runtime::Param *paramOf(unsigned argNumber) const {
    if (argNumber < sig.inputs.size())
      return &sig.inputs[argNumber];
    argNumber -= sig.inputs.size();
    if (argNumber < sig.outputs.size())
      return &sig.outputs[argNumber];
    return nullptr;
  }

private:
  func::FuncOp func;
  const runtime::KernelSignature &sig;
  runtime::Manifest &manifest;
  llvm::DenseMap<Operation *, unsigned> workspaces;
  llvm::StringMap<LaunchChoiceOp> choices;
};

/// Describes `launch` as an entry of the manifest's kernels.
FailureOr<runtime::KernelLaunch> describeLaunch(gpu::LaunchFuncOp launch,
                                                func::FuncOp func,
                                                const runtime::KernelSignature &sig,
                                                ExprBuilder &exprs) {
  runtime::KernelLaunch k;
  k.symbol = launch.getKernelName().getValue().str();
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
  Value geometry[] = {grid.x, grid.y, grid.z, block.x, block.y, block.z};
  for (auto [i, v] : llvm::enumerate(geometry)) {
    FailureOr<Expr> e = exprs.build(v, launch);
    if (failed(e))
      return failure();
    (i < 3 ? k.grid[i] : k.block[i - 3]) = std::move(*e);
  }
  k.dynamicSharedMemory = Expr::constant(0);
  if (Value smem = launch.getDynamicSharedMemorySize()) {
    FailureOr<Expr> e = exprs.build(smem, launch);
    if (failed(e))
      return failure();
    k.dynamicSharedMemory = std::move(*e);
  }
  for (Value operand : launch.getKernelOperands()) {
    runtime::KernelParam p;
    auto arg = dyn_cast<BlockArgument>(operand);
    if (arg && arg.getOwner()->getParentOp() == func &&
        isa<MemRefType>(operand.getType())) {
      p.kind = runtime::KernelParam::Kind::MemrefDescriptor;
      bool isOutput = arg.getArgNumber() >= sig.inputs.size();
      p.role = isOutput ? runtime::KernelParam::Role::Output
                        : runtime::KernelParam::Role::Input;
      p.tensor = isOutput ? arg.getArgNumber() - sig.inputs.size()
                          : arg.getArgNumber();
      p.rank = cast<MemRefType>(operand.getType()).getRank();
    } else if (auto alloc = operand.getDefiningOp<memref::AllocOp>();
               alloc && alloc->getParentOp() == func) {
      FailureOr<unsigned> w = exprs.workspace(alloc, launch);
      if (failed(w))
        return failure();
      p.kind = runtime::KernelParam::Kind::MemrefDescriptor;
      p.role = runtime::KernelParam::Role::Workspace;
      p.tensor = *w;
      p.rank = alloc.getType().getRank();
    } else if (auto map = operand.getDefiningOp<nvgpu::TmaCreateDescriptorOp>()) {
      // A TMA tensor map of an input, which the runtime encodes per call.
      auto cast = map.getTensor().getDefiningOp<memref::CastOp>();
      auto source =
          cast ? dyn_cast<BlockArgument>(cast.getSource()) : BlockArgument();
      if (!source || source.getOwner()->getParentOp() != func ||
          source.getArgNumber() >= sig.inputs.size()) {
        map.emitError() << "a tensor map must describe an input of the "
                           "signature";
        return failure();
      }
      p.kind = runtime::KernelParam::Kind::TensorMap;
      p.role = runtime::KernelParam::Role::Input;
      p.tensor = source.getArgNumber();
      for (Value size : map.getBoxDimensions()) {
        std::optional<int64_t> c = getConstantIntValue(size);
        if (!c) {
          map.emitError() << "a tensor map's box must be constant";
          return failure();
        }
        p.box.push_back(*c);
      }
      // nvgpu's swizzle kinds are the XOR widths of runtime/Swizzle.h.
      static_assert(
          uint32_t(nvgpu::TensorMapSwizzleKind::SWIZZLE_32B) == 1 &&
          uint32_t(nvgpu::TensorMapSwizzleKind::SWIZZLE_128B) == 3);
      p.swizzle = runtime::swizzleBytes(
          int(map.getTensorMap().getType().getSwizzle()));
    } else if (operand.getType().isIndex() ||
               operand.getType().isInteger(64)) {
      p.kind = runtime::KernelParam::Kind::Index;
      FailureOr<Expr> e = exprs.build(operand, launch);
      if (failed(e))
        return failure();
      p.value = std::move(*e);
    } else {
      launch.emitError() << "kernel operand of type " << operand.getType()
                         << " is neither a tensor of the signature, a "
                            "workspace (memref.alloc in the entry) nor an "
                            "index";
      return failure();
    }
    k.params.push_back(std::move(p));
  }
  return k;
}

/// GpuPipelineOptions holds cl::opt-like options, which cannot be copied.
void setPipelineOptions(GpuPipelineOptions &gpu,
                        const GpuCompileOptions &options) {
  gpu.chip = options.chip;
  gpu.warps = options.warps;
  gpu.tileKv = options.tileKv;
  gpu.splitKv = options.splitKv;
  gpu.format = formatOf(options.emit).pipelineFormat.str();
  if (!options.toolkit.empty())
    gpu.toolkit = options.toolkit;
}

/// LLVM bitcode to text; other images are returned as they are.
FailureOr<std::string> printableImage(StringRef bytes, Location loc) {
  if (!bytes.starts_with("BC"))
    return bytes.str();
  llvm::LLVMContext llvmCtx;
  auto module = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(bytes, "kernel"), llvmCtx);
  if (!module) {
    emitError(loc) << "cannot read the kernel's LLVM bitcode: "
                   << llvm::toString(module.takeError());
    return failure();
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  (*module)->print(os, nullptr);
  return text;
}

} // namespace

FailureOr<GpuBinary> compileForGpu(ModuleOp spec, StringRef specText,
                                   const GpuCompileOptions &options) {
  OwningOpRef<ModuleOp> module(spec.clone());
  FailureOr<func::FuncOp> entry = findEntry(*module, options.entry);
  if (failed(entry))
    return failure();
  std::string entryName = entry->getSymName().str();
  FailureOr<runtime::KernelSignature> sig = extractSignature(*entry);
  if (failed(sig))
    return failure();
  for (auto func : llvm::make_early_inc_range(module->getOps<func::FuncOp>()))
    if (func.getSymName() != entryName)
      func.erase();

  PassManager pm(module->getContext());
  GpuPipelineOptions gpu;
  setPipelineOptions(gpu, options);
  buildLowerToNVVMPipeline(pm, gpu);
  if (failed(pm.run(*module)))
    return failure();

  // The lowered entry: constants, sizes, workspace allocations, the
  // launches in program order and a return.
  auto func = module->lookupSymbol<func::FuncOp>(entryName);
  SmallVector<gpu::LaunchFuncOp> launches;
  WalkResult walk = func.walk([&](gpu::LaunchFuncOp op) {
    if (op->getParentOp() != func) {
      op.emitError("a kernel launch inside control flow cannot be described "
                   "by the manifest (its launches run in a fixed order)");
      return WalkResult::interrupt();
    }
    launches.push_back(op);
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  // The runtime replays only launches, workspace allocations, tensor maps
  // (it encodes them per call) and formulas: any other host work with
  // effects (a copy, a fill) would be lost.
  for (Operation &op : func.getBody().front()) {
    if (isa<gpu::LaunchFuncOp, memref::AllocOp, memref::DeallocOp,
            nvgpu::TmaCreateDescriptorOp, func::ReturnOp>(op) ||
        isMemoryEffectFree(&op))
      continue;
    op.emitError() << "the entry does '" << op.getName()
                   << "' on the host, which the manifest cannot describe "
                      "(it holds only kernel launches, workspaces and "
                      "formulas)";
    return failure();
  }
  if (launches.empty()) {
    func.emitError("expected kernel launches after attn-lower-to-nvvm, found "
                   "none");
    return failure();
  }
  // One image holds every kernel of the spec.
  StringAttr binaryName = launches.front().getKernelModuleName();
  for (gpu::LaunchFuncOp launch : launches)
    if (launch.getKernelModuleName() != binaryName) {
      launch.emitError() << "the kernels of a spec must be in one gpu.module "
                            "(one binary); this launch uses '"
                         << launch.getKernelModuleName().getValue()
                         << "', the first one '" << binaryName.getValue()
                         << "'";
      return failure();
    }
  auto binary = module->lookupSymbol<gpu::BinaryOp>(binaryName);
  if (!binary || binary.getObjects().size() != 1) {
    launches.front().emitError("expected one gpu.binary object for the "
                               "kernels");
    return failure();
  }
  auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
  FailureOr<std::string> image =
      printableImage(object.getObject().getValue(), binary.getLoc());
  if (failed(image))
    return failure();

  GpuBinary result;
  result.image = std::move(*image);
  runtime::Manifest &m = result.manifest;
  m.chip = options.chip;
  m.binaryFormat = formatOf(options.emit).name.str();
  m.compiler = compilerVersion().str();
  m.specHash = llvm::utohexstr(llvm::xxh3_64bits(
      (specText + "\n" + options.str() + "\n" + m.compiler).str()));
  m.signature = *sig;

  size_t numArgs = sig->inputs.size() + sig->outputs.size();
  if (func.getNumArguments() != numArgs) {
    func.emitError() << "expected " << numArgs
                     << " arguments (inputs, then outputs) after "
                        "bufferization, found "
                     << func.getNumArguments();
    return failure();
  }
  ExprBuilder exprs(func, *sig, m);
  for (gpu::LaunchFuncOp launch : launches) {
    FailureOr<runtime::KernelLaunch> k =
        describeLaunch(launch, func, *sig, exprs);
    if (failed(k))
      return failure();
    m.kernels.push_back(std::move(*k));
  }
  return result;
}

FailureOr<std::string> compileKernelsForGpu(ModuleOp kernels,
                                            const GpuCompileOptions &options) {
  size_t count = llvm::range_size(kernels.getOps<gpu::GPUModuleOp>());
  if (count != 1) {
    emitError(kernels.getLoc())
        << "expected one gpu.module to compile (one image), found " << count;
    return failure();
  }
  OwningOpRef<ModuleOp> module(kernels.clone());
  PassManager pm(module->getContext());
  GpuPipelineOptions gpu;
  setPipelineOptions(gpu, options);
  buildKernelsToBinaryPipeline(pm, gpu);
  if (failed(pm.run(*module)))
    return failure();
  auto binary = *module->getOps<gpu::BinaryOp>().begin();
  auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
  return printableImage(object.getObject().getValue(), binary.getLoc());
}

} // namespace attn
