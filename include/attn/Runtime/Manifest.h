//===- Manifest.h - What a loader needs to launch a compiled kernel -*- C++ -*-//
//
// `attn-translate --manifest` writes one next to every GPU binary: the launch
// plan of the spec (its kernels in launch order, each with its symbol, its
// parameters in order with their ABI and its launch geometry as formulas in
// the signature's dimension names; the workspaces the kernels share and the
// run-time choices the formulas use), the chip and a hash of the spec. The runtime reads it back; both sides live here so they cannot
// drift. LLVM Support only (llvm::json), never MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_RUNTIME_MANIFEST_H
#define ATTN_RUNTIME_MANIFEST_H

#include "attn/Runtime/Signature.h"

#include "llvm/Support/JSON.h"

#include <array>
#include <memory>

namespace attn::runtime {

/// An integer formula over the signature's dimensions: a constant, a
/// dimension name, or a binary operation.
struct Expr {
  enum class Kind { Constant, Dim, Add, Sub, Mul, DivFloor, CeilDiv, Rem, Max, Min };
  Kind kind = Kind::Constant;
  int64_t value = 0;
  std::string dim;
  std::shared_ptr<const Expr> lhs, rhs;

  static Expr constant(int64_t v);
  static Expr dimension(llvm::StringRef name);
  static Expr binary(Kind kind, Expr lhs, Expr rhs);

  /// Evaluates under `bindings`; fails on an unbound dimension or a division
  /// by zero.
  llvm::Expected<int64_t> evaluate(const DimBindings &bindings) const;
  /// `ceildiv(Sq, 64)`, `B`, `128`.
  std::string str() const;
};

/// How one kernel parameter is passed.
struct KernelParam {
  enum class Kind {
    /// A tensor as MLIR's expanded memref descriptor: allocated pointer,
    /// aligned pointer, i64 offset, `rank` i64 sizes, `rank` i64 strides.
    MemrefDescriptor,
    /// An i64 (index) scalar given by `value`.
    Index,
    /// A pointer to the CUtensorMap (128 bytes of device memory) of input
    /// `tensor`, which the runtime encodes for each call
    /// (cuTensorMapEncodeTiled): boxes of `box` elements (outermost first,
    /// as the tensor's dimensions), a `swizzle` of that many bytes (0:
    /// none), elements past the tensor read as zero.
    TensorMap,
  };
  /// What a MemrefDescriptor passes: a tensor of the signature or a
  /// workspace of the plan.
  enum class Role { Input, Output, Workspace };
  Kind kind = Kind::MemrefDescriptor;
  /// MemrefDescriptor: the input, output or workspace it passes (an index
  /// into that list) and its rank.
  Role role = Role::Input;
  unsigned tensor = 0;
  unsigned rank = 0;
  /// Index: the value.
  Expr value;
  /// TensorMap: the box and the swizzle in bytes.
  std::vector<int64_t> box;
  int64_t swizzle = 0;
};

/// A named run-time choice of the plan (e.g. `kv_splits`): later formulas
/// refer to it by name.
struct Choice {
  std::string name;
  Expr value;
};

/// Device memory the runtime allocates for one call and shares between the
/// kernels of the plan (e.g. split-KV partial results): a dense row-major
/// tensor of `shape`, invisible to the caller.
struct Workspace {
  std::string name;
  DType dtype = DType::F32;
  std::vector<Expr> shape;
};

/// One kernel launch of the plan.
struct KernelLaunch {
  /// The kernel symbol in the binary.
  std::string symbol;
  std::vector<KernelParam> params;
  std::array<Expr, 3> grid, block;
  Expr dynamicSharedMemory;
};

struct Manifest {
  /// Version 2: a plan of several kernels, workspaces and choices.
  static constexpr int kVersion = 2;
  /// The dimension every formula may use for the device's multiprocessor
  /// count; the runtime binds it from the driver.
  static constexpr llvm::StringLiteral kMultiprocessors = "multiprocessors";
  /// "sm_90".
  std::string chip;
  /// "cubin", "ptx" or "fatbin": one image holds every kernel.
  std::string binaryFormat;
  /// Hex hash of the spec text and compile options; the compiler version.
  std::string specHash;
  std::string compiler;
  KernelSignature signature;
  /// Evaluated in order: a choice may use the signature's dimensions,
  /// `multiprocessors` and earlier choices.
  std::vector<Choice> choices;
  std::vector<Workspace> workspaces;
  /// In launch order.
  std::vector<KernelLaunch> kernels;
  /// Every tensor must be this many bytes aligned (16: the cp.async copies).
  int64_t alignment = 16;

