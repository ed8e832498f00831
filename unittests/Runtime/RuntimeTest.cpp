//===- RuntimeTest.cpp - Manifest, launch planning and the CUDA runtime ---===//
//
// Runs without a GPU: the driver is missing (a real case on CI) or the fake
// driver built next to this test stands in for it. ctest runs every test in
// its own process, so each one can pick its driver before the first use.
//
//===----------------------------------------------------------------------===//

#include "attn/Runtime/CudaRuntime.h"
#include "attn/Runtime/Swizzle.h"

#include "FakeCudaDriver.h"

#include "gtest/gtest.h"

#include <cstdlib>

using namespace attn::runtime;

namespace {

KernelParam tensorParam(KernelParam::Role role, unsigned tensor,
                        unsigned rank) {
  return {KernelParam::Kind::MemrefDescriptor, role, tensor, rank, {}};
}

/// The manifest of a causal kernel on q [B, 4, Sq, 64] bf16 (GQA over
/// k, v [B, 1, Skv, 64]) returning o and lse.
Manifest causalManifest(llvm::StringRef chip = "sm_90",
                        llvm::StringRef format = "cubin") {
  Manifest m;
  m.chip = chip.str();
  m.binaryFormat = format.str();
  m.specHash = "ABC";
  m.compiler = "attn-mlir test";
  auto dims = [](std::vector<std::pair<const char *, int64_t>> ds) {
    std::vector<Dim> out;
    for (auto [name, size] : ds)
      out.push_back(Dim{name, size});
    return out;
  };
  const int64_t dyn = Dim::kDynamic;
  m.signature.entry = "causal";
  m.signature.inputs = {
      {"q", DType::BF16, dims({{"B", dyn}, {"Hq", 4}, {"Sq", dyn}, {"D", 64}})},
      {"k", DType::BF16, dims({{"B", dyn}, {"Hkv", 1}, {"Skv", dyn}, {"D", 64}})},
      {"v", DType::BF16, dims({{"B", dyn}, {"Hkv", 1}, {"Skv", dyn}, {"Dv", 64}})}};
  m.signature.outputs = {
      {"o", DType::BF16, dims({{"B", dyn}, {"Hq", 4}, {"Sq", dyn}, {"Dv", 64}})},
      {"lse", DType::F32, dims({{"B", dyn}, {"Hq", 4}, {"Sq", dyn}})}};
  KernelLaunch k;
  k.symbol = "causal_attention";
  for (unsigned i = 0; i < 3; ++i)
    k.params.push_back(tensorParam(KernelParam::Role::Input, i, 4));
  k.params.push_back(tensorParam(KernelParam::Role::Output, 0, 4));
  k.params.push_back(tensorParam(KernelParam::Role::Output, 1, 3));
  k.grid = {Expr::binary(Expr::Kind::CeilDiv, Expr::dimension("Sq"),
                         Expr::constant(64)),
            Expr::constant(4), Expr::dimension("B")};
  k.block = {Expr::constant(128), Expr::constant(1), Expr::constant(1)};
  k.dynamicSharedMemory = Expr::constant(36864);
  m.kernels.push_back(std::move(k));
  return m;
}

/// A split-KV plan over the causal manifest's signature: `kv_splits` =
/// min(ceildiv(Skv, 64), max(1, ceildiv(multiprocessors, B * 4))) key
/// ranges per (query tile, head, batch); the first kernel writes partial
/// outputs and their lse to two workspaces, the second merges them into o
/// and lse.
Manifest splitManifest() {
  Manifest m = causalManifest();
  m.kernels.clear();
  auto dim = [](const char *name) { return Expr::dimension(name); };
  auto c = [](int64_t v) { return Expr::constant(v); };
  auto op = [](Expr::Kind kind, Expr a, Expr b) {
    return Expr::binary(kind, std::move(a), std::move(b));
  };
  m.choices.push_back(
      {"kv_splits",
       op(Expr::Kind::Min, op(Expr::Kind::CeilDiv, dim("Skv"), c(64)),
          op(Expr::Kind::Max, c(1),
             op(Expr::Kind::CeilDiv, dim(Manifest::kMultiprocessors.data()),
                op(Expr::Kind::Mul, dim("B"), c(4)))))});
  m.workspaces.push_back(
      {"workspace0", DType::F32,
       {dim("B"), c(4), dim("kv_splits"), dim("Sq"), c(64)}});
  m.workspaces.push_back(
      {"workspace1", DType::F32, {dim("B"), c(4), dim("kv_splits"), dim("Sq")}});
  KernelLaunch split;
  split.symbol = "split_kv";
  for (unsigned i = 0; i < 3; ++i)
    split.params.push_back(tensorParam(KernelParam::Role::Input, i, 4));
  split.params.push_back(tensorParam(KernelParam::Role::Workspace, 0, 5));
  split.params.push_back(tensorParam(KernelParam::Role::Workspace, 1, 4));
  split.params.push_back(
      {KernelParam::Kind::Index, KernelParam::Role::Input, 0, 0,
       dim("kv_splits")});
  split.grid = {op(Expr::Kind::CeilDiv, dim("Sq"), c(16)),
                op(Expr::Kind::Mul, c(4), dim("kv_splits")), dim("B")};
  split.block = {c(128), c(1), c(1)};
  split.dynamicSharedMemory = c(16384);
  KernelLaunch merge;
  merge.symbol = "merge";
  merge.params.push_back(tensorParam(KernelParam::Role::Workspace, 0, 5));
  merge.params.push_back(tensorParam(KernelParam::Role::Workspace, 1, 4));
  merge.params.push_back(tensorParam(KernelParam::Role::Output, 0, 4));
  merge.params.push_back(tensorParam(KernelParam::Role::Output, 1, 3));
  merge.grid = {dim("Sq"), c(4), dim("B")};
  merge.block = {c(64), c(1), c(1)};
  merge.dynamicSharedMemory = c(0);
  m.kernels.push_back(std::move(split));
  m.kernels.push_back(std::move(merge));
  return m;
}

/// The planning properties of the fake driver's default device.
constexpr DeviceProperties kDevice{132};

/// Fake, 256-byte aligned device addresses: planning never dereferences.
struct Tensors {
  std::vector<TensorRef> inputs, outputs;
  Tensors(int64_t b, int64_t sq, int64_t skv) {
    auto ptr = [](uintptr_t n) { return reinterpret_cast<void *>(n << 20); };
    inputs = {{ptr(1), DType::BF16, {b, 4, sq, 64}},
              {ptr(2), DType::BF16, {b, 1, skv, 64}},
              {ptr(3), DType::BF16, {b, 1, skv, 64}}};
    outputs = {{ptr(4), DType::BF16, {b, 4, sq, 64}},
               {ptr(5), DType::F32, {b, 4, sq}}};
  }
};

std::string errorOf(llvm::Error e) { return llvm::toString(std::move(e)); }

TEST(Manifest, RoundTripsThroughJSON) {
  Manifest m = causalManifest();
  std::string text;
  llvm::raw_string_ostream os(text);
  os << m.toJSON();
  llvm::Expected<Manifest> back = Manifest::parse(text);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  ASSERT_EQ(back->kernels.size(), 1u);
  const KernelLaunch &k = back->kernels[0];
  EXPECT_EQ(k.symbol, "causal_attention");
  EXPECT_EQ(back->chip, "sm_90");
  EXPECT_EQ(k.grid[0].str(), "ceildiv(Sq, 64)");
  EXPECT_EQ(k.grid[2].str(), "B");
  ASSERT_EQ(k.params.size(), 5u);
  EXPECT_EQ(k.params[4].role, KernelParam::Role::Output);
  EXPECT_EQ(k.params[4].tensor, 1u);
  EXPECT_EQ(k.params[4].rank, 3u);
  EXPECT_EQ(back->signature.inputs[1].dims[1].size, 1);
  EXPECT_EQ(back->signature.outputs[1].dtype, DType::F32);
}

std::string jsonText(const llvm::json::Value &v) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << v;
  return text;
}

