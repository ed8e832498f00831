"""Spec builder: attention variants as Python objects that print MLIR.

    spec = Spec(heads=8, kv_heads=2, head_dim=64, dtype="bf16",
                mask=causal() & window(1024) | sinks(4))
    print(spec)          # the attn.attention spec, ready for compile()

Masks compose with ``&``, ``|`` and ``~``. ``mask_mod`` and ``score_mod``
also accept Python functions, traced into the op's regions by calling them
on symbolic values (see :class:`Sym`).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

_DTYPES = ("f16", "bf16", "f32", "f64")


def _list(values) -> str:
    return "[" + ", ".join(str(v).lower() if isinstance(v, bool) else str(v)
                           for v in values) + "]"


def _float(x: float) -> str:
    """An MLIR f32 literal (it needs the decimal point; infinities and NaN
    are written as their bits)."""
    x = float(x)
    if x != x:
        return "0x7FC00000"
    if x in (float("inf"), float("-inf")):
        return "0x7F800000" if x > 0 else "0xFF800000"
    return f"{x:.9e}"


# --------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------

class Mask:
    """A mask attribute. ``a & b`` allows what both allow, ``a | b`` what
    either allows, ``~a`` what ``a`` does not."""

    #: Operands the mask reads: "layout" or "segments".
    operands: tuple = ()

    def attr(self) -> str:
        raise NotImplementedError

    def _operands(self) -> set:
        return set(self.operands)

    def __and__(self, other: "Mask") -> "Mask":
        return _Combine("and", [self, other])

    def __or__(self, other: "Mask") -> "Mask":
        return _Combine("or", [self, other])

    def __invert__(self) -> "Mask":
        return _Not(self)

    def __str__(self) -> str:
        return self.attr()

    def __repr__(self) -> str:
        return f"Mask({self.attr()})"


class _Attr(Mask):
    def __init__(self, text: str, operands: tuple = ()):
        self.text, self.operands = text, operands

    def attr(self) -> str:
        return self.text


class _Combine(Mask):
    def __init__(self, kind: str, masks: Sequence[Mask]):
        flat = []
        for m in masks:
            if not isinstance(m, Mask):
                raise TypeError(f"cannot combine a mask with {type(m).__name__}")
            flat += m.masks if isinstance(m, _Combine) and m.kind == kind else [m]
        self.kind, self.masks = kind, flat

    def attr(self) -> str:
        return f"#attn.{self.kind}<[{', '.join(m.attr() for m in self.masks)}]>"

    def _operands(self) -> set:
        return set().union(*(m._operands() for m in self.masks))


class _Not(Mask):
    def __init__(self, mask: Mask):
        self.mask = mask

    def attr(self) -> str:
        return f"#attn.not<{self.mask.attr()}>"

    def _operands(self) -> set:
        return self.mask._operands()


def _align(align: Optional[str]) -> str:
    if align is None:
        return ""
    if align not in ("top_left", "bottom_right"):
        raise ValueError(f"align must be 'top_left' or 'bottom_right', got {align!r}")
    return f"align = {align}"


def causal(align: Optional[str] = None) -> Mask:
    """Key j allowed for query i when j <= i (``bottom_right``: aligned to
    the end of the keys, as for decoding with a KV cache)."""
    a = _align(align)
    return _Attr(f"#attn.causal<{a}>" if a else "#attn.causal")


def window(left: int, right: int = 0, align: Optional[str] = None) -> Mask:
    """Keys i - left <= j <= i + right. ``window(1024)`` is a causal
    sliding window of 1024 keys before the query (and the query itself)."""
    params = [f"left = {int(left)}", f"right = {int(right)}"]
    if align is not None:
        params.append(_align(align))
    return _Attr(f"#attn.window<{', '.join(params)}>")


def sinks(count: int) -> Mask:
    """The first ``count`` keys (attention sinks, StreamingLLM)."""
    return _Attr(f"#attn.sinks<{int(count)}>")


def prefix_lm(prefix: int) -> Mask:
    """Bidirectional over the first ``prefix`` keys, causal after."""
    return _Attr(f"#attn.prefix_lm<{int(prefix)}>")


def neighborhood(grid: Sequence[int], kernel: Sequence[int],
                 dilation: Optional[Sequence[int]] = None,
                 stride: Optional[Sequence[int]] = None,
                 causal: Optional[Sequence[bool]] = None,
                 tile: Optional[Sequence[int]] = None) -> Mask:
    """NATTEN neighborhood attention over a token grid (1-D, 2-D or 3-D).

    Tokens are row-major, or with ``tile`` in the block order of
    :func:`neighborhood_order` (permute them once with it and keep them so
    across layers): kernels then skip and fill whole blocks."""
    params = [f"grid = {_list(grid)}", f"kernel = {_list(kernel)}"]
    if dilation is not None:
        params.append(f"dilation = {_list(dilation)}")
    if stride is not None:
        params.append(f"stride = {_list(stride)}")
    if causal is not None:
        params.append(f"causal = {_list(causal)}")
    if tile is not None:
        params.append(f"tile = {_list(tile)}")
    return _Attr(f"#attn.neighborhood<{', '.join(params)}>")


def neighborhood_order(grid: Sequence[int], tile: Sequence[int],
                       dilation: Optional[Sequence[int]] = None) -> list:
    """The block token order of ``neighborhood(..., tile=tile)``: entry i is
    the row-major index of the token at position i. Dilation groups come one
    after another, each group's sub-grid is cut into blocks of ``tile``
    (smaller at its far edges), blocks and the tokens within one are
    row-major. ``x[..., order, :]`` permutes row-major tokens into it, and
    ``y[..., argsort(order), :]`` back."""
    grid = [int(g) for g in grid]
    tile = [int(t) for t in tile]
    dilation = [1] * len(grid) if dilation is None else [int(d) for d in dilation]
    if not (len(tile) == len(dilation) == len(grid)):
        raise ValueError("grid, tile and dilation need one entry per axis")
    order = []
    for group in itertools.product(*(range(d) for d in dilation)):
        sub = [(n - g + d - 1) // d for n, g, d in zip(grid, group, dilation)]
        blocks = [(s + t - 1) // t for s, t in zip(sub, tile)]
        for block in itertools.product(*(range(b) for b in blocks)):
            extent = [min(t, s - b * t) for s, b, t in zip(sub, block, tile)]
            for inside in itertools.product(*(range(e) for e in extent)):
                index = 0
                for n, b, t, i, d, g in zip(grid, block, tile, inside,
                                            dilation, group):
                    index = index * n + (b * t + i) * d + g
                order.append(index)
    return order


class _BlockSparse(_Attr):
    def __init__(self, block: Sequence[int]):
        super().__init__(f"#attn.block_sparse<block = {_list(block)}>", ("layout",))
        self.block = [int(b) for b in block]


def block_sparse(block: Sequence[int]) -> Mask:
    """Blocks of ``block = (rows, cols)`` on or off by a ``layout`` operand
    (``[B or 1, H or 1, ceil(Sq/rows), ceil(Skv/cols)]``, bool or int8)."""
    return _BlockSparse(block)


def document() -> Mask:
    """Query and key in the same document: ``q_segments[b, i] == kv_segments[b, j]``
    (operands ``q_segments [B, Sq]`` and ``kv_segments [B, Skv]``, int32)."""
    return _Attr("#attn.document", ("segments",))


def strided(stride: int) -> Mask:
    """Sparse Transformer strided pattern."""
    return _Attr(f"#attn.strided<stride = {int(stride)}>")


def fixed(stride: int, summary: int) -> Mask:
    """Sparse Transformer fixed pattern."""
    return _Attr(f"#attn.fixed<stride = {int(stride)}, summary = {int(summary)}>")


# --------------------------------------------------------------------------
# Score modifiers and normalizations
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class ScoreMod:
    text: str
    operand: Optional[str] = None

    def __str__(self) -> str:
        return self.text


def alibi(symmetric: bool = False, slopes: bool = False,
          align: Optional[str] = None) -> ScoreMod:
    """ALiBi: ``-slope_h * (i - j)`` (``symmetric``: ``|i - j|``); slopes
    2^(-8 (h+1) / H), or an ``alibi_slopes [H]`` f32 operand with
    ``slopes=True``. ``align="bottom_right"`` counts ``i`` from the end of
    the keys (``i + Skv - Sq``), as for decoding with a KV cache."""
    params = (["symmetric = true"] if symmetric else []) + (
        [_align(align)] if align is not None else [])
    text = f"#attn.alibi<{', '.join(params)}>" if params else "#attn.alibi"
    return ScoreMod(text, "alibi_slopes" if slopes else None)


def softcap(cap: float) -> ScoreMod:
    """``cap * tanh(score / cap)`` (Gemma 2, Grok)."""
    return ScoreMod(f"#attn.softcap<{_float(cap)}>")


def bias() -> ScoreMod:
    """Adds a ``bias`` operand broadcast to [B, H, Sq, Skv]."""
    return ScoreMod("#attn.bias", "bias")


def sigmoid(bias: float = 0.0) -> str:
    """Sigmoid attention: ``sigmoid(score + bias)``, no row normalization."""
    return f"#attn.sigmoid<bias = {_float(bias)}>" if bias else "#attn.sigmoid"


def relu(divide_by_length: bool = False) -> str:
    """ReLU attention (optionally divided by the key length)."""
    return ("#attn.relu<divide_by_length = true>" if divide_by_length
            else "#attn.relu")


# --------------------------------------------------------------------------
# Tracing mask_mod / score_mod functions
# --------------------------------------------------------------------------

class _Captures:
    """The tensors that traced functions index (FlexAttention's captured
    tensors): each becomes an argument ``%cap<N>`` of the spec function,
    read by the regions with ``tensor.extract``. Shared by the mask_mod and
    score_mod traces of one spec; a tensor captured twice is one argument."""

    def __init__(self):
        self.tensors: list = []
        self.types: list[str] = []

    def add(self, tensor) -> tuple[str, str]:
        for i, t in enumerate(self.tensors):
            if t is tensor:
                return f"%cap{i}", self.types[i]
        shape = tuple(int(n) for n in tensor.shape)
        if any(n == 0 for n in shape):
            raise TypeError(f"a captured tensor of shape {shape} has no element to read")
        dtype = _captured_dtype(tensor)
        type_ = f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}{dtype}>"
        self.tensors.append(tensor)
        self.types.append(type_)
        return f"%cap{len(self.tensors) - 1}", type_

    def arguments(self) -> list[tuple[str, str]]:
        """(name, type) of each captured tensor, in argument order."""
        return [(f"cap{i}", t) for i, t in enumerate(self.types)]


_CAPTURED_DTYPES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16",
                    "float64": "f64", "int64": "i64", "int32": "i32",
                    "int8": "i8", "bool": "i1"}


def _captured_dtype(tensor) -> str:
    name = str(tensor.dtype).replace("torch.", "")
    if name not in _CAPTURED_DTYPES:
        raise TypeError(f"a captured tensor of dtype {tensor.dtype} cannot be "
                        f"read in a region (use one of "
                        f"{', '.join(sorted(_CAPTURED_DTYPES))})")
    return _CAPTURED_DTYPES[name]


class _Tracer:
    def __init__(self, captures: Optional[_Captures] = None):
        self.lines: list[str] = []
        self.count = 0
        self.captures = captures if captures is not None else _Captures()

    def emit(self, text: str, type_: str) -> "Sym":
        name = f"%t{self.count}"
        self.count += 1
        self.lines.append(f"{name} = {text}")
        return Sym(self, name, type_)

    def const(self, value, type_: str) -> "Sym":
        if type_ == "index":
            return self.emit(f"arith.constant {int(value)} : index", "index")
        if type_ == "i1":
            return self.emit(f"arith.constant {'true' if value else 'false'}", "i1")
        return self.emit(f"arith.constant {_float(value)} : f32", "f32")

    def read(self, tensor, indices) -> "Sym":
        """Element ``indices`` of a captured tensor: each index clamped into
        its dimension (a read never leaves the tensor), the element in the
        region's types (integers as index, booleans as i1, floats as f32)."""
        name, type_ = self.captures.add(tensor)
        shape = [int(n) for n in tensor.shape]
        at = []
        for index, size in zip(indices, shape):
            i = index if isinstance(index, Sym) else self.const(index, "index")
            if i.type != "index":
                raise TypeError("a captured tensor is indexed by integers "
                                "(q_idx, kv_idx, h, b, or arithmetic on them), "
                                f"got a {i.type} value")
            at.append(maximum(minimum(i, size - 1), 0).name)
        element = _captured_dtype(tensor)
        x = self.emit(f"tensor.extract {name}[{', '.join(at)}] : {type_}", element)
        if element == "i1" or element == "f32":
            return x
        if element.startswith("i"):
            return self.emit(f"arith.index_cast {x.name} : {element} to index", "index")
        op = "arith.truncf" if element == "f64" else "arith.extf"
        return self.emit(f"{op} {x.name} : {element} to f32", "f32")


