//===- attn-run.cpp - Run a spec on .npy or random inputs -----------------===//
//
//   attn-run SPEC.mlir [--entry NAME] --input q=q.npy ... --output o=o.npy
//   attn-run SPEC.mlir --random --seed 7 --dim Sq=37 --check
//
// Compiles the spec for the host, runs it, writes outputs as .npy, and with
// --check compares against the float64 reference (the attn-reference
// lowering computed in double precision on the same rounded inputs).
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/JIT/Jit.h"
#include "attn/Runtime/SequenceCheck.h"
#include "attn/Support/HostTensor.h"
#include "attn/Support/Npy.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <limits>
#include <map>

using namespace attn;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

llvm::cl::OptionCategory category("attn-run options");

llvm::cl::opt<std::string> specPath(llvm::cl::Positional, llvm::cl::Required,
                                    llvm::cl::desc("<spec.mlir>"),
                                    llvm::cl::cat(category));
llvm::cl::opt<std::string>
    entryName("entry", llvm::cl::desc("Function to run (default: the only one)"),
              llvm::cl::value_desc("name"), llvm::cl::cat(category));
llvm::cl::list<std::string>
    inputFiles("input", llvm::cl::desc("Input from a .npy file"),
               llvm::cl::value_desc("name=file.npy"), llvm::cl::cat(category));
llvm::cl::list<std::string>
    outputFiles("output", llvm::cl::desc("Write an output as .npy"),
                llvm::cl::value_desc("name=file.npy"), llvm::cl::cat(category));
enum class Target { Cpu, GpuEmulation, Cuda };
llvm::cl::opt<Target> target(
    "target", llvm::cl::desc("Where to run the kernel"),
    llvm::cl::values(
        clEnumValN(Target::Cpu, "cpu", "the tiled CPU kernel (default)"),
        clEnumValN(Target::GpuEmulation, "gpu-emulation",
                   "the GPU kernel, run on the host one block at a time"),
        clEnumValN(Target::Cuda, "cuda",
                   "the GPU kernel on the machine's NVIDIA GPU (CUDA JIT, "
                   "cached under $ATTN_CACHE_DIR)")),
    llvm::cl::init(Target::Cpu), llvm::cl::cat(category));
llvm::cl::opt<bool> random("random",
                           llvm::cl::desc("Draw missing inputs from N(0, 1)"),
                           llvm::cl::cat(category));
llvm::cl::opt<uint64_t> seed("seed", llvm::cl::desc("Seed for --random"),
                             llvm::cl::init(0), llvm::cl::cat(category));
llvm::cl::list<std::string>
    dimSizes("dim",
             llvm::cl::desc("Size of a dynamic dimension for --random inputs"),
             llvm::cl::value_desc("name=size"), llvm::cl::cat(category));
llvm::cl::opt<bool>
    check("check",
          llvm::cl::desc("Compare with the float64 reference; exit 1 when an "
                         "output's relative error exceeds the tolerance"),
          llvm::cl::cat(category));
llvm::cl::opt<double> tolerance(
    "tolerance",
    llvm::cl::desc("Relative tolerance for --check (default by element type: "
                   "f64 1e-10, f32 1e-5, f16 2e-3, bf16 1e-2)"),
    llvm::cl::init(0), llvm::cl::cat(category));
llvm::cl::opt<bool>
    reference("reference",
              llvm::cl::desc("Run the reference lowering instead of the "
                             "kernel pipeline"),
              llvm::cl::cat(category));

llvm::cl::opt<int64_t>
    tileQOption("tile-q", llvm::cl::desc("Query rows per tile (CPU kernel)"),
                llvm::cl::init(64), llvm::cl::cat(category));
llvm::cl::opt<int64_t> tileKvOption(
    "tile-kv", llvm::cl::desc("Keys per tile (CPU and GPU kernels)"),
    llvm::cl::init(64), llvm::cl::cat(category));
