"""Grader checks for chapter 8: integrated gradients, the induction score, head ablation;
composition scores and activation patching live in circuit_checks.py (re-exported here).

Each check uses an oracle that does not share code with the reference: closed forms for
integrated gradients on a linear and a quadratic function, hand-built attention patterns
whose induction score is known, and an ablation done by zeroing a head's slice of W_O.
"""

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch08_interpretability import attribution
from dlcurriculum.ch08_interpretability.circuit_checks import (
    check_composition_score,
    check_composition_scores,
    check_patch_heads,
    perturbed_tiny_model,
)
from dlcurriculum.core.checks import (
    ExerciseFailure,
    assert_close,
    assert_shape,
    name_the_mistake,
)
from dlcurriculum.core.hooks import hook_count, patch

__all__ = [
    "check_ablate_heads",
    "check_composition_score",
    "check_composition_scores",
    "check_induction_score",
    "check_integrated_gradients",
    "check_patch_heads",
]


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
    # the targets laid out in the other order than the points: [n_steps * batch] vs batch-major
    shuffled = linear.W[targets.repeat_interleave(8)].view(8, *images.shape).mean(0)
    name_the_mistake(
        out.detach(),
        {
            "average the gradients over the n_steps points: take their mean, not the sum": (
                8 * expected
            ),
            "path points got another image's target: each point keeps its own image's target "
            "(points laid out step by step need targets.repeat(n_steps), not "
            "repeat_interleave)": images * shuffled,
        },
        "IG of a linear model (black baseline), 8 steps",
        atol=1e-6,
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
    scale = quad.scale[targets].view(-1, 1, 1, 1).detach()
    expected = scale * (images**2 - baseline**2)
    delta = images - baseline

    def riemann(mean_alpha: float) -> Tensor:  # the gradient 2c(x' + a delta) averaged
        return 2 * scale * delta * (baseline + mean_alpha * delta)

    name_the_mistake(
        out.detach(),
        {
            "that is the left Riemann sum (alphas k / n_steps): use the midpoint rule, alphas "
            "(k + 0.5) / n_steps": riemann(2 / 5),
            "that is the right Riemann sum (alphas (k + 1) / n_steps): use the midpoint "
            "rule, alphas (k + 0.5) / n_steps": riemann(3 / 5),
            "you ignored the non-zero baseline: the path starts at it and the gradients are "
            "multiplied by (x - baseline)": scale * images**2,
            "the path must run from the baseline to the image: points baseline + alpha * "
            "(x - baseline), not alpha * x": scale * delta * images,
            "multiply the average gradient by (x - baseline), not by x (the non-zero "
            "baseline counts)": scale * images * (images + baseline),
        },
        "IG of f(x) = c * sum(x^2) with a non-zero baseline, 5 steps",
        atol=1e-6,
    )
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


def _mean_attention(pattern: Tensor, queries: range, back: int) -> Tensor:
    """Per head, the mean over batch and `queries` of pattern[..., q, q - back]."""
    cells = [pattern[:, :, q, q - back] for q in queries if 0 <= q - back < pattern.shape[-1]]
    return torch.stack(cells, dim=-1).mean(dim=(0, 2))


def _induction_mistakes(pattern: Tensor, half_len: int) -> dict[str, Tensor]:
    """What the usual mistakes in the induction score compute on this pattern, by hint."""
    n, t = pattern.shape[-1], half_len
    second = range(n - t, n)
    return {
        "the target key of query q is q - T + 1, the token after the earlier copy of q's "
        "token, not q - T (that is the same token)": _mean_attention(pattern, second, t),
        "keys come before their query: the target is below the diagonal, a negative offset "
        "(diagonal(offset=-(T - 1)))": torch.zeros(pattern.shape[1], dtype=pattern.dtype),
        "average only over the second copy, which starts at q = n - T (the last T "
        "queries), not from the first query the diagonal holds": _mean_attention(
            pattern, range(t - 1, n), t - 1
        ),
        "one query too many: the second copy starts at q = n - T, so take the last T "
        "entries of the diagonal": _mean_attention(pattern, range(n - t - 1, n), t - 1),
    }


def check_induction_score(induction_score: Callable[[Tensor, int], Tensor]) -> None:
    """Hand-built induction, previous-token and uniform heads, with and without a BOS prefix."""
    # Which key does the score read? Heads that attend from every query exactly to q - T,
    # q - T + 1 and q (one BOS first, T = 4): only the middle one is an induction head.
    n, half_len = 9, 4
    q = torch.arange(n)
    probe = torch.zeros(1, 3, n, n, dtype=torch.float64)
    for head, back in enumerate((half_len, half_len - 1, 0)):
        probe[0, head, q, (q - back).clamp(min=0)] = 1.0
    out = induction_score(probe, half_len)
    assert_shape(out, (3,), "scores", "one score per head: average over batch and queries")
    if out[0] > 0.5 > out[1]:
        raise ExerciseFailure(
            "a head attending to q - T scores as an induction head: the target key of query q "
            "is q - T + 1, the token after the earlier copy of q's token, not q - T (that is "
            "the same token)"
        )
    for half_len, prefix in ((6, 0), (5, 1), (4, 3)):
        n = prefix + 2 * half_len
        pattern = _induction_patterns(n, half_len)
        out = induction_score(pattern, half_len)
        assert_shape(out, (3,), "scores", "one score per head: average over batch and queries")
        queries = torch.arange(n - half_len, n, dtype=torch.float64)
        expected = torch.tensor([1.0, 0.0, float((1 / (queries + 1)).mean())])
        name_the_mistake(
            out.detach(),
            _induction_mistakes(pattern, half_len),
            f"scores of [induction, previous-token, uniform] heads, T={half_len}, "
            f"{prefix} prefix token(s)",
            atol=1e-6,
        )
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


@torch.no_grad()
def _without_heads(model: Transformer, tokens: Tensor, heads: list[tuple[int, int]]) -> Tensor:
    """Logits of a copy of the model whose heads' slices of W_O are zero."""
    oracle = copy.deepcopy(model)
    for layer, head in heads:
        oracle.get_parameter(f"blocks.{layer}.attn.W_O")[head] = 0.0
    return oracle(tokens)  # type: ignore[no-any-return]


@torch.no_grad()
def _zeroed(
    model: Transformer, tokens: Tensor, hook: str, dim: int, heads: list[tuple[int, int]]
) -> Tensor:
    """Logits with index `head` of `dim` zeroed at blocks.{layer}.{hook} (a wrong ablation)."""
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)

    def zero(index: list[int]) -> Callable[[Tensor], Tensor]:
        def fn(x: Tensor) -> Tensor:
            x = x.clone()
            x.index_fill_(dim, torch.tensor(index), 0.0)
            return x

        return fn

    with patch(model, {f"blocks.{layer}.{hook}": zero(hs) for layer, hs in by_layer.items()}):
        return model(tokens)  # type: ignore[no-any-return]


