"""attn_mlir on PyTorch CPU tensors against PyTorch's own attention (SDPA
and FlexAttention, CUDA_VISIBLE_DEVICES="" machines run them on the CPU),
both judged by SDPA in float64 on the same data: the parity a FlexAttention
user checks first. scripts/setup installs torch; without it these skip."""
import pytest

import attn_mlir as am

torch = pytest.importorskip("torch")
F = torch.nn.functional
flex = pytest.importorskip("torch.nn.attention.flex_attention")

TOL = {torch.float32: 2e-5, torch.bfloat16: 1e-2, torch.float16: 2e-3}


def rel(got, ref):
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()


def random_qkv(seed, dtype, B=2, H=4, Hkv=2, Sq=37, Skv=53, D=32, Dv=24):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, H, Sq, D, generator=g).to(dtype),
            torch.randn(B, Hkv, Skv, D, generator=g).to(dtype),
            torch.randn(B, Hkv, Skv, Dv, generator=g).to(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("causal", [False, True])
def test_matches_sdpa(rng, dtype, causal):
    q, k, v = random_qkv(int(rng.integers(1 << 31)), dtype)
    ours = am.attention(q, k, v, mask=am.causal() if causal else None)
    assert ours.dtype == dtype and ours.shape == (2, 4, 37, 24)
    ref = F.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                         is_causal=causal, enable_gqa=True)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                            enable_gqa=True)
    assert rel(ours, ref) <= TOL[dtype]
    # Not a tolerance of ours: SDPA itself lands as close to float64.
    assert rel(theirs, ref) <= TOL[dtype]


# Eager FlexAttention (the unfused path) is what a CPU user runs too.
@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_matches_flex_attention_with_mask_and_score_mods(rng):
    q, k, v = random_qkv(int(rng.integers(1 << 31)), torch.float32,
                         Sq=45, Skv=45)

    def sliding(b, h, q_idx, kv_idx):
        return (kv_idx <= q_idx) & (q_idx - kv_idx <= 8)

    def relative_position(score, b, h, q_idx, kv_idx):
        return score + (q_idx - kv_idx) * 0.05

    ours = am.attention(q, k, v, mask_mod=sliding, score_mod=relative_position)
    block_mask = flex.create_block_mask(sliding, None, None, 45, 45,
                                        device="cpu")
    theirs = flex.flex_attention(q, k, v, score_mod=relative_position,
                                 block_mask=block_mask, enable_gqa=True)
    # float64 reference: the same semantics written with a dense mask.
    i = torch.arange(45)[:, None]
    j = torch.arange(45)[None, :]
    scores = torch.einsum("bhid,bhjd->bhij", q.double(),
                          k.double().repeat_interleave(2, dim=1)) / 32 ** 0.5
    scores = torch.where(sliding(0, 0, i, j), scores + (i - j) * 0.05,
                         float("-inf"))
    ref = torch.softmax(scores, -1) @ v.double().repeat_interleave(2, dim=1)
    assert rel(ours, ref) <= TOL[torch.float32]
    assert rel(theirs, ref) <= 1e-4
