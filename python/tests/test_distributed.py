"""Context parallelism on the CPU: gloo process groups of 2, 3 and 4
processes, shards of unequal lengths, each rank's result against the
single-process kernel on the whole sequence (itself tested against float64
references elsewhere)."""
import os
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

import attn_mlir as am  # noqa: E402

if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available",
                allow_module_level=True)

# Shard lengths of ranks 0..3: unequal, one odd, one shorter than the rest.
LENGTHS = [23, 40, 9, 31]
B, H, HKV, D = 2, 4, 2, 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, fn, args):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        fn(rank, world, *args)
    finally:
        dist.destroy_process_group()


def _spawn(world, fn, *args):
    mp.spawn(_worker, args=(world, _free_port(), fn, args), nprocs=world,
             join=True)


def _data(seed, total, dtype=torch.float32, requires_grad=False,
          kv_heads=HKV):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, total, D, generator=g)
    k = torch.randn(B, kv_heads, total, D, generator=g)
    v = torch.randn(B, kv_heads, total, D + 3, generator=g)
    # Documents: cuts at random positions, different per batch entry.
    cuts = torch.randint(0, total, (B, 3), generator=g).sort(dim=1).values
    segments = (torch.arange(total)[None, :, None] >= cuts[:, None, :]).sum(2)
    out = [x.to(dtype).requires_grad_(requires_grad) for x in (q, k, v)]
    return (*out, segments.to(torch.int32))


