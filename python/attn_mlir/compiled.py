"""attn_mlir inside torch.compile: the compiled kernels as one torch.library
custom op, ``attn_mlir::call(spec, inputs) -> outputs``, opaque to Dynamo
(no graph break), with a fake implementation for tracing (the output shapes
from the kernel's signature) and autograd through the compiled backward of
the same spec. :class:`FlexAttention` builds its spec once, outside any
compiled region, and calls the op.

    attn = am.FlexAttention(heads=8, kv_heads=2, head_dim=64,
                            dtype=torch.bfloat16, score_mod=score_mod,
                            block_mask=block_mask, enable_gqa=True)
    model = torch.compile(model)      # model.forward calls attn(q, k, v)
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import torch

from . import (BlockMask, Error, Spec, _block_mask_spec, _check_4d,
               _check_block_mask_lengths, _check_gqa, _dtype_name,
               _TORCH_DTYPES)
from . import compile as _compile

# The Spec of each spec text the op has been given by call_spec, for the
# backward (the op itself only sees text).
_SPECS: dict[str, Spec] = {}


def call_spec(spec: Spec, inputs: list) -> list:
    """Runs ``spec`` (compiled for the CPU or CUDA by the inputs' device,
    cached) on ``inputs`` (in the signature's order) through the
    ``attn_mlir::call`` custom op; differentiable for forward specs."""
    text = str(spec)
    _SPECS.setdefault(text, spec)
    return torch.ops.attn_mlir.call(text, list(inputs))


def _kernel(spec: str, inputs):
    return _compile(spec, "cuda" if inputs[0].is_cuda else "cpu")


@torch.library.custom_op("attn_mlir::call", mutates_args=())
def _call(spec: str, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    outputs = _kernel(spec, inputs)(*inputs)
    return list(outputs) if isinstance(outputs, tuple) else [outputs]


@_call.register_fake
def _(spec, inputs):
    kernel = _kernel(spec, inputs)
    shapes = kernel._native.output_shapes(
        [(_dtype_name(x), [int(n) for n in x.shape]) for x in inputs])
    return [inputs[0].new_empty(tuple(shape),
                                dtype=getattr(torch, _TORCH_DTYPES[dtype]))
            for shape, (_, dtype, _) in zip(shapes, kernel.outputs)]


def _setup_context(ctx, inputs, output):
    spec, tensors = inputs
    ctx.spec, ctx.count = spec, len(tensors)
    ctx.save_for_backward(*tensors, *output)


def _backward(ctx, grads):
    saved = ctx.saved_tensors
    inputs, outputs = saved[:ctx.count], saved[ctx.count:]
    spec = _SPECS.get(ctx.spec)
    if spec is None or spec.backward:
        raise Error("this spec has no backward here: differentiate specs "
                    "called through attn_mlir.call_spec")
    if inputs[3:] and any(x.requires_grad for x in inputs[3:]):
        raise Error("only q, k and v are differentiated through "
                    "torch.compile; operands and captured tensors are not")
    backward = dataclasses.replace(spec, backward=True, return_lse=False)
    extra = [outputs[0], grads[0].to(outputs[0].dtype).contiguous()]
    if spec.softmax():
        extra.append(outputs[1])
    grad_q, grad_k, grad_v = call_spec(backward, [*inputs, *extra])[:3]
    return None, [grad_q, grad_k, grad_v] + [None] * (ctx.count - 3)


_call.register_autograd(_backward, setup_context=_setup_context)


class FlexAttention(torch.nn.Module):
    """FlexAttention for torch.compile: the spec of ``score_mod`` and
    ``block_mask`` (as :func:`attn_mlir.flex_attention` makes it) is built
    here, once; ``forward(q, k, v)`` calls the ``attn_mlir::call`` custom op,
    which compiled graphs call without a graph break, forward and backward.
    Batch and lengths stay dynamic (the block mask's lengths are checked at
    each call); captured tensors are read at each call, so new values need
    no new module."""

    def __init__(self, *, heads: int, head_dim: int,
                 kv_heads: Optional[int] = None,
                 value_dim: Optional[int] = None,
                 dtype: torch.dtype = torch.float32,
                 score_mod: Optional[Callable] = None,
                 block_mask: Optional[BlockMask] = None,
                 scale: Optional[float] = None, enable_gqa: bool = False,
                 return_lse: bool = False):
        super().__init__()
        _check_gqa(heads, kv_heads or heads, enable_gqa)
        mask, mask_mod = _block_mask_spec(block_mask)
        self.block_mask, self.return_lse = block_mask, return_lse
        # Softmax keeps lse for the backward.
        self.spec = Spec(heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                         value_dim=value_dim,
                         dtype=_dtype_name(torch.empty(0, dtype=dtype)),
                         mask=mask, mask_mod=mask_mod, score_mod=score_mod,
                         scale=scale, return_lse=True)
        # NumPy arrays become tensors sharing their memory (new values are
        # read at each call).
        self._captured = [torch.as_tensor(t) for _, t in self.spec.captured_tensors()]
        # The text (tracing the functions) is made here, outside any
        # compiled region; compiling it here reports an invalid spec now.
        self._text = str(self.spec)
        _SPECS.setdefault(self._text, self.spec)

    def forward(self, q, k, v):
        _check_4d(q, k, v)
        inputs = [q, k, v]
        if self.block_mask is not None:
            _check_block_mask_lengths(self.block_mask, q.shape[2], k.shape[2])
            if self.block_mask.layout is not None:
                inputs.append(self.block_mask.expanded_layout(q.shape[0],
                                                              q.shape[1]))
        o, lse = torch.ops.attn_mlir.call(
            self._text, inputs + [t.to(q.device) for t in self._captured])
        return (o, lse) if self.return_lse else o
