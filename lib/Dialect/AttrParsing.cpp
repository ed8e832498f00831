//===- AttrParsing.cpp - Parameter syntax of attn attributes --------------===//

#include "attn/Dialect/AttrParsing.h"

using namespace mlir;

namespace attn {

FailureOr<bool> parseBool(AsmParser &parser) {
  if (succeeded(parser.parseOptionalKeyword("true")))
    return true;
  if (succeeded(parser.parseOptionalKeyword("false")))
    return false;
  return parser.emitError(parser.getCurrentLocation(),
                          "expected 'true' or 'false'");
}

FailureOr<llvm::APFloat> parseFloat(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return llvm::APFloat(value);
}

} // namespace attn