def _zigzag_rows(lengths, rank):
    """Rows of the whole sequence that rank holds in the zigzag layout:
    chunks r and 2W-1-r of the order [first halves of ranks 0..W-1, second
    halves of ranks W-1..0] (a rank's first half has ceil(S_r / 2) rows)."""
    firsts = [(n + 1) // 2 for n in lengths]
    chunks = firsts + [n - f for n, f in zip(lengths, firsts)][::-1]
    starts = np.cumsum([0] + chunks)
    world = len(lengths)
    own = [rank, 2 * world - 1 - rank]
    return torch.cat([torch.arange(starts[c], starts[c] + chunks[c])
                      for c in own])


def _contiguous_rows(lengths, rank):
    start = sum(lengths[:rank])
    return torch.arange(start, start + lengths[rank])


def _shard(x, rows, dim=2):
    return x.index_select(dim, rows).contiguous()


def _skip_every_third(b, h, q_idx, kv_idx):
    return (q_idx - kv_idx) % 3 != 1


def _distance_penalty(score, b, h, q_idx, kv_idx):
    return score - 0.01 * (q_idx - kv_idx)


# Traced regions, which see global positions.
REGIONS = {"regions": {"mask_mod": _skip_every_third,
                       "score_mod": _distance_penalty}}

CASES = {
    # name: (mask, score_mods, alibi slopes operand)
    "dense": (None, (), False),
    "causal": (am.causal(), (), False),
    "window_sinks": (am.window(17, 0) | am.sinks(4), (), False),
    "documents": (am.document() & am.causal(), (), False),
    "alibi": (am.causal(), (am.alibi(),), False),
    "alibi_slopes": (None, (am.alibi(slopes=True),), True),
    "softcap": (am.causal(), (am.softcap(5.0),), False),
    "regions": (am.causal(), (), False),
}


def _check_ring(rank, world, seed, names):
    lengths = LENGTHS[:world]
    total = sum(lengths)
    q, k, v, segments = _data(seed, total)
    slopes = torch.linspace(0.05, 0.4, H)
    for layout, rows in (("contiguous", _contiguous_rows(lengths, rank)),
                         ("zigzag", _zigzag_rows(lengths, rank))):
        for name in names:
            mask, mods, with_slopes = CASES[name]
            extra = {"alibi_slopes": slopes} if with_slopes else {}
            extra.update(REGIONS.get(name, {}))
            whole = {}
            if mask is not None and "document" in mask.attr():
                whole = {"q_segments": segments, "kv_segments": segments}
            o_ref, lse_ref = am.attention(q, k, v, mask=mask, score_mods=mods,
                                          return_lse=True, **whole, **extra)
            o, lse = am.distributed.ring_attention(
                _shard(q, rows), _shard(k, rows), _shard(v, rows), mask=mask,
                score_mods=mods, layout=layout, return_lse=True,
                segments=(_shard(segments, rows, 1) if whole else None),
                **extra)
            what = f"{layout} {name} world {world} rank {rank} seed {seed}"
            torch.testing.assert_close(o, _shard(o_ref, rows), rtol=1e-5,
                                       atol=1e-5, msg=what)
            torch.testing.assert_close(lse, _shard(lse_ref, rows, 2),
                                       rtol=1e-5, atol=1e-5, msg=what)
            stats = am.distributed.last_stats["forward"]
            if layout == "contiguous" and name == "causal":
                # Every block of keys after the queries' shard is skipped:
                # W (W - 1) / 2 of the W^2 blocks over all ranks.
                skipped = torch.tensor([stats.skipped])
                dist.all_reduce(skipped)
                assert skipped.item() == world * (world - 1) // 2, what


def _assert_shard_matches(o, shards, o_ref, wholes, rows, what):
    """This rank's o and the gradients of its q, k, v shards are the rows
    of the one-process results."""
    torch.testing.assert_close(o, _shard(o_ref.detach(), rows), rtol=1e-5,
                               atol=1e-5, msg=what)
    for name, shard, whole in zip("qkv", shards, wholes):
        torch.testing.assert_close(shard.grad, _shard(whole.grad, rows),
                                   rtol=1e-4, atol=1e-5,
                                   msg=f"grad_{name} {what}")


def _check_ring_bf16(rank, world, seed):
    """bf16 shards: partials merged in f32, one rounding of o at the end."""
    lengths = LENGTHS[:world]
    rows = _zigzag_rows(lengths, rank)
    q, k, v, _ = _data(seed, sum(lengths), dtype=torch.bfloat16)
    o_ref = am.attention(q, k, v, mask=am.causal(), score_mods=(am.alibi(),))
    o = am.distributed.ring_attention(
        _shard(q, rows), _shard(k, rows), _shard(v, rows), mask=am.causal(),
        score_mods=(am.alibi(),), layout="zigzag")
    assert o.dtype == torch.bfloat16
    torch.testing.assert_close(o.float(), _shard(o_ref, rows).float(),
                               rtol=2e-2, atol=2e-2,
                               msg=f"world {world} rank {rank} seed {seed}")


def _check_ring_backward(rank, world, seed):
    lengths = LENGTHS[:world]
    total = sum(lengths)
    rows = _zigzag_rows(lengths, rank)
    for mask, mods in ((am.causal(), (am.alibi(),)),
                       (am.window(12, 3), ()),
                       (None, (am.softcap(4.0),))):
        q, k, v, _ = _data(seed, total, requires_grad=True)
        grad_o = torch.randn(B, H, total, D + 3,
                             generator=torch.Generator().manual_seed(seed + 1))
        o_ref = am.attention(q, k, v, mask=mask, score_mods=mods)
        o_ref.backward(grad_o)
        shards = [_shard(x.detach(), rows).requires_grad_() for x in (q, k, v)]
        o = am.distributed.ring_attention(*shards, mask=mask, score_mods=mods,
                                          layout="zigzag")
        o.backward(_shard(grad_o, rows))
        _assert_shard_matches(o, shards, o_ref, (q, k, v), rows,
                              f"{mask and mask.attr()} world {world} rank "
                              f"{rank} seed {seed}")


def _check_ulysses(rank, world, seed, count):
    lengths = LENGTHS[:world]
    total = sum(lengths)
    rows = _contiguous_rows(lengths, rank)
    slopes = torch.linspace(0.05, 0.4, H)
    cases = ((am.window(9, 9), (am.alibi(slopes=True),),
              {"alibi_slopes": slopes}),
             (am.document() & am.causal(), (), {}),
             (am.causal(), (), {}))
    for mask, mods, extra in cases[:count]:
        # Each rank takes H / W query heads and as many kv heads: GQA on
        # two ranks, none on four.
        q, k, v, segments = _data(seed, total, requires_grad=True,
                                  kv_heads=max(HKV, world))
        documents = mask is not None and "document" in mask.attr()
        whole = {"q_segments": segments, "kv_segments": segments} if documents else {}
        o_ref = am.attention(q, k, v, mask=mask, score_mods=mods, **whole,
                             **extra)
        # The same on every rank.
        grad_o = torch.randn(o_ref.shape,
                             generator=torch.Generator().manual_seed(seed + 1))
        o_ref.backward(grad_o)
        shards = [_shard(x.detach(), rows).requires_grad_() for x in (q, k, v)]
        o = am.distributed.ulysses_attention(
            *shards, mask=mask, score_mods=mods,
            segments=_shard(segments, rows, 1) if documents else None, **extra)
        o.backward(_shard(grad_o, rows))
        _assert_shard_matches(o, shards, o_ref, (q, k, v), rows,
                              f"{mask.attr()} world {world} rank {rank} "
                              f"seed {seed}")


def _check_lasp2(rank, world, seed, picked):
    lengths = LENGTHS[:world]
    total = sum(lengths)
    rows = _contiguous_rows(lengths, rank)
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, H, total, D, generator=g) for _ in range(3))
    decay = 0.9 + 0.09 * torch.rand(H, generator=g)
    token_gate = -torch.rand(B, H, total, generator=g)
    feature_gate = -0.5 * torch.rand(B, H, total, D, generator=g)
    cases = [
        (am.elu_plus_one(), {"decay": decay}, True),
        (am.identity(), {"decay": decay}, False),
        (am.identity(), {"gate": token_gate}, False),
        (am.elu_plus_one(), {"gate": token_gate}, True),
        (am.identity(), {"gate": feature_gate}, False),
        (am.relu(), {}, True),
    ]
    with torch.no_grad():
        for fmap, gates, normalize in (cases[i] for i in picked):
            o_ref = am.linear_attention(q, k, v, feature_map=fmap, causal=True,
                                        normalize=normalize, **gates)
            local = {name: (x if x.dim() == 1 else _shard(x, rows))
                     for name, x in gates.items()}
            o = am.distributed.lasp2_linear_attention(
                _shard(q, rows), _shard(k, rows), _shard(v, rows),
                feature_map=fmap, normalize=normalize, **local)
            what = f"{fmap} {sorted(gates)} world {world} rank {rank} seed {seed}"
            torch.testing.assert_close(o, _shard(o_ref, rows), rtol=2e-4,
                                       atol=2e-5, msg=what)


