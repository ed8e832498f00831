//===- attn-fuzz.cpp - libFuzzer target over spec text --------------------===//
//
//   build-san/bin/attn-fuzz CORPUS_DIR -dict=tools/attn-fuzz/attn.dict
//   build-san/bin/attn-fuzz crash-FILE            # reproduce one input
//
// Each input is spec text. Every input is parsed, verified and
// canonicalized (about 300 inputs a second); inputs of at most
// ATTN_FUZZ_CPU_MAX_BYTES bytes (default 1500) whose ops verify are also
// lowered by attn-lower-to-cpu to the LLVM dialect (about 10 a second), and
// those of at most ATTN_FUZZ_GPU_MAX_BYTES (default 400), per function, by
// the GPU path of attn-translate down to PTX with the manifest (about 3 a
// second, in LLVM's NVPTX back end). The bounds keep most executions on the
// cheap front end while the small specs (two thirds of the seeds) still
// reach the back ends.
//
// Any diagnostic is a valid outcome; a crash, a sanitizer report, or a pass
// that leaves IR the verifier rejects is a defect.
//
//===----------------------------------------------------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Pipelines/Registration.h"
#include "attn/Target/GpuCompile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdint>
#include <cstdlib>
#include <memory>

using namespace mlir;

namespace {

struct FuzzConfig {
  size_t cpuMaxBytes = 1500;
  size_t gpuMaxBytes = 400;
};

FuzzConfig readConfig() {
  FuzzConfig config;
  if (const char *bytes = std::getenv("ATTN_FUZZ_CPU_MAX_BYTES"))
    config.cpuMaxBytes = std::strtoull(bytes, nullptr, 10);
  if (const char *bytes = std::getenv("ATTN_FUZZ_GPU_MAX_BYTES"))
    config.gpuMaxBytes = std::strtoull(bytes, nullptr, 10);
  return config;
}

// Specs are built from these dialects; mutations that produce ops of other
// dialects would fuzz upstream MLIR, not attn-mlir.
bool onlySpecDialects(ModuleOp module) {
  static const llvm::StringSet<> allowed = {"builtin", "func", "attn",
                                            "arith", "math", "index", "tensor"};
  return !module
              ->walk([](Operation *op) {
                return allowed.contains(op->getName().getDialectNamespace())
                           ? WalkResult::advance()
                           : WalkResult::interrupt();
              })
              .wasInterrupted();
}

struct Fuzzer {
  FuzzConfig config = readConfig();
  DialectRegistry registry;
  std::unique_ptr<MLIRContext> ctx;
  unsigned runsInContext = 0;

  Fuzzer() { attn::registerCompilerDialects(registry); }

  // A context keeps every attribute and type it ever uniqued: a fresh one
  // every few hundred inputs bounds the fuzzer's memory.
  void refreshContext() {
    if (ctx && ++runsInContext < 500)
      return;
    runsInContext = 0;
    ctx = std::make_unique<MLIRContext>(registry,
                                        MLIRContext::Threading::DISABLED);
    ctx->printOpOnDiagnostic(false);
    // Diagnostics are expected outcomes: swallow them.
    ctx->getDiagEngine().registerHandler([](Diagnostic &) { return success(); });
  }

  // A pipeline may fail with a diagnostic; one that succeeds must leave
  // valid IR. (Verifying only at the end keeps the inner passes from being
  // verified twice per input.)
  void runPasses(ModuleOp module, StringRef name,
                 llvm::function_ref<void(OpPassManager &)> build) {
    PassManager pm(ctx.get());
    pm.enableVerifier(false);
    build(pm);
    if (succeeded(pm.run(module)) && failed(verify(module)))
      llvm::report_fatal_error(llvm::Twine(name) +
                               " succeeded but left invalid IR");
  }

  void lower(ModuleOp module, StringRef text) {
    if (text.size() <= config.cpuMaxBytes) {
      OwningOpRef<ModuleOp> cpu(module.clone());
      attn::CpuPipelineOptions options;
      options.parallel = false;
      runPasses(*cpu, "attn-lower-to-cpu", [&](OpPassManager &pm) {
        attn::buildLowerToCpuPipeline(pm, options);
      });
    }
    if (text.size() <= config.gpuMaxBytes) {
      for (auto func : module.getOps<func::FuncOp>()) {
        attn::GpuCompileOptions options;
        options.emit = attn::GpuEmit::Ptx;
        options.entry = func.getSymName().str();
        (void)attn::compileForGpu(module, text, options);
      }
    }
  }

  void run(StringRef text) {
    refreshContext();
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBuffer(text, "input", false), llvm::SMLoc());
    // Verification happens below, once foreign dialects are excluded.
    ParserConfig parserConfig(ctx.get(), /*verifyAfterParse=*/false);
    OwningOpRef<ModuleOp> module =
        parseSourceFile<ModuleOp>(sourceMgr, parserConfig);
    if (!module || !onlySpecDialects(*module) || failed(verify(*module)))
      return;
    lower(*module, text);
    runPasses(*module, "canonicalize", [](OpPassManager &pm) {
      pm.addPass(createCanonicalizerPass());
    });
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Fuzzer *fuzzer = new Fuzzer();
  // The parser needs a terminated buffer.
  std::string text(reinterpret_cast<const char *>(data), size);
  fuzzer->run(text);
  return 0;
}