TEST(Manifest, RoundTripsAPlanOfTwoKernelsWithWorkspacesAndAChoice) {
  llvm::Expected<Manifest> back =
      Manifest::parse(jsonText(splitManifest().toJSON()));
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  ASSERT_EQ(back->choices.size(), 1u);
  EXPECT_EQ(back->choices[0].name, "kv_splits");
  EXPECT_EQ(back->choices[0].value.str(),
            "min(ceildiv(Skv, 64), max(1, ceildiv(multiprocessors, mul(B, "
            "4))))");
  ASSERT_EQ(back->workspaces.size(), 2u);
  EXPECT_EQ(back->workspaces[1].name, "workspace1");
  EXPECT_EQ(back->workspaces[1].dtype, DType::F32);
  ASSERT_EQ(back->workspaces[0].shape.size(), 5u);
  EXPECT_EQ(back->workspaces[0].shape[2].str(), "kv_splits");
  ASSERT_EQ(back->kernels.size(), 2u);
  EXPECT_EQ(back->kernels[0].symbol, "split_kv");
  EXPECT_EQ(back->kernels[1].symbol, "merge");
  EXPECT_EQ(back->kernels[0].grid[1].str(), "mul(4, kv_splits)");
  EXPECT_EQ(back->kernels[0].dynamicSharedMemory.str(), "16384");
  const std::vector<KernelParam> &split = back->kernels[0].params;
  ASSERT_EQ(split.size(), 6u);
  EXPECT_EQ(split[3].role, KernelParam::Role::Workspace);
  EXPECT_EQ(split[4].tensor, 1u);
  EXPECT_EQ(split[4].rank, 4u);
  EXPECT_EQ(split[5].kind, KernelParam::Kind::Index);
  EXPECT_EQ(split[5].value.str(), "kv_splits");
  const std::vector<KernelParam> &merge = back->kernels[1].params;
  ASSERT_EQ(merge.size(), 4u);
  EXPECT_EQ(merge[0].role, KernelParam::Role::Workspace);
  EXPECT_EQ(merge[2].role, KernelParam::Role::Output);
  EXPECT_EQ(back->describeKernels(), "kernels 'split_kv', 'merge'");
  // The writer's JSON names the workspace a parameter passes.
  std::string text = jsonText(splitManifest().toJSON());
  EXPECT_NE(text.find("\"role\":\"workspace\",\"tensor\":\"workspace1\""),
            std::string::npos)
      << text;
}

TEST(Manifest, RefusesAVersionOneManifest) {
  // The single-kernel form attn-translate wrote before launch plans.
  std::string e = errorOf(
      Manifest::parse(R"({"version": 1, "kernel": "k", "params": [],
                          "grid": [1, 1, 1], "block": [32, 1, 1]})")
          .takeError());
  EXPECT_NE(e.find("this is a version 1 manifest (one kernel per spec); this "
                   "runtime reads version 2"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("recompile the kernel with this attn-translate"),
            std::string::npos)
      << e;
}

