//===- AttrParsing.h - Parameter syntax of attn attributes ------*- C++ -*-===//
//
// Custom parameter parsers and printers used from AttnAttrs.td: bracketed
// lists (`[64, 32]`, `[true, false]`, `[#attn.causal, #attn.sinks<4>]`),
// `true`/`false`, and float literals.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTRPARSING_H
#define ATTN_DIALECT_ATTRPARSING_H

#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"

#include "llvm/ADT/APFloat.h"

namespace attn {

mlir::FailureOr<bool> parseBool(mlir::AsmParser &parser);
mlir::FailureOr<llvm::APFloat> parseFloat(mlir::AsmParser &parser);

template <typename T>
mlir::FailureOr<llvm::SmallVector<T>> parseBracketedList(mlir::AsmParser &parser) {
  llvm::SmallVector<T> elements;
  auto parseElement = [&]() -> mlir::ParseResult {
    mlir::FailureOr<T> element;
    if constexpr (std::is_same_v<T, bool>)
      element = parseBool(parser);
    else
      element = mlir::FieldParser<T>::parse(parser);
    if (mlir::failed(element))
      return mlir::failure();
    elements.push_back(*element);
    return mlir::success();
  };
  if (parser.parseCommaSeparatedList(mlir::AsmParser::Delimiter::Square,
                                     parseElement))
    return mlir::failure();
  return elements;
}

template <typename T>
void printBracketedList(mlir::AsmPrinter &printer, llvm::ArrayRef<T> elements) {
  printer << '[';
  llvm::interleaveComma(elements, printer, [&](const T &element) {
    if constexpr (std::is_same_v<T, bool>)
      printer << (element ? "true" : "false");
    else
      printer << element;
  });
  printer << ']';
}

} // namespace attn

#endif // ATTN_DIALECT_ATTRPARSING_H