def check_ablate_heads(ablate_heads: Callable[..., Tensor]) -> None:
    """Zero-ablating a head must equal zeroing that head's slice of W_O; no hooks left behind."""
    model = perturbed_tiny_model()
    tokens = torch.randint(0, 20, (3, 12), generator=torch.Generator().manual_seed(2))
    before = copy.deepcopy(model.state_dict())
    # Two heads in layer 0 and one in layer 1, with indices that are also valid as
    # (head, layer): each usual mistake ablates a different set, or different numbers.
    heads = [(0, 0), (0, 1), (1, 1)]
    with torch.no_grad():
        out = ablate_heads(model, tokens, heads)
    if hook_count(model) != 0:
        raise ExerciseFailure(
            "hooks are still registered after ablate_heads returned: "
            "use core.hooks.patch (a with block) so they are removed"
        )
    name_the_mistake(
        out,
        {
            "the heads are (layer, head) pairs: you read them as (head, layer)": (
                _without_heads(model, tokens, [(0, 0), (1, 0), (1, 1)])
            ),
            "with several heads in the same layer only the last was ablated (a dict keyed by "
            "layer kept one): group the heads by layer and zero them all": (
                _without_heads(model, tokens, [(0, 1), (1, 1)])
            ),
            "with several heads in the same layer only the first was ablated: group the "
            "heads by layer and zero them all": _without_heads(model, tokens, [(0, 0), (1, 1)]),
            "you zeroed every head of the layer: zero only the listed heads, z[:, head]": (
                _without_heads(
                    model, tokens, [(0, h) for h in range(4)] + [(1, h) for h in range(4)]
                )
            ),
            "you zeroed positions, not heads: z is [batch, n_heads, pos, d_head], so dim 1 is "
            "the head (z[:, head] = 0)": _zeroed(model, tokens, "attn.hook_z", 2, heads),
            "you zeroed the attention block's output (all heads summed, dim 1 is the "
            "position there): zero the heads' own outputs z at blocks.{layer}.attn.hook_z": (
                _zeroed(model, tokens, "hook_attn_out", 1, heads)
            ),
        },
        f"logits with heads {heads} ablated",
    )
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
