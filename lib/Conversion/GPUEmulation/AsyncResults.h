//===- AsyncResults.h - wgmma results a thread may not read yet -*- C++ -*-===//
//
// A wgmma writes its accumulator registers (and reads its shared-memory
// operands) until a wgmma.wait.group retires its group. The emulator
// computes the product at once, so it checks statically, along its walk of
// the kernel in program order, that nothing observes the difference:
// nothing reads a result before its group is retired, except a later
// wgmma taking it as its accumulator (the chain) or a rename
// (vector.shape_cast); no value in flight is carried across a loop
// iteration; no mbarrier arrival releases shared memory while a product
// may still read it. Branches with results merge what each leaves in
// flight.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_CONVERSION_GPUEMULATION_ASYNCRESULTS_H
#define ATTN_CONVERSION_GPUEMULATION_ASYNCRESULTS_H

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

namespace attn {
namespace gpu_emulation {

class AsyncResults {
public:
  /// `v` joins the open (not yet committed) group.
  void issue(mlir::Value v) { group[v] = open; }
  /// `v` is `from` renamed: it is in flight as long as `from` is.
  void alias(mlir::Value v, mlir::Value from);
  /// wgmma.commit_group: the open group becomes the newest committed one.
  void commit();
  /// wgmma.wait_group `pending`: retires all committed groups but the
  /// `pending` newest.
  void wait(int64_t pending);
  bool inFlight(mlir::Value v) const { return group.count(v); }
  /// Whether any product may still run.
  bool any() const { return !group.empty(); }

  /// The state after a branch of an scf.if: `snapshot()` before the walk of
  /// each branch, `restore` between them, `merge` the first branch's end
  /// state into the second's. Fails (returns false) when the branches
  /// commit different numbers of groups.
  AsyncResults snapshot() const { return *this; }
  void restore(const AsyncResults &s) { *this = s; }
  bool merge(const AsyncResults &other);
  /// The group position of `v` in `other`'s numbering, aliased here (a
  /// branch result yielded in flight by the other branch).
  void aliasFrom(const AsyncResults &other, mlir::Value v, mlir::Value from);

private:
  /// Group numbers: committed ones oldest first, then the open one.
  llvm::DenseMap<mlir::Value, int64_t> group;
  llvm::SmallVector<int64_t> committed;
  int64_t open = 0, next = 1;
  int64_t translate(const AsyncResults &other, int64_t id) const;
};

} // namespace gpu_emulation
} // namespace attn

#endif // ATTN_CONVERSION_GPUEMULATION_ASYNCRESULTS_H