# Every mask on three ranks; fewer on two and four, to keep the suite short
# (each process compiles its kernels).
@pytest.mark.parametrize("world, names", [
    (2, ("causal", "documents", "regions")),
    (3, tuple(CASES)),
    (4, ("causal", "alibi", "window_sinks")),
])
def test_ring_attention_matches_one_process(world, names, rng):
    _spawn(world, _check_ring, int(rng.integers(1 << 30)), names)


def test_ring_attention_bf16_matches_one_process(rng):
    _spawn(2, _check_ring_bf16, int(rng.integers(1 << 30)))


@pytest.mark.parametrize("world", [2, 3])
def test_ring_attention_backward_matches_one_process(world, rng):
    _spawn(world, _check_ring_backward, int(rng.integers(1 << 30)))


@pytest.mark.parametrize("world, count", [(2, 3), (4, 1)])
def test_ulysses_attention_matches_one_process(world, count, rng):
    _spawn(world, _check_ulysses, int(rng.integers(1 << 30)), count)


# Each case on one group size (every process compiles its kernels).
@pytest.mark.parametrize("world, picked", [
    (2, (0, 4)), (3, (1, 5)), (4, (2, 3))])
def test_lasp2_linear_attention_matches_one_process(world, picked, rng):
    _spawn(world, _check_lasp2, int(rng.integers(1 << 30)), tuple(picked))


def test_ring_attention_needs_torch_tensors_and_self_attention():
    q = torch.zeros(1, 2, 8, 16)
    with pytest.raises(am.Error, match="ring attention is self-attention"):
        am.distributed.ring_attention(q, q[:, :, :4], q[:, :, :4])
    with pytest.raises(am.Error, match="segments come with a document"):
        am.distributed.ring_attention(q, q, q, mask=am.causal(),
                                      segments=torch.zeros(1, 8, dtype=torch.int32))


def test_positions_are_checked():
    q = torch.zeros(1, 2, 8, 16)
    with pytest.raises(am.Error, match=r"places 8 q rows at 5 of 10"):
        am.attention(q, q, q, mask=am.causal(), positions=(5, 0, 10, 8))
    with pytest.raises(am.Error, match=r"positions is \(q_offset"):
        am.attention(q, q, q, positions=(0, 0))


def test_classify_mask_block():
    from attn_mlir import _native
    causal = am.causal().attr()
    assert _native.classify_mask_block(causal, 100, 100, 50, 60, 0, 50) == "full"
    assert _native.classify_mask_block(causal, 100, 100, 10, 20, 30, 40) == "empty"
    assert _native.classify_mask_block(causal, 100, 100, 10, 20, 15, 25) == "partial"
    # A mask that reads run-time data is never known to be empty here.
    assert _native.classify_mask_block(am.document().attr(), 100, 100, 0, 10,
                                       50, 60) == "partial"
    with pytest.raises(am.Error, match="is not a mask attribute"):
        _native.classify_mask_block("#attn.softcap<1.0>", 1, 1, 0, 1, 0, 1)