llvm::cl::opt<int64_t> chunkSizeOption(
    "chunk-size",
    llvm::cl::desc("Positions per chunk of linear attention (CPU kernel)"),
    llvm::cl::init(64), llvm::cl::cat(category));
llvm::cl::opt<int64_t>
    warpsOption("warps",
                llvm::cl::desc("Warps per block of the GPU kernel (cuda, "
                               "gpu-emulation)"),
                llvm::cl::init(4), llvm::cl::cat(category));
llvm::cl::opt<std::string> splitKvOption(
    "split-kv",
    llvm::cl::desc("Split-KV decoding of the GPU kernel: auto, always, never "
                   "(cuda, gpu-emulation)"),
    llvm::cl::init("auto"), llvm::cl::cat(category));
llvm::cl::opt<std::string> chipOption(
    "chip",
    llvm::cl::desc("The GPU chip (cuda: default the device's own; "
                   "gpu-emulation: default sm_90; sm_90a selects the TMA + "
                   "wgmma kernels)"),
    llvm::cl::init(""), llvm::cl::cat(category));
llvm::cl::opt<int64_t> multiprocessorsOption(
    "multiprocessors",
    llvm::cl::desc("The emulated GPU's multiprocessor count (gpu-emulation; "
                   "it sets the number of key splits)"),
    llvm::cl::init(132), llvm::cl::cat(category));
llvm::cl::opt<bool>
    float64("float64",
            llvm::cl::desc("Compute in f64 and return f64 outputs (with "
                           "--reference: the float64 reference)"),
            llvm::cl::cat(category));
llvm::cl::opt<std::string> writeInputs(
    "write-inputs",
    llvm::cl::desc("Write every input as DIR/<name>.npy (floats as f32, "
                   "exact for f16/bf16 values), e.g. to rerun them elsewhere"),
    llvm::cl::value_desc("dir"), llvm::cl::cat(category));

Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Splits `name=value`.
Expected<std::pair<StringRef, StringRef>> splitAssignment(StringRef flag,
                                                          StringRef text) {
  auto [name, value] = text.split('=');
  if (name.empty() || value.empty() || !text.contains('='))
    return fail("--" + flag + " expects name=value, got '" + text + "'");
  return std::make_pair(name, value);
}

bool isFloatType(runtime::DType t) {
  return t == runtime::DType::F16 || t == runtime::DType::BF16 ||
         t == runtime::DType::F32 || t == runtime::DType::F64;
}

double defaultTolerance(runtime::DType t) {
  switch (t) {
  case runtime::DType::F64:
    return 1e-10;
  case runtime::DType::F32:
    return 1e-5;
  case runtime::DType::F16:
    return 2e-3;
  case runtime::DType::BF16:
    return 1e-2;
  default:
    return 0;
  }
}

/// Reads an input file and converts it to the parameter's element type.
Expected<HostTensor> loadInput(const runtime::Param &param, StringRef path) {
  Expected<NpyArray> array = readNpy(path);
  if (!array)
    return array.takeError();
  if (isFloatType(array->dtype) != isFloatType(param.dtype))
    return fail("input '" + param.name + "' from " + path + " has dtype '" +
                array->descr + "' (" + runtime::dtypeName(array->dtype) +
                "), the spec expects " + runtime::dtypeName(param.dtype) +
                " " + runtime::describeDims(param));
  HostTensor t(array->dtype, array->shape);
  std::copy(array->data.begin(), array->data.end(),
            static_cast<char *>(t.data()));
  return t.convertTo(param.dtype);
}

