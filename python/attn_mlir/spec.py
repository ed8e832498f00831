"""Spec builder: attention variants as Python objects that print MLIR.

    spec = Spec(heads=8, kv_heads=2, head_dim=64, dtype="bf16",
                mask=causal() & window(1024) | sinks(4))
    print(spec)          # the attn.attention spec, ready for compile()

Masks compose with ``&``, ``|`` and ``~``. ``mask_mod`` and ``score_mod``
also accept Python functions, traced into the op's regions by calling them
on symbolic values (see :class:`Sym`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

_DTYPES = ("f16", "bf16", "f32", "f64")


def _list(values) -> str:
    return "[" + ", ".join(str(v).lower() if isinstance(v, bool) else str(v)
                           for v in values) + "]"


def _float(x: float) -> str:
    """An MLIR float literal (it needs the decimal point)."""
    return f"{float(x):.9e}"


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
                 causal: Optional[Sequence[bool]] = None) -> Mask:
    """NATTEN neighborhood attention over a row-major token grid (1-D, 2-D
    or 3-D)."""
    params = [f"grid = {_list(grid)}", f"kernel = {_list(kernel)}"]
    if dilation is not None:
        params.append(f"dilation = {_list(dilation)}")
    if stride is not None:
        params.append(f"stride = {_list(stride)}")
    if causal is not None:
        params.append(f"causal = {_list(causal)}")
    return _Attr(f"#attn.neighborhood<{', '.join(params)}>")


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

class _Tracer:
    def __init__(self):
        self.lines: list[str] = []
        self.count = 0

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


class Sym:
    """A symbolic value while tracing: an index (b, h, q_idx, kv_idx), the
    f32 score, or a boolean. Supports + - * // % (indices), + - * /
    (floats), comparisons, & | ~ (booleans), and abs(), min(), max(),
    where(). Python's ``and``/``or``/``if`` cannot be traced: use & | and
    where()."""

    def __init__(self, tracer: _Tracer, name: str, type_: str):
        self.t, self.name, self.type = tracer, name, type_

    # -- helpers
    def _lift(self, other) -> "Sym":
        if isinstance(other, Sym):
            return other
        if isinstance(other, bool):
            return self.t.const(other, "i1")
        if isinstance(other, int) and self.type == "index":
            return self.t.const(other, "index")
        if isinstance(other, (int, float)):
            return self.t.const(other, "f32")
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

    def __bool__(self):
        raise TypeError("a traced value has no truth value while tracing: use "
                        "& and | instead of and/or, and where(c, a, b) "
                        "instead of if/else")

    def __index__(self):
        raise TypeError("a traced value cannot index a Python object")


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


def _trace(fn: Callable, args: Sequence[tuple], result_type: str) -> str:
    t = _Tracer()
    syms = [Sym(t, name, type_) for name, type_ in args]
    result = fn(*syms)
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


def trace_mask_mod(fn: Callable) -> str:
    """The region text of ``fn(b, h, q_idx, kv_idx) -> bool``."""
    return _trace(fn, [("%b", "index"), ("%h", "index"), ("%i", "index"),
                       ("%j", "index")], "i1")


def trace_score_mod(fn: Callable) -> str:
    """The region text of ``fn(score, b, h, q_idx, kv_idx) -> float``."""
    return _trace(fn, [("%s", "f32"), ("%b", "index"), ("%h", "index"),
                       ("%i", "index"), ("%j", "index")], "f32")


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
                   operands: str = "%q, %k, %v") -> str:
    """A spec: function ``name`` whose body is one ``op`` on ``operands``
    (q, k, v)."""
    result_types = ", ".join(results)
    ret = f"({result_types})" if len(results) > 1 else result_types
    clause_text = "".join(f"\n      {c}" for c in clauses)
    names = ", ".join(values)
    return (f"func.func @{name}({', '.join(args)})\n    -> {ret} {{\n"
            f"  {names} = {op} {operands}{clause_text}\n"
            f"      : {', '.join(qkv_types)}\n      -> {result_types}\n"
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
        return ops

    def _block(self):
        masks = [self.mask]
        while masks:
            m = masks.pop()
            if isinstance(m, _BlockSparse):
                return m.block
            masks += getattr(m, "masks", []) + ([m.mask] if isinstance(m, _Not) else [])
        raise ValueError("no block_sparse mask")

    def __str__(self) -> str:
        tq, tk, tv, to, tl = self._tensor_types()
        ops = self._operands()
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
        if self.mask is not None:
            clauses.append(f"mask({self.mask.attr()})")
        if self.score_mods:
            clauses.append(f"score_mods([{', '.join(m.text for m in self.score_mods)}])")
        if self.normalization:
            clauses.append(f"normalization({self.normalization})")
        if self.scale is not None:
            clauses.append(f"scale({_float(self.scale)})")
        if self.score_mod is not None:
            region = (self.score_mod if isinstance(self.score_mod, str)
                      else trace_score_mod(self.score_mod))
            clauses.append(f"score_mod {region}")
        if self.mask_mod is not None:
            region = (self.mask_mod if isinstance(self.mask_mod, str)
                      else trace_mask_mod(self.mask_mod))
            clauses.append(f"mask_mod {region}")
        if self.backward:
            return self._backward_text(args, clauses, types)
        results, values = [to], ["%o"]
        if self.return_lse:
            results.append(tl)
            values.append("%lse")
        return _spec_function(self.name, "attn.attention", args, clauses,
                              (tq, tk, tv), values, results)

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
    order when present: ``feature_weights``, ``decay`` ``[Hq]``, the initial
    state ``S [B, Hq, F, Dv]`` and normalizer ``z [B, Hq, F]``."""

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
            raise TypeError("feature_map must be elu_plus_one(), relu(), "
                            "favor(...), cosformer(), hedgehog(...) or taylor()")

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
