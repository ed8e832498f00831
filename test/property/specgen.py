"""Random well-typed attn specs for the property tests (run_property.py).

`generate(rng)` returns a Case: the spec text and the `--dim` sizes of its
dynamic dimensions. Every choice comes from `rng`, so a case is reproduced
from its seed alone. The specs cover every mask (and the combinators),
score modifier, normalization and linear-attention feature map with random
parameters, extremes included; sequence lengths from 0 to ~130, static or
dynamic; GQA; Sq != Skv; f64, f32, f16 and bf16; and the backward
(attn.attention_backward, with grad_bias sometimes) of dense specs. A spec may be one the
compiler refuses (e.g. a mask that leaves a statically known row empty
without `allow_empty_rows`); the property is that it then says why.
"""
import dataclasses
import random

DTYPES = ["f32", "f16", "bf16"] * 2 + ["f64"]
# Lengths around the tile sizes (16, 64) and the extremes.
LENGTHS = [0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 128, 129, 130]
# Odd head dimensions are refused by the GPU kernel (multiples of 8): rarer.
HEAD_DIMS = [8, 16, 16, 24, 32, 32, 64, 1, 3, 17]
BIG = 2**40
# attn.attention's operand clauses, in the order its syntax takes them.
OPERAND_ORDER = ["layout", "segments", "bias", "alibi_slopes", "cu_seqlens_q",
                 "cu_seqlens_kv", "paged_kv"]


@dataclasses.dataclass
class Case:
    text: str
    dims: dict
    dtype: str
    kind: str

    def describe(self):
        dims = " ".join(f"--dim {k}={v}" for k, v in sorted(self.dims.items()))
        return f"{self.kind} {dims}\n{self.text}"


class Shape:
    """Sizes of one op, each dimension static or dynamic (`?`)."""

    def __init__(self, rng, same_length):
        self.B = rng.choice([0, 1, 1, 1, 2, 3])
        self.Hkv = rng.choice([1, 1, 2])
        self.Hq = self.Hkv * rng.choice([1, 1, 2, 3])
        self.D = rng.choice(HEAD_DIMS)
        self.Dv = self.D if rng.random() < 0.6 else rng.choice(HEAD_DIMS)
        self.Sq = rng.choice(LENGTHS)
        self.Skv = self.Sq if same_length or rng.random() < 0.4 else rng.choice(LENGTHS)
        self.dynamic = {d for d in ("B", "Sq", "Skv") if rng.random() < 0.3}
        if same_length:
            # One sequence: Sq and Skv are dynamic together.
            self.dynamic -= {"Skv"}
            if "Sq" in self.dynamic:
                self.dynamic.add("Skv")
        self.dtype = rng.choice(DTYPES)

    def dim(self, name):
        return "?" if name in self.dynamic else str(getattr(self, name))

    def tensor(self, *names, dtype=None):
        sizes = [self.dim(n) if isinstance(n, str) else str(n) for n in names]
        return f"tensor<{'x'.join(sizes)}x{dtype or self.dtype}>"

    def dims(self):
        return {n: getattr(self, n) for n in self.dynamic}


def static_lengths(shape):
    return "Sq" not in shape.dynamic and "Skv" not in shape.dynamic


def count(rng):
    return rng.choice([0, 1, 2, 5, 17, 64, 129, BIG])


def align(rng):
    return rng.choice(["", "top_left", "bottom_right"])


def aligned(params, a):
    if a:
        params.append(f"align = {a}")
    return ", ".join(params)