class Sym:
    """A symbolic value while tracing: an index (b, h, q_idx, kv_idx), the
    f32 score, or a boolean. Supports + - * // % ** (// and % with Python's
    semantics), comparisons, & | ~ (booleans), abs(), where(); torch
    functions and tensor methods on it (``torch.where``, ``torch.tanh``,
    ``(q_idx - kv_idx).abs()``, ``.clamp()``, ``.float()``, ...) through
    ``__torch_function__``; and torch tensors indexed by it (captured: they
    become kernel inputs). Python's ``and``/``or``/``if`` cannot be traced:
    use & | and where()."""

    def __init__(self, tracer: _Tracer, name: str, type_: str):
        self.t, self.name, self.type = tracer, name, type_

    # -- helpers
    def _lift(self, other) -> "Sym":
        if isinstance(other, Sym):
            return other
        other = _scalar(other)
        if isinstance(other, _CapturedRows):
            other._fail()
        if isinstance(other, bool):
            return self.t.const(other, "i1")
        if isinstance(other, int) and self.type == "index":
            return self.t.const(other, "index")
        if isinstance(other, (int, float)):
            return self.t.const(other, "f32")
        if hasattr(other, "shape"):
            raise TypeError(f"a tensor of shape {tuple(other.shape)} in a traced "
                            f"function must be indexed to one element by the "
                            f"traced indices (e.g. bias[b, h, q_idx, kv_idx])")
        raise TypeError(f"cannot trace a {type(other).__name__} value")

    def _float(self) -> "Sym":
        if self.type == "f32":
            return self
        if self.type != "index":
            raise TypeError("a boolean cannot be used as a number; use where()")
        i64 = self.t.emit(f"arith.index_cast {self.name} : index to i64", "i64")
        return self.t.emit(f"arith.sitofp {i64.name} : i64 to f32", "f32")

    def _pair(self, other):
        a, b = self, self._lift(other)
        if a.type == "i1" or b.type == "i1":
            raise TypeError("arithmetic on booleans; use where() to choose values")
        if a.type != b.type:
            a, b = a._float(), b._float()
        return a, b

    def _arith(self, other, iop, fop, reverse=False):
        a, b = self._pair(other)
        if reverse:
            a, b = b, a
        op = iop if a.type == "index" else fop
        if op is None:
            raise TypeError(f"unsupported on {a.type} values")
        return self.t.emit(f"{op} {a.name}, {b.name} : {a.type}", a.type)

    def _compare(self, other, ipred, fpred):
        a, b = self._pair(other)
        if a.type == "index":
            return self.t.emit(f"arith.cmpi {ipred}, {a.name}, {b.name} : index", "i1")
        return self.t.emit(f"arith.cmpf {fpred}, {a.name}, {b.name} : f32", "i1")

    def _logic(self, other, op, reverse=False):
        b = self._lift(other)
        if self.type != "i1" or b.type != "i1":
            raise TypeError("& | ^ combine comparisons (booleans)")
        return self.t.emit(f"{op} {self.name}, {b.name} : i1", "i1")

    # -- arithmetic
    def __add__(self, o): return self._arith(o, "arith.addi", "arith.addf")
    def __radd__(self, o): return self._arith(o, "arith.addi", "arith.addf", True)
    def __sub__(self, o): return self._arith(o, "arith.subi", "arith.subf")
    def __rsub__(self, o): return self._arith(o, "arith.subi", "arith.subf", True)
    def __mul__(self, o): return self._arith(o, "arith.muli", "arith.mulf")
    def __rmul__(self, o): return self._arith(o, "arith.muli", "arith.mulf", True)
    def __truediv__(self, o):
        a, b = self._float(), self._lift(o)._float()
        return self.t.emit(f"arith.divf {a.name}, {b.name} : f32", "f32")
    def __rtruediv__(self, o):
        return self._lift(o).__truediv__(self)
    def __floordiv__(self, o): return self._arith(o, "arith.floordivsi", None)
    def __rfloordiv__(self, o): return self._arith(o, "arith.floordivsi", None, True)

    def __mod__(self, o):
        # Python's modulo (the sign of the divisor): a - floor(a / b) * b.
        q = self // o
        return self - q * o

    def __neg__(self):
        return 0 - self if self.type == "index" else 0.0 - self

    # -- comparisons
    def __lt__(self, o): return self._compare(o, "slt", "olt")
    def __le__(self, o): return self._compare(o, "sle", "ole")
    def __gt__(self, o): return self._compare(o, "sgt", "ogt")
    def __ge__(self, o): return self._compare(o, "sge", "oge")
    def __eq__(self, o): return self._compare(o, "eq", "oeq")  # type: ignore[override]
    def __ne__(self, o): return self._compare(o, "ne", "one")  # type: ignore[override]
    __hash__ = None  # type: ignore[assignment]

    # -- logic
    def __and__(self, o): return self._logic(o, "arith.andi")
    def __rand__(self, o): return self._logic(o, "arith.andi")
    def __or__(self, o): return self._logic(o, "arith.ori")
    def __ror__(self, o): return self._logic(o, "arith.ori")
    def __xor__(self, o): return self._logic(o, "arith.xori")
    def __invert__(self): return self._logic(True, "arith.xori")

    def __abs__(self):
        return where(self < 0, -self, self)

    def __pow__(self, o):
        a, b = self._float(), self._lift(o)._float()
        return self.t.emit(f"math.powf {a.name}, {b.name} : f32", "f32")

    def __rpow__(self, o):
        return self._lift(o).__pow__(self)

    # -- tensor methods, as FlexAttention's functions write them
    def _math(self, op: str) -> "Sym":
        x = self._float()
        return self.t.emit(f"{op} {x.name} : f32", "f32")

    def abs(self): return abs(self)
    def exp(self): return self._math("math.exp")
    def exp2(self): return self._math("math.exp2")
    def log(self): return self._math("math.log")
    def log2(self): return self._math("math.log2")
    def tanh(self): return self._math("math.tanh")
    def sqrt(self): return self._math("math.sqrt")
    def rsqrt(self): return self._math("math.rsqrt")
    def sin(self): return self._math("math.sin")
    def cos(self): return self._math("math.cos")
    def floor(self): return self._math("math.floor")
    def ceil(self): return self._math("math.ceil")
    def sigmoid(self): return 1.0 / (1.0 + (-self._float()).exp())
    def neg(self): return -self
    def pow(self, o): return self ** o
    def minimum(self, o): return minimum(self, o)
    def maximum(self, o): return maximum(self, o)
    def where(self, cond, other): return where(cond, self, other)

    def clamp(self, min=None, max=None):
        x = self
        if min is not None:
            x = maximum(x, min)
        if max is not None:
            x = minimum(x, max)
        return x
    clip = clamp

    def logical_and(self, o): return self._bool() & self._lift(o)._bool()
    def logical_or(self, o): return self._bool() | self._lift(o)._bool()
    def logical_not(self): return ~self._bool()

    def _bool(self) -> "Sym":
        if self.type == "i1":
            return self
        return self != (0 if self.type == "index" else 0.0)

    def _integer(self) -> "Sym":
        """The value as an index: floats rounded toward zero (torch's casts),
        booleans as 0 or 1."""
        if self.type == "index":
            return self
        if self.type == "i1":
            return where(self, 1, 0)
        i64 = self.t.emit(f"arith.fptosi {self.name} : f32 to i64", "i64")
        return self.t.emit(f"arith.index_cast {i64.name} : i64 to index", "index")

    def float(self): return self._float()
    def double(self): return self._float()
    def half(self): return self._float()
    def bfloat16(self): return self._float()
    def int(self): return self._integer()
    def long(self): return self._integer()
    def bool(self): return self._bool()

    def to(self, dtype=None, *args, **kwargs):
        """A dtype cast: floating dtypes trace as f32 (the regions' type),
        integer ones as index, bool as i1."""
        dtype = kwargs.get("dtype", dtype)
        name = str(dtype).replace("torch.", "")
        if name.startswith("float") or name.startswith("bfloat") or name in ("half", "double"):
            return self._float()
        if name.startswith("int") or name.startswith("uint") or name == "long":
            return self._integer()
        if name == "bool":
            return self._bool()
        raise TypeError(f"cannot trace a cast to {dtype}")

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        handler = _torch_handlers().get(func)
        if handler is None:
            name = getattr(func, "__name__", None) or str(func)
            raise TypeError(f"attn_mlir cannot trace torch function {name!r} in a "
                            f"mask_mod or score_mod (supported: "
                            f"{', '.join(sorted(_TORCH_NAMES))})")
        return handler(*args, **(kwargs or {}))

    def __bool__(self):
        raise TypeError("a traced value has no truth value while tracing: use "
                        "& and | instead of and/or, and where(c, a, b) "
                        "instead of if/else")

    def __index__(self):
        raise TypeError("a traced value cannot index a Python object; "
                        + _NUMPY_INDEX_HINT)


