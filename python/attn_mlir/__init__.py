"""attn-mlir from Python: compile attention specs at run time and call them
on NumPy arrays or PyTorch tensors (CPU, or CUDA without copies).

    import attn_mlir as am
    spec = am.Spec(heads=8, kv_heads=2, head_dim=64, dtype="f32",
                   mask=am.causal() & am.window(256))
    kernel = am.compile(spec)                   # or MLIR text; target="cuda"
    o = kernel(q, k, v)                         # NumPy in, NumPy out

    o = am.attention(q, k, v, mask=am.causal())   # compile (cached) and run
    o = am.linear_attention(q, k, v, feature_map=am.elu_plus_one(), causal=True)
    o, lse = am.merge([o1, o2], [lse1, lse2])     # combine partial results
    o = am.paged_attention(q, k_pages, v_pages, block_table, kv_lens,
                           mask=am.causal("bottom_right"))   # a paged KV cache
    o = am.varlen_attention(q, k, v, cu_seqlens_q, cu_seqlens_k)  # packed [T, H, D]
    o = am.attention(q, k, v, mask=am.causal()); o.sum().backward()  # torch autograd
    o = am.flex_attention(q, k, v, score_mod=..., block_mask=am.create_block_mask(
        mask_mod, None, None, S, S))                # FlexAttention code, unchanged
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

from ._native import Error, clear_memory_cache
from ._native import compile as _compile_native
from ._native import favor_weights as _favor_weights
from .spec import (FeatureMap, LinearSpec, Mask, MergeSpec, ScoreMod, Spec,
                   Sym, alibi,
                   bias, block_sparse, causal, cosformer, document,
                   elu_plus_one, favor, fixed, hedgehog, identity,
                   l2_normalize, maximum, minimum,
                   neighborhood, neighborhood_order, prefix_lm, relu, sigmoid, sinks, softcap,
                   strided, taylor, trace_mask_mod, trace_score_mod, where,
                   window)

__all__ = [
    "Error", "Kernel", "Spec", "Mask", "ScoreMod", "Sym", "compile",
    "attention", "clear_memory_cache", "causal", "window", "sinks",
    "prefix_lm", "neighborhood", "neighborhood_order", "block_sparse", "document", "strided",
    "fixed", "alibi", "softcap", "bias", "sigmoid", "relu", "where",
    "minimum", "maximum", "trace_mask_mod", "trace_score_mod",
    "LinearSpec", "FeatureMap", "linear_attention", "identity", "l2_normalize", "elu_plus_one", "favor",
    "cosformer", "hedgehog", "taylor", "favor_weights", "sla_layout", "MergeSpec", "merge",
    "paged_attention", "varlen_attention", "flex_attention",
    "create_block_mask", "BlockMask", "FlexAttention", "call_spec",
]

_NUMPY_DTYPES = {"f16": "float16", "f32": "float32", "f64": "float64",
                 "i8": "int8", "i32": "int32", "i64": "int64", "i1": "bool"}
_TORCH_DTYPES = {"f16": "float16", "bf16": "bfloat16", "f32": "float32",
                 "f64": "float64", "i8": "int8", "i32": "int32",
                 "i64": "int64", "i1": "bool"}


def __getattr__(name):
    # torch.compile support needs torch: imported on first use.
    if name in ("FlexAttention", "call_spec"):
        from . import compiled
        return getattr(compiled, name)
    # Context parallelism needs torch.distributed.
    if name == "distributed":
        import importlib
        return importlib.import_module(".distributed", __name__)
    raise AttributeError(f"module 'attn_mlir' has no attribute {name!r}")


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _like(q, tensor):
    """A captured ``tensor`` (torch or NumPy) as the kind of array ``q`` is
    (sharing its memory on the CPU), so that a kernel's inputs are of one
    kind."""
    if _is_torch(q) == _is_torch(tensor):
        return tensor.to(q.device) if _is_torch(q) else tensor
    if _is_torch(q):
        import torch
        return torch.from_numpy(tensor).to(q.device)
    return tensor.detach().cpu().numpy()


def _dtype_name(x) -> str:
    """The attn dtype name of an array or tensor."""
    text = str(x.dtype).replace("torch.", "")
    for name, lib in {**_NUMPY_DTYPES, **_TORCH_DTYPES}.items():
        if text == lib:
            return name
    raise Error(f"element type {x.dtype} is not supported (use float16, "
                "bfloat16, float32, float64, int8, int32, int64 or bool)")


class Kernel:
    """A compiled spec. Call it with the inputs in the signature's order
    (``q, k, v``, then operands such as ``layout``, ``q_segments``, ``kv_segments``,
    ``bias``, ``alibi_slopes``, ``cu_seqlens_q``, ``cu_seqlens_kv``,
    ``block_table``, ``kv_lens``), positionally or by name; it returns ``o``,
    or ``(o, lse)`` when the spec returns the log-sum-exp."""

    def __init__(self, native):
        self._native = native
        #: [(name, dtype, [(dim name, size or None, derived from, divisor)])]
        self.inputs = native.inputs
        self.outputs = native.outputs
        self.target: str = native.target
        #: "compiled", "memory cache" or "disk cache"
        self.origin: str = native.origin

    def __repr__(self) -> str:
        def show(params):
            return ", ".join(
                f"{n}: {t}[{', '.join(f'{d}={s}' if s is not None else d for d, s, *_ in dims)}]"
                for n, t, dims in params)
        return (f"<attn_mlir.Kernel {self._native.entry} on {self.target}: "
                f"({show(self.inputs)}) -> ({show(self.outputs)})>")

    def _bind(self, args: Sequence[Any], extra: dict) -> list:
        names = [p[0] for p in self.inputs]
        if len(args) > len(names):
            raise Error(f"the kernel takes {len(names)} inputs ({', '.join(names)}), "
                        f"got {len(args)}")
        values = dict(zip(names, args))
        for key, value in extra.items():
            if key not in names:
                raise Error(f"the kernel has no input named {key!r} "
                            f"(inputs: {', '.join(names)})")
            if key in values:
                raise Error(f"input {key!r} given twice")
            values[key] = value
        missing = [n for n in names if n not in values]
        if missing:
            raise Error(f"missing input(s) {', '.join(missing)}")
        return [values[n] for n in names]

    def __call__(self, *args, stream: Optional[int] = None, **extra):
        inputs = self._bind(args, extra)
        for (name, _, _), x in zip(self.inputs, inputs):
            if not hasattr(x, "shape") or not hasattr(x, "dtype"):
                raise Error(f"input {name!r} must be a NumPy array or a tensor, "
                            f"got {type(x).__name__}")
        # Dtypes, ranks and sizes are checked by the signature, as a call is.
        shapes = self._native.output_shapes(
            [(_dtype_name(x), list(x.shape)) for x in inputs])
        first = inputs[0]
        if _is_torch(first):
            import torch
            inputs = [x.contiguous() for x in inputs]
            outputs = [torch.empty(tuple(shape), dtype=getattr(torch, _TORCH_DTYPES[t]),
                                   device=first.device)
                       for shape, (_, t, _) in zip(shapes, self.outputs)]
            if stream is None and first.is_cuda:
                stream = torch.cuda.current_stream(first.device).cuda_stream
        else:
            import numpy as np
            inputs = [np.ascontiguousarray(x) for x in inputs]
            outputs = []
            for shape, (name, t, _) in zip(shapes, self.outputs):
                if t not in _NUMPY_DTYPES:
                    raise Error(f"output {name!r} is {t}, which NumPy cannot hold: "
                                "pass PyTorch tensors or use an f16/f32 spec")
                outputs.append(np.empty(shape, dtype=_NUMPY_DTYPES[t]))
        self._native.run(inputs, outputs, stream or 0)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def compile(spec: Union[str, Spec, LinearSpec, MergeSpec], target: str = "cpu", *,
            entry: str = "", tile_q: int = 64, tile_kv: int = 64,
            chunk_size: int = 64, parallel: bool = True, chip: str = "",
            warps: int = 4, device: int = 0, cache_dir: str = "",
            disk_cache: bool = True) -> Kernel:
    """Compiles ``spec`` (MLIR text, a :class:`Spec`, :class:`LinearSpec` or
    :class:`MergeSpec`)
    for ``target`` ("cpu" or "cuda"), or returns it from the cache (in memory;
    for CUDA also on disk under $ATTN_CACHE_DIR or ~/.cache/attn-mlir).
    ``chunk_size``: positions per chunk of linear attention. Raises
    :class:`Error` with the MLIR diagnostics when the spec is invalid."""
    if not isinstance(spec, (str, Spec, LinearSpec, MergeSpec)):
        raise TypeError(f"spec must be MLIR text, a Spec, LinearSpec or "
                        f"MergeSpec, got "
                        f"{type(spec).__name__}")
    return Kernel(_compile_native(str(spec), target, entry, tile_q, tile_kv,
                                  chunk_size, parallel, chip, warps, device,
                                  cache_dir, disk_cache))


def _check_4d(q, k, v):
    for name, x in (("q", q), ("k", k), ("v", v)):
        if len(getattr(x, "shape", ())) != 4:
            raise Error(f"{name} must be 4-D [B, H, S, D], got shape "
                        f"{tuple(getattr(x, 'shape', ()))}")


def attention(q, k, v, *, mask: Optional[Mask] = None,
              mask_mod: Optional[Callable] = None,
              score_mods: Sequence[ScoreMod] = (),
              score_mod: Optional[Callable] = None,
              normalization: Optional[str] = None, scale: Optional[float] = None,
              return_lse: bool = False, positions=None,
              approximation: Optional[FeatureMap] = None,
              linear_output: bool = False, **operands):
    """Attention in one call, for FlexAttention users: builds the spec from
    the tensors (``q [B, Hq, Sq, D]``, ``k [B, Hkv, Skv, D]``,
    ``v [B, Hkv, Skv, Dv]``; B and the lengths stay dynamic so that one
    kernel serves every length), compiles it once (cached) for the tensors'
    device and runs it. ``operands``: ``layout``, ``q_segments``, ``kv_segments``,
    ``bias``, ``alibi_slopes`` as the mask and score modifiers need them.

    ``positions = (q_offset, kv_offset, q_total, kv_total)``: q and k are a
    shard of a longer attention (ring attention): query row ``i`` is
    position ``q_offset + i`` of ``q_total``, key ``j`` position
    ``kv_offset + j`` of ``kv_total``, which the mask and score modifiers
    see; rows it leaves without a key give ``o = 0`` and ``lse = -inf``.
    One kernel serves every placement (the values are read at run time).

    ``approximation = favor(m, seed=s)`` (or ``taylor(2)``) makes it a
    sparse + low-rank hybrid (Scatterbrain): ``mask`` is the exact support
    and the pairs outside it weigh the feature map's estimate
    ``phi(q) . phi(k)`` of ``exp(q . k / sqrt(D))`` (CPU, forward only).
    With ``linear_output=True`` the two parts come apart, as sparse-linear
    attention (SLA) computes them: ``o`` is the softmax over the support
    alone and a last output ``o_linear`` the linear attention of the
    approximation's map (any map without positions: ``elu_plus_one()``,
    ``hedgehog(n)``, ...) over the pairs outside it, 0 for a row whose keys are
    all in the support; SLA's output is ``o + proj(o_linear)``.
    :func:`sla_layout` picks the critical blocks.

    On torch tensors that require grad (q, k, v, and a ``bias`` operand) the
    call is differentiable: the backward runs the compiled
    ``attn.attention_backward`` of the same spec, for the tensors' device
    (the tiled CPU backward, or the GPU backward kernels on CUDA tensors).
    ``lse`` (``return_lse``) is not differentiable."""
    _check_4d(q, k, v)
    if positions is not None:
        operands = {**operands,
                    "positions": _positions_tensor(q, positions, q.shape[2],
                                                   k.shape[2])}
    spec = _attention_spec(q, k, v, operands, mask=mask, mask_mod=mask_mod,
                           score_mods=score_mods, score_mod=score_mod,
                           normalization=normalization, scale=scale,
                           return_lse=return_lse, approximation=approximation,
                           linear_output=linear_output)
    captured = spec.captured_tensors()
    if _needs_grad([tensor for _, tensor in captured]):
        raise Error("a tensor that a mask_mod or score_mod captures has no "
                    "gradient here (it requires grad); pass a learned "
                    "bias as bias= with score_mods=[bias()] instead")
    operands = {**operands, **{name: _like(q, tensor) for name, tensor in captured}}
    if _needs_grad((q, k, v, *operands.values())):
        if approximation is not None:
            raise Error("an approximation has no backward yet: pass tensors "
                        "that do not require grad, or train with the exact "
                        "attention (drop approximation=)")
        names = tuple(operands)
        return _attention_function().apply(spec, names, q, k, v,
                                           *operands.values())
    return _run_spec(q, spec, (q, k, v), operands)


def _attention_spec(q, k, v, operands: dict, *, mask: Optional[Mask] = None,
                    mask_mod: Optional[Callable] = None,
                    score_mods: Sequence[ScoreMod] = (),
                    score_mod: Optional[Callable] = None,
                    normalization: Optional[str] = None,
                    scale: Optional[float] = None,
                    return_lse: bool = False,
                    approximation: Optional[FeatureMap] = None,
                    linear_output: bool = False) -> Spec:
    """The spec attention() compiles for these tensors and ``operands``
    (a ``positions`` operand makes it a shard)."""
    dtype = _dtype_name(q)
    bias_shape = None
    if "bias" in operands:
        # Broadcast (size-1) dimensions stay static, the rest follow B, H,
        # Sq, Skv; a size-1 dimension where the scores have one size too
        # (B = 1) follows them: the bias is then one element per score,
        # whose gradient the tiled backward computes.
        scores = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
        bias_shape = [1 if s == 1 and n != 1 else (s if i == 1 else None)
                      for i, (s, n) in enumerate(zip(operands["bias"].shape,
                                                     scores))]
    # Neighborhood masks are defined on a fixed token grid: static lengths.
    static = mask is not None and "neighborhood" in mask.attr()
    return Spec(heads=q.shape[1], kv_heads=k.shape[1], head_dim=q.shape[3],
                value_dim=v.shape[3], dtype=dtype, mask=mask, mask_mod=mask_mod,
                q_len=q.shape[2] if static else None,
                kv_len=k.shape[2] if static else None,
                score_mods=tuple(score_mods), score_mod=score_mod,
                normalization=normalization, scale=scale, return_lse=return_lse,
                bias_shape=bias_shape, positions="positions" in operands,
                approximation=approximation, linear_output=linear_output)


class BlockMask:
    """FlexAttention's BlockMask (made by :func:`create_block_mask`): a mask
    for queries of ``Q_LEN`` and keys of ``KV_LEN``.

    - A :class:`Mask` (``causal()``, ``window(...)``, ...) is classified per
      tile at compile time.
    - A traced ``mask_mod`` that reads neither b, h nor a captured tensor and
      whose allowed keys are, on these lengths, all keys, a causal triangle
      or a band ``q - left <= kv <= q + right`` is that attribute
      (``mask``): evaluated once here, it is exact for the lengths the block
      mask is for, which ``flex_attention`` checks.
    - Any other ``mask_mod`` keeps its region, and ``layout`` marks the
      ``BLOCK_SIZE``-square blocks where it allows some pair: the kernel
      skips the others (a ``#attn.block_sparse`` layout and the region).
    """

    def __init__(self, mask_mod, B, H, Q_LEN, KV_LEN, BLOCK_SIZE=128,
                 device="cpu"):
        if isinstance(BLOCK_SIZE, int):
            BLOCK_SIZE = (BLOCK_SIZE, BLOCK_SIZE)
        self.shape = (B, H, Q_LEN, KV_LEN)
        self.BLOCK_SIZE = tuple(BLOCK_SIZE)
        self.mask, self.mask_mod, self.layout = None, None, None
        if mask_mod is None:
            return
        if isinstance(mask_mod, Mask):
            self.mask = mask_mod
            return
        import torch
        from .spec import _Captures
        captures = _Captures()
        region = trace_mask_mod(mask_mod, captures)
        # The region's header names %b and %h once each.
        positional = (not captures.tensors and region.count("%b") == 1 and
                      region.count("%h") == 1)
        bq, bk = self.BLOCK_SIZE
        nq, nk = -(-Q_LEN // bq), -(-KV_LEN // bk)
        batch, heads = B or 1, H or 1
        arange = lambda *a: torch.arange(*a, device=device)
        evaluate = vmap_bhqkv(mask_mod)
        layout = torch.zeros(batch, heads, nq, nk, dtype=torch.int8, device=device)
        first, last, count = [], [], []
        # One row of blocks at a time: never the whole [B, H, Q_LEN, KV_LEN]
        # boolean matrix. The function sees scalar indices, as FlexAttention
        # calls it (torch.vmap).
        for row in range(nq):
            q = arange(row * bq, min((row + 1) * bq, Q_LEN))
            allowed = evaluate(arange(batch), arange(heads), q, arange(KV_LEN))
            if positional:
                rows = allowed[0, 0]
                count.append(rows.sum(-1))
                first.append(rows.int().argmax(-1))
                last.append(KV_LEN - 1 - rows.flip(-1).int().argmax(-1))
            pad = nk * bk - KV_LEN
            if pad:
                allowed = torch.nn.functional.pad(allowed, (0, pad))
            blocks = allowed.reshape(batch, heads, -1, nk, bk).any(dim=4).any(dim=2)
            layout[:, :, row] = blocks.to(torch.int8)
        if positional and Q_LEN and KV_LEN:
            kind = _positional_mask(torch.cat(first), torch.cat(last),
                                    torch.cat(count), KV_LEN)
            if kind is not False:
                self.mask = kind
                return
        self.mask_mod, self.layout = mask_mod, layout

    def expanded_layout(self, batch, heads):
        """The layout operand for ``batch`` x ``heads`` (it was made for B
        and H, or 1 where those were None)."""
        return self.layout.expand(batch, heads, -1, -1).contiguous()

    def __repr__(self) -> str:
        B, H, Q, KV = self.shape
        what = (f", mask={self.mask}" if self.mask is not None else
                "" if self.layout is None else
                f", {int(self.layout.sum())} of {self.layout.numel()} blocks kept")
        return f"BlockMask(B={B}, H={H}, Q_LEN={Q}, KV_LEN={KV}{what})"


def _positional_mask(first, last, count, kv_len):
    """The attribute whose allowed keys of query q are [first[q], last[q]]
    for every q (None: all keys), or False when none is: every row must
    keep a contiguous, non-empty range."""
    import torch
    if not bool(((count > 0) & (count == last - first + 1)).all()):
        return False
    if bool((count == kv_len).all()):
        return None
    q = torch.arange(len(first))
    left, right = int((q - first).max()), int((last - q).max())
    if not (bool((first == (q - left).clamp(0, kv_len - 1)).all()) and
            bool((last == (q + right).clamp(0, kv_len - 1)).all())):
        return False
    if right == 0 and bool((first == 0).all()):
        return causal()
    return window(left, right)


def vmap_bhqkv(fn, score: bool = False):
    """``fn`` of scalar (score,) b, h, q_idx, kv_idx evaluated on 1-D index
    tensors into a [B, H, Q, KV] result through torch.vmap: how FlexAttention
    calls mask_mod and score_mod functions (``score`` [B, H, Q, KV])."""
    import torch
    from .spec import with_arrays_as
    fn = with_arrays_as(fn, torch.from_numpy)
    lead = (0,) if score else ()
    for dims in ((None, None, None, 0), (None, None, 0, None),
                 (None, 0, None, None), (0, None, None, None)):
        fn = torch.vmap(fn, in_dims=lead + dims)
    return fn


def create_block_mask(mask_mod, B, H, Q_LEN, KV_LEN, device="cpu",
                      BLOCK_SIZE=128, **_):
    """FlexAttention's ``create_block_mask``: ``mask_mod(b, h, q_idx,
    kv_idx) -> bool`` (torch code, or a :class:`Mask`) for ``B`` x ``H``
    (None: the same for every batch entry / head) queries of ``Q_LEN`` and
    keys of ``KV_LEN``."""
    return BlockMask(mask_mod, B, H, Q_LEN, KV_LEN, BLOCK_SIZE, device)


def flex_attention(query, key, value, score_mod=None, block_mask=None,
                   scale=None, enable_gqa=False, return_lse=False,
                   kernel_options=None):
    """``torch.nn.attention.flex_attention.flex_attention`` with the same
    arguments and semantics, compiled by attn-mlir: ``score_mod(score, b, h,
    q_idx, kv_idx)`` and the block mask's ``mask_mod`` are traced (torch
    functions, tensor methods, captured tensors indexed by the traced
    indices; see :class:`Sym`) into the op's regions. Captured tensors are
    inputs of the kernel: changing their values does not recompile.
    ``kernel_options`` is accepted and ignored."""
    _check_4d(query, key, value)
    _check_gqa(query.shape[1], key.shape[1], enable_gqa)
    mask, mask_mod = _block_mask_spec(block_mask)
    operands = {}
    if block_mask is not None:
        _check_block_mask_lengths(block_mask, query.shape[2], key.shape[2])
        if block_mask.layout is not None:
            operands["layout"] = block_mask.expanded_layout(query.shape[0],
                                                            query.shape[1])
    return attention(query, key, value, mask=mask, mask_mod=mask_mod,
                     score_mod=score_mod, scale=scale, return_lse=return_lse,
                     **operands)


def _check_gqa(heads, kv_heads, enable_gqa):
    if heads != kv_heads and not enable_gqa:
        raise Error(f"{heads} query heads and {kv_heads} key/value heads: "
                    "pass enable_gqa=True for grouped-query attention")


def _block_mask_spec(block_mask):
    """The mask attribute and mask_mod of a spec for ``block_mask``."""
    if block_mask is None:
        return None, None
    if block_mask.mask_mod is None:
        return block_mask.mask, None
    return block_sparse(block_mask.BLOCK_SIZE), block_mask.mask_mod


def _check_block_mask_lengths(block_mask, q_len, kv_len):
    _, _, Q_LEN, KV_LEN = block_mask.shape
    if (q_len, kv_len) != (Q_LEN, KV_LEN):
        raise Error(f"the block mask is for Q_LEN={Q_LEN}, KV_LEN={KV_LEN}; "
                    f"the call has {q_len} queries and {kv_len} keys: create "
                    "it for these lengths")


def _needs_grad(values) -> bool:
    """Whether autograd is recording and some torch input requires a grad."""
    tensors = [x for x in values if _is_torch(x)]
    if not tensors:
        return False
    import torch
    return torch.is_grad_enabled() and any(x.requires_grad for x in tensors)


_AUTOGRAD_FUNCTION = None


def _attention_function():
    """The torch.autograd.Function of attention(): the forward saves o and
    (softmax) lse, the backward runs the compiled attn.attention_backward
    of the same spec. Made on first use, so that torch stays optional."""
    global _AUTOGRAD_FUNCTION
    if _AUTOGRAD_FUNCTION is not None:
        return _AUTOGRAD_FUNCTION
    import dataclasses
    import torch

    class AttentionFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, spec, names, q, k, v, *values):
            softmax = spec.softmax()
            result = _run_spec(q, dataclasses.replace(spec, return_lse=softmax),
                               (q, k, v), dict(zip(names, values)))
            o, lse = result if softmax else (result, None)
            ctx.spec, ctx.names = spec, names
            ctx.save_for_backward(q, k, v, o, lse, *values)
            if spec.return_lse:
                # lse is for merging partial results, not a differentiable
                # output.
                ctx.mark_non_differentiable(lse)
                return o, lse
            return o

        @staticmethod
        def backward(ctx, grad_o, *unused):
            q, k, v, o, lse, *values = ctx.saved_tensors
            operands = dict(zip(ctx.names, values))
            # needs_input_grad follows forward's arguments: spec, names, q,
            # k, v, then the operands.
            wants = dict(zip(ctx.names, ctx.needs_input_grad[5:]))
            bias_grad = bool(wants.get("bias"))
            grads = _attention_grads(ctx.spec, q, k, v, o, grad_o, lse,
                                     operands, bias_grad=bias_grad)
            grad_bias = grads[3] if bias_grad else None
            return (None, None, grads[0], grads[1], grads[2],
                    *[grad_bias if name == "bias" else None
                      for name in ctx.names])

    _AUTOGRAD_FUNCTION = AttentionFunction
    return _AUTOGRAD_FUNCTION


def _positions_tensor(q, positions, q_len: int, kv_len: int):
    """The ``positions`` operand ``[q_offset, kv_offset, q_total,
    kv_total]`` (int64, on the device of ``q``), after checking that the
    shard of ``q_len`` queries and ``kv_len`` keys lies in the whole."""
    values = [int(x) for x in positions]
    if len(values) != 4:
        raise Error(f"positions is (q_offset, kv_offset, q_total, kv_total), "
                    f"got {len(values)} values")
    q_offset, kv_offset, q_total, kv_total = values
    for what, offset, length, total in (("q", q_offset, q_len, q_total),
                                        ("kv", kv_offset, kv_len, kv_total)):
        if offset < 0 or offset + length > total:
            raise Error(f"positions places {length} {what} rows at "
                        f"{offset} of {total}: need 0 <= {what}_offset and "
                        f"{what}_offset + length <= {what}_total")
    if _is_torch(q):
        import torch
        return torch.tensor(values, dtype=torch.int64, device=q.device)
    import numpy as np
    return np.asarray(values, dtype=np.int64)


def _attention_grads(spec: Spec, q, k, v, o, grad_o, lse, operands: dict, *,
                     bias_grad: bool = False):
    """Runs the compiled backward of forward ``spec``: ``(grad_q, grad_k,
    grad_v)`` (and ``grad_bias``), given the forward's ``o`` and (softmax)
    ``lse``."""
    import dataclasses
    spec = dataclasses.replace(spec, backward=True, bias_grad=bias_grad,
                               return_lse=False)
    extra = {"o": o, "grad_o": grad_o.to(o.dtype)}
    if lse is not None:
        extra["lse"] = lse
    return _run_spec(q, spec, (q, k, v), {**operands, **extra})


def _index_tensor(name: str, x, rank: int):
    """``x`` as the int32 array or tensor the kernel takes. int64 (what
    torch.arange, NumPy's default integers and most serving stacks give) is
    converted after checking that every value fits; other dtypes raise."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise Error(f"{name} must be a NumPy array or a tensor, got "
                    f"{type(x).__name__}")
    if len(x.shape) != rank:
        raise Error(f"{name} must be {rank}-D, got shape {tuple(x.shape)}")
    dtype = _dtype_name(x)
    if dtype == "i32":
        return x
    if dtype != "i64":
        raise Error(f"{name} must hold int32 (or int64) indices, got {x.dtype}")
    if (x.numel() if _is_torch(x) else x.size):
        low, high = int(x.min()), int(x.max())
        if low < -2**31 or high >= 2**31:
            raise Error(f"{name} holds {low if low < -2**31 else high}, which "
                        "int32 cannot hold")
    if _is_torch(x):
        import torch
        return x.to(torch.int32)
    import numpy as np
    return np.asarray(x, dtype=np.int32)


