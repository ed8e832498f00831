//===- attn_cpu_bench.cpp - CPU kernels vs the reference and the peak ------===//
//
// Times the tiled CPU kernel (attn-lower-to-cpu) on the masks of issue 4 and
// prints GFLOP/s of useful work (2 (D + Dv) flops per allowed (query, key)
// pair), the tiles a kernel visits and how many of them are partial, the
// time relative to dense and to density x dense, the reference path
// (attn-reference, the full score matrix) and the machine's FMA peak
// measured here. Neighborhoods run on row-major tokens and in block order.
//
//   build/bin/attn-bench-cpu [--repeats N] [--reference-repeats N]
//                            [--only NAME]
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/MaskAnalysis.h"
#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

using namespace attn;
using runtime::DType;

namespace {

llvm::cl::opt<int> repeats("repeats", llvm::cl::desc("Timed runs per kernel"),
                           llvm::cl::init(7));
llvm::cl::opt<int> referenceRepeats(
    "reference-repeats", llvm::cl::desc("Timed runs of the reference path"),
    llvm::cl::init(1));
llvm::cl::opt<int64_t> seqLen("seq", llvm::cl::desc("Sequence length S"),
                              llvm::cl::init(2048));
llvm::cl::opt<int64_t> heads("heads", llvm::cl::desc("Heads H"),
                             llvm::cl::init(8));
llvm::cl::opt<int64_t> headDim("head-dim", llvm::cl::desc("Head dimension D"),
                               llvm::cl::init(64));
llvm::cl::opt<std::string>
    only("only",
         llvm::cl::desc("Run only the cases whose name contains this "
                        "(dense always runs, as the baseline)"),
         llvm::cl::init(""));
llvm::cl::opt<int64_t> tileQ("tile-q", llvm::cl::desc("Query rows per tile"),
                             llvm::cl::init(64));
llvm::cl::opt<int64_t> tileKv("tile-kv", llvm::cl::desc("Keys per tile"),
                              llvm::cl::init(64));

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// FMA throughput on all cores: independent 8-wide f32 FMA chains, enough
/// of them to cover the FMA latency.
[[gnu::target("avx2,fma")]] double fmaChains(int64_t iterations) {
  typedef float v8 __attribute__((vector_size(32)));
  constexpr int kChains = 12;
  v8 acc[kChains];
  v8 x = {1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f,
          1.0001f};
  v8 y = {0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f,
          0.9999f};
  for (auto &a : acc)
    a = x;
  for (int64_t i = 0; i < iterations; ++i)
    for (auto &a : acc)
      a = __builtin_ia32_vfmaddps256(a, x, y);
  float sum = 0;
  for (auto &a : acc)
    for (int l = 0; l < 8; ++l)
      sum += a[l];
  return sum;
}

double measurePeakGflops() {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  constexpr int64_t kIterations = 200'000'000 / 12;
  std::vector<std::thread> pool;
  std::vector<double> sink(threads);
  auto start = Clock::now();
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { sink[t] = fmaChains(kIterations); });
  for (auto &t : pool)
    t.join();
  double s = seconds(start, Clock::now());
  double flops = double(threads) * kIterations * 12 * 8 * 2;
  return flops / s / 1e9;
}

struct BenchCase {
  std::string name;
  std::string mask;      // attribute text, empty for dense
  bool layout = false;   // block-sparse layout operand
};

/// A neighborhood on row-major tokens, or in block order with `tile`.
BenchCase neighborhoodCase(std::string name, const char *grid,
                           const char *kernel, std::string tile) {
  std::string mask =
      llvm::formatv("#attn.neighborhood<grid = {0}, kernel = {1}{2}>", grid,
                    kernel, tile.empty() ? "" : ", tile = [" + tile + "]");
  std::string order = tile.empty() ? "row-major" : "blocks " + tile;
  return {"NA " + name + ", " + order, mask};
}

std::string spec(const BenchCase &c, int64_t s, int64_t h, int64_t d) {
  std::string t = llvm::formatv("tensor<1x{0}x{1}x{2}xf32>", h, s, d);
  std::string args = "%q: " + t + ", %k: " + t + ", %v: " + t;
  std::string operands;
  if (c.layout) {
    std::string lt = llvm::formatv("tensor<1x{0}x{1}x{1}xi8>", h, s / 64);
    args += ", %l: " + lt;
    operands = " layout(%l : " + lt + ")";
  }
  std::string mask = c.mask.empty() ? "" : " mask(" + c.mask + ")";
  return llvm::formatv("func.func @bench({0}) -> {1} {{\n"
                       "  %o = attn.attention %q, %k, %v{2}{3} allow_empty_rows"
                       " : {1}, {1}, {1} -> {1}\n"
                       "  return %o : {1}\n}\n",
                       args, t, operands, mask);
}

