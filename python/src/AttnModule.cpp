//===- AttnModule.cpp - attn_mlir._native: the JIT for Python -------------===//
//
// A thin layer over attn::jit: compile() and Kernel.run() on any DLPack
// tensor (NumPy arrays, PyTorch CPU or CUDA tensors) without copies. The
// Python package (attn_mlir/__init__.py) builds specs, allocates outputs
// and checks arguments; errors here raise attn_mlir.Error with the MLIR
// diagnostics.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/FeatureMapSupport.h"
#include "attn/JIT/Jit.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

namespace nb = nanobind;
using namespace attn;

namespace {

/// Raised for every failure; attn_mlir re-exports it as attn_mlir.Error.
nb::object &errorType() {
  static nb::object type;
  return type;
}

[[noreturn]] void raise(llvm::Error e) {
  std::string message = llvm::toString(std::move(e));
  PyErr_SetString(errorType().ptr(), message.c_str());
  throw nb::python_error();
}

std::optional<runtime::DType> dtypeOf(const nb::dlpack::dtype &t) {
  using Code = nb::dlpack::dtype_code;
  switch (Code(t.code)) {
  case Code::Float:
    return t.bits == 16   ? std::optional(runtime::DType::F16)
           : t.bits == 32 ? std::optional(runtime::DType::F32)
           : t.bits == 64 ? std::optional(runtime::DType::F64)
                          : std::nullopt;
  case Code::Bfloat:
    return t.bits == 16 ? std::optional(runtime::DType::BF16) : std::nullopt;
  case Code::Int:
    return t.bits == 8    ? std::optional(runtime::DType::I8)
           : t.bits == 32 ? std::optional(runtime::DType::I32)
           : t.bits == 64 ? std::optional(runtime::DType::I64)
                          : std::nullopt;
  case Code::Bool:
    return runtime::DType::I1;
  default:
    return std::nullopt;
  }
}

using Array = nb::ndarray<nb::c_contig>;

runtime::TensorRef tensorOf(Array &a, const char *role, size_t index,
                            bool cuda) {
  std::optional<runtime::DType> dtype = dtypeOf(a.dtype());
  if (!dtype)
    raise(llvm::createStringError(llvm::inconvertibleErrorCode(),
                                  "%s %zu has an unsupported element type",
                                  role, index));
  bool onGpu = a.device_type() == nb::device::cuda::value;
  if (onGpu != cuda)
    raise(llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "%s %zu is in %s memory but the kernel runs on the %s", role, index,
        onGpu ? "GPU" : "host", cuda ? "GPU (target cuda)" : "CPU (target cpu)"));
  std::vector<int64_t> shape;
  for (size_t d = 0; d < a.ndim(); ++d)
    shape.push_back(int64_t(a.shape(d)));
  return runtime::TensorRef{a.data(), *dtype, std::move(shape)};
}

nb::list describe(const std::vector<runtime::Param> &params) {
  nb::list out;
  for (const runtime::Param &p : params) {
    nb::list dims;
    for (const runtime::Dim &d : p.dims)
      dims.append(nb::make_tuple(
          d.name,
          d.size == runtime::Dim::kDynamic ? nb::object(nb::none())
                                           : nb::object(nb::int_(d.size)),
          d.derivedFrom, d.divisor));
    out.append(nb::make_tuple(p.name, std::string(runtime::dtypeName(p.dtype)),
                              dims));
  }
  return out;
}

struct PyKernel {
  std::shared_ptr<const jit::Kernel> kernel;
  jit::Origin origin;
};

} // namespace

