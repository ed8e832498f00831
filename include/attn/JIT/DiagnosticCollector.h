//===- DiagnosticCollector.h - MLIR diagnostics as an llvm::Error -*- C++ -*-===//

#ifndef ATTN_JIT_DIAGNOSTICCOLLECTOR_H
#define ATTN_JIT_DIAGNOSTICCOLLECTOR_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/Error.h"

namespace attn::jit {

/// Collects the diagnostics of a scope, to return them as an llvm::Error.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext *ctx)
      : handler(ctx, [this](mlir::Diagnostic &diag) {
          llvm::raw_string_ostream os(text);
          print(os, diag.getLocation(), diag.getSeverity(), diag.str());
          // The "see current operation" note prints the whole module.
          for (mlir::Diagnostic &note : diag.getNotes())
            if (!llvm::StringRef(note.str()).starts_with("see current operation"))
              print(os, note.getLocation(), mlir::DiagnosticSeverity::Note,
                    note.str());
          return mlir::success();
        }) {}

  llvm::Error takeError(const llvm::Twine &what) {
    std::string message = what.str();
    if (!text.empty())
      message += ":\n" + text;
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  }

private:
  /// `file:line:col: error: message`, as compilers print diagnostics.
  static void print(llvm::raw_ostream &os, mlir::Location loc,
                    mlir::DiagnosticSeverity severity, llvm::StringRef message) {
    if (auto fileLoc = llvm::dyn_cast<mlir::FileLineColLoc>(loc))
      os << fileLoc.getFilename().getValue() << ":" << fileLoc.getLine()
         << ":" << fileLoc.getColumn();
    else
      os << loc;
    switch (severity) {
    case mlir::DiagnosticSeverity::Error:
      os << ": error: ";
      break;
    case mlir::DiagnosticSeverity::Warning:
      os << ": warning: ";
      break;
    case mlir::DiagnosticSeverity::Note:
      os << ": note: ";
      break;
    case mlir::DiagnosticSeverity::Remark:
      os << ": remark: ";
      break;
    }
    os << message << "\n";
  }

  std::string text;
  mlir::ScopedDiagnosticHandler handler;
};

} // namespace attn::jit

#endif // ATTN_JIT_DIAGNOSTICCOLLECTOR_H