/// Random data that suits what an input is for: block-sparse layouts with
/// half of the blocks on, sorted document ids (four documents per batch row,
/// the same for queries and keys), positive ALiBi slopes, decays in
/// [0.9, 1), positive normalizers, log-sum-exps of partial results with a
/// quarter of them empty (-inf); N(0, 1) otherwise.
HostTensor randomInput(const runtime::Param &param,
                       std::vector<int64_t> shape, std::mt19937_64 &rng) {
  // Inputs named lse... are log-sum-exps of partial results (attn.merge's
  // lse_parts, lse0, lse1, ...): a partial over no key has lse = -inf, and
  // merges must handle it (with two partials, one row in sixteen has none).
  if (StringRef(param.name).starts_with("lse")) {
    HostTensor t(param.dtype, shape);
    std::uniform_real_distribution<double> value(-3.0, 3.0);
    std::bernoulli_distribution empty(0.25);
    for (int64_t i = 0; i < t.numElements(); ++i)
      t.set(i,
            empty(rng) ? -std::numeric_limits<double>::infinity() : value(rng));
    return t;
  }
  if (param.name == "layout") {
    HostTensor t(param.dtype, shape);
    std::bernoulli_distribution on(0.5);
    for (int64_t i = 0; i < t.numElements(); ++i)
      t.set(i, on(rng));
    return t;
  }
  if (param.name == "q_segments" || param.name == "kv_segments") {
    // Boundaries drawn from the seed alone, so both inputs agree.
    HostTensor t(param.dtype, shape);
    int64_t rows = shape[0], len = shape[1];
    for (int64_t b = 0; b < rows; ++b) {
      std::mt19937_64 docs(seed * 1000003 + b);
      std::uniform_real_distribution<double> cut(0.0, 1.0);
      std::vector<double> bounds = {cut(docs), cut(docs), cut(docs)};
      std::sort(bounds.begin(), bounds.end());
      for (int64_t i = 0; i < len; ++i)
        t.set(b * len + i,
              std::upper_bound(bounds.begin(), bounds.end(),
                               double(i) / double(len)) -
                  bounds.begin());
    }
    return t;
  }
  // Inputs whose values have a range: uniform in it.
  struct Range {
    llvm::StringRef name;
    double lo, hi;
  };
  static constexpr Range ranges[] = {
      {"alibi_slopes", 0.01, 0.5},
      // A decay in (0, 1]: RetNet's per-head gammas are about 0.9-0.999.
      {"decay", 0.9, 1.0},
      // Log-space gates, as log sigmoid gives them: factors exp(g) in
      // [0.37, 1].
      {"gate", -1.0, 0.0},
      // The delta rule's write strengths, a sigmoid in the models.
      {"beta", 0.0, 1.0},
      // A normalizer sums positive features.
      {"initial_normalizer", 0.5, 2.0}};
  for (const Range &range : ranges) {
    if (param.name != range.name)
      continue;
    HostTensor t(param.dtype, shape);
    std::uniform_real_distribution<double> value(range.lo, range.hi);
    for (int64_t i = 0; i < t.numElements(); ++i)
      t.set(i, value(rng));
    return t;
  }
  return HostTensor::randomNormal(param.dtype, shape, rng);
}

/// The static or bound size of the dimension named `name` in any input of
/// `sig`, if one has it.
std::optional<int64_t> dimSize(const runtime::KernelSignature &sig,
                               const runtime::DimBindings &dims,
                               StringRef name) {
  if (auto it = dims.find(name.str()); it != dims.end())
    return it->second;
  for (const runtime::Param &param : sig.inputs)
    for (const runtime::Dim &dim : param.dims)
      if (dim.name == name && dim.size != runtime::Dim::kDynamic)
        return dim.size;
  return std::nullopt;
}

/// The length of KV-cache sequence `b` of at most `capacity` keys, drawn
/// from the seed alone (so kv_lens and block_table agree): empty, one key,
/// exact page multiples, a full table, or anything between.
int64_t drawCacheLength(int64_t b, int64_t capacity, int64_t pageSize) {
  std::mt19937_64 rng(seed * 7919 + b);
  int64_t pages = capacity / pageSize;
  switch (std::uniform_int_distribution<int>(0, 5)(rng)) {
  case 0:
    return 0;
  case 1:
    return std::min<int64_t>(1, capacity);
  case 2:
    return std::uniform_int_distribution<int64_t>(0, pages)(rng) * pageSize;
  case 3:
    return capacity;
  default:
    return std::uniform_int_distribution<int64_t>(0, capacity)(rng);
  }
}

