//===- CpuKernel.cpp - Compile a spec for the host and run it -------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/JIT/DiagnosticCollector.h"
#include "attn/Pipelines/Registration.h"
#include "attn/JIT/SpecSignature.h"
#include "attn/Runtime/BinaryPath.h"
#include "attn/Runtime/SequenceCheck.h"
#include "attn/Support/FloatConversion.h"
#include "attn/Pipelines/Pipelines.h"
#include "attn/Transforms/Passes.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>

using namespace mlir;

namespace attn::jit {

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

/// f32 and f64 to bf16 as compiler-rt's __truncsfbf2 / __truncdfbf2, which
/// LLVM calls for a truncation to bf16 on a host without AVX512-BF16 and
/// which Debian 12's libgcc (GCC 12) lacks; the kernels get these. The
/// x86-64 and AArch64 ABIs return a bf16 in the low half of the first
/// floating-point register, where a float holding those bits lands too.
float bfloatInFloatRegister(uint16_t bits) {
  float carrier = 0.0f;
  std::memcpy(&carrier, &bits, sizeof(bits));
  return carrier;
}
float truncFloatToBFloat(float value) {
  return bfloatInFloatRegister(floatToBFloat(value));
}
float truncDoubleToBFloat(double value) {
  return bfloatInFloatRegister(doubleToBFloat(value));
}

llvm::orc::SymbolMap bfloatConversions(llvm::orc::MangleAndInterner interner) {
  llvm::orc::SymbolMap symbols;
  symbols[interner("__truncsfbf2")] = {
      llvm::orc::ExecutorAddr::fromPtr(&truncFloatToBFloat),
      llvm::JITSymbolFlags::Exported};
  symbols[interner("__truncdfbf2")] = {
      llvm::orc::ExecutorAddr::fromPtr(&truncDoubleToBFloat),
      llvm::JITSymbolFlags::Exported};
  return symbols;
}

} // namespace

struct CpuKernel::Impl {
  std::unique_ptr<ExecutionEngine> engine;
  void (*entry)(void **) = nullptr;
};

CpuKernel::CpuKernel(std::unique_ptr<Impl> impl, runtime::KernelSignature sig)
    : impl(std::move(impl)), sig(std::move(sig)) {}

CpuKernel::~CpuKernel() = default;

llvm::Expected<std::unique_ptr<CpuKernel>>
CpuKernel::compile(llvm::StringRef specText, const CpuOptions &options,
                   llvm::StringRef sourceName) {
  DialectRegistry registry;
  registerCompilerDialects(registry);
  MLIRContext ctx(registry);
  DiagnosticCollector diagnostics(&ctx);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(specText, ParserConfig(&ctx), sourceName);
  if (!module)
    return diagnostics.takeError("cannot parse the spec");
  return compile(*module, options);
}