TEST(Manifest, RejectsFormulasOverUnknownNames) {
  // A choice may use only earlier choices.
  llvm::json::Value v = splitManifest().toJSON();
  llvm::json::Array &choices = *v.getAsObject()->getArray("choices");
  choices.insert(choices.begin(),
                 llvm::json::Object{{"name", "tiles"},
                                    {"value", llvm::json::Array{
                                                  "mul", "kv_splits", 2}}});
  std::string e = errorOf(Manifest::parse(jsonText(v)).takeError());
  EXPECT_NE(e.find("choice 'tiles' uses 'kv_splits', which is no dimension "
                   "of the signature, no earlier choice and not "
                   "'multiprocessors'"),
            std::string::npos)
      << e;
  // A choice must not shadow a dimension.
  v = splitManifest().toJSON();
  (*(*v.getAsObject()->getArray("choices"))[0].getAsObject())["name"] = "Sq";
  e = errorOf(Manifest::parse(jsonText(v)).takeError());
  EXPECT_NE(e.find("choice 'Sq' has the name of a dimension"),
            std::string::npos)
      << e;
  // A parameter naming a workspace that does not exist.
  v = splitManifest().toJSON();
  v.getAsObject()->getArray("workspaces")->pop_back();
  e = errorOf(Manifest::parse(jsonText(v)).takeError());
  EXPECT_NE(e.find("a parameter of kernel 'split_kv' names unknown workspace "
                   "'workspace1'"),
            std::string::npos)
      << e;
  v = splitManifest().toJSON();
  v.getAsObject()->getArray("kernels")->clear();
  e = errorOf(Manifest::parse(jsonText(v)).takeError());
  EXPECT_NE(e.find("the manifest lists no kernels"), std::string::npos) << e;
}

TEST(Manifest, RejectsMalformedInput) {
  EXPECT_NE(errorOf(Manifest::parse("{").takeError())
                .find("the manifest is not valid JSON"),
            std::string::npos);
  EXPECT_NE(errorOf(Manifest::parse("{\"version\": 2}").takeError())
                .find("the manifest has no field 'entry'"),
            std::string::npos);
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::json::Value v = causalManifest().toJSON();
  v.getAsObject()->operator[]("version") = 7;
  os << v;
  EXPECT_NE(errorOf(Manifest::parse(text).takeError())
                .find("manifest version 7 is not supported"),
            std::string::npos);
  EXPECT_NE(errorOf(Manifest::load("/nonexistent/m.json").takeError())
                .find("cannot read manifest /nonexistent/m.json"),
            std::string::npos);
}

TEST(LaunchPlan, EvaluatesGeometryAndPacksDescriptors) {
  Manifest m = causalManifest();
  Tensors t(3, 77, 131);
  auto planned = planLaunch(m, t.inputs, t.outputs, kDevice);
  ASSERT_TRUE(bool(planned)) << llvm::toString(planned.takeError());
  ASSERT_EQ((*planned)->launches.size(), 1u);
  EXPECT_EQ((*planned)->workspaceBytes, 0);
  KernelLaunchPlan *plan = &(*planned)->launches[0];
  EXPECT_EQ(plan->grid, (std::array<int64_t, 3>{2, 4, 3}));
  EXPECT_EQ(plan->block, (std::array<int64_t, 3>{128, 1, 1}));
  EXPECT_EQ(plan->dynamicSharedMemory, 36864);
  EXPECT_FALSE(plan->empty);
  // q: allocated, aligned, offset 0, sizes, row-major strides.
  const std::vector<int64_t> &a = plan->argStorage;
  ASSERT_EQ(a.size(), 4 * 11u + 9u);
  EXPECT_EQ(a[0], int64_t(1) << 20);
  EXPECT_EQ(a[1], int64_t(1) << 20);
  EXPECT_EQ(a[2], 0);
  EXPECT_EQ(std::vector<int64_t>(a.begin() + 3, a.begin() + 7),
            (std::vector<int64_t>{3, 4, 77, 64}));
  EXPECT_EQ(std::vector<int64_t>(a.begin() + 7, a.begin() + 11),
            (std::vector<int64_t>{4 * 77 * 64, 77 * 64, 64, 1}));
  ASSERT_EQ(plan->args.size(), a.size());
  EXPECT_EQ(plan->args[5], &plan->argStorage[5]);
}

TEST(LaunchPlan, EmptyGridLaunchesNothing) {
  Tensors t(2, 0, 16);
  auto plan = planLaunch(causalManifest(), t.inputs, t.outputs, kDevice);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  EXPECT_TRUE((*plan)->launches[0].empty);
  EXPECT_TRUE((*plan)->empty());
}

TEST(LaunchPlan, ChoicesFollowTheMultiprocessorCount) {
  Manifest m = splitManifest();
  Tensors t(2, 3, 1000);
  // ceildiv(132, 2 * 4) = 17 splits, under ceildiv(1000, 64) = 16: 16.
  auto plan = planLaunch(m, t.inputs, t.outputs, kDevice);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ((*plan)->bindings.at("kv_splits"), 16);
  EXPECT_EQ((*plan)->bindings.at("multiprocessors"), 132);
  // 24 multiprocessors: ceildiv(24, 8) = 3 splits.
  auto fewer = planLaunch(m, t.inputs, t.outputs, DeviceProperties{24});
  ASSERT_TRUE(bool(fewer)) << llvm::toString(fewer.takeError());
  EXPECT_EQ((*fewer)->bindings.at("kv_splits"), 3);
  const LaunchPlan &p = **fewer;
  ASSERT_EQ(p.launches.size(), 2u);
  EXPECT_EQ(p.launches[0].grid, (std::array<int64_t, 3>{1, 12, 2}));
  EXPECT_EQ(p.launches[1].grid, (std::array<int64_t, 3>{3, 4, 2}));
  EXPECT_EQ(p.launches[1].block, (std::array<int64_t, 3>{64, 1, 1}));
  // Workspaces: [2, 4, 3, 3, 64] and [2, 4, 3, 3] f32, each at a 256-byte
  // boundary of one allocation.
  ASSERT_EQ(p.workspaces.size(), 2u);
  EXPECT_EQ(p.workspaces[0].shape, (std::vector<int64_t>{2, 4, 3, 3, 64}));
  EXPECT_EQ(p.workspaces[0].bytes, 2 * 4 * 3 * 3 * 64 * 4);
  EXPECT_EQ(p.workspaces[1].offset, 18432);
  EXPECT_EQ(p.workspaces[1].bytes, 2 * 4 * 3 * 3 * 4);
  EXPECT_EQ(p.workspaceBytes, 18432 + 512);
  // split_kv: q, k, v (11 words each), workspace0 (13), workspace1 (11),
  // kv_splits.
  const std::vector<int64_t> &a = p.launches[0].argStorage;
  ASSERT_EQ(a.size(), 3 * 11u + 13u + 11u + 1u);
  EXPECT_EQ(a.back(), 3);
  EXPECT_EQ(std::vector<int64_t>(a.begin() + 36, a.begin() + 46),
            (std::vector<int64_t>{2, 4, 3, 3, 64, 4 * 3 * 3 * 64, 3 * 3 * 64,
                                  3 * 64, 64, 1}));
  EXPECT_EQ(a[33], 0) << "workspace pointers wait for the allocation";
}