/// Random sequence-placement inputs that keep the data contract of
/// attn.attention: cumulative lengths from 0 to the packed total (sequence 1
/// empty when there are three or more), cache lengths within the block
/// table, and table entries naming random pages (shared and shuffled) for
/// used pages and an out-of-range page (`Pages + 7`) for unused ones, which
/// no kernel may read. None for other inputs.
std::optional<HostTensor>
randomSequenceInput(const runtime::KernelSignature &sig,
                    const runtime::DimBindings &dims,
                    const runtime::Param &param,
                    const std::vector<int64_t> &shape, std::mt19937_64 &rng) {
  bool packedQ = param.name == "cu_seqlens_q";
  if (packedQ || param.name == "cu_seqlens_kv") {
    int64_t sequences = shape[0] - 1;
    int64_t total = dimSize(sig, dims, packedQ ? "Tq" : "Tk").value_or(0);
    std::vector<int64_t> cuts(std::max<int64_t>(sequences - 1, 0));
    std::uniform_int_distribution<int64_t> cut(0, total);
    for (int64_t &c : cuts)
      c = cut(rng);
    std::sort(cuts.begin(), cuts.end());
    HostTensor t(param.dtype, shape);
    std::vector<int64_t> cu = {0};
    cu.insert(cu.end(), cuts.begin(), cuts.end());
    if (sequences >= 1)
      cu.push_back(total);
    if (sequences >= 3)
      cu[2] = cu[1];
    for (auto [i, c] : llvm::enumerate(cu))
      t.set(i, double(c));
    return t;
  }
  if (param.name == "positions") {
    // A shard anywhere in a longer sequence: before, across or after the
    // diagonal of a causal mask, so some shards have rows without a key.
    HostTensor t(param.dtype, shape);
    int64_t lens[2] = {dimSize(sig, dims, "Sq").value_or(0),
                       dimSize(sig, dims, "Skv").value_or(0)};
    int64_t longest = std::max(lens[0], lens[1]);
    for (int64_t i = 0; i < 2; ++i) {
      int64_t offset =
          std::uniform_int_distribution<int64_t>(0, 2 * longest)(rng);
      int64_t after = std::uniform_int_distribution<int64_t>(0, longest)(rng);
      t.set(i, double(offset));
      t.set(2 + i, double(offset + lens[i] + after));
    }
    return t;
  }
  if (param.name != "kv_lens" && param.name != "block_table")
    return std::nullopt;
  int64_t pageSize = dimSize(sig, dims, "P").value_or(1);
  int64_t maxPages = dimSize(sig, dims, "MaxPages").value_or(0);
  int64_t pages = dimSize(sig, dims, "Pages").value_or(0);
  int64_t capacity = maxPages * pageSize;
  HostTensor t(param.dtype, shape);
  int64_t sequences = shape[0];
  if (param.name == "kv_lens") {
    for (int64_t b = 0; b < sequences; ++b)
      t.set(b, double(drawCacheLength(b, capacity, pageSize)));
    return t;
  }
  std::uniform_int_distribution<int64_t> page(0, std::max<int64_t>(pages - 1, 0));
  for (int64_t b = 0; b < sequences; ++b) {
    int64_t used = (drawCacheLength(b, capacity, pageSize) + pageSize - 1) /
                   pageSize;
    for (int64_t j = 0; j < maxPages; ++j)
      t.set(b * maxPages + j, j < used ? double(page(rng)) : double(pages + 7));
  }
  return t;
}