def _run_spec(q, spec: Spec, inputs: Sequence[Any], operands: dict):
    """Compiles ``spec`` (cached) for the device of ``q`` and runs it."""
    target = "cuda" if _is_torch(q) and q.is_cuda else "cpu"
    return compile(spec, target)(*inputs, **operands)


def paged_attention(q, k_pages, v_pages, block_table, kv_lens, *,
                    mask: Optional[Mask] = None,
                    mask_mod: Optional[Callable] = None,
                    score_mods: Sequence[ScoreMod] = (),
                    score_mod: Optional[Callable] = None,
                    normalization: Optional[str] = None,
                    scale: Optional[float] = None, return_lse: bool = False,
                    page_layout: str = "nhd", cu_seqlens_q=None, **operands):
    """Attention against a paged KV cache (vLLM / FlashInfer layout): key
    ``j`` of sequence ``b`` is slot ``j % P`` of page ``block_table[b, j // P]``
    and the sequence has ``kv_lens[b]`` keys.

    - ``q``: ``[B, Hq, Sq, D]`` (decoding, speculative verification; Sq is
      compiled in, since it sizes the kernel's query tile), or packed
      ``[Tq, Hq, D]`` with ``cu_seqlens_q [B + 1]`` (chunked prefill).
    - ``k_pages``, ``v_pages``: ``[pages, P, Hkv, D]`` (``page_layout="nhd"``)
      or ``[pages, Hkv, P, D]`` (``"hnd"``); ``block_table [B, max_pages]``,
      ``kv_lens [B]``: int32 (int64 is converted).

    B, the number of pages, the table width, the lengths (and Tq) stay
    dynamic: one kernel serves every batch. Masks and modifiers see each
    sequence's own lengths and positions (``causal("bottom_right")`` aligns
    the queries to the end of the cache). The tables are checked on the host
    before the call (entries of used pages in ``[0, pages)``, ``0 <=
    kv_lens[b] <= P * max_pages``, ``cu_seqlens_q`` from 0, never
    decreasing, ending at Tq); a violation raises :class:`Error`."""
    packed = cu_seqlens_q is not None
    if len(getattr(q, "shape", ())) != (3 if packed else 4):
        raise Error(f"q must be {'[Tq, Hq, D] with cu_seqlens_q' if packed else '[B, Hq, Sq, D]'}, "
                    f"got shape {tuple(getattr(q, 'shape', ()))}")
    if page_layout not in ("nhd", "hnd"):
        raise Error(f"page_layout must be 'nhd' or 'hnd', got {page_layout!r}")
    for name, x in (("k_pages", k_pages), ("v_pages", v_pages)):
        if len(getattr(x, "shape", ())) != 4:
            raise Error(f"{name} must be 4-D [pages, "
                        f"{'P, Hkv' if page_layout == 'nhd' else 'Hkv, P'}, D], "
                        f"got shape {tuple(getattr(x, 'shape', ()))}")
    page, kv_heads = ((k_pages.shape[1], k_pages.shape[2]) if page_layout == "nhd"
                      else (k_pages.shape[2], k_pages.shape[1]))
    tables = [_index_tensor("block_table", block_table, 2),
              _index_tensor("kv_lens", kv_lens, 1)]
    if packed:
        tables.insert(0, _index_tensor("cu_seqlens_q", cu_seqlens_q, 1))
    spec = Spec(heads=q.shape[1], kv_heads=kv_heads, head_dim=q.shape[-1],
                value_dim=v_pages.shape[3], dtype=_dtype_name(q),
                q_len=None if packed else q.shape[2], mask=mask,
                mask_mod=mask_mod, score_mods=tuple(score_mods),
                score_mod=score_mod, normalization=normalization, scale=scale,
                return_lse=return_lse,
                query_form="packed" if packed else "dense", key_form="paged",
                page_size=page, page_layout=page_layout)
    # The sequence operands follow the others (alibi_slopes, ...) in the
    # signature: pass them by name.
    names = (["cu_seqlens_q"] if packed else []) + ["block_table", "kv_lens"]
    return _run_spec(q, spec, (q, k_pages, v_pages),
                     {**operands, **dict(zip(names, tables))})


