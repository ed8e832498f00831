"""Context parallelism over ``torch.distributed``: one attention whose
sequence is split across the ranks of a process group (NCCL on GPUs, gloo
on CPUs), each rank running the compiled kernels on its shard.

- :func:`ring_attention`: the K/V shards travel around the ring while each
  rank computes its queries against the shard it holds; the partial
  ``(o, lse)`` of each step are merged (``attn.merge``). The mask is
  classified per pair of shards before any kernel runs: an empty pair is
  skipped, a full one runs without mask code, and a kernel sees global
  positions through the ``positions`` operand. Differentiable: the
  backward sends ``dk``/``dv`` around the ring with the shards.
- :func:`ulysses_attention`: all-to-all from sequence shards to head
  shards of the whole sequence, one kernel per rank, and back.
- :func:`lasp2_linear_attention`: causal linear attention; each rank's
  state over its shard, one all-gather of the states, then the outputs
  from the state of everything before the shard.

Every rank calls the function with its own shard, ``[B, H, S_rank, D]``;
shards may differ in length.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

import torch
import torch.distributed as dist

from . import (Error, _attention_grads, _attention_spec, _native,
               _positions_tensor, _run_spec, linear_attention, merge)
from .spec import FeatureMap, Mask, ScoreMod, _Combine

__all__ = ["ring_attention", "ulysses_attention", "lasp2_linear_attention",
           "CallStats"]


# --------------------------------------------------------------------------
# Placement of the shards
# --------------------------------------------------------------------------

def _lengths(n: int, group, device) -> list[int]:
    """The shard length of every rank of ``group``."""
    world = dist.get_world_size(group)
    mine = torch.tensor([n], dtype=torch.int64, device=device)
    every = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(every, mine, group=group)
    return [int(x.item()) for x in every]


@dataclasses.dataclass(frozen=True)
class _Piece:
    """Rows ``[start, start + length)`` of a shard are positions
    ``[offset, offset + length)`` of the sequence."""
    offset: int
    start: int
    length: int


def _placement(lengths: Sequence[int], layout: str) -> list[list[_Piece]]:
    """The pieces of each rank's shard. ``contiguous``: rank r holds the
    r-th run of the sequence. ``zigzag``: the sequence is cut into 2W
    chunks and rank r holds chunks r and 2W-1-r (its first ceil(S_r / 2)
    rows, then the rest), which balances a causal mask's work."""
    if layout == "contiguous":
        offsets = [sum(lengths[:r]) for r in range(len(lengths))]
        return [[_Piece(offsets[r], 0, n)] if n else []
                for r, n in enumerate(lengths)]
    if layout != "zigzag":
        raise Error(f"layout must be 'contiguous' or 'zigzag', got {layout!r}")
    first = [(n + 1) // 2 for n in lengths]
    second = [n - f for n, f in zip(lengths, first)]
    pieces = []
    for r in range(len(lengths)):
        head = _Piece(sum(first[:r]), 0, first[r])
        tail = _Piece(sum(first) + sum(second[r + 1:]), first[r], second[r])
        pieces.append([p for p in (head, tail) if p.length])
    return pieces


def _rows(x, piece: _Piece, dim: int = 2):
    return x.narrow(dim, piece.start, piece.length)


# --------------------------------------------------------------------------
# Ring attention
# --------------------------------------------------------------------------

@dataclasses.dataclass
class CallStats:
    """What the last call of this rank did: the bytes it sent (ring: K/V and
    segment ids, in the backward also dk/dv; Ulysses: q, k, v and o
    slices; LASP-2: its state and decay to every other rank) and, for ring
    attention, the blocks (a query piece x a key piece) the mask left
    empty and skipped, full (no mask code) or partial."""
    skipped: int = 0
    full: int = 0
    partial: int = 0
    bytes_sent: int = 0


#: The statistics of this process's last ring_attention forward
#: ("forward") and backward ("backward"), ulysses_attention ("ulysses",
#: forward and backward) and lasp2_linear_attention ("lasp2").
last_stats = {"forward": CallStats(), "backward": CallStats(),
              "ulysses": CallStats(), "lasp2": CallStats()}


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _peer(group, rank: int) -> int:
    """The global rank of ``rank`` of ``group``."""
    return rank if group is None else dist.get_global_rank(group, rank)


def _send_receive(sends, receives, group):
    """Starts sending each ``(tensor, rank)`` of ``sends`` and receiving
    into each of ``receives``; returns the function that waits for them.
    NCCL needs the operations in one batch (else two ranks sending to
    each other wait forever); gloo's batches mismatch messages of
    different sizes, so it gets them one by one."""
    sends = [(t.contiguous(), _peer(group, r)) for t, r in sends]
    receives = [(t, _peer(group, r)) for t, r in receives]
    if dist.get_backend(group) == "nccl":
        ops = [dist.P2POp(dist.isend, t, r, group) for t, r in sends]
        ops += [dist.P2POp(dist.irecv, t, r, group) for t, r in receives]
        requests = dist.batch_isend_irecv(ops) if ops else []
    else:
        requests = [dist.isend(t, r, group) for t, r in sends]
        requests += [dist.irecv(t, r, group) for t, r in receives]

    def wait():
        for request in requests:
            request.wait()
    return wait


def _exchange(tensors, shapes, group, stats: CallStats):
    """Sends ``tensors`` to the next rank of the ring and returns those of
    the previous one (of ``shapes``), once the returned function is
    called."""
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    received = [torch.empty(s, dtype=t.dtype, device=t.device)
                for t, s in zip(tensors, shapes)]
    wait = _send_receive([(t, (rank + 1) % world) for t in tensors],
                         [(t, (rank - 1) % world) for t in received], group)
    stats.bytes_sent += _nbytes(tensors)

    def finish():
        wait()
        return received
    return finish


def _needs_documents(mask: Mask) -> bool:
    """Whether every pair ``mask`` allows is in one document."""
    if mask.attr() == "#attn.document":
        return True
    return (isinstance(mask, _Combine) and mask.kind == "and" and
            any(_needs_documents(m) for m in mask.masks))


@dataclasses.dataclass(frozen=True)
class _Ring:
    """What a ring_attention call fixes: the spec options, the placement of
    every rank's shard, the sequence length."""
    group: object
    mask: Optional[Mask]
    kwargs: dict
    pieces: list
    total: int

    def kind(self, q: _Piece, kv: _Piece, q_segments=None,
             kv_segments=None) -> str:
        """The mask's class of the block: by its tile classes, and for a
        document mask (alone or in an ``and``) empty when no segment id of
        the query piece lies in the range of the key piece's, as the
        kernels classify their tiles."""
        if self.mask is None:
            # A mask_mod region may cut anywhere.
            return "partial" if self.kwargs["mask_mod"] else "full"
        if q_segments is not None and _needs_documents(self.mask):
            qs, ks = _rows(q_segments, q, 1), _rows(kv_segments, kv, 1)
            disjoint = ((qs.amax(1) < ks.amin(1)) | (ks.amax(1) < qs.amin(1)))
            if bool(disjoint.all()):
                return "empty"
        kind = _native.classify_mask_block(
            self.mask.attr(), self.total, self.total, q.offset,
            q.offset + q.length, kv.offset, kv.offset + kv.length)
        return "partial" if kind == "full" and self.kwargs["mask_mod"] else kind

    def block(self, q, k, v, qp: _Piece, kp: _Piece, kind: str,
              q_segments, kv_segments, alibi_slopes):
        """The spec and operands of one block (query piece x key piece)."""
        operands = {"positions": _positions_tensor(
            q, (qp.offset, kp.offset, self.total, self.total), qp.length,
            kp.length)}
        mask = None if kind == "full" else self.mask
        if mask is not None and q_segments is not None:
            operands["q_segments"] = _rows(q_segments, qp, 1).contiguous()
            operands["kv_segments"] = _rows(kv_segments, kp, 1).contiguous()
        if alibi_slopes is not None:
            operands["alibi_slopes"] = alibi_slopes
        qs, ks, vs = (_rows(q, qp).contiguous(), _rows(k, kp).contiguous(),
                      _rows(v, kp).contiguous())
        kwargs = dict(self.kwargs)
        if kind == "full":
            kwargs["mask_mod"] = None
        spec = _attention_spec(qs, ks, vs, operands, mask=mask,
                               return_lse=True, **kwargs)
        if spec.captured_tensors():
            raise Error("the mask_mod and score_mod of ring_attention see "
                        "global positions and may not read tensors; pass "
                        "document ids as segments= instead")
        return spec, (qs, ks, vs), operands

    def source_pieces(self, step: int):
        """The pieces of the shard this rank holds at ``step``."""
        world = len(self.pieces)
        rank = dist.get_rank(self.group)
        return self.pieces[(rank - step) % world]

    def blocks(self, step: int, q, held, segments, alibi_slopes,
               stats: CallStats):
        """The blocks of ``step`` the mask does not leave empty, counted in
        ``stats``: ``(index of the query piece, query piece, key piece,
        spec, (q, k, v) rows, operands)``."""
        rank = dist.get_rank(self.group)
        kv_segments = held[2] if segments is not None else None
        for i, qp in enumerate(self.pieces[rank]):
            for kp in self.source_pieces(step):
                kind = self.kind(qp, kp, segments, kv_segments)
                if kind == "empty":
                    stats.skipped += 1
                    continue
                setattr(stats, kind, getattr(stats, kind) + 1)
                spec, inputs, operands = self.block(
                    q, held[0], held[1], qp, kp, kind, segments, kv_segments,
                    alibi_slopes)
                yield i, qp, kp, spec, inputs, operands

    def shapes(self, step: int, tensors):
        """The shapes of ``tensors`` (shard rows on dim 2, or on dim 1 for
        segment ids) for the shard this rank holds at ``step``."""
        n = sum(p.length for p in self.source_pieces(step))
        return [t.shape[:2] + (n,) + t.shape[3:] if t.dim() == 4
                else (t.shape[0], n) for t in tensors]


def _ring_forward(ring: _Ring, q, k, v, segments, alibi_slopes):
    stats = CallStats()
    world = len(ring.pieces)
    rank = dist.get_rank(ring.group)
    mine = ring.pieces[rank]
    # The merged (o, lse) of each query piece, in f32.
    acc = [None] * len(mine)
    held = [k, v] + ([segments] if segments is not None else [])
    for step in range(world):
        wait = None
        if step + 1 < world:
            # The next shard is that of rank - step - 1.
            wait = _exchange(held, ring.shapes(step + 1, held), ring.group,
                             stats)
        for i, _, _, spec, inputs, operands in ring.blocks(
                step, q, held, segments, alibi_slopes, stats):
            o, lse = _run_spec(q, spec, inputs, operands)
            o = o.float()
            acc[i] = ((o, lse) if acc[i] is None else
                      merge([acc[i][0], o], [acc[i][1], lse]))
        if wait is not None:
            held = wait()
    outs, lses = [], []
    B, H, _, Dv = q.shape[0], q.shape[1], q.shape[2], v.shape[3]
    for qp, part in zip(mine, acc):
        if part is None:
            # No key of the sequence for these rows.
            part = (torch.zeros(B, H, qp.length, Dv, device=q.device),
                    torch.full((B, H, qp.length), float("-inf"),
                               device=q.device))
        outs.append(part[0])
        lses.append(part[1])
    last_stats["forward"] = stats
    if not outs:
        # An empty shard.
        return (torch.zeros(B, H, 0, Dv, dtype=q.dtype, device=q.device),
                torch.zeros(B, H, 0, device=q.device))
    return torch.cat(outs, 2).to(q.dtype), torch.cat(lses, 2)


def _ring_backward(ring: _Ring, q, k, v, o, lse, grad_o, segments,
                   alibi_slopes):
    stats = CallStats()
    world = len(ring.pieces)
    grad_q = torch.zeros(q.shape, dtype=torch.float32, device=q.device)
    grad_k = torch.zeros(k.shape, dtype=torch.float32, device=k.device)
    grad_v = torch.zeros(v.shape, dtype=torch.float32, device=v.device)
    # Travelling: the shard, its segment ids, the gradients of its keys and
    # values summed over the ranks it has visited.
    held = [k, v] + ([segments] if segments is not None else [])
    for step in range(world):
        for _, qp, kp, spec, (qs, ks, vs), operands in ring.blocks(
                step, q, held, segments, alibi_slopes, stats):
            dq, dk, dv = _attention_grads(
                spec, qs, ks, vs, _rows(o, qp).contiguous(),
                _rows(grad_o, qp).contiguous(),
                _rows(lse, qp).contiguous(), operands)
            _rows(grad_q, qp).add_(dq.float())
            _rows(grad_k, kp).add_(dk.float())
            _rows(grad_v, kp).add_(dv.float())
        # After `world` exchanges each rank holds its own shard again, with
        # the gradients every rank added.
        travelling = held + [grad_k, grad_v]
        shapes = ring.shapes(step + 1, travelling)
        if step + 1 == world:
            travelling, shapes = travelling[-2:], shapes[-2:]
        received = _exchange(travelling, shapes, ring.group, stats)()
        if step + 1 < world:
            held = received[:-2]
        grad_k, grad_v = received[-2:]
    last_stats["backward"] = stats
    return grad_q.to(q.dtype), grad_k.to(k.dtype), grad_v.to(v.dtype)


class _RingFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, ring, q, k, v, segments, alibi_slopes):
        o, lse = _ring_forward(ring, q, k, v, segments, alibi_slopes)
        ctx.ring = ring
        ctx.save_for_backward(q, k, v, o, lse, segments, alibi_slopes)
        ctx.mark_non_differentiable(lse)
        return o, lse

    @staticmethod
    def backward(ctx, grad_o, _):
        q, k, v, o, lse, segments, alibi_slopes = ctx.saved_tensors
        grads = _ring_backward(ctx.ring, q, k, v, o, lse, grad_o, segments,
                               alibi_slopes)
        return (None, *grads, None, None)