/// Builds the inputs of `sig`: from files where given, else random.
Expected<std::vector<HostTensor>>
prepareInputs(const runtime::KernelSignature &sig) {
  std::map<std::string, std::string, std::less<>> files;
  for (StringRef spec : inputFiles) {
    auto assignment = splitAssignment("input", spec);
    if (!assignment)
      return assignment.takeError();
    files[assignment->first.str()] = assignment->second.str();
  }
  for (const auto &[name, path] : files)
    if (llvm::none_of(sig.inputs,
                      [&](const runtime::Param &p) { return p.name == name; }))
      return fail("the spec has no input named '" + name + "'");

  // Dimension sizes: from --dim, then from the files.
  runtime::DimBindings dims;
  for (StringRef spec : dimSizes) {
    auto assignment = splitAssignment("dim", spec);
    if (!assignment)
      return assignment.takeError();
    int64_t size;
    if (assignment->second.getAsInteger(10, size) || size < 0)
      return fail("--dim " + spec + ": the size must be a whole number >= 0");
    dims[assignment->first.str()] = size;
  }

  std::vector<HostTensor> inputs(sig.inputs.size());
  for (auto [i, param] : llvm::enumerate(sig.inputs)) {
    auto file = files.find(param.name);
    if (file == files.end())
      continue;
    Expected<HostTensor> t = loadInput(param, file->second);
    if (!t)
      return t.takeError();
    inputs[i] = std::move(*t);
    for (auto [dim, size] : llvm::zip(param.dims, inputs[i].shape()))
      dims.try_emplace(dim.name, size);
  }

  std::mt19937_64 rng(seed);
  for (auto [i, param] : llvm::enumerate(sig.inputs)) {
    if (files.count(param.name))
      continue;
    if (!random)
      return fail("missing input '" + param.name + "' " +
                  runtime::describeDims(param) + "; pass --input " +
                  param.name + "=FILE.npy or --random");
    std::vector<int64_t> shape;
    for (const runtime::Dim &dim : param.dims) {
      if (dim.size != runtime::Dim::kDynamic) {
        shape.push_back(dim.size);
        continue;
      }
      auto it = dims.find(dim.derivedFrom.empty() ? dim.name : dim.derivedFrom);
      if (it == dims.end())
        return fail("dimension " + dim.name + " of '" + param.name +
                    "' is dynamic; pass --dim " + dim.name + "=N");
      int64_t size = it->second;
      if (!dim.derivedFrom.empty())
        size = (size + dim.divisor - 1) / dim.divisor;
      shape.push_back(size);
    }
    if (std::optional<HostTensor> t =
            randomSequenceInput(sig, dims, param, shape, rng))
      inputs[i] = std::move(*t);
    else
      inputs[i] = randomInput(param, shape, rng);
  }
  return inputs;
}

/// The tensors of one call: the inputs converted to the kernel's element
/// types and the outputs (NaN-filled) in the shapes the inputs bind.
struct HostCall {
  std::vector<HostTensor> inputs, outputs;
};

Expected<HostCall> prepareCall(const runtime::KernelSignature &sig,
                               std::vector<HostTensor> &inputs) {
  HostCall call;
  std::vector<runtime::TensorRef> refs;
  for (auto [param, t] : llvm::zip_equal(sig.inputs, inputs)) {
    call.inputs.push_back(t.dtype() == param.dtype ? t
                                                   : t.convertTo(param.dtype));
    refs.push_back(call.inputs.back().ref());
  }
  Expected<runtime::DimBindings> bindings = sig.bind(refs);
  if (!bindings)
    return bindings.takeError();
  if (Error e = runtime::checkSequenceInputs(sig, refs))
    return std::move(e);
  for (const runtime::Param &param : sig.outputs) {
    Expected<std::vector<int64_t>> shape = sig.shapeOf(param, *bindings);
    if (!shape)
      return shape.takeError();
    call.outputs.emplace_back(param.dtype, *shape);
  }
  return call;
}