TEST(LaunchPlan, WorkspaceAddressesGoIntoEveryLaunchThatTakesThem) {
  Tensors t(1, 16, 256);
  auto plan = planLaunch(splitManifest(), t.inputs, t.outputs, kDevice);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  const int64_t base = int64_t(7) << 24;
  (*plan)->setWorkspaceBase(reinterpret_cast<void *>(base));
  int64_t second = base + (*plan)->workspaces[1].offset;
  const std::vector<int64_t> &split = (*plan)->launches[0].argStorage;
  const std::vector<int64_t> &merge = (*plan)->launches[1].argStorage;
  EXPECT_EQ(std::vector<int64_t>(split.begin() + 33, split.begin() + 35),
            (std::vector<int64_t>{base, base}));
  EXPECT_EQ(split[35], 0);
  EXPECT_EQ(std::vector<int64_t>(split.begin() + 46, split.begin() + 48),
            (std::vector<int64_t>{second, second}));
  EXPECT_EQ(std::vector<int64_t>(merge.begin(), merge.begin() + 2),
            (std::vector<int64_t>{base, base}));
  EXPECT_EQ(std::vector<int64_t>(merge.begin() + 13, merge.begin() + 15),
            (std::vector<int64_t>{second, second}));
  // o follows: its own pointer.
  EXPECT_EQ(merge[24], reinterpret_cast<int64_t>(t.outputs[0].data));
}

/// The causal manifest as the sm_90a family passes it: the tensor maps of
/// q, k and v after the outputs (boxes of 64 or 128 rows and 64 columns,
/// 128-byte swizzle).
Manifest hopperManifest() {
  Manifest m = causalManifest("sm_90a");
  for (unsigned i = 0; i < 3; ++i) {
    KernelParam map;
    map.kind = KernelParam::Kind::TensorMap;
    map.tensor = i;
    map.box = {1, 1, i == 0 ? 128 : 64, 64};
    map.swizzle = 128;
    m.kernels[0].params.push_back(map);
  }
  return m;
}

TEST(Swizzle, WidthsAndBytesAreOneMapping) {
  for (int bits = 0; bits <= 3; ++bits)
    EXPECT_EQ(swizzleBits(swizzleBytes(bits)), bits);
  EXPECT_EQ(swizzleBytes(0), 0);
  EXPECT_EQ(swizzleBytes(1), 32);
  EXPECT_EQ(swizzleBytes(3), 128);
  for (int64_t bytes : {16, 48, 96, 256, -32})
    EXPECT_FALSE(swizzleBits(bytes)) << bytes;
}

TEST(Manifest, RoundTripsTensorMaps) {
  llvm::Expected<Manifest> back =
      Manifest::parse(jsonText(hopperManifest().toJSON()));
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  const KernelParam &k = back->kernels[0].params[6];
  EXPECT_EQ(k.kind, KernelParam::Kind::TensorMap);
  EXPECT_EQ(k.tensor, 1u);
  EXPECT_EQ(k.box, (std::vector<int64_t>{1, 1, 64, 64}));
  EXPECT_EQ(k.swizzle, 128);
  std::string bad = jsonText(hopperManifest().toJSON());
  size_t at = bad.find("\"swizzle_bytes\":128");
  ASSERT_NE(at, std::string::npos);
  bad.replace(at, 19, "\"swizzle_bytes\":100");
  EXPECT_NE(errorOf(Manifest::parse(bad).takeError())
                .find("needs swizzle_bytes 0, 32, 64 or 128"),
            std::string::npos);
}

TEST(LaunchPlan, TensorMapsFollowTheTensorsInnermostFirst) {
  Tensors t(3, 77, 131);
  auto plan = planLaunch(hopperManifest(), t.inputs, t.outputs, kDevice);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  ASSERT_EQ((*plan)->tensorMaps.size(), 3u);
  const TensorMapRequest &k = (*plan)->tensorMaps[1];
  EXPECT_EQ(k.address, t.inputs[1].data);
  EXPECT_EQ(k.rank, 4u);
  // k [3, 1, 131, 64] bf16: dimensions and byte strides, innermost first.
  EXPECT_EQ(k.dims, (std::array<uint64_t, 5>{64, 131, 1, 3, 0}));
  EXPECT_EQ(k.strides,
            (std::array<uint64_t, 5>{128, 128 * 131, 128 * 131, 0, 0}));
  EXPECT_EQ(k.box, (std::array<uint32_t, 5>{64, 64, 1, 1, 0}));
  EXPECT_EQ((*plan)->tensorMaps[0].box[1], 128u);
  // The three pointers follow the 53 words of the descriptors.
  const int64_t base = int64_t(9) << 24;
  (*plan)->setTensorMapBase(reinterpret_cast<void *>(base));
  const std::vector<int64_t> &a = (*plan)->launches[0].argStorage;
  ASSERT_EQ(a.size(), 53u + 3u);
  EXPECT_EQ(std::vector<int64_t>(a.begin() + 53, a.end()),
            (std::vector<int64_t>{base, base + 128, base + 256}));
}

