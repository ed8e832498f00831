//===- Jit.cpp - Compile specs at run time, with a cache ------------------===//

#include "attn/JIT/Jit.h"
#include "attn/Dialect/AttentionGradient.h"
#include "attn/Dialect/MaskAnalysis.h"
#include "attn/JIT/DiagnosticCollector.h"
#include "attn/Pipelines/Registration.h"
#include "attn/Target/GpuCompile.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Parser/Parser.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <future>
#include <map>
#include <mutex>

namespace attn::jit {

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

class CpuJitKernel : public Kernel {
public:
  explicit CpuJitKernel(std::unique_ptr<CpuKernel> kernel)
      : kernel(std::move(kernel)) {}
  const runtime::KernelSignature &signature() const override {
    return kernel->signature();
  }
  llvm::Error run(llvm::ArrayRef<runtime::TensorRef> inputs,
                  llvm::ArrayRef<runtime::TensorRef> outputs,
                  void *) const override {
    return kernel->run(inputs, outputs);
  }
  Target target() const override { return Target::Cpu; }

private:
  std::unique_ptr<CpuKernel> kernel;
};

class CudaJitKernel : public Kernel {
public:
  explicit CudaJitKernel(std::unique_ptr<runtime::CudaKernel> kernel)
      : kernel(std::move(kernel)) {}
  const runtime::KernelSignature &signature() const override {
    return kernel->manifest().signature;
  }
  llvm::Error run(llvm::ArrayRef<runtime::TensorRef> inputs,
                  llvm::ArrayRef<runtime::TensorRef> outputs,
                  void *stream) const override {
    return kernel->launch(inputs, outputs, stream);
  }
  Target target() const override { return Target::Cuda; }

private:
  std::unique_ptr<runtime::CudaKernel> kernel;
};

/// The options that change generated code, as text.
std::string optionKey(const Options &o, llvm::StringRef chip) {
  if (o.target == Target::Cpu)
    return (llvm::Twine("cpu entry=") + o.entry + " tile-q=" +
            llvm::Twine(o.tileQ) + " tile-kv=" + llvm::Twine(o.tileKv) +
            " chunk-size=" + llvm::Twine(o.chunkSize) +
            " parallel=" + llvm::Twine(int(o.parallel)))
        .str();
  return (llvm::Twine("cuda entry=") + o.entry + " chip=" + chip +
          " warps=" + llvm::Twine(o.warps) + " tile-kv=" +
          llvm::Twine(o.tileKv) + " split-kv=" + o.splitKv)
      .str();
}

llvm::Expected<CompileResult> compileCpu(llvm::StringRef spec,
                                         const Options &o) {
  CpuOptions cpu;
  cpu.entry = o.entry;
  cpu.tileQ = o.tileQ;
  cpu.tileKv = o.tileKv;
  cpu.chunkSize = o.chunkSize;
  cpu.parallel = o.parallel;
  auto kernel = CpuKernel::compile(spec, cpu);
  if (!kernel)
    return kernel.takeError();
  return CompileResult{std::make_shared<CpuJitKernel>(std::move(*kernel)),
                       Origin::Compiled};
}

} // namespace

namespace {
/// Parses `specText` in a context of the compiler's dialects and calls
/// `use(module, diagnostics)`; the diagnostics of both become the error.
template <typename T>
llvm::Expected<T> withParsedSpec(
    llvm::StringRef specText,
    llvm::function_ref<llvm::Expected<T>(mlir::ModuleOp,
                                         DiagnosticCollector &)>
        use) {
  mlir::DialectRegistry registry;
  registerCompilerDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.printOpOnDiagnostic(false);
  DiagnosticCollector diagnostics(&ctx);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(specText,
                                              mlir::ParserConfig(&ctx), "spec");
  if (!module)
    return diagnostics.takeError("cannot parse the spec");
  return use(*module, diagnostics);
}

/// Derives a module from `specText` with `derive` and prints it; `what`
/// names the derivation in errors.
llvm::Expected<std::string> deriveSpec(
    llvm::StringRef specText, llvm::StringRef what,
    llvm::function_ref<mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>(
        mlir::ModuleOp)>
        derive) {
  return withParsedSpec<std::string>(
      specText,
      [&](mlir::ModuleOp module,
          DiagnosticCollector &diagnostics) -> llvm::Expected<std::string> {
        auto derived = derive(module);
        if (mlir::failed(derived))
          return diagnostics.takeError("cannot take the " + what +
                                       " of the spec");
        std::string text;
        llvm::raw_string_ostream os(text);
        (*derived)->print(os);
        return text;
      });
}
} // namespace