/// Runs `kernel` on the host and returns its outputs.
Expected<std::vector<HostTensor>> runKernel(const jit::CpuKernel &kernel,
                                            std::vector<HostTensor> &inputs) {
  Expected<HostCall> call = prepareCall(kernel.signature(), inputs);
  if (!call)
    return call.takeError();
  std::vector<runtime::TensorRef> inRefs, outRefs;
  for (HostTensor &t : call->inputs)
    inRefs.push_back(t.ref());
  for (HostTensor &t : call->outputs)
    outRefs.push_back(t.ref());
  if (Error e = kernel.run(inRefs, outRefs))
    return std::move(e);
  return std::move(call->outputs);
}

/// A backward spec's random o and lse stand for nothing: replaces them by
/// what the spec's forward computes from the other inputs (o from a file
/// stays, with the lse the user gave).
Error deriveForwardInputs(StringRef specText,
                          const runtime::KernelSignature &sig,
                          std::vector<HostTensor> &inputs) {
  auto indexOf = [&](StringRef name) -> std::optional<size_t> {
    for (auto [i, param] : llvm::enumerate(sig.inputs))
      if (param.name == name)
        return i;
    return std::nullopt;
  };
  std::optional<size_t> o = indexOf("o"), lse = indexOf("lse");
  bool fromFile = llvm::any_of(inputFiles, [](StringRef spec) {
    return spec.starts_with("o=");
  });
  if (!random || !o || !indexOf("grad_o") || fromFile)
    return Error::success();
  Expected<std::string> forward = jit::forwardSpec(specText, entryName);
  if (!forward)
    return forward.takeError();
  jit::CpuOptions options;
  auto kernel = jit::CpuKernel::compile(*forward, options, specPath);
  if (!kernel)
    return kernel.takeError();
  // The forward takes the backward's inputs of the same names.
  std::vector<HostTensor> forwardInputs;
  for (const runtime::Param &param : (*kernel)->signature().inputs)
    forwardInputs.push_back(inputs[*indexOf(param.name)]);
  Expected<std::vector<HostTensor>> outputs =
      runKernel(**kernel, forwardInputs);
  if (!outputs)
    return outputs.takeError();
  inputs[*o] = std::move((*outputs)[0]);
  if (lse)
    inputs[*lse] = std::move((*outputs)[1]);
  return Error::success();
}

/// Runs `kernel` on the GPU: copies the call's tensors to device memory
/// (outputs poisoned with NaN, so unwritten elements show), launches, waits
/// and copies the outputs back.
Expected<std::vector<HostTensor>> runOnCuda(const jit::Kernel &kernel,
                                            std::vector<HostTensor> &inputs) {
  Expected<HostCall> call = prepareCall(kernel.signature(), inputs);
  if (!call)
    return call.takeError();
  std::vector<runtime::DeviceBuffer> buffers;
  std::vector<runtime::TensorRef> refs;
  for (HostTensor &t : llvm::concat<HostTensor>(call->inputs, call->outputs)) {
    auto buffer = runtime::DeviceBuffer::allocate(t.byteSize());
    if (!buffer)
      return buffer.takeError();
    if (Error e = buffer->copyFromHost(t.data(), t.byteSize()))
      return std::move(e);
    refs.push_back(runtime::TensorRef{buffer->data(), t.dtype(), t.shape()});
    buffers.push_back(std::move(*buffer));
  }
  size_t numInputs = call->inputs.size();
  if (Error e = kernel.run(llvm::ArrayRef(refs).take_front(numInputs),
                           llvm::ArrayRef(refs).drop_front(numInputs)))
    return std::move(e);
  if (Error e = runtime::synchronizeDevice())
    return std::move(e);
  for (auto [t, buffer] : llvm::zip_equal(
           call->outputs, llvm::ArrayRef(buffers).drop_front(numInputs)))
    if (Error e = buffer.copyToHost(t.data(), t.byteSize()))
      return std::move(e);
  return std::move(call->outputs);
}