TEST(LaunchPlan, RejectsTensorMapsTmaCannotTake) {
  Tensors t(1, 64, 64);
  Manifest wide = hopperManifest();
  wide.kernels[0].params[5].box = {1, 1, 128, 128};
  EXPECT_NE(errorOf(planLaunch(wide, t.inputs, t.outputs, kDevice).takeError())
                .find("the box's inner 256 bytes exceed the 128-byte swizzle"),
            std::string::npos);
  Manifest tall = hopperManifest();
  tall.kernels[0].params[5].box = {1, 1, 512, 64};
  EXPECT_NE(errorOf(planLaunch(tall, t.inputs, t.outputs, kDevice).takeError())
                .find("a box of 512 elements; TMA takes 1 to 256"),
            std::string::npos);
  // Rows of 20 bf16 elements: 40 bytes, not a multiple of 16.
  Manifest narrow = hopperManifest();
  for (Param *p : {&narrow.signature.inputs[0], &narrow.signature.outputs[0]})
    p->dims[3].size = 20;
  narrow.signature.inputs[1].dims[3].size = 20;
  Tensors n(1, 64, 64);
  n.inputs[0].shape[3] = n.inputs[1].shape[3] = n.outputs[0].shape[3] = 20;
  EXPECT_NE(errorOf(planLaunch(narrow, n.inputs, n.outputs, kDevice)
                        .takeError())
                .find("dimension 3 spans 40 bytes, TMA needs a multiple of 16"),
            std::string::npos);
}

TEST(LaunchPlan, RejectsPlansItCannotEvaluate) {
  Tensors t(1, 16, 256);
  Manifest m = splitManifest();
  EXPECT_NE(errorOf(planLaunch(m, t.inputs, t.outputs, DeviceProperties{0})
                        .takeError())
                .find("planning a launch needs the device's multiprocessor "
                      "count, got 0"),
            std::string::npos);
  Manifest negative = splitManifest();
  negative.workspaces[1].shape[3] = Expr::binary(
      Expr::Kind::Sub, Expr::constant(8), Expr::dimension("Sq"));
  EXPECT_NE(errorOf(planLaunch(negative, t.inputs, t.outputs, kDevice)
                        .takeError())
                .find("workspace 'workspace1' has size sub(8, Sq) = -8"),
            std::string::npos);
  Manifest grid = splitManifest();
  grid.kernels[1].grid[0] =
      Expr::binary(Expr::Kind::Sub, Expr::constant(0), Expr::dimension("Sq"));
  EXPECT_NE(errorOf(planLaunch(grid, t.inputs, t.outputs, kDevice).takeError())
                .find("kernel 'merge': launch geometry sub(0, Sq) x 64 "
                      "evaluates to -16 x 64"),
            std::string::npos);
  Manifest unbound = splitManifest();
  unbound.kernels[0].dynamicSharedMemory = Expr::dimension("tiles");
  EXPECT_NE(errorOf(planLaunch(unbound, t.inputs, t.outputs, kDevice)
                        .takeError())
                .find("needs dimension tiles, which no tensor, choice or "
                      "device property fixes"),
            std::string::npos);
  Manifest clash = splitManifest();
  clash.choices[0].name = "Skv";
  EXPECT_NE(errorOf(planLaunch(clash, t.inputs, t.outputs, kDevice)
                        .takeError())
                .find("'Skv' names both a run-time choice"),
            std::string::npos);
}

TEST(LaunchPlan, RejectsShapeDtypeAndAlignmentErrors) {
  Manifest m = causalManifest();
  Tensors heads(2, 16, 16);
  heads.inputs[0].shape[1] = 8;
  EXPECT_NE(errorOf(planLaunch(m, heads.inputs, heads.outputs, kDevice).takeError())
                .find("input 'q' has Hq = 8, the kernel is compiled for Hq = 4"),
            std::string::npos);
  Tensors lengths(2, 16, 16);
  lengths.inputs[2].shape[2] = 15;
  EXPECT_NE(errorOf(planLaunch(m, lengths.inputs, lengths.outputs, kDevice).takeError())
                .find("dimension Skv is 15 in 'v' but 16 in 'k'"),
            std::string::npos);
  Tensors dtype(2, 16, 16);
  dtype.inputs[1].dtype = DType::F16;
  EXPECT_NE(errorOf(planLaunch(m, dtype.inputs, dtype.outputs, kDevice).takeError())
                .find("input 'k' has element type f16, the kernel expects bf16"),
            std::string::npos);
  Tensors output(2, 16, 16);
  output.outputs[1].shape = {2, 4, 17};
  EXPECT_NE(errorOf(planLaunch(m, output.inputs, output.outputs, kDevice).takeError())
                .find("output 'lse' must be [2, 4, 16] f32, got [2, 4, 17] f32"),
            std::string::npos);
  Tensors aligned(2, 16, 16);
  aligned.inputs[0].data = static_cast<char *>(aligned.inputs[0].data) + 2;
  EXPECT_NE(errorOf(planLaunch(m, aligned.inputs, aligned.outputs, kDevice).takeError())
                .find("input 'q' is not 16-byte aligned"),
            std::string::npos);
}