llvm::Expected<std::string> backwardSpec(llvm::StringRef specText,
                                         llvm::StringRef entry,
                                         bool gradBias) {
  return deriveSpec(specText, "backward", [&](mlir::ModuleOp m) {
    return buildBackwardSpec(m, entry, gradBias);
  });
}

llvm::Expected<std::string> forwardSpec(llvm::StringRef backwardSpecText,
                                        llvm::StringRef entry) {
  return deriveSpec(backwardSpecText, "forward", [&](mlir::ModuleOp m) {
    return buildForwardSpec(m, entry);
  });
}

llvm::Expected<std::string> classifyMaskBlock(llvm::StringRef maskAttr,
                                              int64_t qLen, int64_t kvLen,
                                              int64_t qLo, int64_t qHi,
                                              int64_t kvLo, int64_t kvHi) {
  // One context for every call, made on the first: making one (2 ms with
  // the compiler's dialects) costs far more than a classification, and ring
  // attention asks once per block and step.
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  static mlir::MLIRContext &ctx = *[] {
    mlir::DialectRegistry registry;
    registerCompilerDialects(registry);
    auto *context = new mlir::MLIRContext(registry);
    context->loadAllAvailableDialects();
    return context;
  }();
  DiagnosticCollector diagnostics(&ctx);
  auto mask = llvm::dyn_cast_or_null<MaskAttrInterface>(
      mlir::parseAttribute(maskAttr, &ctx));
  if (!mask)
    return diagnostics.takeError("'" + maskAttr.str() +
                                 "' is not a mask attribute");
  switch (classifyTile(mask, qLen, kvLen, qLo, qHi, kvLo, kvHi)) {
  case TileKind::Empty:
    return "empty";
  case TileKind::Full:
    return "full";
  case TileKind::Partial:
    return "partial";
  }
  llvm_unreachable("every tile kind");
}

namespace {

/// Compiles to a cubin and its manifest.
llvm::Expected<GpuBinary> compileCubin(llvm::StringRef spec, const Options &o,
                                       llvm::StringRef chip) {
  return withParsedSpec<GpuBinary>(
      spec,
      [&](mlir::ModuleOp module,
          DiagnosticCollector &diagnostics) -> llvm::Expected<GpuBinary> {
        GpuCompileOptions gpu;
        gpu.emit = GpuEmit::Cubin;
        gpu.chip = chip.str();
        gpu.warps = o.warps;
        gpu.tileKv = o.tileKv;
        gpu.splitKv = o.splitKv;
        gpu.entry = o.entry;
        mlir::FailureOr<GpuBinary> binary = compileForGpu(module, spec, gpu);
        if (mlir::failed(binary))
          return diagnostics.takeError("cannot compile the spec for " + chip);
        return std::move(*binary);
      });
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that
/// a concurrent reader sees the old file or the new one, never half.
llvm::Error writeAtomically(llvm::StringRef path, llvm::StringRef bytes) {
  llvm::SmallString<256> temp;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          path + ".tmp-%%%%%%", fd, temp))
    return makeError("cannot write the kernel cache at " + path + ": " +
                     ec.message());
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << bytes;
    if (os.has_error()) {
      os.clear_error();
      llvm::sys::fs::remove(temp);
      return makeError("cannot write the kernel cache at " + path);
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    return makeError("cannot write the kernel cache at " + path + ": " +
                     ec.message());
  }
  return llvm::Error::success();
}

/// A cached cubin and its manifest, if both read back and the manifest
/// comes from this compiler.
std::optional<std::pair<std::string, runtime::Manifest>>
readCacheEntry(llvm::StringRef base) {
  auto image = llvm::MemoryBuffer::getFile(base + ".cubin", /*IsText=*/false);
  llvm::Expected<runtime::Manifest> manifest =
      runtime::Manifest::load((base + ".json").str());
  if (!image || !manifest) {
    if (!manifest)
      llvm::consumeError(manifest.takeError());
    return std::nullopt;
  }
  if (manifest->specHash.empty() || (*image)->getBufferSize() == 0 ||
      manifest->compiler != compilerVersion() ||
      manifest->kernels.empty())
    return std::nullopt;
  return std::make_pair((*image)->getBuffer().str(), std::move(*manifest));
}

