//===- Manifest.cpp - What a loader needs to launch a compiled kernel -----===//

#include "attn/Runtime/Manifest.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/MemoryBuffer.h"

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
      return fail("the launch geometry needs dimension " + dim +
                  ", which no tensor fixes");
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

json::Value Manifest::toJSON() const {
  auto params = [](const std::vector<Param> &ps) {
    json::Array a;
    for (const Param &p : ps)
      a.push_back(paramToJSON(p));
    return a;
  };
  json::Array kernelParams;
  for (const KernelParam &p : this->params) {
    if (p.kind == KernelParam::Kind::Index) {
      kernelParams.push_back(
          json::Object{{"abi", "i64"}, {"value", exprToJSON(p.value)}});
      continue;
    }
    const std::vector<Param> &list =
        p.isOutput ? signature.outputs : signature.inputs;
    kernelParams.push_back(json::Object{
        {"abi", "memref-descriptor"},
        {"tensor", list[p.tensor].name},
        {"role", p.isOutput ? "output" : "input"},
        {"rank", p.rank},
        {"layout", "ptr allocated, ptr aligned, i64 offset, i64 sizes[rank], "
                   "i64 strides[rank]"}});
  }
  auto triple = [](const std::array<Expr, 3> &e) {
    return json::Array{exprToJSON(e[0]), exprToJSON(e[1]), exprToJSON(e[2])};
  };
  return json::Object{
      {"format", "attn-mlir kernel manifest"},
      {"version", kVersion},
      {"kernel", kernel},
      {"entry", signature.entry},
      {"chip", chip},
      {"binary_format", binaryFormat},
      {"spec_hash", specHash},
      {"compiler", compiler},
      {"inputs", params(signature.inputs)},
      {"outputs", params(signature.outputs)},
      {"params", std::move(kernelParams)},
      {"grid", triple(grid)},
      {"block", triple(block)},
      {"dynamic_shared_memory_bytes", exprToJSON(dynamicSharedMemory)},
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

llvm::Expected<Manifest> Manifest::fromJSON(const json::Value &value) {
  ObjectReader r(value, "the manifest");
  Manifest m;
  if (r.integer("version") != kVersion && r.has("version"))
    r.note("manifest version " + std::to_string(r.integer("version")) +
           " is not supported (this runtime reads version " +
           std::to_string(kVersion) + "); recompile the kernel");
  m.kernel = r.string("kernel");
  m.signature.entry = r.string("entry");
  m.chip = r.string("chip");
  m.binaryFormat = r.string("binary_format");
  m.specHash = r.string("spec_hash");
  m.compiler = r.string("compiler");
  m.alignment = r.integer("alignment_bytes");
  const json::Array *inputs = r.array("inputs");
  const json::Array *outputs = r.array("outputs");
  const json::Array *params = r.array("params");
  const json::Array *grid = r.array("grid");
  const json::Array *block = r.array("block");
  const json::Value *smem = r.field("dynamic_shared_memory_bytes");
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

  for (const json::Value &v : *params) {
    ObjectReader pr(v, "a kernel parameter of the manifest");
    KernelParam p;
    std::string abi = pr.string("abi");
    if (abi == "i64") {
      p.kind = KernelParam::Kind::Index;
      if (const json::Value *value = pr.field("value")) {
        llvm::Expected<Expr> e = exprFromJSON(*value);
        if (!e)
          return e.takeError();
        p.value = std::move(*e);
      }
    } else if (abi == "memref-descriptor") {
      std::string tensor = pr.string("tensor");
      p.isOutput = pr.string("role") == "output";
      p.rank = pr.integer("rank");
      const std::vector<Param> &list =
          p.isOutput ? m.signature.outputs : m.signature.inputs;
      auto it = llvm::find_if(
          list, [&](const Param &q) { return q.name == tensor; });
      if (it == list.end())
        pr.note("kernel parameter for unknown tensor '" + tensor + "'");
      else if (it->dims.size() != p.rank)
        pr.note("kernel parameter for '" + tensor + "' has rank " +
                std::to_string(p.rank) + " but the tensor has rank " +
                std::to_string(it->dims.size()));
      else
        p.tensor = it - list.begin();
    } else {
      pr.note("unknown parameter ABI '" + abi + "'");
    }
    if (llvm::Error e = pr.take())
      return std::move(e);
    m.params.push_back(std::move(p));
  }
  auto triple = [](const json::Array *a,
                   std::array<Expr, 3> &out) -> llvm::Error {
    if (a->size() != 3)
      return fail("grid and block need three expressions each");
    for (int i = 0; i < 3; ++i) {
      llvm::Expected<Expr> e = exprFromJSON((*a)[i]);
      if (!e)
        return e.takeError();
      out[i] = std::move(*e);
    }
    return llvm::Error::success();
  };
  if (llvm::Error e = triple(grid, m.grid))
    return std::move(e);
  if (llvm::Error e = triple(block, m.block))
    return std::move(e);
  llvm::Expected<Expr> s = exprFromJSON(*smem);
  if (!s)
    return s.takeError();
  m.dynamicSharedMemory = std::move(*s);
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

llvm::Expected<std::unique_ptr<LaunchPlan>>
planLaunch(const Manifest &m, llvm::ArrayRef<TensorRef> inputs,
           llvm::ArrayRef<TensorRef> outputs) {
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
  for (int i = 0; i < 3; ++i) {
    llvm::Expected<int64_t> g = m.grid[i].evaluate(*bindings);
    if (!g)
      return g.takeError();
    llvm::Expected<int64_t> b = m.block[i].evaluate(*bindings);
    if (!b)
      return b.takeError();
    plan->grid[i] = *g;
    plan->block[i] = *b;
    if (*g == 0)
      plan->empty = true;
    if (*g < 0 || *b <= 0)
      return fail("launch geometry " + m.grid[i].str() + " x " +
                  m.block[i].str() + " evaluates to " + llvm::Twine(*g) +
                  " x " + llvm::Twine(*b));
  }
  if (plan->grid[1] > 65535 || plan->grid[2] > 65535)
    return fail("grid " + describeShape(plan->grid) +
                " exceeds the 65535 limit of the y and z dimensions (heads "
                "and batch)");
  llvm::Expected<int64_t> smem = m.dynamicSharedMemory.evaluate(*bindings);
  if (!smem)
    return smem.takeError();
  plan->dynamicSharedMemory = *smem;

  // Pack the parameters; the storage never moves after this.
  for (const KernelParam &p : m.params) {
    if (p.kind == KernelParam::Kind::Index) {
      llvm::Expected<int64_t> v = p.value.evaluate(*bindings);
      if (!v)
        return v.takeError();
      plan->argStorage.push_back(*v);
      continue;
    }
    appendMemrefDescriptor(p.isOutput ? outputs[p.tensor] : inputs[p.tensor],
                           plan->argStorage);
  }
  for (int64_t &slot : plan->argStorage)
    plan->args.push_back(&slot);
  return plan;
}

} // namespace attn::runtime