TEST(CudaRuntime, ReportsAMissingDriver) {
  setenv("ATTN_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
  std::string e = errorOf(getCudaDevice().takeError());
  EXPECT_NE(e.find("cannot load the CUDA driver (/nonexistent/libcuda.so.1)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("run on the CPU"), std::string::npos) << e;
  e = errorOf(CudaKernel::load("image", causalManifest()).takeError());
  EXPECT_NE(e.find("cannot load the CUDA driver"), std::string::npos) << e;
}

TEST(CudaRuntime, RejectsAKernelForAnotherArchitecture) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "80", 1);
  std::string e =
      errorOf(CudaKernel::load("image", causalManifest("sm_90")).takeError());
  EXPECT_NE(e.find("kernel 'causal_attention' compiled for sm_90 (cubin) "
                   "cannot run on device 0 (Fake GPU, sm_80); recompile "
                   "with --chip sm_80"),
            std::string::npos)
      << e;
  // PTX for an older chip is compiled by the driver for the newer one.
  auto ptx = CudaKernel::load("image", causalManifest("sm_75", "ptx"));
  EXPECT_TRUE(bool(ptx)) << llvm::toString(ptx.takeError());
}

TEST(CudaRuntime, ReportsTheDriverMessageOfALaunchFailure) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  auto kernel = CudaKernel::load("image", causalManifest());
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_EQ((*kernel)->device().name, "Fake GPU");
  std::vector<DeviceBuffer> buffers;
  Tensors t(1, 16, 16);
  for (TensorRef &ref : llvm::concat<TensorRef>(t.inputs, t.outputs)) {
    auto buffer = DeviceBuffer::allocate(ref.numElements() * dtypeSize(ref.dtype));
    ASSERT_TRUE(bool(buffer)) << llvm::toString(buffer.takeError());
    ref.data = buffer->data();
    buffers.push_back(std::move(*buffer));
  }
  std::string e = errorOf((*kernel)->launch(t.inputs, t.outputs));
  EXPECT_NE(e.find("launching 'causal_attention' on grid [1, 4, 1] x block "
                   "[128, 1, 1] failed with CUDA error 719: unspecified "
                   "launch failure"),
            std::string::npos)
      << e;
  // Shapes are checked before anything reaches the driver.
  t.inputs[0].shape[3] = 32;
  e = errorOf((*kernel)->launch(t.inputs, t.outputs));
  EXPECT_NE(e.find("input 'q' has D = 32, the kernel is compiled for D = 64"),
            std::string::npos)
      << e;
}

/// The fake driver's record (FakeCudaDriver.h).
struct FakeRecord {
  FakeCudaNumLaunchesFn numLaunches = fn<FakeCudaNumLaunchesFn>(
      "fake_cuda_num_launches");
  FakeCudaLaunchFn launch = fn<FakeCudaLaunchFn>("fake_cuda_launch");
  FakeCudaSetParamWordsFn setParamWords =
      fn<FakeCudaSetParamWordsFn>("fake_cuda_set_param_words");
  FakeCudaNumAsyncAllocationsFn numAllocations =
      fn<FakeCudaNumAsyncAllocationsFn>("fake_cuda_num_async_allocations");
  FakeCudaAsyncAllocationFn allocation =
      fn<FakeCudaAsyncAllocationFn>("fake_cuda_async_allocation");
  FakeCudaNumTensorMapsFn numTensorMaps =
      fn<FakeCudaNumTensorMapsFn>("fake_cuda_num_tensor_maps");
  FakeCudaTensorMapFn tensorMap =
      fn<FakeCudaTensorMapFn>("fake_cuda_tensor_map");
  template <typename F> static F fn(const char *name) {
    F f = fakeCudaFunction<F>(ATTN_FAKE_CUDA_DRIVER, name);
    EXPECT_NE(f, nullptr) << name;
    return f;
  }
};

/// Device buffers for `t`'s tensors, their addresses put into `t`.
std::vector<DeviceBuffer> allocateTensors(Tensors &t) {
  std::vector<DeviceBuffer> buffers;
  for (TensorRef &ref : llvm::concat<TensorRef>(t.inputs, t.outputs)) {
    auto buffer =
        DeviceBuffer::allocate(ref.numElements() * dtypeSize(ref.dtype));
    EXPECT_TRUE(bool(buffer)) << llvm::toString(buffer.takeError());
    if (!buffer)
      continue;
    ref.data = buffer->data();
    buffers.push_back(std::move(*buffer));
  }
  return buffers;
}

TEST(CudaRuntime, LaunchesEveryKernelOfAPlanInOrderOnOneWorkspace) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  setenv("FAKE_CUDA_SMS", "24", 1);
  setenv("FAKE_CUDA_LAUNCH_RESULT", "0", 1);
  FakeRecord fake;
  ASSERT_TRUE(fake.numLaunches && fake.launch && fake.setParamWords &&
              fake.numAllocations && fake.allocation);
  // Record every parameter word of both kernels.
  fake.setParamWords("split_kv", 58);
  fake.setParamWords("merge", 44);
  auto kernel = CudaKernel::load("image", splitManifest());
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_EQ((*kernel)->device().multiprocessors, 24);
  Tensors t(2, 3, 1000);
  std::vector<DeviceBuffer> buffers = allocateTensors(t);
  void *stream = reinterpret_cast<void *>(0x5000);
  ASSERT_FALSE(bool((*kernel)->launch(t.inputs, t.outputs, stream)));

  ASSERT_EQ(fake.numLaunches(), 2);
  const FakeCudaLaunch &split = *fake.launch(0), &merge = *fake.launch(1);
  EXPECT_STREQ(split.symbol, "split_kv");
  EXPECT_STREQ(merge.symbol, "merge");
  // 24 multiprocessors: kv_splits = 3.
  EXPECT_EQ(std::vector<unsigned>(split.grid, split.grid + 3),
            (std::vector<unsigned>{1, 12, 2}));
  EXPECT_EQ(std::vector<unsigned>(merge.grid, merge.grid + 3),
            (std::vector<unsigned>{3, 4, 2}));
  EXPECT_EQ(merge.block[0], 64u);
  EXPECT_EQ(split.sharedMemory, 16384u);
  EXPECT_EQ(split.words[57], 3);
  EXPECT_EQ(split.stream, stream);
  EXPECT_EQ(merge.stream, stream);
  // One stream-ordered allocation holds both workspaces; both kernels get
  // its addresses, and it is freed on the stream after them.
  ASSERT_EQ(fake.numAllocations(), 1);
  const FakeCudaAllocation &ws = *fake.allocation(0);
  EXPECT_EQ(ws.bytes, 18432u + 512u);
  EXPECT_EQ(ws.stream, stream);
  long long base = static_cast<long long>(ws.pointer);
  EXPECT_NE(base, 0);
  EXPECT_EQ(split.words[33], base);
  EXPECT_EQ(split.words[34], base);
  EXPECT_EQ(split.words[46], base + 18432);
  EXPECT_EQ(merge.words[0], base);
  EXPECT_EQ(merge.words[13], base + 18432);
  EXPECT_EQ(merge.words[24],
            reinterpret_cast<long long>(t.outputs[0].data));
  EXPECT_TRUE(ws.freed);
  EXPECT_EQ(ws.freeStream, stream);

  // No queries: both grids are empty, nothing is allocated or launched.
  Tensors empty(2, 0, 1000);
  std::vector<DeviceBuffer> emptyBuffers = allocateTensors(empty);
  ASSERT_FALSE(bool((*kernel)->launch(empty.inputs, empty.outputs, stream)));
  EXPECT_EQ(fake.numLaunches(), 2);
  EXPECT_EQ(fake.numAllocations(), 1);

  // No keys: kv_splits = 0 empties the first grid only (the fake driver,
  // like CUDA, fails a launch with a dimension of 0): the merge still runs,
  // alone, and the workspaces are empty, so nothing is allocated.
  Tensors noKeys(2, 3, 0);
  std::vector<DeviceBuffer> noKeyBuffers = allocateTensors(noKeys);
  ASSERT_FALSE(bool((*kernel)->launch(noKeys.inputs, noKeys.outputs, stream)));
  ASSERT_EQ(fake.numLaunches(), 3);
  EXPECT_STREQ(fake.launch(2)->symbol, "merge");
  EXPECT_EQ(std::vector<unsigned>(fake.launch(2)->grid, fake.launch(2)->grid + 3),
            (std::vector<unsigned>{3, 4, 2}));
  EXPECT_EQ(fake.numAllocations(), 1);
}

