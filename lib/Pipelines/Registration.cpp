//===- Registration.cpp - Dialects and extensions the compiler uses -------===//

#include "attn/Pipelines/Registration.h"
#include "attn/Dialect/Attn.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void attn::registerCompilerDialects(mlir::DialectRegistry &registry) {
  registry.insert<attn::AttnDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
}
