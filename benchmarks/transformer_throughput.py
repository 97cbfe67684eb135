"""Training throughput of our Transformer vs HF GPT2LMHeadModel and LitGPT's GPT at equal dims.

All models run side by side in one process, on the same batches, with the same loss and
optimizer (our fused AdamW); rounds alternate between the models so machine load affects all
alike. Every model is GPT-2 style: pre-LayerNorm, GELU (tanh) MLP, learned positions,
biases, a head tied to the token embedding. MFU is measured against this machine's own
matmul peak (fp32 on CPU, bf16 on GPU), not a datasheet number.

    python benchmarks/transformer_throughput.py                   # nanoGPT's CPU config
    python benchmarks/transformer_throughput.py --shape small     # GPT-2-small-ish, wider
    python benchmarks/transformer_throughput.py --device cuda     # GPU, bf16 autocast

Shapes: `nanogpt` is the README's CPU run of train_shakespeare_char (block_size 64, batch
12, 4 layers, 4 heads, n_embd 128, char vocab 65, dropout 0). Needs transformers (the `hf`
extra) and litgpt (`pip install --no-deps litgpt lightning lightning-utilities torchmetrics`:
only its model is used). Never part of CI.
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

SHAPES = {  # d_model, n_layers, n_heads, n_ctx, d_vocab, batch
    "nanogpt": (128, 4, 4, 64, 65, 12),
    "small": (256, 4, 4, 256, 8192, 8),
}


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
    """GPT2LMHeadModel with our dims (no dropout, SDPA attention); returns logits."""
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
    model = GPT2LMHeadModel(config)
    model.register_forward_hook(lambda _m, _args, out: out.logits)
    return model


def litgpt(cfg: TransformerConfig) -> nn.Module:
    """LitGPT's GPT with our dims, made GPT-2 style (it has neither learned positions nor tying).

    RoPE is switched off (rotary_percentage=0), a learned W_pos is added to the token
    embedding by a hook, and lm_head shares the embedding's weight (as nanoGPT ties them).
    """
    from litgpt.config import Config
    from litgpt.model import GPT

    config = Config(
        block_size=cfg.n_ctx,
        vocab_size=cfg.d_vocab,
        padded_vocab_size=cfg.d_vocab,
        n_layer=cfg.n_layers,
        n_head=cfg.n_heads,
        n_embd=cfg.d_model,
        intermediate_size=cfg.d_mlp,
        rotary_percentage=0.0,
        parallel_residual=False,
        bias=True,
        norm_class_name="LayerNorm",
        norm_eps=cfg.layer_norm_eps,
        mlp_class_name="GptNeoxMLP",
        gelu_approximate="tanh",
    )
    model = GPT(config)
    model.apply(model._init_weights)
    model.lm_head.weight = model.transformer.wte.weight
    model.wpe = nn.Parameter(torch.randn(cfg.n_ctx, cfg.d_model) * cfg.init_range)
    model.transformer.wte.register_forward_hook(
        lambda _m, _args, out: out + model.wpe[: out.shape[1]]
    )
    return model


def step_fn(model: nn.Module, device: torch.device) -> Callable[[Tensor], None]:
    """One training step (forward, next-token loss, backward, AdamW) on a batch.

    Every model gets the optimizer of our fast path (fused AdamW): the race is between models.
    """
    optimizer = make_optimizer(model, lr=1e-4, weight_decay=0.1, fused=True)

    def step(tokens: Tensor) -> None:
        with autocast(device):
            loss = lm_loss(model(tokens), tokens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    """Measure and print tokens/s, MFU, and the ratio ours / the faster peer."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", choices=SHAPES, default="nanogpt")
    p.add_argument("--device", default="auto")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=1.0, help="timed seconds per model and round")
    p.add_argument("--threads", type=int, default=1, help="torch threads on CPU (0 = default)")
    args = p.parse_args()
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else "cpu"
        if args.device == "auto"
        else args.device
    )
    if args.threads and device.type == "cpu":
        torch.set_num_threads(args.threads)
    d_model, n_layers, n_heads, n_ctx, d_vocab, batch = SHAPES[args.shape]
    base = TransformerConfig(
        d_vocab=d_vocab,
        n_ctx=n_ctx,
        d_model=d_model,
        n_layers=n_layers,
        n_heads=n_heads,
        d_mlp=4 * d_model,
        tie_embeddings=True,
    )
    torch.manual_seed(0)
    models = {
        "ours (fast path)": Transformer(TransformerConfig(**{**vars(base), "fast_path": True})),
        "ours (reference path)": Transformer(base),
        "HF GPT2LMHeadModel": hf_gpt2(base),
        "LitGPT GPT": litgpt(base),
    }
    steps = {name: step_fn(m.to(device).train(), device) for name, m in models.items()}
    tokens = torch.randint(0, d_vocab, (batch, n_ctx), device=device)
    n_steps = {}
    for name, step in steps.items():  # warm up kernels and allocator; size a round
        step(tokens)
        _sync(device)
        start = time.perf_counter()
        step(tokens)
        _sync(device)
        n_steps[name] = max(1, round(args.seconds / (time.perf_counter() - start)))
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            _sync(device)
            start = time.perf_counter()
            for _ in range(n_steps[name]):
                step(tokens)
            _sync(device)
            rates[name].append(n_steps[name] * tokens.numel() / (time.perf_counter() - start))
    peak = matmul_peak(device, 4096 if device.type == "cuda" else 1024)
    fpt = flops_per_token(base)
    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    print(
        f"device {device} (threads {threads}); shape {args.shape}: d_model={d_model} "
        f"n_layers={n_layers} n_heads={n_heads} n_ctx={n_ctx} d_vocab={d_vocab} batch={batch}; "
        f"{'bf16 autocast' if device.type == 'cuda' else 'fp32'}"
    )
    print(f"measured matmul peak: {peak / 1e9:.1f} GFLOP/s; model: {fpt / 1e6:.2f} MFLOP/token\n")
    print(f"{'model':<24} {'tokens/s (median)':>18} {'MFU':>7}")
    medians = {name: statistics.median(r) for name, r in rates.items()}
    for name, rate in medians.items():
        print(f"{name:<24} {rate:>18,.0f} {rate * fpt / peak:>7.1%}")
    peer = max(("HF GPT2LMHeadModel", "LitGPT GPT"), key=medians.__getitem__)
    print()
    for ours in ("ours (fast path)", "ours (reference path)"):
        print(f"ratio {ours} / {peer} (the faster peer): {medians[ours] / medians[peer]:.2f}")


if __name__ == "__main__":
    main()