TEST(CudaRuntime, EncodesTheTensorMapsOfACallIntoDeviceMemory) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  setenv("FAKE_CUDA_LAUNCH_RESULT", "0", 1);
  FakeRecord fake;
  ASSERT_TRUE(fake.numTensorMaps && fake.tensorMap && fake.launch);
  fake.setParamWords("causal_attention", 56);
  auto kernel = CudaKernel::load("image", hopperManifest());
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  Tensors t(2, 130, 70);
  std::vector<DeviceBuffer> buffers = allocateTensors(t);
  int mapsBefore = fake.numTensorMaps();
  int launchesBefore = fake.numLaunches();
  int allocationsBefore = fake.numAllocations();
  void *stream = reinterpret_cast<void *>(0x6000);
  ASSERT_FALSE(bool((*kernel)->launch(t.inputs, t.outputs, stream)));
  ASSERT_EQ(fake.numTensorMaps(), mapsBefore + 3);
  // v [2, 1, 70, 64] bf16: BFLOAT16 (9), 128-byte swizzle (3), L2 128B (2),
  // zero fill (0).
  const FakeCudaTensorMap &v = *fake.tensorMap(mapsBefore + 2);
  EXPECT_EQ(v.address, t.inputs[2].data);
  EXPECT_EQ(v.dataType, 9);
  EXPECT_EQ(v.swizzle, 3);
  EXPECT_EQ(v.l2Promotion, 2);
  EXPECT_EQ(v.oobFill, 0);
  EXPECT_EQ(v.interleave, 0);
  EXPECT_EQ(v.rank, 4u);
  EXPECT_EQ(std::vector<unsigned long long>(v.dims, v.dims + 4),
            (std::vector<unsigned long long>{64, 70, 1, 2}));
  EXPECT_EQ(std::vector<unsigned long long>(v.strides, v.strides + 3),
            (std::vector<unsigned long long>{128, 128 * 70, 128 * 70}));
  EXPECT_EQ(std::vector<unsigned>(v.box, v.box + 4),
            (std::vector<unsigned>{64, 64, 1, 1}));
  // The maps live in one stream-ordered allocation of 3 x 128 bytes, freed
  // on the stream after the launch, whose last three words point at them.
  ASSERT_EQ(fake.numAllocations(), allocationsBefore + 1);
  const FakeCudaAllocation &maps = *fake.allocation(allocationsBefore);
  EXPECT_EQ(maps.bytes, 384u);
  EXPECT_TRUE(maps.freed);
  EXPECT_EQ(maps.freeStream, stream);
  ASSERT_EQ(fake.numLaunches(), launchesBefore + 1);
  const FakeCudaLaunch &launch = *fake.launch(launchesBefore);
  long long base = static_cast<long long>(maps.pointer);
  EXPECT_EQ(std::vector<long long>(launch.words + 53, launch.words + 56),
            (std::vector<long long>{base, base + 128, base + 256}));
}

TEST(CudaRuntime, TheFakeDriverRefusesAnEmptyGridAsCudaDoes) {
  // The launch tests rely on this: a plan that launched an empty grid
  // would fail there, as it would on a GPU.
  using LaunchFn = int (*)(void *, unsigned, unsigned, unsigned, unsigned,
                           unsigned, unsigned, unsigned, void *, void **,
                           void **);
  setenv("FAKE_CUDA_LAUNCH_RESULT", "0", 1);
  FakeRecord fake;
  auto launch = FakeRecord::fn<LaunchFn>("cuLaunchKernel");
  ASSERT_TRUE(fake.numLaunches && launch);
  int before = fake.numLaunches();
  EXPECT_EQ(launch(nullptr, 0, 4, 2, 128, 1, 1, 0, nullptr, nullptr, nullptr),
            1);
  EXPECT_EQ(launch(nullptr, 1, 4, 2, 0, 1, 1, 0, nullptr, nullptr, nullptr),
            1);
  EXPECT_EQ(fake.numLaunches(), before);
}

