# -*- Python -*-
import glob
import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "ATTN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")

llvm_config.with_system_environment(["HOME", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

config.substitutions.append(("%examples", os.path.join(config.attn_src_root, "examples")))
config.substitutions.append(("%attn_src", config.attn_src_root))
# Before the default %python (lit's own interpreter, which may lack numpy).
config.substitutions.insert(0, ("%python", config.python_executable))

tool_dirs = [config.attn_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["attn-opt", "attn-run", "attn-translate", "not", "count", "split-file",
     "mlir-runner"],
    tool_dirs)
# The runtime library mlir-runner loads for programs that print.
config.substitutions.append((
    "%mlir_c_runner_utils",
    os.path.join(os.path.dirname(config.llvm_tools_dir), "lib",
                 "libmlir_c_runner_utils.so")))

# ptxas from the CUDA toolkit: PTX tests assemble what attn-translate emits.
ptxas = os.path.join(config.cuda_toolkit_dir, "bin", "ptxas")
if os.path.exists(ptxas):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))

# cuobjdump and nvdisasm: SASS tests disassemble the cubins ptxas assembles.
# The CUDA toolkit's own if it has them, else those of PyPI's
# nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm wheels (scripts/setup), found
# through the interpreter the tests use (nvidia/cu13/bin/ in its
# site-packages), else the PATH's.
def nvidia_wheel_bin_dirs():
    try:
        out = subprocess.run(
            [config.python_executable, "-c",
             "import nvidia; print('\\n'.join(nvidia.__path__))"],
            capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    # Sorted, cu13/bin comes before the CUDA 12 wheels' cuda_*/bin.
    return sorted(d for p in out.splitlines() if p
                  for d in glob.glob(os.path.join(p, "*", "bin")))


cuda_bin_dirs = ([os.path.join(config.cuda_toolkit_dir, "bin")] +
                 nvidia_wheel_bin_dirs())


def find_cuda_tool(name):
    for d in cuda_bin_dirs:
        tool = os.path.join(d, name)
        if os.path.isfile(tool) and os.access(tool, os.X_OK):
            return tool
    return shutil.which(name)


sass_tools = {name: find_cuda_tool(name) for name in ("cuobjdump", "nvdisasm")}
if all(sass_tools.values()):
    config.available_features.add("sass")
    for name, tool in sass_tools.items():
        config.substitutions.append(("%" + name, tool))