llvm::Expected<std::unique_ptr<CpuKernel>>
CpuKernel::compile(ModuleOp spec, const CpuOptions &options) {
  MLIRContext *ctx = spec.getContext();
  DiagnosticCollector diagnostics(ctx);
  OwningOpRef<ModuleOp> module(spec.clone());

  FailureOr<func::FuncOp> entry = findEntry(*module, options.entry);
  if (failed(entry))
    return diagnostics.takeError("cannot find the entry function");
  std::string entryName = entry->getSymName().str();
  FailureOr<runtime::KernelSignature> signature = extractSignature(*entry);
  if (failed(signature))
    return diagnostics.takeError("the spec is not a kernel");
  // attn-promote-f64 keeps the inputs and returns f64 outputs.
  if (options.float64)
    for (runtime::Param &output : signature->outputs)
      output.dtype = runtime::DType::F64;
  // Only the entry is compiled.
  for (auto func : llvm::make_early_inc_range(module->getOps<func::FuncOp>()))
    if (func.getSymName() != entryName)
      func.erase();

  PassManager pm(ctx);
  if (options.float64)
    pm.addPass(createAttnPromoteToF64());
  if (options.reference) {
    buildReferencePipeline(pm);
    buildTensorToHostLLVMPipeline(pm, /*parallel=*/false);
  } else if (options.emulateGpu) {
    GpuPipelineOptions gpu;
    gpu.warps = options.warps;
    gpu.splitKv = options.splitKv;
    gpu.multiprocessors = options.multiprocessors;
    gpu.tileKv = options.tileKv;
    gpu.chip = options.chip;
    buildGpuEmulationPipeline(pm, gpu);
  } else {
    CpuPipelineOptions cpu;
    cpu.tileQ = options.tileQ;
    cpu.tileKv = options.tileKv;
    cpu.chunkSize = options.chunkSize;
    cpu.parallel = options.parallel;
    buildLowerToCpuPipeline(pm, cpu);
  }
  if (failed(pm.run(*module)))
    return diagnostics.takeError("lowering '" + entryName + "' failed");

  initializeNativeTarget();
  // The optimizer needs the host's target machine: without it the
  // vectorizers have no cost model and emit scalar code.
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return makeError("cannot describe the host CPU: " +
                     llvm::toString(machineBuilder.takeError()));
  machineBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  // LLVM 22's X86 backend cannot legalize some bf16 vectors with AVX512-BF16
  // (a <17 x bfloat> row live across blocks, a <9 x bfloat> select: "Do not
  // know how to soft promote this operator's operand"). The kernels convert
  // bf16 with integer ops (arith-expand-ops) and use no bf16 instruction, so
  // the feature buys nothing.
  if (machineBuilder->getTargetTriple().isX86())
    machineBuilder->getFeatures().AddFeature("avx512bf16", /*Enable=*/false);
  auto targetMachine = machineBuilder->createTargetMachine();
  if (!targetMachine)
    return makeError("cannot create a target machine for the host: " +
                     llvm::toString(targetMachine.takeError()));
  ExecutionEngineOptions engineOptions;
  // Emulated GPU kernels are large lock-step code run on small tests: the
  // optimizer would take minutes to save seconds.
  bool optimize = !options.emulateGpu;
  // `transformer` is a function_ref: the function it calls must outlive
  // ExecutionEngine::create (a temporary here was a stack-use-after-scope).
  std::function<llvm::Error(llvm::Module *)> transformer =
      makeOptimizingTransformer(/*optLevel=*/optimize ? 3 : 0,
                                /*sizeLevel=*/0, targetMachine->get());
  engineOptions.transformer = transformer;
  engineOptions.jitCodeGenOptLevel = optimize
                                         ? llvm::CodeGenOptLevel::Aggressive
                                         : llvm::CodeGenOptLevel::None;
  // Parallel kernels call the OpenMP runtime; no other library is loaded
  // (attn-cpu-strided-copies leaves no memrefCopy, bf16 truncations are
  // registered below).
  std::string openmp = runtime::bundledLibrary(ATTN_OPENMP_RUNTIME);
  SmallVector<StringRef> libraries;
  if (options.parallel && !options.reference && !options.emulateGpu)
    libraries.push_back(openmp);
  engineOptions.sharedLibPaths = libraries;
  // MLIR enables the perf listener by default: every process that compiles
  // a kernel would leave a jit-<pid>.dump under ~/.debug or /tmp/.debug.
  // ATTN_JIT_PERF=1 turns it on for `perf record -k 1` + `perf inject --jit`.
  const char *perf = std::getenv("ATTN_JIT_PERF");
  engineOptions.enablePerfNotificationListener = perf && StringRef(perf) == "1";
  // The engine compiles with this machine's level, not jitCodeGenOptLevel's.
  machineBuilder->setCodeGenOptLevel(*engineOptions.jitCodeGenOptLevel);
  auto codegenMachine = machineBuilder->createTargetMachine();
  if (!codegenMachine)
    return makeError("cannot create a target machine for the host: " +
                     llvm::toString(codegenMachine.takeError()));
  auto engine = ExecutionEngine::create(*module, engineOptions,
                                        std::move(*codegenMachine));
  if (!engine)
    return diagnostics.takeError("cannot create the execution engine: " +
                                 llvm::toString(engine.takeError()));
  (*engine)->registerSymbols(bfloatConversions);
  auto packed = (*engine)->lookupPacked("_mlir_ciface_" + entryName);
  if (!packed)
    return makeError("the compiled module has no entry '" + entryName +
                     "': " + llvm::toString(packed.takeError()));

  auto impl = std::make_unique<Impl>();
  impl->engine = std::move(*engine);
  impl->entry = *packed;
  return std::unique_ptr<CpuKernel>(
      new CpuKernel(std::move(impl), std::move(*signature)));
}

llvm::Error CpuKernel::run(llvm::ArrayRef<runtime::TensorRef> inputs,
                           llvm::ArrayRef<runtime::TensorRef> outputs) const {
  llvm::Expected<runtime::DimBindings> bindings =
      sig.bindCall(inputs, outputs);
  if (!bindings)
    return bindings.takeError();
  for (const runtime::TensorRef &t : llvm::concat<const runtime::TensorRef>(
           inputs, outputs))
    if (!t.data && t.numElements() > 0)
      return makeError("a tensor passed to '" + sig.entry +
                       "' has no data pointer");
  // Packed and paged rows are placed by data: wrong data reads out of bounds.
  if (llvm::Error e = runtime::checkSequenceInputs(sig, inputs))
    return e;

  // _mlir_ciface_<entry>(desc *...) through its packed wrapper: each packed
  // argument points at a descriptor pointer.
  std::vector<std::vector<int64_t>> descriptors;
  for (const runtime::TensorRef &t :
       llvm::concat<const runtime::TensorRef>(inputs, outputs))
    runtime::appendMemrefDescriptor(t, descriptors.emplace_back());
  std::vector<void *> descriptorPtrs, packedArgs;
  for (std::vector<int64_t> &words : descriptors)
    descriptorPtrs.push_back(words.data());
  for (void *&p : descriptorPtrs)
    packedArgs.push_back(&p);
  impl->entry(packedArgs.data());
  return llvm::Error::success();
}

} // namespace attn::jit