TEST(CudaRuntime, AFailedLaunchStopsThePlanAndStillFreesTheWorkspace) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  unsetenv("FAKE_CUDA_LAUNCH_RESULT");
  FakeRecord fake;
  ASSERT_TRUE(fake.numLaunches && fake.numAllocations && fake.allocation);
  auto kernel = CudaKernel::load("image", splitManifest());
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  Tensors t(1, 16, 256);
  std::vector<DeviceBuffer> buffers = allocateTensors(t);
  std::string e = errorOf((*kernel)->launch(t.inputs, t.outputs));
  EXPECT_NE(e.find("launching 'split_kv' on grid [1, 16, 1] x block [128, 1, "
                   "1] failed with CUDA error 719"),
            std::string::npos)
      << e;
  EXPECT_EQ(fake.numLaunches(), 1);
  ASSERT_EQ(fake.numAllocations(), 1);
  EXPECT_TRUE(fake.allocation(0)->freed);
}

TEST(CudaRuntime, FindsEveryKernelSymbolOfThePlan) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  Manifest m = splitManifest();
  m.kernels[1].symbol = "missing";
  std::string e = errorOf(CudaKernel::load("image", m).takeError());
  EXPECT_NE(e.find("finding kernel symbol 'missing'"), std::string::npos) << e;
}

TEST(CudaRuntime, DeviceBuffersCopyAndPoison) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  auto buffer = DeviceBuffer::allocate(16);
  ASSERT_TRUE(bool(buffer)) << llvm::toString(buffer.takeError());
  float in[4] = {1, 2, 3, 4}, out[4] = {0, 0, 0, 0};
  ASSERT_FALSE(bool(buffer->copyFromHost(in, sizeof(in))));
  ASSERT_FALSE(bool(buffer->copyToHost(out, sizeof(out))));
  EXPECT_EQ(out[3], 4.0f);
  ASSERT_FALSE(bool(buffer->poison()));
  ASSERT_FALSE(bool(buffer->copyToHost(out, sizeof(out))));
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_NE(errorOf(buffer->copyFromHost(in, 64)).find("copy of 64 bytes into a buffer of 16"),
            std::string::npos);
}

} // namespace

/// A paged decode manifest: q [B, 4, 1, 64], NHD pages of 16 keys, a block
/// table and kv_lens.
Manifest pagedManifest() {
  Manifest m = causalManifest();
  const int64_t dyn = Dim::kDynamic;
  auto dims = [](std::vector<std::pair<const char *, int64_t>> ds) {
    std::vector<Dim> out;
    for (auto [name, size] : ds)
      out.push_back(Dim{name, size});
    return out;
  };
  m.signature.inputs = {
      {"q", DType::BF16, dims({{"B", dyn}, {"Hq", 4}, {"Sq", 1}, {"D", 64}})},
      {"k", DType::BF16,
       dims({{"Pages", dyn}, {"P", 16}, {"Hkv", 1}, {"D", 64}})},
      {"v", DType::BF16,
       dims({{"Pages", dyn}, {"P", 16}, {"Hkv", 1}, {"Dv", 64}})},
      {"block_table", DType::I32, dims({{"B", dyn}, {"MaxPages", dyn}})},
      {"kv_lens", DType::I32, dims({{"B", dyn}})}};
  m.signature.outputs = {
      {"o", DType::BF16, dims({{"B", dyn}, {"Hq", 4}, {"Sq", 1}, {"Dv", 64}})}};
  KernelLaunch &k = m.kernels.front();
  k.params.clear();
  const unsigned ranks[] = {4, 4, 4, 2, 1};
  for (unsigned i = 0; i < 5; ++i)
    k.params.push_back(tensorParam(KernelParam::Role::Input, i, ranks[i]));
  k.params.push_back(tensorParam(KernelParam::Role::Output, 0, 4));
  k.grid = {Expr::constant(1), Expr::constant(4), Expr::dimension("B")};
  return m;
}

TEST(CudaRuntime, ChecksPagedDataOnTheDeviceWhenAsked) {
  setenv("ATTN_CUDA_DRIVER", ATTN_FAKE_CUDA_DRIVER, 1);
  setenv("FAKE_CUDA_SM", "90", 1);
  setenv("FAKE_CUDA_LAUNCH_RESULT", "0", 1);
  auto kernel = CudaKernel::load("image", pagedManifest());
  ASSERT_TRUE(bool(kernel)) << llvm::toString(kernel.takeError());
  Tensors t(2, 1, 0);
  t.inputs = {{nullptr, DType::BF16, {2, 4, 1, 64}},
              {nullptr, DType::BF16, {3, 16, 1, 64}},
              {nullptr, DType::BF16, {3, 16, 1, 64}},
              {nullptr, DType::I32, {2, 2}},
              {nullptr, DType::I32, {2}}};
  t.outputs.resize(1);
  std::vector<DeviceBuffer> buffers = allocateTensors(t);
  // Sequence 1 uses two pages; its second entry names page 5 of 3.
  int32_t table[] = {0, 9, 2, 5}, lens[] = {16, 20};
  ASSERT_FALSE(bool(buffers[3].copyFromHost(table, sizeof(table))));
  ASSERT_FALSE(bool(buffers[4].copyFromHost(lens, sizeof(lens))));
  unsetenv("ATTN_CHECK_SEQUENCES");
  EXPECT_EQ(errorOf((*kernel)->launch(t.inputs, t.outputs)), "");
  setenv("ATTN_CHECK_SEQUENCES", "1", 1);
  EXPECT_EQ(errorOf((*kernel)->launch(t.inputs, t.outputs)),
            "'block_table'[1, 1] = 5 is not a page of the cache: 'k' has 3 "
            "pages, and the 2 pages sequence 1 uses ('kv_lens'[1] = 20) must "
            "lie in [0, 3)");
  lens[1] = 16;
  ASSERT_FALSE(bool(buffers[4].copyFromHost(lens, sizeof(lens))));
  EXPECT_EQ(errorOf((*kernel)->launch(t.inputs, t.outputs)), "");
  unsetenv("ATTN_CHECK_SEQUENCES");
}
