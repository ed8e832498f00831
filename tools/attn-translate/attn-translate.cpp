//===- attn-translate.cpp - A spec to a GPU kernel and its manifest -------===//
//
//   attn-translate SPEC.mlir --emit=cubin -o k.cubin --manifest k.json
//   attn-translate SPEC.mlir --emit=ptx --chip sm_80 -o -
//   attn-translate KERNELS.mlir --kernels --emit=ptx --chip sm_90a -o -
//
// Runs attn-lower-to-nvvm and writes the kernel image (PTX, cubin, fatbin or
// LLVM IR) and, with --manifest, what the runtime needs to launch it. With
// --kernels the input is a gpu.module already (e.g. a hand-written kernel),
// compiled by the kernel half of the pipeline, without a manifest.
//
//===----------------------------------------------------------------------===//

#include "attn/Pipelines/Registration.h"
#include "attn/Target/GpuCompile.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;

namespace {

llvm::cl::OptionCategory category("attn-translate options");

llvm::cl::opt<std::string> specPath(llvm::cl::Positional, llvm::cl::Required,
                                    llvm::cl::desc("<spec.mlir>"),
                                    llvm::cl::cat(category));
llvm::cl::opt<attn::GpuEmit> emit(
    "emit", llvm::cl::desc("What to write"),
    llvm::cl::values(
        clEnumValN(attn::GpuEmit::Ptx, "ptx", "PTX assembly"),
        clEnumValN(attn::GpuEmit::Cubin, "cubin", "a cubin for --chip"),
        clEnumValN(attn::GpuEmit::Fatbin, "fatbin",
                   "a fatbin (cubin and PTX) for --chip"),
        clEnumValN(attn::GpuEmit::LlvmIr, "llvmir",
                   "the kernel's LLVM IR (NVPTX)")),
    llvm::cl::init(attn::GpuEmit::Cubin), llvm::cl::cat(category));
llvm::cl::opt<std::string> outputPath("o", llvm::cl::desc("Output file"),
                                      llvm::cl::value_desc("file"),
                                      llvm::cl::init("-"),
                                      llvm::cl::cat(category));
llvm::cl::opt<std::string>
    manifestPath("manifest",
                 llvm::cl::desc("Write the launch manifest (JSON) here"),
                 llvm::cl::value_desc("file.json"), llvm::cl::cat(category));
llvm::cl::opt<std::string> chip("chip",
                                llvm::cl::desc("NVIDIA chip (sm_80, sm_90)"),
                                llvm::cl::init("sm_90"),
                                llvm::cl::cat(category));
llvm::cl::opt<int64_t> warps("warps",
                             llvm::cl::desc("Warps per block (16 rows each)"),
                             llvm::cl::init(4), llvm::cl::cat(category));
llvm::cl::opt<int64_t> tileKv("tile-kv",
                              llvm::cl::desc("Keys per shared-memory tile"),
                              llvm::cl::init(64), llvm::cl::cat(category));
llvm::cl::opt<std::string> splitKv(
    "split-kv",
    llvm::cl::desc("Split-KV decoding of attn.attention: auto (when the query "
                   "tiles cannot fill the GPU), always, never"),
    llvm::cl::init("auto"), llvm::cl::cat(category));
llvm::cl::opt<std::string>
    entryName("entry",
              llvm::cl::desc("Function to compile (default: the only one)"),
              llvm::cl::value_desc("name"), llvm::cl::cat(category));
llvm::cl::opt<bool> kernelsOnly(
    "kernels",
    llvm::cl::desc("The input holds one gpu.module instead of a spec: "
                   "compile it as it is (no manifest)"),
    llvm::cl::cat(category));
llvm::cl::opt<std::string>
    toolkit("toolkit",
            llvm::cl::desc("CUDA toolkit (default: the one configured at "
                           "build time)"),
            llvm::cl::value_desc("dir"), llvm::cl::cat(category));

bool writeFile(StringRef path, StringRef bytes) {
  std::string error;
  auto file = openOutputFile(path, &error);
  if (!file) {
    llvm::WithColor::error(llvm::errs(), "attn-translate") << error << "\n";
    return false;
  }
  file->os() << bytes;
  file->keep();
  return true;
}

int translateMain() {
  DialectRegistry registry;
  attn::registerCompilerDialects(registry);
  MLIRContext ctx(registry);
  // Diagnostics point at the spec; the whole module would drown them.
  ctx.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &ctx);
  std::string error;
  auto input = openInputFile(specPath, &error);
  if (!input) {
    llvm::WithColor::error(llvm::errs(), "attn-translate") << error << "\n";
    return 1;
  }
  std::string specText = input->getBuffer().str();
  sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&ctx));
  if (!module)
    return 1;

  attn::GpuCompileOptions options;
  options.emit = emit;
  options.chip = chip;
  options.warps = warps;
  options.tileKv = tileKv;
  options.splitKv = splitKv;
  options.entry = entryName;
  options.toolkit = toolkit;
  if (kernelsOnly) {
    if (!manifestPath.empty()) {
      llvm::WithColor::error(llvm::errs(), "attn-translate")
          << "--manifest describes a spec's launches; --kernels has none\n";
      return 1;
    }
    FailureOr<std::string> image = attn::compileKernelsForGpu(*module, options);
    return succeeded(image) && writeFile(outputPath, *image) ? 0 : 1;
  }
  FailureOr<attn::GpuBinary> binary =
      attn::compileForGpu(*module, specText, options);
  if (failed(binary))
    return 1;
  if (!writeFile(outputPath, binary->image))
    return 1;
  if (!manifestPath.empty()) {
    std::string json;
    llvm::raw_string_ostream os(json);
    os << llvm::formatv("{0:2}", binary->manifest.toJSON()) << "\n";
    if (!writeFile(manifestPath, json))
      return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "attn-translate: compile an attn spec to a GPU kernel\n\n"
      "  attn-translate spec.mlir --emit=cubin -o k.cubin --manifest "
      "k.json\n");
  return translateMain();
}