def where(cond, a, b):
    """``a`` where ``cond`` holds, else ``b`` (traced as arith.select)."""
    if not isinstance(cond, Sym):
        return a if cond else b
    values = [a, b]
    if any(isinstance(x, Sym) and x.type == "f32" or isinstance(x, float)
           for x in values):
        type_ = "f32"
    elif any(isinstance(x, Sym) and x.type == "i1" or isinstance(x, bool)
             for x in values):
        type_ = "i1"
    else:
        type_ = "index"
    lifted = []
    for x in values:
        x = x if isinstance(x, Sym) else cond.t.const(x, type_)
        if type_ == "f32":
            x = x._float()
        if x.type != type_:
            raise TypeError(f"where() mixes {x.type} and {type_} values")
        lifted.append(x)
    return cond.t.emit(f"arith.select {cond.name}, {lifted[0].name}, "
                       f"{lifted[1].name} : {type_}", type_)


def minimum(a, b):
    """The smaller of two traced values (``min`` also works on Sym)."""
    return where(a < b, a, b)


def maximum(a, b):
    return where(a > b, a, b)


def _scalar(x):
    """A 0-d torch tensor or NumPy scalar as the Python number it holds."""
    if hasattr(x, "shape") and hasattr(x, "item") and tuple(x.shape) == ():
        return x.item()
    return x


