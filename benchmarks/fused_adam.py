"""Fused Triton Adam vs torch.optim.Adam (for-loop, foreach, fused) on a GPU.

The parameters have the shapes of a GPT-2-small-like transformer (about 85M floats). Every
optimizer gets the same parameters and gradients; after checking that our kernel's update
matches torch's, each is timed over the same number of steps with CUDA events. An Adam step
reads p, g, m, v and writes p, m, v: 28 bytes per parameter, so the effective bandwidth
says how close each comes to the memory's limit.

    PYTHONPATH=src python benchmarks/fused_adam.py            # a GPU, under a minute
    PYTHONPATH=src python benchmarks/fused_adam.py --layers 2 # smaller

Without a GPU it runs a small correctness check in Triton's CPU interpreter instead.
Never part of CI.
"""

import argparse
import os
import time

import torch


def shapes(layers: int, d_model: int, d_vocab: int, n_ctx: int) -> list[tuple[int, ...]]:
    """Parameter shapes of a GPT-2-like model (TransformerLens layout)."""
    out: list[tuple[int, ...]] = [(d_vocab, d_model), (n_ctx, d_model)]
    for _ in range(layers):
        out += [(d_model,)] * 4 + [(d_model, 3 * d_model), (3 * d_model,), (d_model, d_model)]
        out += [(d_model,), (d_model, 4 * d_model), (4 * d_model,), (4 * d_model, d_model)]
        out += [(d_model,)]
    return [*out, (d_model,), (d_model,), (d_model, d_vocab)]


def make(
    shp: list[tuple[int, ...]], device: str, seed: int
) -> tuple[list[torch.nn.Parameter], list[torch.Tensor]]:
    g = torch.Generator(device=device).manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, device=device, generator=g) * 0.02) for s in shp]
    grads = [torch.randn(s, device=device, generator=g) * 1e-3 for s in shp]
    return params, grads


def build(kind: str, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    from dlcurriculum.ch03_training_at_scale.fused_adam import FusedAdam

    kw = {"lr": 1e-3, "weight_decay": 0.01}
    if kind == "ours (Triton, 1 kernel)":
        return FusedAdam(params, **kw)
    flags = {
        "torch for-loop": {"foreach": False},
        "torch foreach": {"foreach": True},
        "torch fused": {"fused": True},
    }[kind]
    return torch.optim.Adam(params, **kw, **flags)


def timed(
    opt: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    grads: list[torch.Tensor],
    steps: int,
) -> float:
    """Milliseconds per optimizer step (gradients stay fixed; only the step is timed)."""
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            if p.grad is None:
                p.grad = g.clone()
            else:  # FusedAdam's gradients are views of its flat buffer: fill them in place
                p.grad.copy_(g)
    for _ in range(3):  # warm-up, includes Triton's compilation
        opt.step()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        opt.step()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / steps


def max_diff_after(shp: list[tuple[int, ...]], device: str, steps: int = 10) -> float:
    """Largest |ours - torch Adam| over all parameters after `steps` steps from one state."""
    ours_p, grads = make(shp, device, 0)
    ref_p, _ = make(shp, device, 0)
    ours, ref = build("ours (Triton, 1 kernel)", ours_p), build("torch for-loop", ref_p)
    for p, q, g in zip(ours_p, ref_p, grads, strict=True):
        p.grad.copy_(g)  # FusedAdam's gradients are views of its flat buffer
        q.grad = g.clone()
    for _ in range(steps):
        ours.step()
        ref.step()
    return max((p - q).abs().max().item() for p, q in zip(ours_p, ref_p, strict=True))


def cpu_check() -> None:
    os.environ["TRITON_INTERPRET"] = "1"
    diff = max_diff_after(shapes(1, 16, 50, 8), "cpu")
    print(f"no CUDA GPU: interpreted check only. max |ours - torch| after 10 steps: {diff:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--d-model", type=int, default=768)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        cpu_check()
        return
    t0 = time.perf_counter()
    shp = shapes(args.layers, args.d_model, 50257, 1024)
    n = sum(torch.Size(s).numel() for s in shp)
    print(
        f"{torch.cuda.get_device_name()}, torch {torch.__version__}; {len(shp)} tensors, "
        f"{n / 1e6:.1f}M parameters, {args.steps} timed steps each"
    )

    # correctness first: 10 steps of ours vs torch's Adam from the same state
    print(f"max |ours - torch Adam| after 10 steps: {max_diff_after(shp, 'cuda'):.2e}")
    torch.cuda.empty_cache()

    results = {}
    for kind in ("torch for-loop", "torch foreach", "torch fused", "ours (Triton, 1 kernel)"):
        params, grads = make(shp, "cuda", 1)
        opt = build(kind, params)
        results[kind] = timed(opt, params, grads, args.steps)
        del params, grads, opt
        torch.cuda.empty_cache()
    base = results["torch for-loop"]
    print(f"{'optimizer':<26}{'ms/step':>10}{'GB/s':>10}{'speed-up vs for-loop':>24}")
    for kind, ms in results.items():
        gbps = 28 * n / (ms / 1e3) / 1e9
        print(f"{kind:<26}{ms:>10.3f}{gbps:>10.0f}{base / ms:>23.2f}x")
    ours, fused = results["ours (Triton, 1 kernel)"], results["torch fused"]
    print(f"ours / torch fused time ratio: {ours / fused:.2f} (below 1 = ours faster)")
    print(f"total wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
