//===- linear_cpu_bench.cpp - Linear vs softmax attention on the CPU ------===//
//
// Times causal linear attention (attn.linear_attention, chunked, elu+1
// features) and causal softmax attention (attn.attention, flash-tiled) on
// the same shapes for growing S, and prints the time per position (flat for
// linear attention, growing with S for softmax attention) and the crossover
// length where linear attention becomes the faster one.
//
// --form picks the recurrence: a feature map with the denominator (the
// default), RetNet's retention (identity features, a decay per head), simple
// GLA (a log-space gate per token), GLA (a gate per token and feature) or
// Gated DeltaNet (the delta rule with a gate per token, unit-norm q and k).
//
//   build/bin/attn-bench-linear-cpu [--heads 8] [--head-dim 64]
//       [--chunk-size 64] [--feature-map '#attn.elu_plus_one']
//       [--form feature-map|retention|simple-gla|gla|gated-delta]
//       [--min-seq 32] [--max-seq 16384] [--repeats 5]
//
//===----------------------------------------------------------------------===//

#include "attn/JIT/CpuKernel.h"
#include "attn/Support/HostTensor.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <optional>
#include <random>
#include <thread>

using namespace attn;
using runtime::DType;

namespace {

llvm::cl::opt<int> repeats("repeats", llvm::cl::desc("Timed runs per kernel"),
                           llvm::cl::init(5));
llvm::cl::opt<int64_t> heads("heads", llvm::cl::desc("Heads H"),
                             llvm::cl::init(8));
llvm::cl::opt<int64_t> headDim("head-dim", llvm::cl::desc("Head dimension D"),
                               llvm::cl::init(64));
llvm::cl::opt<int64_t> chunkSize("chunk-size",
                                 llvm::cl::desc("Positions per chunk"),
                                 llvm::cl::init(64));
llvm::cl::opt<int64_t> minSeq("min-seq",
                              llvm::cl::desc("Shortest sequence timed"),
                              llvm::cl::init(32));
llvm::cl::opt<int64_t> maxSeq("max-seq",
                              llvm::cl::desc("Longest sequence timed"),
                              llvm::cl::init(16384));
llvm::cl::opt<std::string>
    featureMap("feature-map", llvm::cl::desc("Feature map attribute"),
               llvm::cl::init("#attn.elu_plus_one"));

enum class Form { FeatureMap, Retention, SimpleGla, Gla, GatedDelta };
llvm::cl::opt<Form> form(
    "form", llvm::cl::desc("The recurrence timed"),
    llvm::cl::values(
        clEnumValN(Form::FeatureMap, "feature-map",
                   "--feature-map with the denominator"),
        clEnumValN(Form::Retention, "retention",
                   "identity features, a decay per head, no denominator"),
        clEnumValN(Form::SimpleGla, "simple-gla",
                   "identity features, a gate per token, no denominator"),
        clEnumValN(Form::Gla, "gla",
                   "identity features, a gate per token and feature"),
        clEnumValN(Form::GatedDelta, "gated-delta",
                   "the delta rule with a gate per token, l2-normalized")),
    llvm::cl::init(Form::FeatureMap));

using Clock = std::chrono::steady_clock;

llvm::StringRef formName() {
  switch (form) {
  case Form::FeatureMap:
    return "denominator";
  case Form::Retention:
    return "retention";
  case Form::SimpleGla:
    return "simple GLA";
  case Form::Gla:
    return "GLA";
  case Form::GatedDelta:
    return "Gated DeltaNet";
  }
  return "";
}

/// The type of the decay or gate operand of the form, empty for none.
std::string gateType(int64_t s) {
  switch (form) {
  case Form::FeatureMap:
    return "";
  case Form::Retention:
    return llvm::formatv("tensor<{0}xf32>", int64_t(heads));
  case Form::SimpleGla:
  case Form::GatedDelta:
    return llvm::formatv("tensor<1x{0}x{1}xf32>", int64_t(heads), s);
  case Form::Gla:
    return llvm::formatv("tensor<1x{0}x{1}x{2}xf32>", int64_t(heads), s,
                         int64_t(headDim));
  }
  return "";
}

std::string tensorType(int64_t s) {
  return llvm::formatv("tensor<1x{0}x{1}x{2}xf32>", int64_t(heads), s,
                       int64_t(headDim));
}

std::string linearSpec(int64_t s) {
  std::string t = tensorType(s), g = gateType(s);
  std::string map = form == Form::FeatureMap   ? std::string(featureMap)
                    : form == Form::GatedDelta ? "#attn.l2_normalize"
                                               : "#attn.identity";
  std::string arg, clause;
  if (form == Form::Retention) {
    arg = ", %gamma: " + g;
    clause = " decay(%gamma : " + g + ") normalization(none)";
  } else if (form == Form::GatedDelta) {
    arg = ", %g: " + g + ", %beta: " + g;
    clause = " gate(%g : " + g + ") delta_rule(%beta : " + g +
             ") normalization(none)";
  } else if (!g.empty()) {
    arg = ", %g: " + g;
    clause = " gate(%g : " + g + ") normalization(none)";
  }
  return llvm::formatv(
      "func.func @linear(%q: {0}, %k: {0}, %v: {0}{2}) -> {0} {{\n"
      "  %o = attn.linear_attention %q, %k, %v feature_map({1}) causal{3}\n"
      "      : {0}, {0}, {0} -> {0}\n"
      "  return %o : {0}\n}\n",
      t, map, arg, clause);
}

/// The decay or gate input of the form (empty for none): RetNet's decays,
/// or log sigmoid gates.
HostTensor gateInput(int64_t s, std::mt19937_64 &rng) {
  if (form == Form::FeatureMap)
    return HostTensor();
  if (form == Form::Retention) {
    HostTensor t(DType::F32, {heads});
    for (int64_t h = 0; h < heads; ++h)
      t.set(h, 1.0 - std::pow(2.0, -5.0 - double(h)));
    return t;
  }
  std::vector<int64_t> shape = {1, heads, s};
  if (form == Form::Gla)
    shape.push_back(headDim);
  HostTensor t(DType::F32, shape);
  std::normal_distribution<double> x(2.0, 1.0);
  for (int64_t i = 0; i < t.numElements(); ++i)
    t.set(i, -std::log1p(std::exp(-x(rng))));
  return t;
}

std::string softmaxSpec(int64_t s) {
  std::string t = tensorType(s);
  return llvm::formatv(
      "func.func @softmax(%q: {0}, %k: {0}, %v: {0}) -> {0} {{\n"
      "  %o = attn.attention %q, %k, %v mask(#attn.causal)\n"
      "      : {0}, {0}, {0} -> {0}\n"
      "  return %o : {0}\n}\n",
      t);
}

/// Median seconds of `repeats` runs after a warm-up run.
double time(const std::string &spec, const jit::CpuOptions &options,
            std::vector<runtime::TensorRef> inputs, runtime::TensorRef out) {
  auto kernel = jit::CpuKernel::compile(spec, options);
  if (!kernel) {
    llvm::errs() << llvm::toString(kernel.takeError()) << "\n";
    std::exit(1);
  }
  llvm::cantFail((*kernel)->run(inputs, {out}));
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto start = Clock::now();
    llvm::cantFail((*kernel)->run(inputs, {out}));
    times.push_back(
        std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  llvm::cl::ParseCommandLineOptions(argc, argv,
                                    "attn linear attention CPU benchmark\n");
  llvm::outs() << llvm::formatv(
      "causal attention, f32, B=1, H={0}, D=Dv={1}, {2} threads; linear: "
      "{3}, feature map {4}, chunk {5}; softmax: attn.attention tiles "
      "64x64\n\n",
      int64_t(heads), int64_t(headDim), std::thread::hardware_concurrency(),
      formName(),
      form == Form::FeatureMap   ? std::string(featureMap)
      : form == Form::GatedDelta ? "#attn.l2_normalize"
                                 : "#attn.identity",
      int64_t(chunkSize));
  llvm::outs() << "|     S | linear (ms) | us/position | softmax (ms) | "
                  "us/position | softmax / linear |\n"
                  "|------:|------------:|------------:|-------------:|"
                  "------------:|-----------------:|\n";
  // The shortest length from which linear attention stays the faster one.
  std::optional<int64_t> crossover;
  std::mt19937_64 rng(7);
  for (int64_t s = minSeq; s <= maxSeq; s *= 2) {
    std::vector<int64_t> shape = {1, heads, s, headDim};
    HostTensor q = HostTensor::randomNormal(DType::F32, shape, rng);
    HostTensor k = HostTensor::randomNormal(DType::F32, shape, rng);
    HostTensor v = HostTensor::randomNormal(DType::F32, shape, rng);
    HostTensor o(DType::F32, shape);
    std::vector<runtime::TensorRef> inputs = {q.ref(), k.ref(), v.ref()};
    HostTensor gate = gateInput(s, rng);
    std::vector<runtime::TensorRef> linearInputs = inputs;
    if (!gate.shape().empty())
      linearInputs.push_back(gate.ref());
    // The delta rule's write strengths: sigmoids.
    HostTensor beta;
    if (form == Form::GatedDelta) {
      beta = HostTensor(DType::F32, {1, heads, s});
      std::normal_distribution<double> x(0.0, 1.0);
      for (int64_t i = 0; i < beta.numElements(); ++i)
        beta.set(i, 1.0 / (1.0 + std::exp(-x(rng))));
      linearInputs.push_back(beta.ref());
    }
    jit::CpuOptions linearOptions;
    linearOptions.chunkSize = chunkSize;
    double linear = time(linearSpec(s), linearOptions, linearInputs, o.ref());
    double softmax = time(softmaxSpec(s), {}, inputs, o.ref());
    if (linear >= softmax)
      crossover.reset();
    else if (!crossover)
      crossover = s;
    llvm::outs() << llvm::formatv(
        "| {0,5} | {1,11:F2} | {2,11:F3} | {3,12:F2} | {4,11:F3} | {5,15:F2}x "
        "|\n",
        s, linear * 1e3, linear * 1e6 / s, softmax * 1e3, softmax * 1e6 / s,
        softmax / linear);
  }
  if (crossover)
    llvm::outs() << "\nCrossover: linear attention is the faster one from S = "
                 << *crossover << " on (every longer length timed).\n";
  else
    llvm::outs() << "\nNo crossover: softmax attention is the faster one at "
                 << "S = " << int64_t(maxSeq) << ".\n";
  return 0;
}