class _CapturedRows:
    """A captured tensor indexed in fewer dimensions than it has
    (``alibi[h][q_idx]``): indexing goes on until every dimension is."""

    def __init__(self, tracer: _Tracer, tensor, indices: tuple):
        self.t, self.tensor, self.indices = tracer, tensor, indices

    def __getitem__(self, index):
        return _index(self.tensor, index, self.indices, self.t)

    def _fail(self, *_):
        raise TypeError(f"a captured tensor of shape {tuple(self.tensor.shape)} "
                        f"is read one element at a time: index all its "
                        f"{len(self.tensor.shape)} dimensions")
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __truediv__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _fail
    __hash__ = None  # type: ignore[assignment]


def _index(tensor, index, before: tuple = (), tracer: Optional[_Tracer] = None):
    """``tensor[index]`` while tracing (Tensor.__getitem__ with a traced
    index): a read of the captured tensor, or the rows left to index."""
    index = index if isinstance(index, tuple) else (index,)
    for i in index:
        if not isinstance(_scalar(i), (Sym, int)) or isinstance(i, bool):
            raise TypeError(f"a captured tensor is indexed by traced integers "
                            f"and ints only, got {type(i).__name__} (no slices, "
                            f"masks or tensors of indices)")
    indices = before + tuple(_scalar(i) for i in index)
    if tracer is None:
        tracer = next(i.t for i in indices if isinstance(i, Sym))
    rank = len(tensor.shape)
    if len(indices) > rank:
        raise TypeError(f"{len(indices)} indices into a captured tensor of "
                        f"shape {tuple(tensor.shape)}")
    if len(indices) < rank:
        return _CapturedRows(tracer, tensor, indices)
    return tracer.read(tensor, indices)


_HANDLERS = None
_TORCH_NAMES: set = set()


def _torch_handlers() -> dict:
    """The torch functions and Tensor methods a traced function may call
    on traced values, and their traced forms."""
    global _HANDLERS
    if _HANDLERS is not None:
        return _HANDLERS
    import operator
    import torch

    def lifted(a, like):
        return like._lift(a) if not isinstance(a, Sym) else a

    def binary(op):
        def run(a, b, *rest, **kwargs):
            a, b = _scalar(a), _scalar(b)
            if not isinstance(a, Sym):
                a = lifted(a, b)
            return op(a, b)
        return run

    def unary(method):
        return lambda x, *rest, **kwargs: getattr(x, method)(*rest, **kwargs)

    def div(a, b, rounding_mode=None):
        a, b = _scalar(a), _scalar(b)
        a = a if isinstance(a, Sym) else lifted(a, b)
        if rounding_mode is None:
            return a / b
        if rounding_mode == "floor":
            return a // b if a.type == "index" and not isinstance(b, float) \
                else (a / b).floor()
        if rounding_mode == "trunc":
            x, y = a._pair(b)
            if x.type == "index":
                return a.t.emit(f"arith.divsi {x.name}, {y.name} : index", "index")
            q = a / b
            return where(q < 0, q.ceil(), q.floor())
        raise TypeError(f"torch.div rounding_mode {rounding_mode!r}")

    def fmod(a, b):
        a, b = _scalar(a), _scalar(b)
        a = a if isinstance(a, Sym) else lifted(a, b)
        x, y = a._pair(b)
        op = "arith.remsi" if x.type == "index" else "arith.remf"
        return a.t.emit(f"{op} {x.name}, {y.name} : {x.type}", x.type)

    def clamp(x, min=None, max=None):
        return x.clamp(min, max)

    def where_(cond, a, b):
        return where(cond, _scalar(a), _scalar(b))

    def getitem(tensor, index):
        if isinstance(tensor, Sym):
            raise TypeError("a traced value cannot be indexed")
        return _index(tensor, index)

    T = torch.Tensor
    # Elementwise functions that are also tensor methods.
    table = {getattr(owner, name): unary(name)
             for name in ("abs", "exp", "exp2", "log", "log2", "tanh",
                          "sigmoid", "sqrt", "rsqrt", "sin", "cos", "floor",
                          "ceil", "neg", "logical_not")
             for owner in (torch, torch.Tensor)}
    table.update({
        torch.where: where_, T.where: lambda x, c, o: where(c, x, _scalar(o)),
        torch.clamp: clamp, torch.clip: clamp, T.clamp: clamp, T.clip: clamp,
        torch.minimum: binary(minimum), torch.maximum: binary(maximum),
        T.minimum: binary(minimum), T.maximum: binary(maximum),
        torch.pow: binary(operator.pow), T.pow: binary(operator.pow),
        torch.add: binary(operator.add), torch.sub: binary(operator.sub),
        torch.mul: binary(operator.mul), torch.div: div, T.div: div,
        torch.true_divide: binary(operator.truediv),
        torch.floor_divide: binary(operator.floordiv),
        torch.remainder: binary(operator.mod), torch.fmod: fmod,
        torch.eq: binary(operator.eq), torch.ne: binary(operator.ne),
        torch.lt: binary(operator.lt), torch.le: binary(operator.le),
        torch.gt: binary(operator.gt), torch.ge: binary(operator.ge),
        torch.logical_and: binary(lambda a, b: a.logical_and(b)),
        torch.logical_or: binary(lambda a, b: a.logical_or(b)),
        torch.bitwise_and: binary(operator.and_),
        torch.bitwise_or: binary(operator.or_),
        T.__getitem__: getitem,
    })
    # Tensor's operators with a traced operand (a captured 0-d tensor on the
    # left, a traced value on the right).
    for name, op in (("add", operator.add), ("sub", operator.sub),
                     ("mul", operator.mul), ("truediv", operator.truediv),
                     ("floordiv", operator.floordiv), ("mod", operator.mod),
                     ("pow", operator.pow), ("and", operator.and_),
                     ("or", operator.or_), ("eq", operator.eq),
                     ("ne", operator.ne), ("lt", operator.lt),
                     ("le", operator.le), ("gt", operator.gt),
                     ("ge", operator.ge)):
        table[getattr(T, f"__{name}__")] = binary(op)
        if hasattr(T, f"__r{name}__"):
            table[getattr(T, f"__r{name}__")] = binary(lambda a, b, op=op: op(b, a))
    _TORCH_NAMES.update(f"torch.{getattr(f, '__name__', f)}" for f in table
                        if getattr(f, "__name__", "").isidentifier() and
                        not getattr(f, "__name__", "").startswith("__"))
    _HANDLERS = table
    return table


