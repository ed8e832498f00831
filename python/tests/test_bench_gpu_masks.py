"""The FlexAttention mask_mods bench/gpu/bench.py compares our
neighborhood kernels against, on CPU tensors: its block order is
attn_mlir.neighborhood_order, and each mask_mod allows exactly the pairs
our attribute allows (its tile classes, split down to single pairs where a
block is partial, read them off).
So the GPU run's peer computes the same attention before one is lent.
Without torch these skip."""
import pathlib
import sys

import numpy as np
import pytest

import attn_mlir as am

torch = pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench" / "gpu"))
import bench  # noqa: E402


def test_block_order_is_neighborhood_order():
    assert bench.block_order(bench.GRID, (8, 8)).tolist() == \
        am.neighborhood_order(bench.GRID, (8, 8))


@pytest.mark.parametrize("name", sorted(bench.NEIGHBORHOODS))
def test_mask_mod_matches_the_attribute(name):
    kernel, stride, block = bench.NEIGHBORHOODS[name]
    mask_mod = bench.natten_mask_mod(kernel, stride, block, device="cpu")
    # A handful of query rows spread over the grid, against every key.
    n = bench.GRID[0] * bench.GRID[1]
    rows = torch.tensor([0, 1, 63, 64, 700, 2047, 4100, 8191])
    theirs = mask_mod(0, 0, rows[:, None], torch.arange(n)[None, :]).numpy()
    # One block of the whole grid is the row-major order, and its tile
    # classes are exact for single pairs.
    mask = am.neighborhood(list(bench.GRID), list(kernel), stride=list(stride),
                           tile=list(block or bench.GRID)).attr()
    ours = np.zeros(theirs.shape, bool)

    def fill(r, lo, hi):
        kind = am._native.classify_mask_block(mask, n, n, int(rows[r]),
                                              int(rows[r]) + 1, lo, hi)
        if kind == "partial":
            mid = (lo + hi) // 2
            fill(r, lo, mid)
            fill(r, mid, hi)
        else:
            ours[r, lo:hi] = kind == "full"
    for r in range(len(rows)):
        fill(r, 0, n)
    np.testing.assert_array_equal(ours, theirs)
    assert 0 < theirs.sum() < theirs.size