  /// "kernel 'a'" or "kernels 'a', 'b'", for messages.
  std::string describeKernels() const;

  llvm::json::Value toJSON() const;
  static llvm::Expected<Manifest> fromJSON(const llvm::json::Value &value);
  static llvm::Expected<Manifest> parse(llvm::StringRef text);
  static llvm::Expected<Manifest> load(llvm::StringRef path);
};

/// What planning needs to know of the device.
struct DeviceProperties {
  /// Bound to the formula dimension `multiprocessors`.
  int64_t multiprocessors = 0;
};

/// What cuTensorMapEncodeTiled takes for one TensorMap parameter, computed
/// from the manifest and the tensor alone: dimensions innermost first, as
/// the driver orders them.
struct TensorMapRequest {
  static constexpr int64_t kBytes = 128;
  void *address = nullptr;
  DType dtype = DType::F16;
  unsigned rank = 0;
  /// Sizes, byte strides of dimensions 1 .. rank - 1, box, element strides.
  std::array<uint64_t, 5> dims{}, strides{};
  std::array<uint32_t, 5> box{}, elementStrides{};
  int64_t swizzle = 0;
};

/// One launch of a plan.
struct KernelLaunchPlan {
  /// Its entry in Manifest::kernels.
  unsigned kernel = 0;
  std::array<int64_t, 3> grid{}, block{};
  int64_t dynamicSharedMemory = 0;
  /// The parameter values, packed: `argStorage` holds them, `args` points
  /// at each (the form cuLaunchKernel takes).
  std::vector<int64_t> argStorage;
  std::vector<void *> args;
  /// True when the grid is empty (e.g. zero queries): nothing to launch.
  bool empty = false;
  /// Where workspace pointers go: (word in argStorage, workspace).
  std::vector<std::pair<size_t, unsigned>> workspaceSlots;
  /// Where tensor map pointers go: (word in argStorage, index in
  /// LaunchPlan::tensorMaps).
  std::vector<std::pair<size_t, unsigned>> tensorMapSlots;
};

/// Everything one call needs, computed from the manifest, the tensors and
/// the device's properties alone (no driver): shapes and dtypes are
/// checked here. The workspaces' memory is the caller's (the runtime's) to
/// allocate; setWorkspace puts its address into every launch that uses it.
struct LaunchPlan {
  /// Bytes between workspaces in one allocation (the driver's own
  /// alignment, so each starts as aligned as a fresh allocation).
  static constexpr int64_t kWorkspaceAlignment = 256;
  struct WorkspacePlan {
    std::vector<int64_t> shape;
    int64_t bytes = 0;
    /// Offset in the one allocation that holds all workspaces.
    int64_t offset = 0;
  };
  /// The signature's dimensions, `multiprocessors` and the choices.
  DimBindings bindings;
  std::vector<WorkspacePlan> workspaces;
  /// The bytes of the one allocation that holds every workspace.
  int64_t workspaceBytes = 0;
  std::vector<KernelLaunchPlan> launches;
  /// The tensor maps the launches take, to be encoded into device memory
  /// of TensorMapRequest::kBytes each.
  std::vector<TensorMapRequest> tensorMaps;

  /// True when no launch has work: nothing to allocate or launch.
  bool empty() const;
  /// Puts `base` + each workspace's offset into the descriptors of every
  /// launch that takes it.
  void setWorkspaceBase(void *base);
  /// Puts the address of tensor map i, `base` + i * kBytes, into every
  /// launch that takes it.
  void setTensorMapBase(void *base);
};

/// `inputs` and `outputs` hold device pointers. Errors name the parameter
/// and show the expected and given shapes.
llvm::Expected<std::unique_ptr<LaunchPlan>>
planLaunch(const Manifest &manifest, llvm::ArrayRef<TensorRef> inputs,
           llvm::ArrayRef<TensorRef> outputs, const DeviceProperties &device);

} // namespace attn::runtime

#endif // ATTN_RUNTIME_MANIFEST_H
