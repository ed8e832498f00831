//===- Report.cpp - Mask density and tile classes of attention ops --------===//

#include "attn/Dialect/MaskAnalysis.h"
#include "attn/Transforms/Passes.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace attn {
#define GEN_PASS_DEF_ATTNREPORT
#include "attn/Dialect/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {

struct AttnReportPass : attn::impl::AttnReportBase<AttnReportPass> {
  using Base::Base;

  void runOnOperation() override {
    if (tileQ < 1 || tileKv < 1) {
      getOperation()->emitError() << "attn-report: tile sizes must be >= 1";
      return signalPassFailure();
    }
    getOperation()->walk([&](AttentionOp op) { report(op); });
  }

  void report(AttentionOp op) {
    AttentionShape shape = op.getShape();
    int64_t sq = ShapedType::isDynamic(shape.qLen) ? qLen : shape.qLen;
    int64_t skv = ShapedType::isDynamic(shape.kvLen) ? kvLen : shape.kvLen;
    if (sq < 1 || skv < 1) {
      op.emitRemark() << "attn-report: Sq or Skv is dynamic; pass "
                         "q-len=N kv-len=N to analyze the mask";
      return;
    }
    MaskAttrInterface mask = op.getMaskAttr();
    bool hasMaskMod = !op.getMaskMod().empty();
    // The tiles a kernel would use.
    auto [tq, tk] = alignTileSizes(mask, tileQ, tileKv);
    TileCounts tiles = countTiles(mask, sq, skv, tq, tk);
    // The mask_mod region is opaque: tiles it could cut are partial.
    if (hasMaskMod) {
      tiles.partial += tiles.full;
      tiles.full = 0;
    }
    int64_t total = tiles.empty + tiles.full + tiles.partial;

    std::string text;
    llvm::raw_string_ostream os(text);
    os << "attn-report: Sq = " << sq << ", Skv = " << skv << ", mask ";
    if (mask)
      os << mask;
    else
      os << "none";
    if (hasMaskMod)
      os << " and mask_mod";
    os << "\n  density: ";
    std::optional<double> d = hasMaskMod ? std::nullopt : density(mask, sq, skv);
    if (d)
      os << llvm::format("%.4f", *d);
    else
      os << "unknown (depends on run-time data or a mask_mod region)";
    os << "\n  " << tq << "x" << tk << " tiles: " << tiles.empty << " empty, "
       << tiles.full << " full, " << tiles.partial << " partial";
    if (tiles.dataDependent)
      os << " (" << tiles.dataDependent << " classified at run time)";
    os << " of " << total << "; a kernel visits "
       << llvm::format("%.1f%%",
                       total ? 100.0 * (tiles.full + tiles.partial) / total
                             : 0.0)
       << " of the tiles";
    if (FeatureMapAttrInterface estimate = op.getApproximationAttr()) {
      // The mask is the exact support; no backward exists.
      os << "\n  approximation " << estimate << ": the pairs outside the "
         << "support get " << estimate.getFeatureDim(shape.headDim)
         << "-feature estimates, from one state over all keys per key/value "
            "head"
         << (op.getOLinear() ? ", returned apart as o_linear (SLA)"
                             : ", joined to the support's softmax");
      op.emitRemark() << text;
      return;
    }
    // The backward's key-tile loops walk each key tile's query range (a
    // mask_mod region only removes pairs: the attribute's ranges hold).
    int64_t backward = countBackwardTiles(mask, sq, skv, tq, tk);
    os << "\n  backward: its key-tile loops visit " << backward << " of "
       << total << " tiles ("
       << llvm::format("%.1f%%", total ? 100.0 * backward / total : 0.0)
       << ")";
    op.emitRemark() << text;
  }
};

} // namespace