class SequenceForm:
    """Packed or paged sequences (serving, varlen): B sequences whose
    queries are dense ([B, Hq, Sq, D], Sq static or not) or packed end to
    end ([Tq, Hq, D] with cu_seqlens_q), and whose keys and values are
    packed ([Tk, Hkv, D] with cu_seqlens_kv) or in pages ([Pages, P, Hkv,
    D], or HND [Pages, Hkv, P, D], with a block table and lengths). attn-run
    --random draws the placement (lengths, tables) within the data
    contract."""

    def __init__(self, rng, shape):
        self.q_packed = rng.random() < 0.5
        self.kv = rng.choice(["packed", "paged", "paged"] if self.q_packed
                             else ["packed", "paged"])
        self.page_layout = rng.choice(["nhd", "nhd", "hnd"])
        self.P = rng.choice([1, 2, 3, 16])
        self.sizes = {
            "B": rng.choice([0, 1, 2, 3, 3, 4]),
            "Tq": rng.choice(LENGTHS), "Tk": rng.choice(LENGTHS),
            "MaxPages": rng.choice([1, 2, 3, 5, 9]),
            "Pages": rng.choice([1, 2, 5, 13, 40]),
        }
        if self.sizes["B"] == 0:
            # No sequence: cu_seqlens = [0] packs no row.
            self.sizes["Tq"] = self.sizes["Tk"] = 0
        # Dense queries: decoding (few, static) or any number.
        self.Sq = (rng.choice([1, 1, 2, 3, 4, 5, 16, 17])
                   if rng.random() < 0.7 else None)
        if self.Sq is None:
            self.sizes["Sq"] = rng.choice(LENGTHS)
        # Lengths are per sequence: no static length analysis applies.
        shape.dynamic = {"B", "Sq", "Skv"}

    def tensors(self, s):
        """q, k, v, o, lse types and the placement operands."""
        t = lambda *dims, dtype=None: f"tensor<{'x'.join(map(str, dims))}x{dtype or s.dtype}>"
        acc = "f64" if s.dtype == "f64" else "f32"
        if self.q_packed:
            q, o, lse = (t("?", s.Hq, s.D), t("?", s.Hq, s.Dv),
                         t("?", s.Hq, dtype=acc))
        else:
            sq = "?" if self.Sq is None else self.Sq
            q, o, lse = (t("?", s.Hq, sq, s.D), t("?", s.Hq, sq, s.Dv),
                         t("?", s.Hq, sq, dtype=acc))
        operands = []
        if self.q_packed:
            operands.append(("cu_seqlens_q", [("cu_seqlens_q", "tensor<?xi32>")]))
        if self.kv == "packed":
            k, v = t("?", s.Hkv, s.D), t("?", s.Hkv, s.Dv)
            operands.append(("cu_seqlens_kv", [("cu_seqlens_kv", "tensor<?xi32>")]))
        else:
            inner = [s.Hkv, self.P] if self.page_layout == "hnd" else [self.P, s.Hkv]
            k, v = t("?", *inner, s.D), t("?", *inner, s.Dv)
            operands.append(("paged_kv", [("block_table", "tensor<?x?xi32>"),
                                          ("kv_lens", "tensor<?xi32>")]))
        return q, k, v, o, lse, operands

    def clause_suffix(self, keyword):
        if keyword == "paged_kv" and self.page_layout == "hnd":
            return " page_layout(hnd)"
        return ""

    def dims(self):
        d = {}
        if not self.q_packed or self.kv == "paged":
            d["B"] = self.sizes["B"]
        if self.q_packed or self.kv == "packed":
            d["B1"] = self.sizes["B"] + 1
        if self.q_packed:
            d["Tq"] = self.sizes["Tq"]
        elif self.Sq is None:
            d["Sq"] = self.sizes["Sq"]
        if self.kv == "packed":
            d["Tk"] = self.sizes["Tk"]
        else:
            d["Pages"], d["MaxPages"] = self.sizes["Pages"], self.sizes["MaxPages"]
        return d


