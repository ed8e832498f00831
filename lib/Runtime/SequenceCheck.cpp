//===- SequenceCheck.cpp - The data contract of packed and paged inputs ---===//

#include "attn/Runtime/SequenceCheck.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"

#include <cstring>
#include <set>

namespace attn::runtime {

namespace {

constexpr llvm::StringLiteral kRoles[] = {
    "cu_seqlens_q", "cu_seqlens_kv", "block_table", "kv_lens", "positions"};

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The inputs of one op: its q, k and sequence inputs, found by their role
/// names plus the op's suffix ("" for the first op, "_1", ...).
class OpInputs {
public:
  OpInputs(const KernelSignature &sig, llvm::ArrayRef<TensorRef> inputs,
           llvm::StringRef suffix)
      : sig(sig), inputs(inputs), suffix(suffix.str()) {}

  /// The input named `role` + suffix, or null.
  const TensorRef *find(llvm::StringRef role, const Param **param = nullptr) {
    std::string name = (role + suffix).str();
    for (auto [p, t] : llvm::zip(sig.inputs, inputs))
      if (p.name == name) {
        if (param)
          *param = &p;
        return &t;
      }
    return nullptr;
  }
  std::string name(llvm::StringRef role) const { return (role + suffix).str(); }

private:
  const KernelSignature &sig;
  llvm::ArrayRef<TensorRef> inputs;
  std::string suffix;
};

/// Element `i` of an integer tensor (the verifier makes them i32).
int64_t element(const TensorRef &t, int64_t i) {
  int32_t v;
  std::memcpy(&v, static_cast<const char *>(t.data) + i * sizeof(int32_t),
              sizeof(v));
  return v;
}

llvm::Error checkCumulative(OpInputs &op, llvm::StringRef role,
                            llvm::StringRef rows, llvm::StringRef total) {
  const TensorRef *cu = op.find(role);
  const TensorRef *packed = op.find(rows);
  if (!cu || !packed)
    return llvm::Error::success();
  std::string name = op.name(role);
  int64_t n = cu->numElements();
  if (n == 0)
    return fail("'" + name + "' is empty: it holds B + 1 entries, from 0");
  if (element(*cu, 0) != 0)
    return fail("'" + name + "'[0] = " + llvm::Twine(element(*cu, 0)) +
                ": cumulative lengths start at 0");
  for (int64_t i = 1; i < n; ++i)
    if (element(*cu, i) < element(*cu, i - 1))
      return fail("'" + name + "'[" + llvm::Twine(i) + "] = " +
                  llvm::Twine(element(*cu, i)) + " is less than '" + name +
                  "'[" + llvm::Twine(i - 1) + "] = " +
                  llvm::Twine(element(*cu, i - 1)) +
                  ": cumulative lengths never decrease");
  int64_t last = element(*cu, n - 1), size = packed->shape[0];
  if (last != size)
    return fail("'" + name + "' ends at " + llvm::Twine(last) + " but '" +
                op.name(rows) + "' holds " + llvm::Twine(size) + " rows (" +
                total + "): the last entry is the number of packed rows");
  return llvm::Error::success();
}

llvm::Error checkCache(OpInputs &op) {
  const Param *kParam = nullptr;
  const TensorRef *lens = op.find("kv_lens");
  const TensorRef *table = op.find("block_table");
  const TensorRef *k = op.find("k", &kParam);
  if (!lens || !table || !k)
    return llvm::Error::success();
  // The page size is k's static dimension P (NHD: 1, HND: 2).
  int64_t pageSize = 0;
  for (auto [dim, size] : llvm::zip(kParam->dims, k->shape))
    if (dim.name == "P" || llvm::StringRef(dim.name).starts_with("P_"))
      pageSize = size;
  int64_t pages = k->shape[0];
  int64_t sequences = table->shape[0], maxPages = table->shape[1];
  int64_t capacity = pageSize * maxPages;
  for (int64_t b = 0; b < lens->numElements(); ++b) {
    int64_t n = element(*lens, b);
    std::string at = "'" + op.name("kv_lens") + "'[" + std::to_string(b) + "]";
    if (n < 0)
      return fail(at + " = " + llvm::Twine(n) + " is negative");
    if (n > capacity)
      return fail(at + " = " + llvm::Twine(n) + " is more than the block table "
                  "holds (" + llvm::Twine(maxPages) + " pages of " +
                  llvm::Twine(pageSize) + " keys = " + llvm::Twine(capacity) +
                  "): widen '" + op.name("block_table") + "'");
    if (b >= sequences)
      continue;
    int64_t used = (n + pageSize - 1) / pageSize;
    for (int64_t j = 0; j < used; ++j) {
      int64_t page = element(*table, b * maxPages + j);
      if (page < 0 || page >= pages)
        return fail("'" + op.name("block_table") + "'[" + llvm::Twine(b) +
                    ", " + llvm::Twine(j) + "] = " + llvm::Twine(page) +
                    " is not a page of the cache: '" + op.name("k") +
                    "' has " + llvm::Twine(pages) + " pages, and the " +
                    llvm::Twine(used) + " pages sequence " + llvm::Twine(b) +
                    " uses (" + at + " = " + llvm::Twine(n) +
                    ") must lie in [0, " + llvm::Twine(pages) + ")");
    }
  }
  return llvm::Error::success();
}

/// A shard lies in its sequence: 0 <= offset and offset + length <= total,
/// for the queries and the keys (the `positions` operand, i32 or i64).
llvm::Error checkPositions(OpInputs &op) {
  const TensorRef *positions = op.find("positions");
  const TensorRef *q = op.find("q");
  const TensorRef *k = op.find("k");
  if (!positions || !q || !k || q->shape.size() != 4 || k->shape.size() != 4)
    return llvm::Error::success();
  auto at = [&](int64_t i) -> int64_t {
    const char *base = static_cast<const char *>(positions->data);
    if (positions->dtype == DType::I64) {
      int64_t v;
      std::memcpy(&v, base + i * sizeof(v), sizeof(v));
      return v;
    }
    return element(*positions, i);
  };
  struct Side {
    const char *what;
    int64_t offset, length, total;
  };
  Side sides[] = {{"q", at(0), q->shape[2], at(2)},
                  {"kv", at(1), k->shape[2], at(3)}};
  for (const Side &s : sides)
    if (s.offset < 0 || s.offset + s.length > s.total)
      return fail("'" + op.name("positions") + "' places " +
                  llvm::Twine(s.length) + " " + s.what + " rows at " +
                  llvm::Twine(s.offset) + " of " + llvm::Twine(s.total) +
                  ": need 0 <= " + s.what + "_offset and " + s.what +
                  "_offset + length <= " + s.what + "_total");
  return llvm::Error::success();
}

/// Every description of the batch agrees: the cumulative lengths (B + 1),
/// the block table's rows and kv_lens (B), and a dense q (B).
llvm::Error checkBatch(OpInputs &op) {
  struct Count {
    std::string what;
    int64_t sequences;
  };
  std::vector<Count> counts;
  for (llvm::StringRef role : {"cu_seqlens_q", "cu_seqlens_kv"})
    if (const TensorRef *t = op.find(role))
      counts.push_back({"size('" + op.name(role) + "') - 1",
                        int64_t(t->shape[0]) - 1});
  for (llvm::StringRef role : {"block_table", "kv_lens"})
    if (const TensorRef *t = op.find(role))
      counts.push_back({"size('" + op.name(role) + "', 0)", t->shape[0]});
  const TensorRef *q = op.find("q");
  if (q && q->shape.size() == 4)
    counts.push_back({"the batch size of '" + op.name("q") + "'", q->shape[0]});
  for (const Count &c : counts)
    if (c.sequences != counts.front().sequences)
      return fail("the number of sequences differs: " + counts.front().what +
                  " is " + llvm::Twine(counts.front().sequences) + " but " +
                  c.what + " is " + llvm::Twine(c.sequences));
  return llvm::Error::success();
}

/// The op suffixes of `sig`'s sequence inputs.
std::set<std::string> suffixes(const KernelSignature &sig) {
  std::set<std::string> found;
  for (const Param &p : sig.inputs)
    for (llvm::StringRef role : kRoles) {
      llvm::StringRef name = p.name;
      if (!name.consume_front(role))
        continue;
      // cu_seqlens_q is a prefix of no other role; "_<n>" is an op suffix.
      if (name.empty() || (name.front() == '_' &&
                           llvm::all_of(name.drop_front(), [](char c) { return llvm::isDigit(c); })))
        found.insert(name.str());
    }
  return found;
}

} // namespace

bool hasSequenceInputs(const KernelSignature &sig) {
  return !suffixes(sig).empty();
}

llvm::Error checkSequenceInputs(const KernelSignature &sig,
                                llvm::ArrayRef<TensorRef> inputs) {
  for (const std::string &suffix : suffixes(sig)) {
    OpInputs op(sig, inputs, suffix);
    if (llvm::Error e = checkBatch(op))
      return e;
    if (llvm::Error e = checkCumulative(op, "cu_seqlens_q", "q", "Tq"))
      return e;
    if (llvm::Error e = checkCumulative(op, "cu_seqlens_kv", "k", "Tk"))
      return e;
    if (llvm::Error e = checkCache(op))
      return e;
    if (llvm::Error e = checkPositions(op))
      return e;
  }
  return llvm::Error::success();
}

} // namespace attn::runtime