_NUMPY_INDEX_HINT = ("a NumPy array indexed by traced values must be named by "
                     "the function itself (a global, a closure variable or a "
                     "default argument), not reached through an attribute or "
                     "a container")


class _CapturedArray:
    """A NumPy array that a traced function names, indexable by traced
    values like a captured torch tensor (NumPy's indexing has no hook for
    them: the function is traced with its arrays wrapped in this)."""

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        if not any(isinstance(_scalar(i), Sym) for i in index):
            return self.array[index]
        return _index(self.array, index)

    def __getattr__(self, name):
        return getattr(self.array, name)

    def __len__(self):
        return len(self.array)


def with_arrays_as(fn: Callable, convert: Callable) -> Callable:
    """``fn``, or a copy of it whose NumPy arrays (globals its code names,
    closure variables, default arguments) are ``convert(array)``: a
    :class:`_CapturedArray` to trace ``fn``, a torch tensor to evaluate it
    on index tensors. The function itself and its module are left as they
    are."""
    import sys
    import types
    np = sys.modules.get("numpy")
    code = getattr(fn, "__code__", None)
    if np is None or code is None:
        return fn
    wrap = lambda v: convert(v) if isinstance(v, np.ndarray) else v
    changed = False
    closure = fn.__closure__
    if closure:
        cells = []
        for cell in closure:
            try:
                value = cell.cell_contents
            except ValueError:  # a variable not assigned yet
                cells.append(cell)
                continue
            wrapped = wrap(value)
            changed |= wrapped is not value
            cells.append(cell if wrapped is value else types.CellType(wrapped))
        closure = tuple(cells)
    namespace = fn.__globals__
    arrays = {n: wrap(namespace[n]) for n in code.co_names
              if isinstance(namespace.get(n), np.ndarray)}
    if arrays:
        namespace, changed = {**namespace, **arrays}, True
    defaults = fn.__defaults__
    if defaults and any(isinstance(d, np.ndarray) for d in defaults):
        defaults, changed = tuple(wrap(d) for d in defaults), True
    if not changed:
        return fn
    copy = types.FunctionType(code, namespace, fn.__name__, defaults, closure)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def _trace(fn: Callable, args: Sequence[tuple], result_type: str,
           captures: Optional[_Captures] = None) -> str:
    t = _Tracer(captures)
    syms = [Sym(t, name, type_) for name, type_ in args]
    try:
        result = with_arrays_as(fn, _CapturedArray)(*syms)
    except IndexError as e:
        # NumPy's indexing reports a traced index this way.
        if "only integers, slices" in str(e):
            raise TypeError(_NUMPY_INDEX_HINT) from e
        raise
    if not isinstance(result, Sym):
        result = t.const(result, result_type)
    if result_type == "f32" and result.type == "index":
        result = result._float()
    if result.type != result_type:
        raise TypeError(f"the function must return a {'boolean' if result_type == 'i1' else 'float'} "
                        f"value, got {result.type}")
    header = ", ".join(f"{n}: {ty}" for n, ty in args)
    body = "\n".join(f"        {line}" for line in t.lines)
    return (f"{{\n      ^bb0({header}):\n{body}\n"
            f"        attn.yield {result.name} : {result_type}\n      }}")


def trace_mask_mod(fn: Callable, captures: Optional[_Captures] = None) -> str:
    """The region text of ``fn(b, h, q_idx, kv_idx) -> bool``; tensors it
    indexes go to ``captures``."""
    return _trace(fn, [("%b", "index"), ("%h", "index"), ("%i", "index"),
                       ("%j", "index")], "i1", captures)


def trace_score_mod(fn: Callable, captures: Optional[_Captures] = None) -> str:
    """The region text of ``fn(score, b, h, q_idx, kv_idx) -> float``;
    tensors it indexes go to ``captures``."""
    return _trace(fn, [("%s", "f32"), ("%b", "index"), ("%h", "index"),
                       ("%i", "index"), ("%j", "index")], "f32", captures)


# --------------------------------------------------------------------------
# Spec
# --------------------------------------------------------------------------

Dim = Optional[int]


def _qkvo_types(batch: Dim, heads: int, kv_heads: int, q_len: Dim,
                kv_len: Dim, head_dim: int, value_dim: int, dtype: str):
    """The tensor types of q, k, v and o (``?`` for dynamic sizes)."""
    d = lambda x: "?" if x is None else str(x)
    B, Sq, Skv = d(batch), d(q_len), d(kv_len)
    return (f"tensor<{B}x{heads}x{Sq}x{head_dim}x{dtype}>",
            f"tensor<{B}x{kv_heads}x{Skv}x{head_dim}x{dtype}>",
            f"tensor<{B}x{kv_heads}x{Skv}x{value_dim}x{dtype}>",
            f"tensor<{B}x{heads}x{Sq}x{value_dim}x{dtype}>")


def _spec_function(name: str, op: str, args: Sequence[str],
                   clauses: Sequence[str], qkv_types: Sequence[str],
                   values: Sequence[str], results: Sequence[str],
                   operands: str = "%q, %k, %v",
                   op_result_types: Optional[str] = None) -> str:
    """A spec: function ``name`` whose body is one ``op`` on ``operands``
    (q, k, v); ``op_result_types``: the op's result types where they are
    not the function's, comma-separated."""
    result_types = ", ".join(results)
    ret = f"({result_types})" if len(results) > 1 else result_types
    clause_text = "".join(f"\n      {c}" for c in clauses)
    names = ", ".join(values)
    return (f"func.func @{name}({', '.join(args)})\n    -> {ret} {{\n"
            f"  {names} = {op} {operands}{clause_text}\n"
            f"      : {', '.join(qkv_types)}\n"
            f"      -> {op_result_types or result_types}\n"
            f"  return {names} : {result_types}\n}}\n")