NB_MODULE(_native, m) {
  m.doc() = "attn-mlir's JIT (the C++ attn::jit API)";
  errorType() = nb::borrow(PyErr_NewExceptionWithDoc(
      "attn_mlir.Error",
      "A spec that does not compile or a call that does not fit it; the "
      "message carries the MLIR diagnostics.",
      PyExc_RuntimeError, nullptr));
  m.attr("Error") = errorType();

  nb::class_<PyKernel>(m, "NativeKernel")
      .def_prop_ro("inputs",
                   [](const PyKernel &k) {
                     return describe(k.kernel->signature().inputs);
                   })
      .def_prop_ro("outputs",
                   [](const PyKernel &k) {
                     return describe(k.kernel->signature().outputs);
                   })
      .def_prop_ro("entry",
                   [](const PyKernel &k) { return k.kernel->signature().entry; })
      .def_prop_ro("target",
                   [](const PyKernel &k) {
                     return k.kernel->target() == jit::Target::Cpu ? "cpu"
                                                                   : "cuda";
                   })
      .def_prop_ro("origin",
                   [](const PyKernel &k) {
                     switch (k.origin) {
                     case jit::Origin::Compiled:
                       return "compiled";
                     case jit::Origin::MemoryCache:
                       return "memory cache";
                     case jit::Origin::DiskCache:
                       return "disk cache";
                     }
                     return "?";
                   })
      .def(
          "output_shapes",
          [](const PyKernel &k,
             const std::vector<std::pair<std::string, std::vector<int64_t>>>
                 &inputs) {
            const runtime::KernelSignature &sig = k.kernel->signature();
            std::vector<runtime::TensorRef> refs;
            for (const auto &[dtype, shape] : inputs) {
              std::optional<runtime::DType> t = runtime::parseDType(dtype);
              if (!t)
                raise(llvm::createStringError(llvm::inconvertibleErrorCode(),
                                              "unknown dtype '%s'",
                                              dtype.c_str()));
              refs.push_back(runtime::TensorRef{nullptr, *t, shape});
            }
            llvm::Expected<runtime::DimBindings> bindings = sig.bind(refs);
            if (!bindings)
              raise(bindings.takeError());
            std::vector<std::vector<int64_t>> shapes;
            for (const runtime::Param &p : sig.outputs) {
              auto shape = sig.shapeOf(p, *bindings);
              if (!shape)
                raise(shape.takeError());
              shapes.push_back(std::move(*shape));
            }
            return shapes;
          },
          nb::arg("inputs"),
          "The output shapes for inputs given as (dtype, shape); checks "
          "dtypes, ranks and sizes as a call does.")
      .def(
          "run",
          [](const PyKernel &k, std::vector<Array> inputs,
             std::vector<Array> outputs, uintptr_t stream) {
            bool cuda = k.kernel->target() == jit::Target::Cuda;
            std::vector<runtime::TensorRef> ins, outs;
            for (size_t i = 0; i < inputs.size(); ++i)
              ins.push_back(tensorOf(inputs[i], "input", i, cuda));
            for (size_t i = 0; i < outputs.size(); ++i)
              outs.push_back(tensorOf(outputs[i], "output", i, cuda));
            llvm::Error e = llvm::Error::success();
            {
              nb::gil_scoped_release release;
              e = k.kernel->run(ins, outs, reinterpret_cast<void *>(stream));
            }
            if (e)
              raise(std::move(e));
          },
          nb::arg("inputs"), nb::arg("outputs"), nb::arg("stream") = 0,
          "Runs on C-contiguous DLPack tensors (host for cpu, device for "
          "cuda, asynchronously on `stream`).");

  m.def(
      "compile",
      [](const std::string &spec, const std::string &target,
         const std::string &entry, int64_t tileQ, int64_t tileKv,
         int64_t chunkSize, bool parallel, const std::string &chip,
         int64_t warps, int device,
         const std::string &cacheDir, bool diskCache) {
        jit::Options o;
        if (target == "cpu")
          o.target = jit::Target::Cpu;
        else if (target == "cuda")
          o.target = jit::Target::Cuda;
        else
          raise(llvm::createStringError(
              llvm::inconvertibleErrorCode(),
              "unknown target '%s': use 'cpu' or 'cuda'", target.c_str()));
        o.entry = entry;
        o.tileQ = tileQ;
        o.tileKv = tileKv;
        o.chunkSize = chunkSize;
        o.parallel = parallel;
        o.chip = chip;
        o.warps = warps;
        o.device = device;
        o.cacheDir = cacheDir;
        o.diskCache = diskCache;
        llvm::Expected<jit::CompileResult> r = [&] {
          nb::gil_scoped_release release;
          return jit::compile(spec, o);
        }();
        if (!r)
          raise(r.takeError());
        return PyKernel{r->kernel, r->origin};
      },
      nb::arg("spec"), nb::arg("target") = "cpu", nb::arg("entry") = "",
      nb::arg("tile_q") = 64, nb::arg("tile_kv") = 64,
      nb::arg("chunk_size") = 64, nb::arg("parallel") = true,
      nb::arg("chip") = "", nb::arg("warps") = 4,
      nb::arg("device") = 0, nb::arg("cache_dir") = "",
      nb::arg("disk_cache") = true);
  m.def(
      "classify_mask_block",
      [](const std::string &mask, int64_t qLen, int64_t kvLen, int64_t qLo,
         int64_t qHi, int64_t kvLo, int64_t kvHi) {
        llvm::Expected<std::string> kind =
            jit::classifyMaskBlock(mask, qLen, kvLen, qLo, qHi, kvLo, kvHi);
        if (!kind)
          raise(kind.takeError());
        return *kind;
      },
      nb::arg("mask"), nb::arg("q_len"), nb::arg("kv_len"), nb::arg("q_lo"),
      nb::arg("q_hi"), nb::arg("kv_lo"), nb::arg("kv_hi"),
      "\"empty\", \"full\" or \"partial\": the mask on a block of the "
      "score matrix.");
  m.def("clear_memory_cache", &jit::clearMemoryCache);
  m.def(
      "favor_weights",
      [](int64_t features, int64_t headDim, uint64_t seed, bool orthogonal) {
        if (features < 1 || headDim < 1)
          raise(llvm::createStringError(
              "favor_weights: features and head_dim must be >= 1, got " +
              std::to_string(features) + " and " + std::to_string(headDim)));
        return generateFavorWeights(features, headDim, seed, orthogonal);
      },
      nb::arg("features"), nb::arg("head_dim"), nb::arg("seed"),
      nb::arg("orthogonal") = true,
      "The W [features, head_dim] (row-major) that #attn.favor<features, "
      "seed, orthogonal> generates.");
}
