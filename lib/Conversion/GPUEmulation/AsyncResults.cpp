//===- AsyncResults.cpp - wgmma results a thread may not read yet ---------===//

#include "AsyncResults.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace mlir;

namespace attn {
namespace gpu_emulation {

void AsyncResults::alias(Value v, Value from) {
  auto it = group.find(from);
  if (it != group.end())
    group[v] = it->second;
}

void AsyncResults::commit() {
  committed.push_back(open);
  open = next++;
}

void AsyncResults::wait(int64_t pending) {
  while (static_cast<int64_t>(committed.size()) > pending) {
    int64_t retired = committed.front();
    committed.erase(committed.begin());
    SmallVector<Value> done;
    for (const auto &[v, id] : group)
      if (id == retired)
        done.push_back(v);
    for (Value v : done)
      group.erase(v);
  }
}

int64_t AsyncResults::translate(const AsyncResults &other, int64_t id) const {
  if (id == other.open)
    return open;
  auto at = llvm::find(other.committed, id);
  return committed[at - other.committed.begin()];
}

bool AsyncResults::merge(const AsyncResults &other) {
  if (committed.size() != other.committed.size())
    return false;
  for (const auto &[v, id] : other.group)
    group.try_emplace(v, translate(other, id));
  next = std::max(next, other.next);
  return true;
}

void AsyncResults::aliasFrom(const AsyncResults &other, Value v, Value from) {
  auto it = other.group.find(from);
  if (it != other.group.end())
    group[v] = translate(other, it->second);
}

} // namespace gpu_emulation
} // namespace attn