@dataclass
class Spec:
    """One ``attn.attention`` spec. ``None`` sizes are dynamic (any size at
    run time). ``str(spec)`` is the MLIR text ``compile()`` takes."""

    heads: int
    head_dim: int
    kv_heads: Optional[int] = None
    value_dim: Optional[int] = None
    dtype: str = "f16"
    batch: Dim = None
    q_len: Dim = None
    kv_len: Dim = None
    mask: Optional[Mask] = None
    mask_mod: Union[Callable, str, None] = None
    score_mods: Sequence[ScoreMod] = ()
    score_mod: Union[Callable, str, None] = None
    normalization: Optional[str] = None
    scale: Optional[float] = None
    return_lse: bool = False
    bias_shape: Optional[Sequence[Dim]] = None
    layout_dtype: str = "i8"
    #: How q, o and lse hold query rows: "dense" ``[B, Hq, Sq, D]`` or
    #: "packed" ``[Tq, Hq, D]`` with a ``cu_seqlens_q [B + 1]`` operand.
    query_form: str = "dense"
    #: How k and v hold keys: "dense" ``[B, Hkv, Skv, D]``, "packed"
    #: ``[Tk, Hkv, D]`` with ``cu_seqlens_kv [B + 1]``, or "paged": page
    #: pools ``[pages, page_size, Hkv, D]`` ("nhd" ``page_layout``) or
    #: ``[pages, Hkv, page_size, D]`` ("hnd") with ``block_table
    #: [B, max_pages]`` and ``kv_lens [B]`` operands (all int32, any sizes).
    key_form: str = "dense"
    page_size: Optional[int] = None
    page_layout: str = "nhd"
    name: str = "attn"
    #: The backward instead (``attn.attention_backward``): inputs q, k, v,
    #: the operands, then ``o``, ``grad_o`` and (softmax) ``lse``; outputs
    #: ``grad_q``, ``grad_k``, ``grad_v`` and, with ``bias_grad``,
    #: ``grad_bias``. Dense batches only.
    backward: bool = False
    bias_grad: bool = False
    #: A shard of a longer attention (ring attention): a ``positions [4]``
    #: int64 operand ``[q_offset, kv_offset, q_total, kv_total]`` places
    #: the queries and keys in the sequence the mask and score modifiers
    #: see. Rows the mask leaves without a key give ``o = 0``,
    #: ``lse = -inf``.
    positions: bool = False
    #: A sparse + low-rank hybrid (Scatterbrain): the mask is the exact
    #: support, pairs outside it weigh ``phi(q) . phi(k)`` of this feature
    #: map (``favor(m, seed=s)``, ``favor(m)`` with a ``feature_weights``
    #: operand ``W [m, D]`` in f32, or ``taylor(2)``), which estimates
    #: ``exp(q . k / sqrt(D))``. CPU only, forward only.
    approximation: Optional["FeatureMap"] = None
    #: Sparse-linear attention (SLA): the approximation's linear attention
    #: over the pairs outside the support is not joined to the support's
    #: softmax but returned apart, as a last output ``o_linear``; any
    #: feature map without positions (``elu_plus_one()``, ``hedgehog(n)``).
    linear_output: bool = False

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {self.dtype!r}")
        if self.mask is not None and not isinstance(self.mask, Mask):
            raise TypeError(f"mask must be a Mask (causal(), window(...), ...), "
                            f"got {type(self.mask).__name__}")
        if self.query_form not in ("dense", "packed"):
            raise ValueError(f"query_form must be 'dense' or 'packed', got "
                             f"{self.query_form!r}")
        if self.key_form not in ("dense", "packed", "paged"):
            raise ValueError(f"key_form must be 'dense', 'packed' or 'paged', "
                             f"got {self.key_form!r}")
        if self.page_layout not in ("nhd", "hnd"):
            raise ValueError(f"page_layout must be 'nhd' or 'hnd', got "
                             f"{self.page_layout!r}")
        if (self.key_form == "paged") != (self.page_size is not None):
            raise ValueError("page_size is given exactly when key_form is "
                             f"'paged' (key_form {self.key_form!r}, page_size "
                             f"{self.page_size!r})")
        if self.page_size is not None and self.page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {self.page_size}")
        if self.backward and (self.query_form, self.key_form) != ("dense", "dense"):
            raise ValueError("the backward takes dense q, k and v; packed and "
                             "paged sequences have no backward")
        if self.backward and self.return_lse:
            raise ValueError("the backward takes lse as an input; drop return_lse")
        if self.approximation is not None:
            if not isinstance(self.approximation, FeatureMap):
                raise TypeError("approximation must be a FeatureMap (favor(m, "
                                "seed=s) or taylor(2)), got "
                                f"{type(self.approximation).__name__}")
            if self.backward:
                raise ValueError("an approximation has no backward yet; train "
                                 "with the exact attention")
        if self.linear_output and self.approximation is None:
            raise ValueError("linear_output returns the linear attention of "
                             "an approximation; give approximation= a "
                             "feature map (e.g. elu_plus_one())")
        if self.bias_grad and not (self.backward and
                                   any(m.operand == "bias" for m in self.score_mods)):
            raise ValueError("bias_grad needs backward=True and a bias() score modifier")

    def softmax(self) -> bool:
        """Whether the normalization is softmax (the forward has an lse)."""
        return self.normalization in (None, "#attn.softmax")

    def _tensor_types(self):
        """The types of q, k, v, o and lse in the spec's query and key forms."""
        d = lambda x: "?" if x is None else str(x)
        B, Sq, Skv = d(self.batch), d(self.q_len), d(self.kv_len)
        H, Hkv = self.heads, self.kv_heads or self.heads
        D, Dv, t = self.head_dim, self.value_dim or self.head_dim, self.dtype
        acc = "f64" if t == "f64" else "f32"  # lse: the accumulation type
        if self.query_form == "packed":
            tq, to = f"tensor<?x{H}x{D}x{t}>", f"tensor<?x{H}x{Dv}x{t}>"
            tl = f"tensor<?x{H}x{acc}>"
        else:
            tq, to = (f"tensor<{B}x{H}x{Sq}x{D}x{t}>",
                      f"tensor<{B}x{H}x{Sq}x{Dv}x{t}>")
            tl = f"tensor<{B}x{H}x{Sq}x{acc}>"
        if self.key_form == "dense":
            rows = lambda e: f"tensor<{B}x{Hkv}x{Skv}x{e}x{t}>"
        elif self.key_form == "packed":
            rows = lambda e: f"tensor<?x{Hkv}x{e}x{t}>"
        elif self.page_layout == "nhd":
            rows = lambda e: f"tensor<?x{self.page_size}x{Hkv}x{e}x{t}>"
        else:
            rows = lambda e: f"tensor<?x{Hkv}x{self.page_size}x{e}x{t}>"
        return tq, rows(D), rows(Dv), to, tl

    # The operands present, in the op's order, with their types.
    def _operands(self) -> list[tuple[str, str]]:
        d = lambda x: "?" if x is None else str(x)
        B, Sq, Skv = d(self.batch), d(self.q_len), d(self.kv_len)
        kinds = self.mask._operands() if self.mask else set()
        ops = []
        if "layout" in kinds:
            block = self._block()
            rows = "?" if self.q_len is None else str(-(-self.q_len // block[0]))
            cols = "?" if self.kv_len is None else str(-(-self.kv_len // block[1]))
            ops.append(("layout", f"tensor<{B}x{self.heads}x{rows}x{cols}x{self.layout_dtype}>"))
        if "segments" in kinds:
            ops.append(("q_segments", f"tensor<{B}x{Sq}xi32>"))
            ops.append(("kv_segments", f"tensor<{B}x{Skv}xi32>"))
        for mod in self.score_mods:
            if mod.operand == "bias":
                shape = self.bias_shape or (self.batch, self.heads, self.q_len, self.kv_len)
                ops.append(("bias", f"tensor<{'x'.join(d(s) for s in shape)}x{self.dtype}>"))
            elif mod.operand == "alibi_slopes":
                ops.append(("alibi_slopes", f"tensor<{self.heads}xf32>"))
        if self.query_form == "packed":
            ops.append(("cu_seqlens_q", "tensor<?xi32>"))
        if self.key_form == "packed":
            ops.append(("cu_seqlens_kv", "tensor<?xi32>"))
        if self.key_form == "paged":
            ops.append(("block_table", "tensor<?x?xi32>"))
            ops.append(("kv_lens", "tensor<?xi32>"))
        if self.positions:
            ops.append(("positions", "tensor<4xi64>"))
        if self.approximation is not None and self.approximation.weights:
            shape = self.approximation.weights(self.head_dim)
            acc = "f64" if self.dtype == "f64" else "f32"
            ops.append(("feature_weights",
                        f"tensor<{'x'.join(map(str, shape))}x{acc}>"))
        return ops

    def _block(self):
        masks = [self.mask]
        while masks:
            m = masks.pop()
            if isinstance(m, _BlockSparse):
                return m.block
            masks += getattr(m, "masks", []) + ([m.mask] if isinstance(m, _Not) else [])
        raise ValueError("no block_sparse mask")

    def _regions(self):
        """The score_mod and mask_mod region texts (None where absent) and
        the tensors the traced functions capture."""
        captures = _Captures()
        regions = []
        for fn, trace in ((self.score_mod, trace_score_mod),
                          (self.mask_mod, trace_mask_mod)):
            regions.append(None if fn is None else
                           fn if isinstance(fn, str) else trace(fn, captures))
        return regions[0], regions[1], captures

    def captured_tensors(self) -> list[tuple[str, Any]]:
        """(kernel input name, tensor) of each tensor the traced mask_mod and
        score_mod index: inputs of the compiled spec after its operands
        (before ``o``, ``grad_o`` and ``lse`` of a backward). Only their
        shapes and dtypes are compiled in."""
        # The kernel names an input that only regions read by its position
        # (arg<N>): after q, k, v and the operands.
        first = 3 + len(self._operands())
        return [(f"arg{first + i}", t)
                for i, t in enumerate(self._regions()[2].tensors)]

    def __str__(self) -> str:
        tq, tk, tv, to, tl = self._tensor_types()
        ops = self._operands()
        score_region, mask_region, captures = self._regions()
        ops = ops + captures.arguments()
        args = [f"%q: {tq}", f"%k: {tk}", f"%v: {tv}"] + [f"%{n}: {t}" for n, t in ops]
        types = dict(ops)
        clauses = []
        if "layout" in types:
            clauses.append(f"layout(%layout : {types['layout']})")
        if "q_segments" in types:
            clauses.append(f"segments(%q_segments, %kv_segments : {types['q_segments']}, {types['kv_segments']})")
        if "bias" in types:
            clauses.append(f"bias(%bias : {types['bias']})")
        if "alibi_slopes" in types:
            clauses.append(f"alibi_slopes(%alibi_slopes : {types['alibi_slopes']})")
        for name in ("cu_seqlens_q", "cu_seqlens_kv"):
            if name in types:
                clauses.append(f"{name}(%{name} : {types[name]})")
        if "block_table" in types:
            clauses.append(f"paged_kv(%block_table, %kv_lens : "
                           f"{types['block_table']}, {types['kv_lens']})")
            if self.page_layout != "nhd":
                clauses.append(f"page_layout({self.page_layout})")
        if "positions" in types:
            clauses.append(f"positions(%positions : {types['positions']})")
        if self.mask is not None:
            clauses.append(f"mask({self.mask.attr()})")
        if self.score_mods:
            clauses.append(f"score_mods([{', '.join(m.text for m in self.score_mods)}])")
        if self.normalization:
            clauses.append(f"normalization({self.normalization})")
        if self.scale is not None:
            clauses.append(f"scale({_float(self.scale)})")
        if self.positions and (self.mask is not None or mask_region is not None):
            clauses.append("allow_empty_rows")
        if self.approximation is not None:
            clauses.append(f"approximation({self.approximation})")
        if "feature_weights" in types:
            clauses.append(f"feature_weights(%feature_weights : "
                           f"{types['feature_weights']})")
        if score_region is not None:
            clauses.append(f"score_mod {score_region}")
        if mask_region is not None:
            clauses.append(f"mask_mod {mask_region}")
        if self.backward:
            return self._backward_text(args, clauses, types)
        results, values = [to], ["%o"]
        if self.return_lse:
            results.append(tl)
            values.append("%lse")
        op_results = None
        if self.linear_output:
            op_results = f"{', '.join(results)} linear {to}"
            results.append(to)
            values.append("%o_linear")
        return _spec_function(self.name, "attn.attention", args, clauses,
                              (tq, tk, tv), values, results,
                              op_result_types=op_results)

    def _backward_text(self, args, clauses, types) -> str:
        tq, tk, tv, to, tl = self._tensor_types()
        args = args + [f"%o: {to}", f"%grad_o: {to}"]
        if self.softmax():
            args.append(f"%lse: {tl}")
            clauses = [f"lse(%lse : {tl})"] + clauses
        results, values = [tq, tk, tv], ["%grad_q", "%grad_k", "%grad_v"]
        if self.bias_grad:
            results.append(types["bias"])
            values.append("%grad_bias")
        return _spec_function(f"{self.name}_backward", "attn.attention_backward",
                              args, clauses, (tq, tk, tv, to, to), values,
                              results, operands="%q, %k, %v, %o, %grad_o")


# --------------------------------------------------------------------------
# Linear attention
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class FeatureMap:
    """A feature map of linear attention: its attribute text, its number of
    features for a head dimension, and the shape of the ``feature_weights``
    operand it reads (``None``: none)."""
    text: str
    dim: Callable[[int], int]
    weights: Optional[Callable[[int], tuple]] = None

    def __str__(self) -> str:
        return self.text


def identity() -> FeatureMap:
    """The raw queries and keys (retention, gated linear attention); the
    queries are scaled by ``D^-1/2`` unless ``scale`` says otherwise."""
    return FeatureMap("#attn.identity", lambda d: d)


def l2_normalize() -> FeatureMap:
    """Each row divided by its norm (``sqrt(|x|^2 + 1e-6)``), as DeltaNet
    normalizes its queries and keys; scaled by ``D^-1/2`` by default."""
    return FeatureMap("#attn.l2_normalize", lambda d: d)


def elu_plus_one() -> FeatureMap:
    """``elu(x) + 1`` (linear transformers)."""
    return FeatureMap("#attn.elu_plus_one", lambda d: d)


def favor(features: int, seed: Optional[int] = None,
          orthogonal: bool = True) -> FeatureMap:
    """Performer's positive random features; ``W [features, D]`` generated
    from ``seed`` at compile time, or passed as ``feature_weights`` when
    ``seed`` is None."""
    text = f"#attn.favor<features = {features}"
    if seed is not None:
        text += f", seed = {seed}"
    if not orthogonal:
        text += ", orthogonal = false"
    return FeatureMap(text + ">", lambda d: features,
                      None if seed is not None else (lambda d: (features, d)))


def cosformer(max_len: Optional[int] = None) -> FeatureMap:
    """cosFormer's relu features re-weighted by ``cos``/``sin`` of the
    position (``M``: ``max_len``, else the longer sequence)."""
    text = ("#attn.cosformer" if max_len is None
            else f"#attn.cosformer<max_len = {max_len}>")
    return FeatureMap(text, lambda d: 2 * d)


def hedgehog(features: int) -> FeatureMap:
    """Hedgehog: ``[softmax(x W), softmax(-x W)]``, ``W [D, features]`` passed
    as ``feature_weights``."""
    return FeatureMap(f"#attn.hedgehog<features = {features}>",
                      lambda d: 2 * features, lambda d: (d, features))


def taylor(order: int = 2) -> FeatureMap:
    """Based's Taylor features: ``1 + q.k/sqrt(D) (+ (q.k)^2 / 2D)``."""
    return FeatureMap(f"#attn.taylor<order = {order}>",
                      lambda d: 1 + d + (d * d if order == 2 else 0))


@dataclass
class LinearSpec:
    """One ``attn.linear_attention`` spec. Operands follow q, k, v in this
    order when present: ``feature_weights``, ``decay`` ``[Hq]``, the gate
    (``gate="token"``: ``[B, Hq, S]``, ``"feature"``: ``[B, Hq, S, F]``, in
    log space), the delta rule's ``beta [B, Hq, S]`` (``delta=True``), the
    initial state ``S [B, Hq, F, Dv]`` and normalizer ``z [B, Hq, F]``.
    ``scale`` multiplies the query features (default ``D^-1/2`` for
    :func:`identity` and :func:`l2_normalize`, else 1)."""

    heads: int
    head_dim: int
    feature_map: Union[FeatureMap, str]
    kv_heads: Optional[int] = None
    value_dim: Optional[int] = None
    dtype: str = "f32"
    batch: Dim = None
    q_len: Dim = None
    kv_len: Dim = None
    causal: bool = False
    decay: bool = False
    gate: Optional[str] = None
    delta: bool = False
    scale: Optional[float] = None
    normalize: bool = True
    eps: Optional[float] = None
    initial_state: bool = False
    return_state: bool = False
    name: str = "linear"

    def __post_init__(self):
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {self.dtype!r}")
        if self.feature_map == relu():
            self.feature_map = FeatureMap("#attn.relu", lambda d: d)
        if not isinstance(self.feature_map, FeatureMap):
            raise TypeError("feature_map must be identity(), l2_normalize(), "
                            "elu_plus_one(), relu(), favor(...), cosformer(), "
                            "hedgehog(...) or taylor()")
        if self.gate not in (None, "token", "feature"):
            raise ValueError("gate must be None, 'token' ([B, Hq, S]) or "
                             f"'feature' ([B, Hq, S, F]), got {self.gate!r}")

    def __str__(self) -> str:
        dv = self.value_dim or self.head_dim
        fm = self.feature_map
        f = fm.dim(self.head_dim)
        acc = "f64" if self.dtype == "f64" else "f32"
        # A causal op runs over one sequence: keys have the queries' length.
        tq, tk, tv, to = _qkvo_types(
            self.batch, self.heads, self.kv_heads or self.heads, self.q_len,
            self.q_len if self.causal else self.kv_len, self.head_dim, dv,
            self.dtype)
        B = "?" if self.batch is None else str(self.batch)
        ts = f"tensor<{B}x{self.heads}x{f}x{dv}x{acc}>"
        tz = f"tensor<{B}x{self.heads}x{f}x{acc}>"
        args = [f"%q: {tq}", f"%k: {tk}", f"%v: {tv}"]
        clauses = [f"feature_map({fm.text})"]
        if fm.weights is not None:
            tw = f"tensor<{'x'.join(map(str, fm.weights(self.head_dim)))}x{acc}>"
            args.append(f"%w: {tw}")
            clauses.append(f"feature_weights(%w : {tw})")
        if self.causal:
            clauses.append("causal")
        if self.decay:
            tg = f"tensor<{self.heads}x{acc}>"
            args.append(f"%gamma: {tg}")
            clauses.append(f"decay(%gamma : {tg})")
        if self.gate is not None:
            S = "?" if self.q_len is None else str(self.q_len)
            per = f"x{f}" if self.gate == "feature" else ""
            tgate = f"tensor<{B}x{self.heads}x{S}{per}x{acc}>"
            args.append(f"%g: {tgate}")
            clauses.append(f"gate(%g : {tgate})")
        if self.delta:
            S = "?" if self.q_len is None else str(self.q_len)
            tbeta = f"tensor<{B}x{self.heads}x{S}x{acc}>"
            args.append(f"%beta: {tbeta}")
            clauses.append(f"delta_rule(%beta : {tbeta})")
        if self.scale is not None:
            clauses.append(f"scale({_float(self.scale)})")
        if not self.normalize:
            clauses.append("normalization(none)")
        if self.eps is not None:
            clauses.append(f"eps({_float(self.eps)})")
        if self.initial_state:
            args.append(f"%s0: {ts}")
            clauses.append(f"initial_state(%s0 : {ts})")
            if self.normalize:
                args.append(f"%z0: {tz}")
                clauses.append(f"initial_normalizer(%z0 : {tz})")
        results, values = [to], ["%o"]
        if self.return_state:
            results.append(ts)
            values.append("%s")
            if self.normalize:
                results.append(tz)
                values.append("%z")
        return _spec_function(self.name, "attn.linear_attention", args,
                              clauses, (tq, tk, tv), values, results)


@dataclass
class MergeSpec:
    """One ``attn.merge`` spec: ``parts`` partial results ``(o_i, lse_i)``
    (``o_i [B, H, S, Dv]`` of ``dtype``, ``lse_i [B, H, S]`` in f32, f64 for
    f64), or with ``parts=None`` one split axis (``o [N, B, H, S, Dv]``,
    ``lse [N, B, H, S]``, N dynamic). Inputs are the ``o`` partials, then the
    ``lse`` ones. The merged ``o`` has ``out_dtype`` (default ``dtype``)."""

    heads: int
    value_dim: int
    parts: Optional[int] = 2
    dtype: str = "f32"
    out_dtype: Optional[str] = None
    batch: Dim = None
    seq_len: Dim = None
    return_lse: bool = True
    name: str = "merge"

    def __post_init__(self):
        for what, t in (("dtype", self.dtype), ("out_dtype", self.out_dtype)):
            if t is not None and t not in _DTYPES:
                raise ValueError(f"{what} must be one of {_DTYPES}, got {t!r}")
        if self.parts is not None and self.parts < 1:
            raise ValueError(f"parts must be at least 1 (or None for a split "
                             f"axis), got {self.parts}")

    def __str__(self) -> str:
        d = lambda x: "?" if x is None else str(x)
        acc = "f64" if self.dtype == "f64" else "f32"
        row = f"{d(self.batch)}x{self.heads}x{d(self.seq_len)}"
        lead = "?x" if self.parts is None else ""
        to_part = f"tensor<{lead}{row}x{self.value_dim}x{self.dtype}>"
        tl_part = f"tensor<{lead}{row}x{acc}>"
        count = 1 if self.parts is None else self.parts
        o_names = [f"%o{i}" for i in range(count)]
        lse_names = [f"%lse{i}" for i in range(count)]
        args = ([f"{n}: {to_part}" for n in o_names] +
                [f"{n}: {tl_part}" for n in lse_names])
        results = [f"tensor<{row}x{self.value_dim}x{self.out_dtype or self.dtype}>"]
        values = ["%o"]
        if self.return_lse:
            results.append(f"tensor<{row}x{acc}>")
            values.append("%lse")
        result_types = ", ".join(results)
        ret = f"({result_types})" if len(results) > 1 else result_types
        names = ", ".join(values)
        return (f"func.func @{self.name}({', '.join(args)})\n    -> {ret} {{\n"
                f"  {names} = attn.merge o({', '.join(o_names)} : "
                f"{', '.join([to_part] * count)})\n"
                f"      lse({', '.join(lse_names)} : "
                f"{', '.join([tl_part] * count)})\n"
                f"      -> {result_types}\n"
                f"  return {names} : {result_types}\n}}\n")
