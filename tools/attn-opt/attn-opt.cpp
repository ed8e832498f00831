//===- attn-opt.cpp - attn optimizer driver -------------------------------===//

#include "attn/Pipelines/Pipelines.h"
#include "attn/Pipelines/Registration.h"
#include "attn/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  // With the LLVM translations and GPU targets, so that
  // gpu-module-to-binary works from attn-opt too.
  attn::registerCompilerDialects(registry);
  mlir::registerAllPasses();
  attn::registerAttnPasses();
  attn::registerAttnPipelines();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "attn optimizer driver\n", registry));
}