llvm::Expected<CompileResult> compileCuda(llvm::StringRef spec,
                                          const Options &o,
                                          llvm::StringRef chip,
                                          llvm::StringRef key) {
  std::string base;
  if (o.diskCache) {
    llvm::SmallString<256> path(cacheDirectory(o));
    if (std::error_code ec = llvm::sys::fs::create_directories(path))
      return makeError("cannot create the kernel cache " + path + ": " +
                       ec.message() + " (set ATTN_CACHE_DIR elsewhere)");
    llvm::sys::path::append(path, key);
    base = path.str().str();
    if (auto entry = readCacheEntry(base)) {
      auto kernel =
          runtime::CudaKernel::load(entry->first, entry->second, o.device);
      if (kernel)
        return CompileResult{std::make_shared<CudaJitKernel>(std::move(*kernel)),
                             Origin::DiskCache};
      // A cubin the driver refuses is recompiled below.
      llvm::consumeError(kernel.takeError());
    }
  }
  llvm::Expected<GpuBinary> binary = compileCubin(spec, o, chip);
  if (!binary)
    return binary.takeError();
  if (!base.empty()) {
    std::string json;
    llvm::raw_string_ostream os(json);
    os << llvm::formatv("{0:2}", binary->manifest.toJSON()) << "\n";
    // The image first: a manifest never points at a missing cubin.
    if (llvm::Error e = writeAtomically(base + ".cubin", binary->image))
      return std::move(e);
    if (llvm::Error e = writeAtomically(base + ".json", json))
      return std::move(e);
  }
  auto kernel =
      runtime::CudaKernel::load(binary->image, binary->manifest, o.device);
  if (!kernel)
    return kernel.takeError();
  return CompileResult{std::make_shared<CudaJitKernel>(std::move(*kernel)),
                       Origin::Compiled};
}

/// The outcome of one compile: the kernel, or the error message.
struct Compiled {
  std::shared_ptr<const Kernel> kernel;
  std::string error;
};

/// Kernels in memory, by key; a future while one compiles, so that
/// concurrent callers wait for it instead of compiling it again. Failed
/// compiles are removed, so a later call tries again.
struct MemoryCache {
  std::mutex mutex;
  std::map<std::string, std::shared_future<Compiled>> entries;
};

/// Never destroyed: kernels hold JIT engines that must not outlive LLVM's
/// own statics at exit.
MemoryCache &memoryCache() {
  static MemoryCache *cache = new MemoryCache;
  return *cache;
}

} // namespace

std::string cacheDirectory(const Options &options) {
  if (!options.cacheDir.empty())
    return options.cacheDir;
  if (const char *env = std::getenv("ATTN_CACHE_DIR"); env && *env)
    return env;
  llvm::SmallString<256> path;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    path = xdg;
  else if (!llvm::sys::path::home_directory(path))
    path = llvm::sys::path::get_separator(); // no home: fall back to /
  else
    llvm::sys::path::append(path, ".cache");
  llvm::sys::path::append(path, "attn-mlir");
  return path.str().str();
}

void clearMemoryCache() {
  MemoryCache &cache = memoryCache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  cache.entries.clear();
}

llvm::Expected<CompileResult> compile(llvm::StringRef spec,
                                      const Options &options) {
  std::string chip = options.chip;
  if (options.target == Target::Cuda && chip.empty()) {
    llvm::Expected<runtime::CudaDevice> dev =
        runtime::getCudaDevice(options.device);
    if (!dev)
      return dev.takeError();
    chip = "sm_" + std::to_string(dev->major * 10 + dev->minor);
  }
  std::string key = llvm::utohexstr(llvm::xxh3_64bits(
      (compilerVersion() + "\n" + optionKey(options, chip) + "\n" + spec)
          .str()));

  MemoryCache &cache = memoryCache();
  std::promise<Compiled> promise;
  std::shared_future<Compiled> pending;
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto [it, inserted] =
        cache.entries.try_emplace(key, promise.get_future().share());
    if (!inserted)
      pending = it->second;
  }
  if (pending.valid()) {
    const Compiled &done = pending.get();
    if (!done.kernel)
      return makeError(done.error);
    return CompileResult{done.kernel, Origin::MemoryCache};
  }

  llvm::Expected<CompileResult> result =
      options.target == Target::Cpu ? compileCpu(spec, options)
                                    : compileCuda(spec, options, chip, key);
  if (!result) {
    std::string error = llvm::toString(result.takeError());
    promise.set_value(Compiled{nullptr, error});
    std::lock_guard<std::mutex> lock(cache.mutex);
    cache.entries.erase(key);
    return makeError(error);
  }
  promise.set_value(Compiled{result->kernel, ""});
  return result;
}

} // namespace attn::jit
