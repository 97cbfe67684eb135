"""Typical single mistakes in chapter 8's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch08_interpretability"
ALPHAS = (
    "alphas = (torch.arange(n_steps, dtype=images.dtype, device=images.device) + 0.5) / n_steps"
)
DIAGONAL = "pattern.diagonal(offset=-(half_len - 1), dim1=-2, dim2=-1)"
SECOND = "diagonal[..., n - half_len - (half_len - 1) :]"

MUTATIONS = [
    Mutation(
        "integrated_gradients",
        "return delta * grads.view_as(points).mean(0)",
        "return grads.view_as(points).mean(0)",
        r"multiply it by \(x - baseline\)",
    ),
    Mutation(
        "integrated_gradients",
        ALPHAS,
        ALPHAS.replace(" + 0.5) /", ") /"),
        r"left Riemann.*midpoint",
    ),
    Mutation(
        "integrated_gradients",
        ALPHAS,
        ALPHAS.replace(" + 0.5) /", " + 1) /"),
        r"right Riemann.*midpoint",
    ),
    Mutation(
        "integrated_gradients",
        "return delta * grads.view_as(points).mean(0)",
        "return delta * grads.view_as(points).sum(0)",
        r"mean, not the sum",
    ),
    Mutation(
        "integrated_gradients",
        "points = baseline[None] + alphas.view(shape) * delta[None]",
        "points = alphas.view(shape) * images[None]",
        r"path.*baseline",
    ),
    Mutation(
        "integrated_gradients",
        "delta = images - baseline",
        "delta = images",
        r"\(x - baseline\)",
    ),
    Mutation(
        "integrated_gradients",
        "targets.repeat(n_steps)",
        "targets.repeat_interleave(n_steps)",
        r"repeat_interleave|own target",
    ),
    Mutation(
        "induction_score", DIAGONAL, DIAGONAL.replace("-(half_len - 1)", "-half_len"), r"not q - T"
    ),
    Mutation(
        "induction_score",
        DIAGONAL,
        DIAGONAL.replace("-(half_len - 1)", "half_len - 1"),
        r"below the diagonal|negative offset",
    ),
    Mutation("induction_score", SECOND, "diagonal", r"second copy"),
    Mutation(
        "induction_score",
        SECOND,
        "diagonal[..., n - 2 * half_len :]",
        r"second copy.*starts at q = n - T",
    ),
    Mutation(
        "induction_score",
        "second_copy.mean(dim=(0, 2))",
        "second_copy.mean(dim=(1, 2))",
        r"one score per head",
    ),
    Mutation(
        "induction_score",
        "second_copy.mean(dim=(0, 2))",
        "second_copy[0].mean(dim=-1)",
        r"average over the batch",
    ),
    Mutation("ablate_heads", "z[:, heads_here] = 0.0", "z[:, :, heads_here] = 0.0", r"dim 1"),
    Mutation("ablate_heads", "z[:, heads_here] = 0.0", "z[:] = 0.0", r"only the listed heads"),
    Mutation(
        "ablate_heads",
        "zero(hs) for layer, hs in by_layer.items()",
        "zero([head]) for layer, head in heads",
        r"same layer",
    ),
    Mutation(
        "ablate_heads",
        "by_layer.setdefault(layer, []).append(head)",
        "by_layer.setdefault(layer, [head])",
        r"only the first was ablated",
    ),
    Mutation(
        "ablate_heads", "for layer, head in heads:", "for head, layer in heads:", r"\(layer, head\)"
    ),
    Mutation(
        "ablate_heads",
        'f"blocks.{layer}.attn.hook_z": zero(hs)',
        'f"blocks.{layer}.hook_attn_out": zero(hs)',
        r"hook_z",
    ),
    Mutation(
        "ablate_heads",
        "with patch(model, edits):\n        return model(tokens)",
        "for name, fn in edits.items():\n"
        "        model.get_submodule(name).register_forward_hook(lambda m, i, o, fn=fn: fn(o))\n"
        "    return model(tokens)",
        r"hooks are still registered",
    ),
]