def varlen_attention(q, k, v, cu_seqlens_q, cu_seqlens_k, *,
                     mask: Optional[Mask] = None,
                     mask_mod: Optional[Callable] = None,
                     score_mods: Sequence[ScoreMod] = (),
                     score_mod: Optional[Callable] = None,
                     normalization: Optional[str] = None,
                     scale: Optional[float] = None, return_lse: bool = False,
                     **operands):
    """FlashAttention's varlen interface: sequences packed end to end,
    ``q [Tq, Hq, D]``, ``k [Tk, Hkv, D]``, ``v [Tk, Hkv, Dv]``; sequence
    ``b`` holds query rows ``[cu_seqlens_q[b], cu_seqlens_q[b+1])`` and key
    rows ``[cu_seqlens_k[b], cu_seqlens_k[b+1])`` (int32; int64 is
    converted). Returns ``o [Tq, Hq, Dv]`` (and ``lse [Tq, Hq]``). Masks see
    each sequence's own lengths; every size stays dynamic. The cumulative
    lengths are checked on the host (start at 0, never decrease, end at Tq
    and Tk): a violation raises :class:`Error`."""
    for name, x in (("q", q), ("k", k), ("v", v)):
        if len(getattr(x, "shape", ())) != 3:
            raise Error(f"{name} must be packed [T, H, D], got shape "
                        f"{tuple(getattr(x, 'shape', ()))}")
    spec = Spec(heads=q.shape[1], kv_heads=k.shape[1], head_dim=q.shape[2],
                value_dim=v.shape[2], dtype=_dtype_name(q), mask=mask,
                mask_mod=mask_mod, score_mods=tuple(score_mods),
                score_mod=score_mod, normalization=normalization, scale=scale,
                return_lse=return_lse, query_form="packed", key_form="packed")
    return _run_spec(q, spec, (q, k, v), {
        **operands,
        "cu_seqlens_q": _index_tensor("cu_seqlens_q", cu_seqlens_q, 1),
        "cu_seqlens_kv": _index_tensor("cu_seqlens_k", cu_seqlens_k, 1)})


