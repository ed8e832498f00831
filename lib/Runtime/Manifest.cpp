//===- Manifest.cpp - What a loader needs to launch a compiled kernel -----===//

#include "attn/Runtime/Manifest.h"
#include "attn/Runtime/Swizzle.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <set>

namespace attn::runtime {

namespace json = llvm::json;

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Expr
//===----------------------------------------------------------------------===//

static constexpr std::pair<Expr::Kind, llvm::StringLiteral> kOpNames[] = {
    {Expr::Kind::Add, "add"},         {Expr::Kind::Sub, "sub"},
    {Expr::Kind::Mul, "mul"},         {Expr::Kind::DivFloor, "div"},
    {Expr::Kind::CeilDiv, "ceildiv"}, {Expr::Kind::Rem, "rem"},
    {Expr::Kind::Max, "max"},         {Expr::Kind::Min, "min"}};

static llvm::StringRef opName(Expr::Kind kind) {
  for (auto [k, name] : kOpNames)
    if (k == kind)
      return name;
  return "?";
}

Expr Expr::constant(int64_t v) {
  Expr e;
  e.value = v;
  return e;
}

Expr Expr::dimension(llvm::StringRef name) {
  Expr e;
  e.kind = Kind::Dim;
  e.dim = name.str();
  return e;
}

Expr Expr::binary(Kind kind, Expr lhs, Expr rhs) {
  Expr e;
  e.kind = kind;
  e.lhs = std::make_shared<const Expr>(std::move(lhs));
  e.rhs = std::make_shared<const Expr>(std::move(rhs));
  return e;
}

llvm::Expected<int64_t> Expr::evaluate(const DimBindings &bindings) const {
  if (kind == Kind::Constant)
    return value;
  if (kind == Kind::Dim) {
    auto it = bindings.find(dim);
    if (it == bindings.end())
      return fail("a formula of the launch plan needs dimension " + dim +
                  ", which no tensor, choice or device property fixes");
    return it->second;
  }
  llvm::Expected<int64_t> a = lhs->evaluate(bindings);
  if (!a)
    return a.takeError();
  llvm::Expected<int64_t> b = rhs->evaluate(bindings);
  if (!b)
    return b.takeError();
  if ((kind == Kind::DivFloor || kind == Kind::CeilDiv || kind == Kind::Rem) &&
      *b == 0)
    return fail("division by zero in " + str());
  switch (kind) {
  case Kind::Add:
    return *a + *b;
  case Kind::Sub:
    return *a - *b;
  case Kind::Mul:
    return *a * *b;
  case Kind::DivFloor:
    return *a / *b;
  case Kind::CeilDiv:
    return (*a + *b - 1) / *b;
  case Kind::Rem:
    return *a % *b;
  case Kind::Max:
    return std::max(*a, *b);
  case Kind::Min:
    return std::min(*a, *b);
  default:
    return fail("malformed expression");
  }
}

std::string Expr::str() const {
  if (kind == Kind::Constant)
    return std::to_string(value);
  if (kind == Kind::Dim)
    return dim;
  return (opName(kind) + "(" + lhs->str() + ", " + rhs->str() + ")").str();
}

// JSON form: 64, "Sq", or ["ceildiv", "Sq", 64].
static json::Value exprToJSON(const Expr &e) {
  if (e.kind == Expr::Kind::Constant)
    return e.value;
  if (e.kind == Expr::Kind::Dim)
    return e.dim;
  return json::Array{opName(e.kind), exprToJSON(*e.lhs), exprToJSON(*e.rhs)};
}

static llvm::Expected<Expr> exprFromJSON(const json::Value &v) {
  if (std::optional<int64_t> c = v.getAsInteger())
    return Expr::constant(*c);
  if (std::optional<llvm::StringRef> s = v.getAsString())
    return Expr::dimension(*s);
  const json::Array *a = v.getAsArray();
  if (!a || a->size() != 3 || !(*a)[0].getAsString())
    return fail("malformed expression in the manifest");
  llvm::StringRef name = *(*a)[0].getAsString();
  std::optional<Expr::Kind> kind;
  for (auto [k, n] : kOpNames)
    if (n == name)
      kind = k;
  if (!kind)
    return fail("unknown operation '" + name + "' in the manifest");
  llvm::Expected<Expr> lhs = exprFromJSON((*a)[1]);
  if (!lhs)
    return lhs.takeError();
  llvm::Expected<Expr> rhs = exprFromJSON((*a)[2]);
  if (!rhs)
    return rhs.takeError();
  return Expr::binary(*kind, std::move(*lhs), std::move(*rhs));
}

//===----------------------------------------------------------------------===//
// Manifest <-> JSON
//===----------------------------------------------------------------------===//

static json::Value paramToJSON(const Param &p) {
  json::Array dims;
  for (const Dim &d : p.dims) {
    json::Object dim{{"name", d.name}};
    if (d.size != Dim::kDynamic)
      dim["size"] = d.size;
    if (!d.derivedFrom.empty()) {
      dim["derived_from"] = d.derivedFrom;
      dim["divisor"] = d.divisor;
    }
    dims.push_back(std::move(dim));
  }
  return json::Object{
      {"name", p.name}, {"dtype", dtypeName(p.dtype)}, {"dims", std::move(dims)}};
}

static llvm::StringRef roleName(KernelParam::Role role) {
  switch (role) {
  case KernelParam::Role::Input:
    return "input";
  case KernelParam::Role::Output:
    return "output";
  case KernelParam::Role::Workspace:
    return "workspace";
  }
  return "?";
}

std::string Manifest::describeKernels() const {
  std::string s = kernels.size() == 1 ? "kernel " : "kernels ";
  for (auto [i, k] : llvm::enumerate(kernels))
    s += (i ? ", '" : "'") + k.symbol + "'";
  return s;
}

json::Value Manifest::toJSON() const {
  auto params = [](const std::vector<Param> &ps) {
    json::Array a;
    for (const Param &p : ps)
      a.push_back(paramToJSON(p));
    return a;
  };
  auto triple = [](const std::array<Expr, 3> &e) {
    return json::Array{exprToJSON(e[0]), exprToJSON(e[1]), exprToJSON(e[2])};
  };
  json::Array choiceList;
  for (const Choice &c : choices)
    choiceList.push_back(
        json::Object{{"name", c.name}, {"value", exprToJSON(c.value)}});
  json::Array workspaceList;
  for (const Workspace &w : workspaces) {
    json::Array shape;
    for (const Expr &e : w.shape)
      shape.push_back(exprToJSON(e));
    workspaceList.push_back(json::Object{{"name", w.name},
                                         {"dtype", dtypeName(w.dtype)},
                                         {"shape", std::move(shape)}});
  }
  json::Array kernelList;
  for (const KernelLaunch &k : kernels) {
    json::Array kernelParams;
    for (const KernelParam &p : k.params) {
      if (p.kind == KernelParam::Kind::Index) {
        kernelParams.push_back(
            json::Object{{"abi", "i64"}, {"value", exprToJSON(p.value)}});
        continue;
      }
      if (p.kind == KernelParam::Kind::TensorMap) {
        json::Array box;
        for (int64_t size : p.box)
          box.push_back(size);
        kernelParams.push_back(json::Object{
            {"abi", "tensor-map"},
            {"tensor", signature.inputs[p.tensor].name},
            {"role", "input"},
            {"box", std::move(box)},
            {"swizzle_bytes", p.swizzle},
            {"layout", "ptr to a 128-byte CUtensorMap in device memory "
                       "(cuTensorMapEncodeTiled of the tensor, dimensions "
                       "innermost first, zero fill)"}});
        continue;
      }
      std::string name =
          p.role == KernelParam::Role::Workspace ? workspaces[p.tensor].name
          : p.role == KernelParam::Role::Output
              ? signature.outputs[p.tensor].name
              : signature.inputs[p.tensor].name;
      kernelParams.push_back(json::Object{
          {"abi", "memref-descriptor"},
          {"tensor", name},
          {"role", roleName(p.role)},
          {"rank", p.rank},
          {"layout", "ptr allocated, ptr aligned, i64 offset, i64 sizes[rank], "
                     "i64 strides[rank]"}});
    }
    kernelList.push_back(json::Object{
        {"symbol", k.symbol},
        {"params", std::move(kernelParams)},
        {"grid", triple(k.grid)},
        {"block", triple(k.block)},
        {"dynamic_shared_memory_bytes", exprToJSON(k.dynamicSharedMemory)}});
  }
  return json::Object{
      {"format", "attn-mlir kernel manifest"},
      {"version", kVersion},
      {"entry", signature.entry},
      {"chip", chip},
      {"binary_format", binaryFormat},
      {"spec_hash", specHash},
      {"compiler", compiler},
      {"inputs", params(signature.inputs)},
      {"outputs", params(signature.outputs)},
      {"choices", std::move(choiceList)},
      {"workspaces", std::move(workspaceList)},
      {"kernels", std::move(kernelList)},
      {"alignment_bytes", alignment},
      {"layout", "dense row-major tensors in device memory"}};
}

namespace {
/// Reads fields of one JSON object, remembering the first error.
class ObjectReader {
public:
  ObjectReader(const json::Value &v, llvm::StringRef what)
      : obj(v.getAsObject()), what(what.str()) {
    if (!obj)
      error = what.str() + " is not a JSON object";
  }
  const json::Value *field(llvm::StringRef key) {
    if (!obj)
      return nullptr;
    const json::Value *v = obj->get(key);
    if (!v && error.empty())
      error = what + " has no field '" + key.str() + "'";
    return v;
  }
  std::string string(llvm::StringRef key) {
    const json::Value *v = field(key);
    if (v && !v->getAsString() && error.empty())
      error = what + ": '" + key.str() + "' is not a string";
    return v && v->getAsString() ? v->getAsString()->str() : "";
  }
  int64_t integer(llvm::StringRef key) {
    const json::Value *v = field(key);
    if (v && !v->getAsInteger() && error.empty())
      error = what + ": '" + key.str() + "' is not an integer";
    return v && v->getAsInteger() ? *v->getAsInteger() : 0;
  }
  const json::Array *array(llvm::StringRef key) {
    const json::Value *v = field(key);
    if (v && !v->getAsArray() && error.empty())
      error = what + ": '" + key.str() + "' is not an array";
    return v ? v->getAsArray() : nullptr;
  }
  bool has(llvm::StringRef key) const { return obj && obj->get(key); }
  llvm::Error take() {
    return error.empty() ? llvm::Error::success() : fail(error);
  }
  void note(std::string message) {
    if (error.empty())
      error = std::move(message);
  }

private:
  const json::Object *obj;
  std::string what;
  std::string error;
};
} // namespace

static llvm::Expected<std::vector<Param>> paramsFromJSON(const json::Array *a,
                                                         llvm::StringRef role) {
  std::vector<Param> out;
  if (!a)
    return out;
  for (const json::Value &v : *a) {
    ObjectReader r(v, ("an " + role + " of the manifest").str());
    Param p;
    p.name = r.string("name");
    std::string dtype = r.string("dtype");
    if (std::optional<DType> t = parseDType(dtype))
      p.dtype = *t;
    else
      r.note("unknown dtype '" + dtype + "' for '" + p.name + "'");
    if (const json::Array *dims = r.array("dims"))
      for (const json::Value &dv : *dims) {
        ObjectReader dr(dv, "a dimension of '" + p.name + "'");
        Dim d;
        d.name = dr.string("name");
        if (dr.has("size"))
          d.size = dr.integer("size");
        if (dr.has("derived_from")) {
          d.derivedFrom = dr.string("derived_from");
          d.divisor = dr.integer("divisor");
        }
        if (llvm::Error e = dr.take())
          return std::move(e);
        p.dims.push_back(std::move(d));
      }
    if (llvm::Error e = r.take())
      return std::move(e);
    out.push_back(std::move(p));
  }
  return out;
}

/// The dimension names `e` uses, appended to `names`.
static void collectDims(const Expr &e, std::vector<std::string> &names) {
  if (e.kind == Expr::Kind::Dim)
    names.push_back(e.dim);
  if (e.lhs)
    collectDims(*e.lhs, names);
  if (e.rhs)
    collectDims(*e.rhs, names);
}

/// Reads a formula of the manifest, whose dimensions must be among `known`.
static llvm::Expected<Expr> formulaFromJSON(const json::Value &v,
                                            const std::set<std::string> &known,
                                            llvm::StringRef what) {
  llvm::Expected<Expr> e = exprFromJSON(v);
  if (!e)
    return e.takeError();
  std::vector<std::string> names;
  collectDims(*e, names);
  for (const std::string &name : names)
    if (!known.count(name))
      return fail(what + " uses '" + name +
                  "', which is no dimension of the signature, no earlier "
                  "choice and not '" + Manifest::kMultiprocessors + "'");
  return e;
}

llvm::Expected<Manifest> Manifest::fromJSON(const json::Value &value) {
  ObjectReader r(value, "the manifest");
  Manifest m;
  // The version decides what the other fields mean: check it first.
  if (r.has("version") && r.integer("version") != kVersion) {
    int64_t version = r.integer("version");
    if (version == 1)
      return fail("this is a version 1 manifest (one kernel per spec); this "
                  "runtime reads version 2 (launch plans of several "
                  "kernels): recompile the kernel with this attn-translate");
    return fail("manifest version " + llvm::Twine(version) +
                " is not supported (this runtime reads version " +
                llvm::Twine(kVersion) +
                "); recompile the kernel with this attn-translate");
  }
  r.integer("version");
  m.signature.entry = r.string("entry");
  m.chip = r.string("chip");
  m.binaryFormat = r.string("binary_format");
  m.specHash = r.string("spec_hash");
  m.compiler = r.string("compiler");
  m.alignment = r.integer("alignment_bytes");
  const json::Array *inputs = r.array("inputs");
  const json::Array *outputs = r.array("outputs");
  const json::Array *choices = r.array("choices");
  const json::Array *workspaces = r.array("workspaces");
  const json::Array *kernels = r.array("kernels");
  if (llvm::Error e = r.take())
    return std::move(e);

  auto ins = paramsFromJSON(inputs, "input");
  if (!ins)
    return ins.takeError();
  auto outs = paramsFromJSON(outputs, "output");
  if (!outs)
    return outs.takeError();
  m.signature.inputs = std::move(*ins);
  m.signature.outputs = std::move(*outs);

  // The names a formula may use, growing with each choice.
  std::set<std::string> known = {kMultiprocessors.str()};
  for (const Param &p : llvm::concat<const Param>(m.signature.inputs,
                                                  m.signature.outputs))
    for (const Dim &d : p.dims)
      known.insert(d.name);

  for (const json::Value &v : *choices) {
    ObjectReader cr(v, "a choice of the manifest");
    Choice c;
    c.name = cr.string("name");
    const json::Value *formula = cr.field("value");
    if (llvm::Error e = cr.take())
      return std::move(e);
    if (known.count(c.name))
      return fail("choice '" + c.name +
                  "' has the name of a dimension, a device property or an "
                  "earlier choice");
    llvm::Expected<Expr> e =
        formulaFromJSON(*formula, known, "choice '" + c.name + "'");
    if (!e)
      return e.takeError();
    c.value = std::move(*e);
    known.insert(c.name);
    m.choices.push_back(std::move(c));
  }

  for (const json::Value &v : *workspaces) {
    ObjectReader wr(v, "a workspace of the manifest");
    Workspace w;
    w.name = wr.string("name");
    std::string dtype = wr.string("dtype");
    const json::Array *shape = wr.array("shape");
    if (llvm::Error e = wr.take())
      return std::move(e);
    std::optional<DType> t = parseDType(dtype);
    if (!t)
      return fail("unknown dtype '" + dtype + "' for workspace '" + w.name +
                  "'");
    w.dtype = *t;
    for (const json::Value &size : *shape) {
      llvm::Expected<Expr> e =
          formulaFromJSON(size, known, "workspace '" + w.name + "'");
      if (!e)
        return e.takeError();
      w.shape.push_back(std::move(*e));
    }
    m.workspaces.push_back(std::move(w));
  }

  auto triple = [&](const json::Array *a, std::array<Expr, 3> &out,
                    const std::string &what) -> llvm::Error {
    if (a->size() != 3)
      return fail(what + ": grid and block need three expressions each");
    for (int i = 0; i < 3; ++i) {
      llvm::Expected<Expr> e = formulaFromJSON((*a)[i], known, what);
      if (!e)
        return e.takeError();
      out[i] = std::move(*e);
    }
    return llvm::Error::success();
  };
  for (const json::Value &kv : *kernels) {
    ObjectReader kr(kv, "a kernel of the manifest");
    KernelLaunch k;
    k.symbol = kr.string("symbol");
    const json::Array *params = kr.array("params");
    const json::Array *grid = kr.array("grid");
    const json::Array *block = kr.array("block");
    const json::Value *smem = kr.field("dynamic_shared_memory_bytes");
    if (llvm::Error e = kr.take())
      return std::move(e);
    std::string what = "kernel '" + k.symbol + "'";
    for (const json::Value &v : *params) {
      ObjectReader pr(v, "a parameter of " + what);
      KernelParam p;
      std::string abi = pr.string("abi");
      if (abi == "i64") {
        p.kind = KernelParam::Kind::Index;
        if (const json::Value *value = pr.field("value")) {
          llvm::Expected<Expr> e = formulaFromJSON(*value, known, what);
          if (!e)
            return e.takeError();
          p.value = std::move(*e);
        }
      } else if (abi == "tensor-map") {
        p.kind = KernelParam::Kind::TensorMap;
        std::string tensor = pr.string("tensor");
        const json::Array *box = pr.array("box");
        std::optional<int64_t> swizzle;
        if (const json::Value *v = pr.field("swizzle_bytes"))
          swizzle = v->getAsInteger();
        auto it = llvm::find_if(m.signature.inputs, [&](const Param &q) {
          return q.name == tensor;
        });
        if (it == m.signature.inputs.end())
          pr.note("a tensor map of " + what + " names unknown input '" +
                  tensor + "'");
        else
          p.tensor = it - m.signature.inputs.begin();
        if (!swizzle || !swizzleBits(*swizzle))
          pr.note("a tensor map of " + what +
                  " needs swizzle_bytes 0, 32, 64 or 128");
        else
          p.swizzle = *swizzle;
        if (box) {
          for (const json::Value &size : *box)
            if (std::optional<int64_t> v = size.getAsInteger())
              p.box.push_back(*v);
          if (p.box.size() != box->size() || p.box.empty() ||
              (it != m.signature.inputs.end() &&
               p.box.size() != it->dims.size()))
            pr.note("a tensor map of " + what +
                    " needs one integer box size per dimension of '" +
                    tensor + "'");
        }
      } else if (abi == "memref-descriptor") {
        std::string tensor = pr.string("tensor");
        std::string role = pr.string("role");
        p.rank = pr.integer("rank");
        // The names and ranks of the list the role selects.
        std::vector<std::pair<std::string, size_t>> list;
        if (role == "input" || role == "output") {
          p.role = role == "input" ? KernelParam::Role::Input
                                   : KernelParam::Role::Output;
          for (const Param &q : role == "input" ? m.signature.inputs
                                                : m.signature.outputs)
            list.emplace_back(q.name, q.dims.size());
        } else if (role == "workspace") {
          p.role = KernelParam::Role::Workspace;
          for (const Workspace &w : m.workspaces)
            list.emplace_back(w.name, w.shape.size());
        } else {
          pr.note("a parameter of " + what + " has unknown role '" + role +
                  "' (input, output or workspace)");
        }
        auto it = llvm::find_if(list, [&](const auto &q) {
          return q.first == tensor;
        });
        if (it == list.end())
          pr.note("a parameter of " + what + " names unknown " + role + " '" +
                  tensor + "'");
        else if (it->second != p.rank)
          pr.note("a parameter of " + what + " passes '" + tensor +
                  "' with rank " + std::to_string(p.rank) + " but it has rank " +
                  std::to_string(it->second));
        else
          p.tensor = it - list.begin();
      } else {
        pr.note("unknown parameter ABI '" + abi + "'");
      }
      if (llvm::Error e = pr.take())
        return std::move(e);
      k.params.push_back(std::move(p));
    }
    if (llvm::Error e = triple(grid, k.grid, what))
      return std::move(e);
    if (llvm::Error e = triple(block, k.block, what))
      return std::move(e);
    llvm::Expected<Expr> s = formulaFromJSON(*smem, known, what);
    if (!s)
      return s.takeError();
    k.dynamicSharedMemory = std::move(*s);
    m.kernels.push_back(std::move(k));
  }
  if (m.kernels.empty())
    return fail("the manifest lists no kernels");
  return m;
}

llvm::Expected<Manifest> Manifest::parse(llvm::StringRef text) {
  llvm::Expected<json::Value> v = json::parse(text);
  if (!v)
    return fail("the manifest is not valid JSON: " +
                llvm::toString(v.takeError()));
  return fromJSON(*v);
}

llvm::Expected<Manifest> Manifest::load(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return fail("cannot read manifest " + path + ": " +
                buffer.getError().message());
  llvm::Expected<Manifest> m = parse((*buffer)->getBuffer());
  if (!m)
    return fail(path + ": " + llvm::toString(m.takeError()));
  return m;
}

//===----------------------------------------------------------------------===//
// planLaunch
//===----------------------------------------------------------------------===//

bool LaunchPlan::empty() const {
  return llvm::all_of(launches,
                      [](const KernelLaunchPlan &l) { return l.empty; });
}

void LaunchPlan::setWorkspaceBase(void *base) {
  for (KernelLaunchPlan &launch : launches)
    for (auto [word, workspace] : launch.workspaceSlots) {
      int64_t address = static_cast<int64_t>(reinterpret_cast<intptr_t>(base)) +
                        workspaces[workspace].offset;
      launch.argStorage[word] = address;     // allocated
      launch.argStorage[word + 1] = address; // aligned
    }
}

void LaunchPlan::setTensorMapBase(void *base) {
  for (KernelLaunchPlan &launch : launches)
    for (auto [word, map] : launch.tensorMapSlots)
      launch.argStorage[word] =
          static_cast<int64_t>(reinterpret_cast<intptr_t>(base)) +
          int64_t(map) * TensorMapRequest::kBytes;
}

/// The tensor map of `p` over `t`, checked against what TMA allows
/// (cuTensorMapEncodeTiled): a 16-byte aligned address, byte strides that
/// are multiples of 16, boxes of 1 to 256 elements whose inner extent fits
/// the swizzle.
static llvm::Expected<TensorMapRequest>
planTensorMap(const KernelParam &p, const Param &param, const TensorRef &t) {
  TensorMapRequest r;
  r.address = t.data;
  r.dtype = t.dtype;
  r.rank = t.shape.size();
  r.swizzle = p.swizzle;
  std::string what = "the tensor map of '" + param.name + "'";
  if (r.rank < 1 || r.rank > 5 || p.box.size() != r.rank)
    return fail(what + ": TMA takes tensors of rank 1 to 5 with one box "
                       "size per dimension");
  if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0)
    return fail(what + ": the tensor is not 16-byte aligned");
  uint64_t elementBytes = dtypeSize(t.dtype);
  uint64_t stride = elementBytes;
  for (unsigned d = 0; d < r.rank; ++d) {
    unsigned dim = r.rank - 1 - d;
    r.dims[d] = uint64_t(std::max<int64_t>(t.shape[dim], 1));
    if (d > 0) {
      if (stride % 16 != 0)
        return fail(what + ": dimension " + llvm::Twine(dim + 1) +
                    " spans " + llvm::Twine(stride) +
                    " bytes, TMA needs a multiple of 16 (make the inner "
                    "dimension a multiple of " +
                    llvm::Twine(16 / elementBytes) + " elements)");
      r.strides[d - 1] = stride;
    }
    stride *= r.dims[d];
    int64_t box = p.box[dim];
    if (box < 1 || box > 256)
      return fail(what + ": a box of " + llvm::Twine(box) +
                  " elements; TMA takes 1 to 256");
    r.box[d] = uint32_t(box);
    r.elementStrides[d] = 1;
  }
  if (p.swizzle && r.box[0] * elementBytes > uint64_t(p.swizzle))
    return fail(what + ": the box's inner " +
                llvm::Twine(r.box[0] * elementBytes) + " bytes exceed the " +
                llvm::Twine(p.swizzle) + "-byte swizzle");
  return r;
}