def ring_attention(q, k, v, *, group=None, mask: Optional[Mask] = None,
                   mask_mod: Optional[Callable] = None,
                   score_mods: Sequence[ScoreMod] = (),
                   score_mod: Optional[Callable] = None,
                   scale: Optional[float] = None,
                   layout: str = "contiguous", segments=None,
                   alibi_slopes=None, return_lse: bool = False):
    """Softmax attention over the whole sequence, sharded over ``group``
    (default: the world): this rank's ``q``, ``k``, ``v`` ``[B, H, S_rank,
    D]`` (GQA: fewer kv heads) are its shard in ``layout`` ("contiguous",
    or "zigzag" for causal load balance). ``mask``, ``score_mods`` (alibi,
    softcap, ...) and the traced ``mask_mod`` / ``score_mod`` (which see
    global positions and may read no tensor) are those of the whole
    sequence; ``segments``
    ``[B, S_rank]`` int32: this shard's document ids for
    :func:`~attn_mlir.document`. Returns this shard's ``o`` (and ``lse``);
    differentiable in q, k and v. :data:`last_stats` counts the blocks
    skipped and the bytes sent."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise Error(f"{name} must be a 4-D torch tensor [B, H, S, D]")
    if q.shape[2] != k.shape[2] or k.shape[2] != v.shape[2]:
        raise Error(f"ring attention is self-attention: q, k and v hold the "
                    f"same {q.shape[2]} positions, got k {k.shape[2]}, v "
                    f"{v.shape[2]}")
    if mask is not None and "block_sparse" in mask.attr():
        raise Error("ring_attention does not take #attn.block_sparse")
    if (segments is not None) != (mask is not None and "document" in mask.attr()):
        raise Error("segments come with a document() mask, and it needs them")
    lengths = _lengths(q.shape[2], group, q.device)
    ring = _Ring(group, mask, {"score_mods": tuple(score_mods), "scale": scale,
                               "mask_mod": mask_mod, "score_mod": score_mod},
                 _placement(lengths, layout), sum(lengths))
    o, lse = _RingFunction.apply(ring, q, k, v, segments, alibi_slopes)
    return (o, lse) if return_lse else o


# --------------------------------------------------------------------------
# All-to-all over heads (DeepSpeed-Ulysses)
# --------------------------------------------------------------------------

class _AllToAll(torch.autograd.Function):
    """Sends ``parts[j]`` to rank j and returns what every rank sent here
    (of ``shapes``); its backward is the all-to-all the other way. Point to
    point, since parts may differ in size (gloo's all_to_all needs equal
    ones)."""

    @staticmethod
    def forward(ctx, group, shapes, *parts):
        ctx.group = group
        ctx.shapes = [p.shape for p in parts]
        rank = dist.get_rank(group)
        received = [torch.empty(s, dtype=parts[0].dtype,
                                device=parts[0].device) for s in shapes]
        sends, receives = [], []
        for j, (part, into) in enumerate(zip(parts, received)):
            if j == rank:
                into.copy_(part)
                continue
            sends.append((part, j))
            receives.append((into, j))
        last_stats["ulysses"].bytes_sent += _nbytes(p for p, _ in sends)
        _send_receive(sends, receives, group)()
        return tuple(received)

    @staticmethod
    def backward(ctx, *grads):
        back = _AllToAll.apply(ctx.group, ctx.shapes,
                               *[g.contiguous() for g in grads])
        return (None, None, *back)


def _sequence_to_heads(x, lengths, group):
    """``[B, H, S_rank, D]`` sequence shards to ``[B, H / W, S, D]``."""
    world = len(lengths)
    parts = x.chunk(world, dim=1)
    shapes = [(x.shape[0], x.shape[1] // world, n, x.shape[3])
              for n in lengths]
    return torch.cat(_AllToAll.apply(group, shapes, *parts), dim=2)


def _heads_to_sequence(x, lengths, group):
    """The inverse of :func:`_sequence_to_heads`."""
    rank = dist.get_rank(group)
    parts = x.split(lengths, dim=2)
    shapes = [(x.shape[0], x.shape[1], lengths[rank], x.shape[3])
              for _ in lengths]
    return torch.cat(_AllToAll.apply(group, shapes, *parts), dim=1)


def ulysses_attention(q, k, v, *, group=None, mask: Optional[Mask] = None,
                      score_mods: Sequence[ScoreMod] = (),
                      scale: Optional[float] = None, segments=None,
                      alibi_slopes=None, normalization: Optional[str] = None):
    """Attention over the whole sequence by all-to-all over heads: each
    rank's contiguous shard ``[B, H, S_rank, D]`` becomes the whole
    sequence of ``H / W`` heads (``W`` the group's size, which must divide
    ``H`` and the kv heads), one kernel runs per rank, and the output goes
    back to sequence shards. ``segments [B, S_rank]``: this shard's
    document ids. ``alibi_slopes [H]`` is required with ``alibi`` (a rank
    computes heads ``[r H / W, (r + 1) H / W)``). Differentiable in q, k,
    v."""
    from . import attention
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    for name, heads in (("q", q.shape[1]), ("k", k.shape[1]), ("v", v.shape[1])):
        if heads % world:
            raise Error(f"ulysses_attention splits heads over {world} ranks; "
                        f"{name} has {heads}")
    if any("alibi" in m.text for m in score_mods) and alibi_slopes is None:
        raise Error("pass alibi(slopes=True) and alibi_slopes [H]: each rank "
                    "computes a slice of the heads, whose default slopes "
                    "differ")
    lengths = _lengths(q.shape[2], group, q.device)
    last_stats["ulysses"] = CallStats()
    operands = {}
    if segments is not None:
        # all_gather takes equal sizes: padded to the longest shard.
        longest = max(lengths)
        padded = torch.nn.functional.pad(segments,
                                         (0, longest - segments.shape[1]))
        every = [torch.empty_like(padded) for _ in lengths]
        dist.all_gather(every, padded.contiguous(), group=group)
        whole = torch.cat([x[:, :n] for x, n in zip(every, lengths)], 1)
        operands = {"q_segments": whole.contiguous(),
                    "kv_segments": whole.contiguous()}
    if alibi_slopes is not None:
        operands["alibi_slopes"] = alibi_slopes.chunk(world)[rank].contiguous()
    qh, kh, vh = (_sequence_to_heads(x, lengths, group) for x in (q, k, v))
    o = attention(qh, kh, vh, mask=mask, score_mods=score_mods, scale=scale,
                  normalization=normalization, **operands)
    return _heads_to_sequence(o, lengths, group)


# --------------------------------------------------------------------------
# LASP-2: linear attention
# --------------------------------------------------------------------------

def _shard_decay(q, decay, gate):
    """The factor by which this shard multiplies the state it receives,
    broadcastable to ``[B, H, F, 1]``."""
    if gate is not None:
        total = gate.float().sum(dim=2)            # [B, H] or [B, H, F]
        factor = torch.exp(total)
        return factor[..., None, None] if gate.dim() == 3 else factor[..., None]
    if decay is not None:
        return (decay.float() ** q.shape[2])[None, :, None, None]
    return torch.ones(1, 1, 1, 1, device=q.device)


def lasp2_linear_attention(q, k, v, *, feature_map: FeatureMap, group=None,
                           decay=None, gate=None, scale: Optional[float] = None,
                           normalize: bool = True, eps: Optional[float] = None,
                           feature_weights=None, chunk_size: int = 64):
    """Causal linear attention over the whole sequence (LASP-2): each rank
    holds a contiguous shard; it computes its shard's state from zero, one
    all-gather brings every rank's state and decay, and the outputs run
    from the state of all earlier shards, composed with their decays
    (``decay [H]``) or gates (``gate [B, H, S_rank]`` or ``[B, H, S_rank,
    F]``, this shard's). Forward only. The delta rule's transitions are not
    diagonal, so ``beta`` is not taken here."""
    if any(isinstance(x, torch.Tensor) and x.requires_grad
           for x in (q, k, v, gate)) and torch.is_grad_enabled():
        raise Error("lasp2_linear_attention has no backward yet; call it "
                    "under torch.no_grad()")
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    common = dict(feature_map=feature_map, causal=True, decay=decay, gate=gate,
                  scale=scale, normalize=normalize, eps=eps,
                  feature_weights=feature_weights, chunk_size=chunk_size)
    local = linear_attention(q, k, v, return_state=True, **common)[1:]
    factor = _shard_decay(q, decay, gate)
    factor = factor.expand(local[0].shape[0], local[0].shape[1],
                           local[0].shape[2], 1).contiguous()
    stats = last_stats["lasp2"] = CallStats()
    gathered = []
    for x in (*local, factor):
        stats.bytes_sent += _nbytes([x]) * (world - 1)
        every = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(every, x.contiguous(), group=group)
        gathered.append(every)
    # The state entering shard r: S_in(r) = d(r-1) S_in(r-1) + S(r-1).
    states = [torch.zeros_like(x, dtype=torch.float32) for x in local]
    for j in range(rank):
        d = gathered[-1][j]
        states = [d * s + g[j].float() if s.dim() == 4 else
                  d[..., 0] * s + g[j].float()
                  for s, g in zip(states, gathered[:-1])]
    initial = tuple(s.to(x.dtype) for s, x in zip(states, local))
    return linear_attention(q, k, v, initial_state=initial, **common)
