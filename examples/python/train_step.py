"""A training step through attn_mlir's differentiable attention.

One causal self-attention layer with a softcap (Gemma 2 style) and
grouped-query heads learns to copy a random sequence shifted by one
position; its q, k, v projections get their gradients through the compiled
attn.attention_backward. Runs on the CPU:

    python3 examples/python/train_step.py
"""
import torch

import attn_mlir as am


def main(steps: int = 30, seed: int = 0) -> list[float]:
    torch.manual_seed(seed)
    batch, length, width, heads, kv_heads, head_dim = 4, 24, 32, 4, 2, 8
    x = torch.randn(batch, length, width)
    target = torch.roll(x, shifts=1, dims=1)
    wq = torch.nn.Linear(width, heads * head_dim)
    wk = torch.nn.Linear(width, kv_heads * head_dim)
    wv = torch.nn.Linear(width, kv_heads * head_dim)
    wo = torch.nn.Linear(heads * head_dim, width)
    params = [p for m in (wq, wk, wv, wo) for p in m.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)

    def split(t, h):  # [B, S, h * D] -> [B, h, S, D]
        return t.view(batch, length, h, head_dim).transpose(1, 2)

    losses = []
    for _ in range(steps):
        q, k, v = split(wq(x), heads), split(wk(x), kv_heads), split(wv(x), kv_heads)
        o = am.attention(q, k, v, mask=am.causal(), score_mods=[am.softcap(20.0)])
        y = wo(o.transpose(1, 2).reshape(batch, length, heads * head_dim))
        loss = torch.nn.functional.mse_loss(y, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


if __name__ == "__main__":
    losses = main()
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} in {len(losses)} steps")
