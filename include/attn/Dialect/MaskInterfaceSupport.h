//===- MaskInterfaceSupport.h - Types of the mask interface -----*- C++ -*-===//
//
// The values MaskAttrInterface methods take and return. Every position and
// size is an IndexExpr, so one definition serves static analysis and IR.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_MASKINTERFACESUPPORT_H
#define ATTN_DIALECT_MASKINTERFACESUPPORT_H

#include "attn/Dialect/IndexExpr.h"

namespace attn {

/// Sizes of an attention op; dynamic ones are `ShapedType::kDynamic`.
struct AttentionShape {
  int64_t batch;
  int64_t qHeads;
  int64_t kvHeads;
  int64_t qLen;
  int64_t kvLen;
  int64_t headDim;
  int64_t valueDim;
};

/// What a mask may read besides the positions: the sequence lengths.
struct MaskContext {
  IndexExpr qLen;
  IndexExpr kvLen;
};

/// One (query, key) pair of one batch entry and query head.
struct MaskPoint {
  IndexExpr batch;
  IndexExpr head;
  IndexExpr q;
  IndexExpr kv;
};

/// A tile `[qLo, qHi) x [kvLo, kvHi)` of one batch entry and query head.
struct MaskTile {
  IndexExpr batch;
  IndexExpr head;
  IndexExpr qLo;
  IndexExpr qHi;
  IndexExpr kvLo;
  IndexExpr kvHi;
};

/// `empty`: no pair of the tile is allowed; `full`: every pair is. Neither
/// holding means partial.
struct TileClassExpr {
  PredExpr empty;
  PredExpr full;
};

/// A half-open range `[lo, hi)`.
struct IndexRange {
  IndexExpr lo;
  IndexExpr hi;
};

} // namespace attn

#endif // ATTN_DIALECT_MASKINTERFACESUPPORT_H
