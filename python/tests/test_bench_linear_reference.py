"""The PyTorch chunked reference bench/gpu/bench_linear.py checks our GPU
kernels (and fla's Triton kernels) against, run on CPU tensors and compared
with attn_mlir.linear_attention's CPU kernel (itself checked against float64
recurrences and fla's naive references): elu+1 with the denominator, RetNet's
retention and simple GLA, on a length that is not a chunk multiple. So the
benchmark's correctness column means something before a GPU is lent.
Without torch these skip."""
import pathlib
import sys

import numpy as np
import pytest

import attn_mlir as am
from reference import relative_error

torch = pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "gpu"))
import bench_linear as bl  # noqa: E402


@pytest.mark.parametrize("name", ["elu_plus_one", "retention", "simple_gla"])
def test_torch_chunked_matches_the_cpu_kernel(name, rng):
    S = 150  # two full chunks of 64 and a partial one
    B, D = 2, 24  # the reference takes its shapes from q (bench: D = 128)
    q, k, v = (torch.from_numpy(rng.standard_normal((B, bl.H, S, D))
                                .astype(np.float32)) for _ in range(3))
    extra, options = None, {}
    if name == "elu_plus_one":
        options["feature_map"] = am.elu_plus_one()
    else:
        options.update(feature_map=am.identity(), normalize=False)
    if name == "retention":
        extra = bl.retention_gammas("cpu")
        options["decay"] = extra.numpy()
    if name == "simple_gla":
        extra = torch.nn.functional.logsigmoid(
            torch.from_numpy(rng.standard_normal((B, bl.H, S))
                             .astype(np.float32)) + 3.0)
        options["gate"] = extra.numpy()
    ours = am.linear_attention(q.numpy(), k.numpy(), v.numpy(), causal=True,
                               **options)
    ref = bl.torch_chunked(name, q, k, v, extra)
    assert relative_error(ours, ref.numpy()) < 1e-5