/// Plans launch `index` of `m` under `bindings`: its geometry and packed
/// parameters (workspace and tensor map pointers left null; the tensor
/// maps go to `plan`).
static llvm::Expected<KernelLaunchPlan>
planKernel(const Manifest &m, unsigned index, LaunchPlan &plan,
           llvm::ArrayRef<TensorRef> inputs, llvm::ArrayRef<TensorRef> outputs) {
  const KernelLaunch &k = m.kernels[index];
  const DimBindings &bindings = plan.bindings;
  KernelLaunchPlan launch;
  launch.kernel = index;
  for (int i = 0; i < 3; ++i) {
    llvm::Expected<int64_t> g = k.grid[i].evaluate(bindings);
    if (!g)
      return g.takeError();
    llvm::Expected<int64_t> b = k.block[i].evaluate(bindings);
    if (!b)
      return b.takeError();
    launch.grid[i] = *g;
    launch.block[i] = *b;
    if (*g == 0)
      launch.empty = true;
    if (*g < 0 || *b <= 0)
      return fail("kernel '" + k.symbol + "': launch geometry " +
                  k.grid[i].str() + " x " + k.block[i].str() +
                  " evaluates to " + llvm::Twine(*g) + " x " + llvm::Twine(*b));
  }
  if (launch.grid[1] > 65535 || launch.grid[2] > 65535)
    return fail("kernel '" + k.symbol + "': grid " +
                describeShape(launch.grid) +
                " exceeds the 65535 limit of the y and z dimensions (heads "
                "and batch)");
  llvm::Expected<int64_t> smem = k.dynamicSharedMemory.evaluate(bindings);
  if (!smem)
    return smem.takeError();
  launch.dynamicSharedMemory = *smem;

  // Pack the parameters; the storage never moves after this.
  for (const KernelParam &p : k.params) {
    if (p.kind == KernelParam::Kind::Index) {
      llvm::Expected<int64_t> v = p.value.evaluate(bindings);
      if (!v)
        return v.takeError();
      launch.argStorage.push_back(*v);
      continue;
    }
    if (p.kind == KernelParam::Kind::TensorMap) {
      llvm::Expected<TensorMapRequest> r =
          planTensorMap(p, m.signature.inputs[p.tensor], inputs[p.tensor]);
      if (!r)
        return r.takeError();
      launch.tensorMapSlots.emplace_back(launch.argStorage.size(),
                                         plan.tensorMaps.size());
      plan.tensorMaps.push_back(*r);
      launch.argStorage.push_back(0);
      continue;
    }
    switch (p.role) {
    case KernelParam::Role::Input:
      appendMemrefDescriptor(inputs[p.tensor], launch.argStorage);
      break;
    case KernelParam::Role::Output:
      appendMemrefDescriptor(outputs[p.tensor], launch.argStorage);
      break;
    case KernelParam::Role::Workspace:
      launch.workspaceSlots.emplace_back(launch.argStorage.size(), p.tensor);
      appendMemrefDescriptor(TensorRef{nullptr, m.workspaces[p.tensor].dtype,
                                       plan.workspaces[p.tensor].shape},
                             launch.argStorage);
      break;
    }
  }
  for (int64_t &slot : launch.argStorage)
    launch.args.push_back(&slot);
  return launch;
}

