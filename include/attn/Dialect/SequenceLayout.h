//===- SequenceLayout.h - Where each sequence's rows lie --------*- C++ -*-===//
//
// An attn.attention holds its sequences in one of a few forms: one batch
// dimension (dense), sequences packed end to end with cumulative lengths
// (`cu_seqlens_q`, `cu_seqlens_kv`), or keys and values in the pages of a KV
// cache (`paged_kv`: a block table and per-sequence lengths). Every lowering
// reads rows and lengths through this class, so that a packed or paged op
// differs from a dense one only in where a row is and how long a sequence is;
// masks and modifiers see each sequence's own lengths and positions.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_SEQUENCELAYOUT_H
#define ATTN_DIALECT_SEQUENCELAYOUT_H

#include "attn/Dialect/Attn.h"

#include "mlir/IR/Builders.h"

#include <string>

namespace attn {

/// How q, o and lse hold query rows.
enum class QueryForm {
  Dense,  ///< q [B, Hq, Sq, D], lse [B, Hq, Sq]
  Packed, ///< q [Tq, Hq, D], lse [Tq, Hq]; sequence b: rows [cq[b], cq[b+1])
};

/// How k and v hold key rows.
enum class KeyForm {
  Dense,  ///< k [B, Hkv, Skv, D]
  Packed, ///< k [Tk, Hkv, D]; sequence b: rows [ck[b], ck[b+1])
  Paged,  ///< k [Pages, P, Hkv, D] (NHD) or [Pages, Hkv, P, D] (HND)
};

/// The dimensions of one operand's layout that a lowering indexes.
struct RowLayout {
  unsigned rank;
  unsigned headDim;
  unsigned featureDim;
  /// The layout as users write it, e.g. "[B, Hq, Sq, D]", for diagnostics;
  /// `feature` names the last dimension.
  std::string text(llvm::StringRef heads, llvm::StringRef feature) const;
  /// The names of the dimensions other than heads and features, in order.
  llvm::SmallVector<llvm::StringRef, 2> otherDims;
};

class SequenceLayout {
public:
  /// The layout of `op`'s operands. `q` and `k` stand for the op's q and k
  /// (the op's own tensors by default, or the buffers a kernel reads); the
  /// lengths are read through the AuxReader passed to each builder.
  explicit SequenceLayout(AttentionSpecOpInterface op, mlir::Value q = {},
                          mlir::Value k = {});

  QueryForm queryForm() const { return qForm; }
  KeyForm keyForm() const { return kvForm; }
  bool isDense() const {
    return qForm == QueryForm::Dense && kvForm == KeyForm::Dense;
  }
  /// Keys per page (paged form).
  int64_t pageSize() const { return page; }

  static RowLayout queryLayout(QueryForm form);
  static RowLayout keyLayout(KeyForm form, PageLayout pages);
  RowLayout queryLayout() const { return queryLayout(qForm); }
  RowLayout keyLayout() const { return keyLayout(kvForm, pages); }

  /// The number of sequences.
  mlir::OpFoldResult buildBatchSize(mlir::OpBuilder &b, mlir::Location loc,
                                    AuxOperandValues aux) const;
  /// Bounds of every sequence's query and key lengths: the extents kernels
  /// iterate over (Sq, Tq; Skv, Tk, P * max_pages).
  mlir::OpFoldResult buildMaxQueryLength(mlir::OpBuilder &b,
                                         mlir::Location loc) const;
  mlir::OpFoldResult buildMaxKeyLength(mlir::OpBuilder &b, mlir::Location loc,
                                       AuxOperandValues aux) const;

  /// The query and key lengths of sequence `batch` (index values).
  mlir::Value buildQueryLength(mlir::OpBuilder &b, mlir::Location loc,
                               AuxReader &aux, mlir::Value batch) const;
  mlir::Value buildKeyLength(mlir::OpBuilder &b, mlir::Location loc,
                             AuxReader &aux, mlir::Value batch) const;

  /// The indices in q and o of element `col` of query row `row` (counted
  /// from the sequence's start) of (`batch`, `head`); without `col`, the
  /// indices in lse.
  llvm::SmallVector<mlir::Value>
  buildQueryIndices(mlir::OpBuilder &b, mlir::Location loc, AuxReader &aux,
                    mlir::Value batch, mlir::Value head, mlir::Value row,
                    mlir::Value col = {}) const;
  /// The indices in k (and v) of element `col` of key `row` of (`batch`,
  /// key/value head `kvHead`).
  llvm::SmallVector<mlir::Value>
  buildKeyIndices(mlir::OpBuilder &b, mlir::Location loc, AuxReader &aux,
                  mlir::Value batch, mlir::Value kvHead, mlir::Value row,
                  mlir::Value col) const;

private:
  QueryForm qForm;
  KeyForm kvForm;
  PageLayout pages;
  int64_t page = 0;
  mlir::Value q, k;
};

} // namespace attn

#endif // ATTN_DIALECT_SEQUENCELAYOUT_H