/// Seconds of one run.
double runOnce(const jit::CpuKernel &kernel,
               const std::vector<runtime::TensorRef> &inputs,
               runtime::TensorRef output) {
  auto start = Clock::now();
  if (llvm::Error e = kernel.run(inputs, {output})) {
    llvm::errs() << llvm::toString(std::move(e)) << "\n";
    std::exit(1);
  }
  return seconds(start, Clock::now());
}

double median(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

/// A case, compiled, checked, with its inputs and its timed runs.
struct Measured {
  const BenchCase *c;
  std::unique_ptr<jit::CpuKernel> kernel;
  std::vector<runtime::TensorRef> inputs;
  double referenceSeconds;
  std::vector<double> times;
};

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(argc, argv, "attn CPU benchmark\n");
  if (repeats < 1 || referenceRepeats < 1) {
    llvm::errs() << "--repeats and --reference-repeats must be >= 1 (the "
                    "reference checks every kernel)\n";
    return 1;
  }
  const int64_t s = seqLen, h = heads, d = headDim;
  std::vector<BenchCase> cases = {
      {"dense", ""},
      {"causal", "#attn.causal"},
      {"window 256", "#attn.window<left = 255, right = 0>"},
      {"block-sparse 90% (64x64 blocks)",
       "#attn.block_sparse<block = [64, 64]>", true},
  };
  // The neighborhood grids have 2048 tokens.
  if (s == 2048) {
    for (const char *tile : {"", "8, 8", "4, 4"})
      cases.push_back(
          neighborhoodCase("7x7 on 64x32", "[64, 32]", "[7, 7]", tile));
    for (const char *tile : {"", "4, 4, 4", "1, 4, 4"})
      cases.push_back(neighborhoodCase("3x7x7 on 8x16x16", "[8, 16, 16]",
                                       "[3, 7, 7]", tile));
    // GNA with a stride of one block: block-sparse in block order.
    for (const char *tile : {"", "8, 8"})
      cases.push_back(neighborhoodCase("24x24 stride 8 on 64x32", "[64, 32]",
                                       "[24, 24], stride = [8, 8]", tile));
  }

  mlir::MLIRContext ctx;
  ctx.loadDialect<AttnDialect>();
  double peak = measurePeakGflops();
  std::mt19937_64 rng(42);
  HostTensor q = HostTensor::randomNormal(DType::F32, {1, h, s, d}, rng);
  HostTensor k = HostTensor::randomNormal(DType::F32, {1, h, s, d}, rng);
  HostTensor v = HostTensor::randomNormal(DType::F32, {1, h, s, d}, rng);
  // 10% of the 64x64 blocks on.
  HostTensor layout(DType::I8, {1, h, s / 64, s / 64});
  std::bernoulli_distribution on(0.1);
  int64_t blocksOn = 0;
  for (int64_t i = 0; i < layout.numElements(); ++i) {
    bool x = on(rng);
    layout.set(i, x);
    blocksOn += x;
  }
  HostTensor o(DType::F32, {1, h, s, d}), oRef(DType::F32, {1, h, s, d});

  llvm::outs() << llvm::formatv(
      "attn CPU benchmark: f32, B=1, H={0}, S={1}, D={2}, tiles {5}x{6}; {3} "
      "threads; measured FMA peak {4:F1} GFLOP/s\n\n",
      h, s, d, std::thread::hardware_concurrency(), peak, int64_t(tileQ),
      int64_t(tileKv));
  llvm::outs() << llvm::formatv(
      "| {0,-40} | {1,7} | {2,7} | {3,7} | {4,7} | {5,9} | {6,9} | {7,7} | "
      "{8,8} | {9,9} | {10,10} | {11,8} |\n",
      "mask", "density", "tiles", "visited", "partial", "time (ms)", "GFLOP/s",
      "% peak", "vs dense", "/ density", "ref (ms)", "speedup");
  for (int width : {40, 7, 7, 7, 7, 9, 9, 7, 8, 9, 10, 8})
    llvm::outs() << "|" << std::string(width + 2, '-');
  llvm::outs() << "|\n";
  // Compile and check every case, then time them round-robin, so that the
  // drift of a shared machine moves every case alike.
  std::vector<Measured> measured;
  for (const BenchCase &c : cases) {
    if (!c.mask.empty() && c.name.find(only) == std::string::npos)
      continue;
    std::string text = spec(c, s, h, d);
    jit::CpuOptions options;
    options.tileQ = tileQ;
    options.tileKv = tileKv;
    auto kernel = jit::CpuKernel::compile(text, options);
    jit::CpuOptions refOptions;
    refOptions.reference = true;
    auto reference = jit::CpuKernel::compile(text, refOptions);
    if (!kernel || !reference) {
      llvm::errs() << (kernel ? llvm::toString(reference.takeError())
                              : llvm::toString(kernel.takeError()))
                   << "\n";
      return 1;
    }
    std::vector<runtime::TensorRef> inputs = {q.ref(), k.ref(), v.ref()};
    if (c.layout)
      inputs.push_back(layout.ref());

    runOnce(**kernel, inputs, o.ref());
    std::vector<double> referenceTimes;
    for (int i = 0; i < referenceRepeats; ++i)
      referenceTimes.push_back(runOnce(**reference, inputs, oRef.ref()));
    double err = relativeError(o, oRef);
    if (!(err < 1e-4)) {
      llvm::errs() << c.name << ": kernel and reference disagree (relative "
                   << "error " << err << ")\n";
      return 1;
    }
    measured.push_back(
        {&c, std::move(*kernel), inputs, median(referenceTimes), {}});
  }
  for (int r = 0; r < repeats; ++r)
    for (Measured &m : measured)
      m.times.push_back(runOnce(*m.kernel, m.inputs, o.ref()));

  double denseTime = 0;
  for (const Measured &m : measured) {
    const BenchCase &c = *m.c;
    double t = median(m.times), tRef = m.referenceSeconds;

    // Allowed pairs: the layout's blocks, or the mask's static density.
    auto maskAttr = llvm::dyn_cast_or_null<MaskAttrInterface>(
        c.mask.empty() ? mlir::Attribute()
                       : mlir::parseAttribute(c.mask, &ctx));
    double density = c.layout ? double(blocksOn) / double(layout.numElements())
                              : *attn::density(maskAttr, s, s);
    double flops = 2.0 * (d + d) * density * double(s) * double(s) * double(h);
    double gflops = flops / t / 1e9;
    if (c.mask.empty())
      denseTime = t;
    // The tiles the kernel uses and visits (a layout decides at run time).
    auto [tq, tk] = alignTileSizes(maskAttr, tileQ, tileKv);
    std::string visited = "-", partial = "-";
    if (!c.layout) {
      TileCounts tiles = countTiles(maskAttr, s, s, tq, tk);
      int64_t seen = tiles.full + tiles.partial;
      visited = llvm::formatv("{0:F1}%", 100.0 * seen / (seen + tiles.empty));
      partial =
          llvm::formatv("{0:F0}%", seen ? 100.0 * tiles.partial / seen : 0.0);
    }
    double vsDense = denseTime > 0 ? t / denseTime : 1.0;
    llvm::outs() << llvm::formatv(
        "| {0,-40} | {1,7:F4} | {2,7} | {3,7} | {4,7} | {5,9:F2} | {6,9:F1} | "
        "{7,6:F1}% | {8,8:F3} | {9,9:F1} | {10,10:F1} | {11,7:F1}x |\n",
        c.name, density, std::to_string(tq) + "x" + std::to_string(tk), visited,
        partial, t * 1e3, gflops, 100.0 * gflops / peak, vsDense,
        vsDense / density, tRef * 1e3, tRef / t);
  }
  llvm::outs() << "\nGFLOP/s count useful work only: 4 D flops per allowed "
                  "(query, key) pair. \"visited\" is the share of the tiles "
                  "a kernel computes, \"partial\" the share of those that "
                  "run mask code; \"vs dense\" is time relative to the "
                  "dense kernel, \"/ density\" that divided by the density "
                  "(1 is a kernel whose cost follows the mask exactly); "
                  "\"speedup\" is over the reference path (attn-reference, "
                  "one thread).\n";
  return 0;
}
