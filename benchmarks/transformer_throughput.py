"""Training throughput of our Transformer vs HuggingFace GPT2LMHeadModel at identical dims.

Both models run side by side in one process, on the same batches, with the same loss and
optimizer (AdamW); rounds alternate between the models so machine load affects both alike.
MFU is measured against this machine's own matmul peak (fp32 on CPU, bf16 on GPU), not a
datasheet number.

    python benchmarks/transformer_throughput.py                  # CPU, GPT-2-small-ish shape
    python benchmarks/transformer_throughput.py --device cuda    # GPU, bf16 autocast

Needs the `hf` extra (transformers). Never part of CI.
"""

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.lm_training import autocast, lm_loss, make_optimizer
from dlcurriculum.ch01_transformers.model import Transformer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device: torch.device, n: int) -> float:
    """Measured FLOP/s of a large square matmul (bf16 on GPU, fp32 on CPU)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    a, b = (
        torch.randn(n, n, device=device, dtype=dtype),
        torch.randn(n, n, device=device, dtype=dtype),
    )
    for _ in range(3):
        a @ b
    _sync(device)
    reps, best = 10 if device.type == "cuda" else 3, 0.0
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def flops_per_token(cfg: TransformerConfig) -> float:
    """Training FLOPs per token: 6 x matmul parameters + attention scores (PaLM, app. B)."""
    per_layer = 4 * cfg.d_model**2 + 2 * cfg.d_model * cfg.d_mlp
    matmul_params = cfg.n_layers * per_layer + cfg.d_model * cfg.d_vocab
    return 6 * matmul_params + 12 * cfg.n_layers * cfg.n_ctx * cfg.d_model


def hf_gpt2(cfg: TransformerConfig) -> nn.Module:
    """GPT2LMHeadModel with our dims (no dropout, SDPA attention)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=cfg.d_vocab,
        n_positions=cfg.n_ctx,
        n_embd=cfg.d_model,
        n_layer=cfg.n_layers,
        n_head=cfg.n_heads,
        n_inner=cfg.d_mlp,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        use_cache=False,
        bos_token_id=0,
        eos_token_id=0,
    )
    config._attn_implementation = "sdpa"  # the fused kernel, as in our fast path
    return GPT2LMHeadModel(config)


def step_fn(model: nn.Module, hf: bool, device: torch.device) -> Callable[[Tensor], None]:
    """One training step (forward, next-token loss, backward, AdamW) on a batch."""
    optimizer = make_optimizer(model, lr=1e-4, weight_decay=0.1)

    def step(tokens: Tensor) -> None:
        with autocast(device):
            logits = model(tokens).logits if hf else model(tokens)
            loss = lm_loss(logits, tokens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    """Measure and print tokens/s, the ratio ours/HF, and MFU."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--n-ctx", type=int, default=256)
    p.add_argument("--d-vocab", type=int, default=8192)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3, help="timed steps per round")
    p.add_argument("--threads", type=int, default=0, help="torch threads on CPU (0 = default)")
    args = p.parse_args()
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else "cpu"
        if args.device == "auto"
        else args.device
    )
    if args.threads:
        torch.set_num_threads(args.threads)
    base = TransformerConfig(
        d_vocab=args.d_vocab,
        n_ctx=args.n_ctx,
        d_model=args.d_model,
        n_layers=args.n_layers,
        n_heads=args.n_heads,
        d_mlp=4 * args.d_model,
        tie_embeddings=True,
    )
    torch.manual_seed(0)
    models = {
        "ours (fast path)": (
            Transformer(TransformerConfig(**{**vars(base), "fast_path": True})),
            False,
        ),
        "ours (reference path)": (Transformer(base), False),
        "HF GPT2LMHeadModel": (hf_gpt2(base), True),
    }
    steps = {name: step_fn(m.to(device).train(), hf, device) for name, (m, hf) in models.items()}
    tokens = torch.randint(0, args.d_vocab, (args.batch, args.n_ctx), device=device)
    for step in steps.values():  # warm up kernels and allocator
        step(tokens)
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            _sync(device)
            start = time.perf_counter()
            for _ in range(args.steps):
                step(tokens)
            _sync(device)
            rates[name].append(args.steps * tokens.numel() / (time.perf_counter() - start))
    peak = matmul_peak(device, 4096 if device.type == "cuda" else 1024)
    fpt = flops_per_token(base)
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    print(
        f"device {device} (threads {threads}); d_model={args.d_model} n_layers={args.n_layers} "
        f"n_heads={args.n_heads} n_ctx={args.n_ctx} d_vocab={args.d_vocab} batch={args.batch}; "
        f"{'bf16 autocast' if device.type == 'cuda' else 'fp32'}"
    )
    print(f"measured matmul peak: {peak / 1e9:.1f} GFLOP/s; model: {fpt / 1e6:.1f} MFLOP/token\n")
    print(f"{'model':<24} {'tokens/s (median)':>18} {'MFU':>7}")
    medians = {name: statistics.median(r) for name, r in rates.items()}
    for name, rate in medians.items():
        print(f"{name:<24} {rate:>18,.0f} {rate * fpt / peak:>7.1%}")
    hf_rate = medians["HF GPT2LMHeadModel"]
    print(f"\nratio ours (fast path) / HF: {medians['ours (fast path)'] / hf_rate:.2f}")
    print(f"ratio ours (reference) / HF: {medians['ours (reference path)'] / hf_rate:.2f}")


if __name__ == "__main__":
    main()