class AttentionGen:
    def __init__(self, rng):
        self.rng = rng
        self.shape = Shape(rng, same_length=False)
        self.seq = SequenceForm(rng, self.shape) if rng.random() < 0.25 else None
        self.operands = []  # (keyword, [(name, type)])
        self.args = []
        self.captured = []  # tensors a region reads: (name, type)

    def arg(self, name, type_):
        self.args.append((name, type_))
        return f"%{name}"

    def mask(self, depth=0):
        rng, s = self.rng, self.shape
        kinds = ["causal", "window", "sinks", "prefix_lm", "strided", "fixed",
                 "block_sparse", "document", "neighborhood"]
        if depth < 2:
            kinds += ["and", "or", "not"]
        kind = rng.choice(kinds)
        if kind == "causal":
            a = align(rng)
            return f"#attn.causal<{aligned([], a)}>" if a else "#attn.causal"
        if kind == "window":
            return (f"#attn.window<{aligned([f'left = {count(rng)}', f'right = {count(rng)}'], align(rng))}>")
        if kind == "sinks":
            return f"#attn.sinks<{count(rng)}>"
        if kind == "prefix_lm":
            return f"#attn.prefix_lm<{count(rng)}>"
        if kind == "strided":
            return f"#attn.strided<stride = {rng.choice([1, 2, 3, 16, 64, BIG])}>"
        if kind == "fixed":
            stride = rng.choice([1, 2, 3, 16, 64])
            summary = rng.randint(1, stride) if rng.random() < 0.9 else stride + 1
            return f"#attn.fixed<stride = {stride}, summary = {summary}>"
        if kind in ("block_sparse", "document") and self.seq:
            # Operands of [B, Sq, Skv] positions: not for packed sequences.
            return "#attn.causal<align = bottom_right>"
        if kind == "block_sparse":
            if any(kind == "layout" for kind, _ in self.operands):
                return "#attn.causal"
            bq, bkv = rng.choice([1, 16, 64]), rng.choice([1, 16, 64])
            qb = "?" if "Sq" in s.dynamic else str(-(-s.Sq // bq))
            kb = "?" if "Skv" in s.dynamic else str(-(-s.Skv // bkv))
            b = rng.choice(["1", s.dim("B")])
            h = rng.choice(["1", str(s.Hq)])
            elt = rng.choice(["i1", "i8"])
            self.operands.append(("layout", [("layout", f"tensor<{b}x{h}x{qb}x{kb}x{elt}>")]))
            return f"#attn.block_sparse<block = [{bq}, {bkv}]>"
        if kind == "document":
            if any(kind == "segments" for kind, _ in self.operands):
                return "#attn.causal"
            self.operands.append(("segments", [
                ("q_segments", s.tensor("B", "Sq", dtype="i32")),
                ("kv_segments", s.tensor("B", "Skv", dtype="i32"))]))
            return "#attn.document"
        if kind == "neighborhood":
            if not static_lengths(s) or s.Sq != s.Skv or s.Sq == 0:
                return "#attn.causal"
            n = s.Sq
            factors = [f for f in range(1, n + 1) if n % f == 0]
            a = rng.choice(factors)
            grid = [n] if rng.random() < 0.5 else [a, n // a]
            kernel = [rng.choice([k for k in (1, 3, 5, 7) if k <= g] or [1]) for g in grid]
            params = [f"grid = {grid}", f"kernel = {kernel}"]
            if rng.random() < 0.3:
                params.append(f"dilation = {[rng.choice([1, 2]) for _ in grid]}")
            if rng.random() < 0.3:
                params.append(f"causal = {[rng.choice(['true', 'false']) for _ in grid]}".replace("'", ""))
            if rng.random() < 0.4:
                # Block order; blocks need not divide the grid.
                params.append(f"tile = {[rng.choice([1, 2, 3, 4, 8]) for _ in grid]}")
            return f"#attn.neighborhood<{', '.join(params)}>"
        if kind == "not":
            return f"#attn.not<{self.mask(depth + 1)}>"
        return f"#attn.{kind}<[{self.mask(depth + 1)}, {self.mask(depth + 1)}]>"

    def score_mods(self):
        rng, s = self.rng, self.shape
        mods = []
        if rng.random() < 0.3:
            params = []
            if rng.random() < 0.3:
                params.append("symmetric = true")
            a = rng.choice(["", "bottom_right"])
            text = aligned(params, a)
            mods.append(f"#attn.alibi<{text}>" if text else "#attn.alibi")
            if rng.random() < 0.3:
                self.operands.append(("alibi_slopes", [("alibi_slopes", f"tensor<{s.Hq}xf32>")]))
        if rng.random() < 0.25:
            mods.append(f"#attn.softcap<{rng.choice(['0.1', '1.0', '30.0', '1.0e+06'])}>")
        if rng.random() < 0.25 and not self.seq:
            b = rng.choice(["1", s.dim("B")])
            h = rng.choice(["1", str(s.Hq)])
            qd = rng.choice(["1", s.dim("Sq")])
            kd = s.dim("Skv")
            dt = rng.choice(["f32", s.dtype])
            self.operands.append(("bias", [("bias", f"tensor<{b}x{h}x{qd}x{kd}x{dt}>")]))
            mods.append("#attn.bias")
        rng.shuffle(mods)
        return mods

    def generate(self):
        rng, s = self.rng, self.shape
        clauses = []
        if self.seq:
            self.operands += self.seq.tensors(s)[5]
        mask = self.mask() if rng.random() < 0.7 else None
        mods = self.score_mods()
        norm = rng.choice([None, None, None, "#attn.softmax",
                           f"#attn.sigmoid<bias = {rng.choice(['-8.3', '0.0', '2.5'])}>",
                           "#attn.relu", "#attn.relu<divide_by_length = true>"])
        # The clauses in the order of the op's syntax.
        self.operands.sort(key=lambda o: OPERAND_ORDER.index(o[0]))
        for keyword, operands in self.operands:
            names = ", ".join(f"%{n}" for n, _ in operands)
            types = ", ".join(t for _, t in operands)
            for n, t in operands:
                self.arg(n, t)
            suffix = self.seq.clause_suffix(keyword) if self.seq else ""
            clauses.append(f"{keyword}({names} : {types}){suffix}")
        if mask:
            clauses.append(f"mask({mask})")
        if mods:
            clauses.append(f"score_mods([{', '.join(mods)}])")
        if norm:
            clauses.append(f"normalization({norm})")
        if rng.random() < 0.3:
            clauses.append(f"scale({rng.choice(['0.0', '-1.0', '1.0e-03', '0.125', '4.0'])})")
        if mask or rng.random() < 0.2:
            if rng.random() < 0.85:
                clauses.append("allow_empty_rows")
        region = self.region() if rng.random() < 0.2 else None
        if region:
            clauses.append(region)
        softmax = norm in (None, "#attn.softmax")
        acc = "f64" if s.dtype == "f64" else "f32"
        if self.seq:
            q, k, v, o, lse, _ = self.seq.tensors(s)
        else:
            o = s.tensor("B", s.Hq, "Sq", s.Dv)
            lse = s.tensor("B", s.Hq, "Sq", dtype=acc)
            q = s.tensor("B", s.Hq, "Sq", s.D)
            k = s.tensor("B", s.Hkv, "Skv", s.D)
            v = s.tensor("B", s.Hkv, "Skv", s.Dv)
        # The backward of dense specs, drawn last so that the forward's
        # draws stay as they were. Not of relu: its weight's kink at s = 0
        # makes the gradient of a score within rounding of 0 differ between
        # the kernel's f32 and the reference's f64 score (a discontinuity,
        # not an error).
        relu = norm is not None and norm.startswith("#attn.relu")
        if not self.seq and not relu and rng.random() < 0.3:
            return self.backward(clauses, q, k, v, o, lse, softmax), s.dims(), s.dtype
        results = [o]
        if softmax and rng.random() < 0.6:
            results.append(lse)
        # A sparse + low-rank hybrid: drawn after every other draw, so that
        # seeds give the specs they gave before it existed. Its rules (the
        # verifier's): a mask, softmax, no modifier and the default scale.
        plain = (softmax and not mods and not any(c.startswith("scale(") for c in clauses)
                 and (region is None or region.startswith("mask_mod")))
        names = ["%o", "%lse"][:len(results)]
        op_results = ", ".join(results)
        if not self.seq and plain and (mask or region) and rng.random() < 0.5:
            estimate = rng.choice([
                f"#attn.favor<features = {rng.choice([1, 4, 16, 48])}, "
                f"seed = {rng.randrange(1 << 20)}{rng.choice(['', ', orthogonal = false'])}>",
                "#attn.taylor<order = 2>"])
            # SLA: the estimate's linear attention returned apart (o_linear),
            # which takes any map without positions.
            if rng.random() < 0.4:
                estimate = rng.choice([estimate, "#attn.elu_plus_one",
                                       "#attn.relu", "#attn.taylor<order = 1>"])
                op_results += f" linear {o}"
                results.append(o)
                names.append("%o_linear")
            at = len(clauses) - 1 if region else len(clauses)
            clauses.insert(at, f"approximation({estimate})")
        args = [("q", q), ("k", k), ("v", v)] + self.args + self.captured
        body = (f"  {', '.join(names)} = attn.attention %q, %k, %v {' '.join(clauses)}\n"
                f"      : {q}, {k}, {v}\n"
                f"      -> {op_results}\n"
                f"  return {', '.join(names)} : {', '.join(results)}\n")
        return (function(args, results, body),
                self.seq.dims() if self.seq else s.dims(), s.dtype)

    def backward(self, clauses, q, k, v, o, lse, softmax):
        """attn.attention_backward of the spec: o, grad_o (and lse) after
        its inputs; grad_bias now and then when it has a bias."""
        args = ([("q", q), ("k", k), ("v", v)] + self.args + self.captured
                + [("o", o), ("grad_o", o)])
        if softmax:
            args.append(("lse", lse))
            clauses = [f"lse(%lse : {lse})"] + clauses
        results = [q, k, v]
        bias = dict(self.args).get("bias")
        if bias and self.rng.random() < 0.5:
            results.append(bias)
        names = ["%grad_q", "%grad_k", "%grad_v", "%grad_bias"][:len(results)]
        body = (f"  {', '.join(names)} = attn.attention_backward %q, %k, %v, %o, %grad_o "
                f"{' '.join(clauses)}\n"
                f"      : {q}, {k}, {v}, {o}, {o}\n"
                f"      -> {', '.join(results)}\n"
                f"  return {', '.join(names)} : {', '.join(results)}\n")
        return function(args, results, body)

    def region(self):
        rng, s = self.rng, self.shape
        if rng.random() < 0.25 and "Skv" not in s.dynamic and s.Skv > 0:
            # A per-key table the region reads: a captured tensor.
            self.captured.append(("key_weights", f"tensor<{s.Skv}xf32>"))
            return ("score_mod {\n"
                    "      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):\n"
                    f"        %w = tensor.extract %key_weights[%j] : tensor<{s.Skv}xf32>\n"
                    "        %r = arith.addf %s, %w : f32\n"
                    "        attn.yield %r : f32\n"
                    "      }")
        if rng.random() < 0.5:
            return ("score_mod {\n"
                    "      ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):\n"
                    "        %d = arith.subi %i, %j : index\n"
                    "        %di = arith.index_cast %d : index to i64\n"
                    "        %df = arith.sitofp %di : i64 to f32\n"
                    f"        %c = arith.constant {rng.choice(['0.1', '-0.5', '0.0'])} : f32\n"
                    "        %p = arith.mulf %df, %c : f32\n"
                    "        %r = arith.addf %s, %p : f32\n"
                    "        attn.yield %r : f32\n"
                    "      }")
        m = rng.choice([1, 2, 3, 7])
        return ("mask_mod {\n"
                "      ^bb0(%b: index, %h: index, %i: index, %j: index):\n"
                "        %sum = arith.addi %i, %j : index\n"
                f"        %m = arith.constant {m} : index\n"
                "        %r = arith.remui %sum, %m : index\n"
                "        %z = arith.constant 0 : index\n"
                f"        %ok = arith.cmpi {rng.choice(['eq', 'ne'])}, %r, %z : index\n"
                "        attn.yield %ok : i1\n"
                "      }")


def linear(rng):
    causal = rng.random() < 0.6
    s = Shape(rng, same_length=causal)
    s.D = rng.choice([1, 3, 8, 16, 17, 32]) if rng.random() < 0.8 else 64
    acc = "f64" if s.dtype == "f64" else "f32"
    args = []
    clauses = []
    kind = rng.choice(["elu_plus_one", "relu", "favor", "cosformer", "hedgehog", "taylor",
                       "identity", "l2_normalize"])
    max_len = None  # cosFormer's, when drawn
    if kind == "favor":
        m = rng.choice([1, 3, 16, 64])
        params = [f"features = {m}"]
        if rng.random() < 0.8:
            params.append(f"seed = {rng.choice([0, 1, 42, 2**63 - 1])}")
        else:
            args.append(("feature_weights", f"tensor<{m}x{s.D}x{acc}>"))
        if rng.random() < 0.3:
            params.append("orthogonal = false")
        fmap, features = f"#attn.favor<{', '.join(params)}>", m
    elif kind == "cosformer":
        max_len = rng.choice([1, 130, 1000]) if rng.random() < 0.3 else None
        params = "" if max_len is None else f"<max_len = {max_len}>"
        fmap, features = f"#attn.cosformer{params}", 2 * s.D
    elif kind == "hedgehog":
        f = rng.choice([1, 4, 16])
        args.append(("feature_weights", f"tensor<{s.D}x{f}x{acc}>"))
        fmap, features = f"#attn.hedgehog<features = {f}>", 2 * f
    elif kind == "taylor":
        order = rng.choice([1, 2]) if s.D <= 16 else 1
        fmap = f"#attn.taylor<order = {order}>"
        features = 1 + s.D + (s.D * s.D if order == 2 else 0)
    else:
        fmap, features = f"#attn.{kind}", s.D
    clauses.append(f"feature_map({fmap})")
    for name, type_ in args:
        clauses.append(f"feature_weights(%{name} : {type_})")
    # The delta rule needs keys of norm about 1 for its transitions to stay
    # contractions (random N(0, 1) rows of width D have norm sqrt(D)).
    delta = causal and kind == "l2_normalize" and rng.random() < 0.5
    gate = "none"
    if causal:
        clauses.append("causal")
        gate = rng.choice(["none", "none", "token", "feature"])
        if delta and gate == "feature":
            gate = "token"
        if gate == "none" and not delta and rng.random() < 0.3:
            args.append(("decay", f"tensor<{s.Hq}x{acc}>"))
            clauses.append(f"decay(%decay : tensor<{s.Hq}x{acc}>)")
        if gate != "none":
            per = (features,) if gate == "feature" else ()
            gate_type = s.tensor("B", s.Hq, "Sq", *per, dtype=acc)
            args.append(("gate", gate_type))
            clauses.append(f"gate(%gate : {gate_type})")
        if delta:
            beta_type = s.tensor("B", s.Hq, "Sq", dtype=acc)
            args.append(("beta", beta_type))
            clauses.append(f"delta_rule(%beta : {beta_type})")
    if rng.random() < 0.3:
        clauses.append(f"scale({rng.choice(['0.25', '1.0', '2.0'])})")
    # Taylor order 1's kernel 1 + q.k / sqrt(D) is not positive: with the
    # denominator, phi(q) . z may cancel to ~0 and amplify any rounding
    # without bound (tf32 and bf16 then miss their tolerances while the
    # kernel is right); it runs without one. So do raw and unit-norm
    # features, and the delta rule has no denominator.
    # Gated, phi(q) . z sums features times gates: positive only when every
    # feature is (cosFormer's and Taylor's are not).
    gated = causal and gate != "none"
    # cosFormer's weights cos(pi i / 2M) turn negative past max_len = M
    # (below the longest length, 130), so phi(q) . z can cancel.
    short_cosformer = max_len is not None and max_len < max(LENGTHS)
    denominator = (rng.random() < 0.7 and fmap != "#attn.taylor<order = 1>"
                   and kind not in ("identity", "l2_normalize")
                   and not short_cosformer
                   and (not gated or kind in ("elu_plus_one", "favor", "hedgehog")))
    if not denominator:
        clauses.append("normalization(none)")
    elif rng.random() < 0.3:
        # eps = 0 only for positive features: relu and cosFormer features
        # can all be 0, and 0 / 0 has no answer.
        positive = kind in ("elu_plus_one", "favor", "hedgehog", "taylor")
        clauses.append(f"eps({rng.choice(['0.0'] * positive + ['1.0e-06', '1.0'])})")
    state = s.tensor("B", s.Hq, features, s.Dv, dtype=acc)
    normalizer = s.tensor("B", s.Hq, features, dtype=acc)
    if rng.random() < 0.25 and kind != "cosformer":
        args.append(("initial_state", state))
        clauses.append(f"initial_state(%initial_state : {state})")
        if denominator:
            args.append(("initial_normalizer", normalizer))
            clauses.append(f"initial_normalizer(%initial_normalizer : {normalizer})")
    results = [s.tensor("B", s.Hq, "Sq", s.Dv)]
    if rng.random() < 0.3:
        results.append(state)
        if denominator:
            results.append(normalizer)
    q = s.tensor("B", s.Hq, "Sq", s.D)
    k = s.tensor("B", s.Hkv, "Skv", s.D)
    v = s.tensor("B", s.Hkv, "Skv", s.Dv)
    names = ["%o", "%s", "%z"][:len(results)]
    body = (f"  {', '.join(names)} = attn.linear_attention %q, %k, %v {' '.join(clauses)}\n"
            f"      : {q}, {k}, {v}\n"
            f"      -> {', '.join(results)}\n"
            f"  return {', '.join(names)} : {', '.join(results)}\n")
    return function([("q", q), ("k", k), ("v", v)] + args, results, body), s.dims(), s.dtype


def function(args, results, body):
    params = ", ".join(f"%{n}: {t}" for n, t in args)
    return f"func.func @spec({params})\n    -> ({', '.join(results)}) {{\n{body}}}\n"


def generate(rng: random.Random) -> Case:
    if rng.random() < 0.65:
        return Case(*AttentionGen(rng).generate(), kind="attention")
    return Case(*linear(rng), kind="linear_attention")