Error writeOutputs(const runtime::KernelSignature &sig,
                   std::vector<HostTensor> &outputs) {
  for (StringRef spec : outputFiles) {
    auto assignment = splitAssignment("output", spec);
    if (!assignment)
      return assignment.takeError();
    auto it = llvm::find_if(sig.outputs, [&](const runtime::Param &p) {
      return p.name == assignment->first;
    });
    if (it == sig.outputs.end())
      return fail("the spec has no output named '" + assignment->first + "'");
    HostTensor &t = outputs[it - sig.outputs.begin()];
    // f64 specs keep their precision; everything else is written as f32.
    runtime::DType fileType = t.dtype() == runtime::DType::F64
                                  ? runtime::DType::F64
                                  : runtime::DType::F32;
    HostTensor converted = t.convertTo(fileType);
    if (Error e = writeNpy(assignment->second, converted.ref()))
      return e;
  }
  return Error::success();
}

/// Returns 0 when every output is within tolerance of the float64 reference.
Expected<int> checkAgainstReference(StringRef specText,
                                    std::vector<HostTensor> &inputs,
                                    std::vector<HostTensor> &outputs) {
  jit::CpuOptions options;
  options.entry = entryName;
  options.reference = true;
  options.float64 = true;
  auto refKernel = jit::CpuKernel::compile(specText, options, specPath);
  if (!refKernel)
    return refKernel.takeError();
  // The reference reads the same (rounded) inputs and returns f64.
  Expected<std::vector<HostTensor>> refOutputs = runKernel(**refKernel, inputs);
  if (!refOutputs)
    return refOutputs.takeError();
  // The gradients of a backward are judged on one scale, the largest of
  // their magnitudes: grad_q and grad_k vanish by cancellation where each
  // row sees one key (dS = P (dP - delta) = 0), leaving rounding noise that
  // no relative error of their own can judge; grad_v (P^T grad_o) does not.
  // grad_bias sums dS over the bias's broadcast dimensions and cancels the
  // same way: it is judged on the larger of its own scale and theirs.
  const std::vector<runtime::Param> &params =
      (*refKernel)->signature().outputs;
  auto isGradient = [](StringRef name) {
    return name == "grad_q" || name == "grad_k" || name == "grad_v";
  };
  double gradientScale = 0;
  for (auto [i, param] : llvm::enumerate(params))
    if (isGradient(param.name))
      gradientScale = std::max(gradientScale, maxAbsFinite((*refOutputs)[i]));
  int status = 0;
  for (auto [i, param] : llvm::enumerate(params)) {
    bool judgedOnGradients =
        isGradient(param.name) || param.name == "grad_bias";
    double error = relativeError(outputs[i], (*refOutputs)[i],
                                 judgedOnGradients ? gradientScale : 0);
    double limit =
        tolerance > 0 ? double(tolerance) : defaultTolerance(outputs[i].dtype());
    bool ok = error <= limit;
    llvm::outs() << llvm::format("check %-4s max relative error %.3e "
                                 "(tolerance %.1e) %s\n",
                                 param.name.c_str(), error, limit,
                                 ok ? "ok" : "FAILED");
    if (!ok)
      status = 1;
  }
  return status;
}

/// Writes the outputs, prints what ran and, with --check, compares with the
/// float64 reference.
Expected<int> finish(StringRef specText, const runtime::KernelSignature &sig,
                     std::vector<HostTensor> &inputs,
                     std::vector<HostTensor> &outputs) {
  if (Error e = writeOutputs(sig, outputs))
    return std::move(e);
  llvm::outs() << "ran " << sig.entry << ":";
  for (auto [param, t] : llvm::zip_equal(sig.outputs, outputs))
    llvm::outs() << " " << param.name << " "
                 << runtime::describeShape(t.shape()) << " "
                 << runtime::dtypeName(t.dtype());
  llvm::outs() << "\n";
  if (!check)
    return 0;
  return checkAgainstReference(specText, inputs, outputs);
}

