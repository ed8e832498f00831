# The examples are a lit suite of their own: each spec's RUN line runs it with
# attn-run --check against the float64 reference. Substitutions come from
# test/lit.cfg.py.
import os

lit_config.load_config(config, os.path.join(config.attn_src_root, "test", "lit.cfg.py"))
config.name = "ATTN-examples"
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "examples")