llvm::Expected<std::unique_ptr<LaunchPlan>>
planLaunch(const Manifest &m, llvm::ArrayRef<TensorRef> inputs,
           llvm::ArrayRef<TensorRef> outputs, const DeviceProperties &device) {
  const KernelSignature &sig = m.signature;
  llvm::Expected<DimBindings> bindings = sig.bindCall(inputs, outputs);
  if (!bindings)
    return bindings.takeError();
  auto checkPointer = [&](const Param &param, const TensorRef &t,
                          llvm::StringRef role) -> llvm::Error {
    if (t.numElements() > 0 && !t.data)
      return fail(role + " '" + param.name + "' is a null pointer");
    if (m.alignment > 1 &&
        reinterpret_cast<uintptr_t>(t.data) % uint64_t(m.alignment) != 0)
      return fail(role + " '" + param.name + "' is not " +
                  llvm::Twine(m.alignment) +
                  "-byte aligned; the kernel copies it with 16-byte "
                  "asynchronous copies");
    return llvm::Error::success();
  };
  for (auto [param, t] : llvm::zip_equal(sig.inputs, inputs))
    if (llvm::Error e = checkPointer(param, t, "input"))
      return std::move(e);
  for (auto [param, t] : llvm::zip_equal(sig.outputs, outputs))
    if (llvm::Error e = checkPointer(param, t, "output"))
      return std::move(e);

  auto plan = std::make_unique<LaunchPlan>();
  plan->bindings = std::move(*bindings);
  if (device.multiprocessors <= 0)
    return fail("planning a launch needs the device's multiprocessor count, "
                "got " + llvm::Twine(device.multiprocessors));
  auto bind = [&](llvm::StringRef name, int64_t value) -> llvm::Error {
    if (!plan->bindings.try_emplace(name.str(), value).second)
      return fail("'" + name +
                  "' names both a run-time choice or device property and "
                  "another formula dimension; recompile the kernel");
    return llvm::Error::success();
  };
  if (llvm::Error e = bind(Manifest::kMultiprocessors, device.multiprocessors))
    return std::move(e);
  for (const Choice &c : m.choices) {
    llvm::Expected<int64_t> v = c.value.evaluate(plan->bindings);
    if (!v)
      return v.takeError();
    if (llvm::Error e = bind(c.name, *v))
      return std::move(e);
  }

  // All workspaces in one allocation, each at an aligned offset.
  for (const Workspace &w : m.workspaces) {
    LaunchPlan::WorkspacePlan ws;
    int64_t elements = 1;
    for (const Expr &size : w.shape) {
      llvm::Expected<int64_t> v = size.evaluate(plan->bindings);
      if (!v)
        return v.takeError();
      if (*v < 0)
        return fail("workspace '" + w.name + "' has size " + size.str() +
                    " = " + llvm::Twine(*v));
      ws.shape.push_back(*v);
      elements *= *v;
    }
    ws.bytes = elements * int64_t(dtypeSize(w.dtype));
    ws.offset = plan->workspaceBytes;
    plan->workspaceBytes +=
        llvm::alignTo(ws.bytes, LaunchPlan::kWorkspaceAlignment);
    plan->workspaces.push_back(std::move(ws));
  }

  for (unsigned i = 0; i < m.kernels.size(); ++i) {
    llvm::Expected<KernelLaunchPlan> launch =
        planKernel(m, i, *plan, inputs, outputs);
    if (!launch)
      return launch.takeError();
    plan->launches.push_back(std::move(*launch));
  }
  return plan;
}

} // namespace attn::runtime