Expected<int> runMain() {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(specPath);
  if (!buffer)
    return fail("cannot read " + specPath + ": " +
                buffer.getError().message());
  StringRef specText = (*buffer)->getBuffer();

  if (target == Target::Cuda) {
    if (reference || float64)
      return fail("--reference and --float64 run on the CPU; drop "
                  "--target cuda");
    jit::Options options;
    options.target = jit::Target::Cuda;
    options.entry = entryName;
    options.tileKv = tileKvOption;
    options.warps = warpsOption;
    options.splitKv = splitKvOption;
    options.chip = chipOption;
    auto compiled = jit::compile(specText, options);
    if (!compiled)
      return compiled.takeError();
    const runtime::KernelSignature &sig = compiled->kernel->signature();
    Expected<std::vector<HostTensor>> inputs = prepareInputs(sig);
    if (!inputs)
      return inputs.takeError();
    Expected<std::vector<HostTensor>> outputs =
        runOnCuda(*compiled->kernel, *inputs);
    if (!outputs)
      return outputs.takeError();
    return finish(specText, sig, *inputs, *outputs);
  }

  jit::CpuOptions options;
  options.entry = entryName;
  options.reference = reference;
  options.float64 = float64;
  options.tileQ = tileQOption;
  options.tileKv = tileKvOption;
  options.chunkSize = chunkSizeOption;
  options.warps = warpsOption;
  options.emulateGpu = target == Target::GpuEmulation;
  options.splitKv = splitKvOption;
  options.multiprocessors = multiprocessorsOption;
  if (!chipOption.empty())
    options.chip = chipOption;
  auto kernel = jit::CpuKernel::compile(specText, options, specPath);
  if (!kernel)
    return kernel.takeError();
  const runtime::KernelSignature &sig = (*kernel)->signature();

  Expected<std::vector<HostTensor>> inputs = prepareInputs(sig);
  if (!inputs)
    return inputs.takeError();
  if (Error e = deriveForwardInputs(specText, sig, *inputs))
    return std::move(e);
  if (!writeInputs.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(writeInputs))
      return fail("cannot create --write-inputs directory '" + writeInputs +
                  "': " + ec.message());
    for (auto [param, t] : llvm::zip_equal(sig.inputs, *inputs)) {
      bool isFloat = isFloatType(t.dtype()) && t.dtype() != runtime::DType::F64;
      // NumPy has no bf16 and writeNpy no i1: f32 and i8 hold them exactly.
      HostTensor file = isFloat ? t.convertTo(runtime::DType::F32)
                        : t.dtype() == runtime::DType::I1
                            ? t.convertTo(runtime::DType::I8)
                            : t;
      if (Error e = writeNpy(writeInputs + "/" + param.name + ".npy",
                             file.ref()))
        return std::move(e);
    }
  }
  Expected<std::vector<HostTensor>> outputs = runKernel(**kernel, *inputs);
  if (!outputs)
    return outputs.takeError();
  return finish(specText, sig, *inputs, *outputs);
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // Kernels that fail an assertion (attn-emulate-gpu's race and divergence
  // checks) print with puts, then abort: flush every line so the message
  // survives a pipe.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  llvm::cl::HideUnrelatedOptions(category);
  llvm::cl::ParseCommandLineOptions(
      argc, argv,
      "attn-run: run an attn spec on the CPU or the GPU\n\n"
      "  attn-run spec.mlir --input q=q.npy --input k=k.npy --input v=v.npy "
      "--output o=o.npy\n"
      "  attn-run spec.mlir --random --seed 1 --dim Sq=37 --check\n");
  Expected<int> status = runMain();
  if (!status) {
    llvm::WithColor::error(llvm::errs(), "attn-run")
        << llvm::toString(status.takeError()) << "\n";
    return 1;
  }
  return *status;
}