def favor_weights(features: int, head_dim: int, seed: int,
                  orthogonal: bool = True):
    """The ``W [features, head_dim]`` (float64 NumPy array) that
    ``favor(features, seed=seed, orthogonal=orthogonal)`` generates at
    compile time, the same on every machine."""
    import numpy as np
    return np.asarray(_favor_weights(features, head_dim, seed, orthogonal),
                      dtype=np.float64).reshape(features, head_dim)


def sla_layout(q, k, *, block: tuple = (64, 64), critical: float = 0.2):
    """SLA's critical blocks: an i8 layout ``[B, Hq, ceil(Sq / bq),
    ceil(Skv / bk)]`` for ``block_sparse(block)`` marking, in each query
    block, the fraction ``critical`` (at least one) of key blocks with the
    largest pooled score ``mean(q_block) . mean(k_block - mean(k))`` (the
    keys centred over the sequence first, as SLA does). The rest are the
    marginal blocks that ``attention(..., approximation=...,
    linear_output=True)`` computes linearly. NumPy or torch in, the same out
    (on q's device)."""
    import numpy as np
    if not 0.0 < critical <= 1.0:
        raise Error(f"critical must be in (0, 1], got {critical}")
    _check_4d(q, k, k)
    bq, bk = block
    if bq < 1 or bk < 1:
        raise Error(f"block sizes must be >= 1, got {tuple(block)}")
    as_numpy = lambda x: (x.detach().float().cpu().numpy() if _is_torch(x)
                          else np.asarray(x, dtype=np.float64))
    qn, kn = as_numpy(q), as_numpy(k)
    B, H, Sq, D = qn.shape
    Hkv, Skv = kn.shape[1], kn.shape[2]
    if H % Hkv:
        raise Error(f"q's {H} heads are not a multiple of k's {Hkv}")

    def pooled(x, size):
        blocks = -(-x.shape[2] // size)
        padded = np.zeros(x.shape[:2] + (blocks * size, x.shape[3]))
        padded[:, :, :x.shape[2]] = x
        counts = np.minimum(size, x.shape[2] - size * np.arange(blocks))
        sums = padded.reshape(x.shape[:2] + (blocks, size, x.shape[3])).sum(3)
        return sums / counts[:, None]

    centred = kn - kn.mean(axis=2, keepdims=True) if Skv else kn
    pq, pk = pooled(qn, bq), pooled(centred, bk)
    scores = np.einsum("bhid,bhjd->bhij", pq, np.repeat(pk, H // Hkv, axis=1))
    blocks = scores.shape[-1]
    layout = np.zeros(scores.shape, dtype=np.int8)
    if blocks:
        top = min(blocks, max(1, int(critical * blocks)))
        chosen = np.argpartition(-scores, top - 1, axis=-1)[..., :top]
        np.put_along_axis(layout, chosen, 1, axis=-1)
    if _is_torch(q):
        import torch
        return torch.from_numpy(layout).to(q.device)
    return layout


def linear_attention(q, k, v, *, feature_map: FeatureMap, causal: bool = False,
                     decay=None, gate=None, beta=None,
                     scale: Optional[float] = None,
                     normalize: bool = True,
                     eps: Optional[float] = None, feature_weights=None,
                     initial_state=None, return_state: bool = False,
                     chunk_size: int = 64):
    """Linear attention in one call: ``phi(q) (phi(k)^T v)`` with
    ``feature_map`` (:func:`identity`, :func:`l2_normalize`,
    :func:`elu_plus_one`, :func:`relu`,
    :func:`favor`, :func:`cosformer`, :func:`hedgehog`, :func:`taylor`),
    causal or not. ``scale`` multiplies ``phi(q)`` (default ``D^-1/2`` with
    :func:`identity`, else 1).
    ``decay``: per-query-head gammas ``[Hq]`` (causal). ``gate``: log-space
    gates, ``[B, Hq, S]`` (one per token: simple GLA, Mamba2) or
    ``[B, Hq, S, F]`` (per feature: GLA), so that ``S_t = exp(g_t) S_{t-1}
    + phi(k_t) v_t^T`` (causal; per-feature gates on the CPU only). ``beta``: the delta rule's write
    strengths ``[B, Hq, S]`` (DeltaNet; with a token ``gate``, Gated
    DeltaNet): ``S_t = exp(g_t) (I - beta_t phi(k_t) phi(k_t)^T) S_{t-1} +
    beta_t phi(k_t) v_t^T``, with ``normalize=False`` (CPU only).
    ``initial_state``:
    ``(S, z)`` (or ``S`` alone without normalization) from a previous piece
    of the sequence; ``return_state`` returns ``(o, S, z)`` (``(o, S)``)
    to pass on. Lengths stay dynamic: one kernel serves every length. CUDA
    tensors run the GPU kernel (every feature map but Hedgehog's), others
    the CPU one."""
    _check_4d(q, k, v)
    state = ()
    if initial_state is not None:
        state = (tuple(initial_state) if isinstance(initial_state, (tuple, list))
                 else (initial_state,))
    spec = LinearSpec(heads=q.shape[1], kv_heads=k.shape[1], head_dim=q.shape[3],
                      value_dim=v.shape[3], dtype=_dtype_name(q),
                      feature_map=feature_map, causal=causal,
                      decay=decay is not None,
                      gate=(None if gate is None
                            else "feature" if len(gate.shape) == 4 else "token"),
                      delta=beta is not None, scale=scale,
                      normalize=normalize, eps=eps,
                      initial_state=initial_state is not None,
                      return_state=return_state)
    operands = [x for x in (feature_weights, decay, gate, beta)
                if x is not None]
    target = "cuda" if _is_torch(q) and q.is_cuda else "cpu"
    return compile(spec, target, chunk_size=chunk_size)(q, k, v, *operands,
                                                         *state)


def merge(o_parts, lse_parts, *, dtype: Optional[str] = None,
          return_lse: bool = True):
    """Combines partial attention results over disjoint key sets (split-KV,
    cascade / shared-prefix attention) into the result over all their keys:
    ``lse = log(sum_i exp(lse_i))``, ``o = sum_i exp(lse_i - lse) o_i``.
    ``o_parts``, ``lse_parts``: lists of ``[B, H, S, Dv]`` and ``[B, H, S]``
    arrays (``attention(..., return_lse=True)``'s results), or one
    ``[N, B, H, S, Dv]`` and one ``[N, B, H, S]`` array with the partials on
    the leading axis. A partial with ``lse = -inf`` (no key) contributes
    nothing; rows without any give ``o = 0``, ``lse = -inf``. ``dtype``: of
    the merged ``o`` (default: that of the partials). Returns ``(o, lse)``,
    or ``o`` without ``return_lse``. B, S (and N) stay dynamic."""
    split = not isinstance(o_parts, (list, tuple))
    if split:
        o_list, lse_list = [o_parts], [lse_parts]
        ranks = (5, 4)
    else:
        o_list, lse_list = list(o_parts), list(lse_parts)
        if not o_list or len(o_list) != len(lse_list):
            raise Error(f"merge takes one lse per o partial (at least one), "
                        f"got {len(o_list)} o and {len(lse_list)} lse")
        ranks = (4, 3)
    for what, xs, rank in (("o", o_list, ranks[0]), ("lse", lse_list, ranks[1])):
        for x in xs:
            if len(getattr(x, "shape", ())) != rank:
                raise Error(f"{what} partials must be {rank}-D here, got shape "
                            f"{tuple(getattr(x, 'shape', ()))}")
    first = o_list[0]
    spec = MergeSpec(heads=first.shape[-3], value_dim=first.shape[-1],
                     parts=None if split else len(o_list),
                     dtype=_dtype_name(first), out_dtype=dtype,
                     return_lse=return_lse)
    target = "cuda" if _is_torch(first) and first.is_cuda else "cpu"
    return compile(spec, target)(*o_list, *lse_list)
