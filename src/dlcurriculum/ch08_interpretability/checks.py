"""Grader checks for chapter 8: integrated gradients, the induction score, head ablation.

Each check uses an oracle that does not share code with the reference: closed forms for
integrated gradients on a linear and a quadratic function, hand-built attention patterns
whose induction score is known, and an ablation done by zeroing a head's slice of W_O.
"""

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch08_interpretability import attribution
from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape
from dlcurriculum.core.hooks import hook_count


class _Linear(nn.Module):
    """f(x)[c] = <W[c], x> + b[c] on flattened images; its integrated gradients are exact."""

    def __init__(self, n_pixels: int, g: torch.Generator) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.randn(3, n_pixels, generator=g, dtype=torch.float64))
        self.b = nn.Parameter(torch.randn(3, generator=g, dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) @ self.W.T + self.b


class _Quadratic(nn.Module):
    """f(x)[c] = scale[c] * sum(x^2): IG_i = scale * (x_i^2 - x'_i^2), exact (midpoint rule)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1).pow(2).sum(1, keepdim=True) * self.scale


def check_integrated_gradients(integrated_gradients: Callable[..., Tensor]) -> None:
    """Closed forms on a linear and a quadratic model, completeness and the reference on a CNN."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 1, 5, 5, generator=g, dtype=torch.float64)
    targets = torch.tensor([0, 2, 1, 0])
    linear = _Linear(25, g)
    out = integrated_gradients(linear, images, targets, n_steps=8)
    assert_shape(out, images.shape, "attributions", "one attribution per pixel, like the images")
    expected = images * linear.W[targets].view_as(images)
    grad_only = linear.W[targets].view_as(images)
    if torch.allclose(out, grad_only.to(out), atol=1e-6):
        raise ExerciseFailure(
            "on a linear model you returned the average gradient: multiply it by (x - baseline)"
        )
    assert_close(
        out,
        expected,
        "IG of a linear model (black baseline)",
        atol=1e-6,
        hint="for f(x) = <w, x> + b the answer is x * w for any n_steps; check the "
        "target indexing (each image has its own class) and the default baseline 0",
    )

    baseline = torch.rand(4, 1, 5, 5, generator=g, dtype=torch.float64)
    quad = _Quadratic()
    out = integrated_gradients(quad, images, targets, baseline=baseline, n_steps=5)
    expected = quad.scale[targets].view(-1, 1, 1, 1).detach() * (images**2 - baseline**2)
    assert_close(
        out,
        expected,
        "IG of f(x) = c * sum(x^2) with a non-zero baseline, 5 steps",
        atol=1e-6,
        hint="the midpoint rule is exact for a gradient linear in alpha: "
        "average the gradients at alphas (k + 0.5) / n_steps, at the points "
        "baseline + alpha * (x - baseline)",
    )

    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(36, 3)).double()
    out = integrated_gradients(cnn, images, targets, n_steps=256)
    gap = attribution.target_logits(cnn, images, targets) - attribution.target_logits(
        cnn, torch.zeros_like(images), targets
    )
    assert_close(
        out.flatten(1).sum(1),
        gap.detach(),
        "sum of attributions vs f(x) - f(0) (completeness) on a small ReLU CNN",
        atol=2e-3,
        rtol=2e-2,
    )
    reference = attribution.integrated_gradients(cnn, images, targets, n_steps=16)
    assert_close(
        integrated_gradients(cnn, images, targets, n_steps=16),
        reference,
        "IG on a small ReLU CNN, 16 steps, vs the reference",
        atol=1e-8,
    )


def _induction_patterns(n: int, half_len: int) -> Tensor:
    """[1, 3, n, n] patterns. Heads: 0 perfect induction, 1 previous token, 2 uniform."""
    q = torch.arange(n)
    pattern = torch.zeros(1, 3, n, n, dtype=torch.float64)
    pattern[0, 0, q, q] = 1.0  # every query attends to itself...
    second = q[q >= n - half_len]
    pattern[0, 0, second, second] = 0.0
    pattern[0, 0, second, second - half_len + 1] = 1.0  # ...except induction in the copy
    pattern[0, 1, q[1:], q[1:] - 1] = 1.0
    pattern[0, 1, 0, 0] = 1.0
    pattern[0, 2] = torch.tril(torch.ones(n, n, dtype=torch.float64)) / (q[:, None] + 1)
    return pattern


def check_induction_score(induction_score: Callable[[Tensor, int], Tensor]) -> None:
    """Hand-built induction, previous-token and uniform heads, with and without a BOS prefix."""
    for half_len, prefix in ((6, 0), (5, 1), (4, 3)):
        n = prefix + 2 * half_len
        pattern = _induction_patterns(n, half_len)
        out = induction_score(pattern, half_len)
        assert_shape(out, (3,), "scores", "one score per head: average over batch and queries")
        queries = torch.arange(n - half_len, n, dtype=torch.float64)
        expected = torch.tensor([1.0, 0.0, float((1 / (queries + 1)).mean())])
        assert_close(
            out,
            expected.to(out),
            f"scores of [induction, previous-token, uniform] "
            f"heads, T={half_len}, {prefix} prefix token(s)",
            atol=1e-6,
            hint="the second copy is the last T positions (a BOS may come first); the "
            "target key of query q is q - T + 1, the token after the earlier copy "
            "of q's token, not q - T (that is the same token)",
        )
    g = torch.Generator().manual_seed(1)
    batch = torch.rand(2, 2, 9, 9, generator=g).tril()
    batch = batch / batch.sum(-1, keepdim=True)
    half_len = 4
    loop = torch.zeros(2)
    for h in range(2):
        vals = [batch[b, h, q, q - half_len + 1] for b in range(2) for q in range(5, 9)]
        loop[h] = torch.stack(vals).mean()
    assert_close(
        induction_score(batch, half_len),
        loop,
        "scores of random patterns (batch of 2)",
        atol=1e-6,
        hint="average over the batch too, not only over queries",
    )


def check_ablate_heads(ablate_heads: Callable[..., Tensor]) -> None:
    """Zero-ablating a head must equal zeroing that head's slice of W_O; no hooks left behind."""
    cfg = TransformerConfig(d_vocab=20, n_ctx=12, d_model=16, n_layers=2, n_heads=4, attn_only=True)
    torch.manual_seed(0)
    model = Transformer(cfg).eval()
    with torch.no_grad():  # non-zero biases, so a wrong ablation cannot hide behind them
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    tokens = torch.randint(0, 20, (3, 12), generator=torch.Generator().manual_seed(2))
    before = copy.deepcopy(model.state_dict())
    for heads in ([(1, 2)], [(0, 1), (1, 3), (0, 2)], []):
        oracle = copy.deepcopy(model)
        with torch.no_grad():
            for layer, head in heads:
                oracle.get_parameter(f"blocks.{layer}.attn.W_O")[head] = 0.0
            expected = oracle(tokens)
        with torch.no_grad():
            out = ablate_heads(model, tokens, heads)
        assert_close(
            out,
            expected,
            f"logits with heads {heads} ablated",
            atol=1e-5,
            hint="zero z[:, head] at blocks.{layer}.attn.hook_z (dim 1 is the head); "
            "b_O is shared by all heads, so leave it",
        )
        if hook_count(model) != 0:
            raise ExerciseFailure(
                "hooks are still registered after ablate_heads returned: "
                "use core.hooks.patch (a with block) so they are removed"
            )
    for name, value in model.state_dict().items():
        assert_close(
            value,
            before[name],
            f"parameter {name} after ablate_heads",
            hint="ablate_heads must not change the model's weights",
        )
