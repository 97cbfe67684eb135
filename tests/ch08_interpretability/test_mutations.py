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
NORMS = "torch.linalg.matrix_norm(W_A) * torch.linalg.matrix_norm(W_B)"
SCORE = "product = torch.linalg.matrix_norm(W_A @ W_B)"
EARLIER = "earlier = layers[:, None, None, None] < layers[None, None, :, None]"
PATCH_LOOP = """            for head in heads_here:
                z[:, head, where] = clean_z[layer][:, head, where]"""

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
    Mutation("composition_score", SCORE, SCORE.replace("W_A @ W_B", "W_B @ W_A"), r"wrong order"),
    Mutation("composition_score", SCORE, SCORE.replace("W_A @ W_B", "W_A * W_B"), r"elementwise"),
    Mutation(
        "composition_score",
        f"return product / ({NORMS})",
        "return product",
        r"product of the two Frobenius norms",
    ),
    Mutation("composition_score", NORMS, NORMS.replace(" * ", " + "), r"product of the norms"),
    Mutation(
        "composition_score",
        f"return product / ({NORMS})",
        f"return product**2 / ({NORMS}) ** 2",
        r"squared norms",
    ),
    Mutation(
        "composition_score",
        f"{SCORE}\n    return product / ({NORMS})",
        "product = torch.linalg.matrix_norm(W_A @ W_B, 2)\n    return product / ("
        "torch.linalg.matrix_norm(W_A, 2) * torch.linalg.matrix_norm(W_B, 2))",
        r"spectral norm",
    ),
    Mutation(
        "composition_score",
        f"{SCORE}\n    return product / ({NORMS})",
        f"{SCORE}\n    return product / ({NORMS})".replace("matrix_norm", "norm"),
        r"reduce only the last two dims",
    ),
    Mutation(
        "composition_scores",
        '"K": W_QK.transpose(-1, -2)',
        '"K": W_QK',
        r"these are the Q-composition scores.*transpose",
    ),
    Mutation(
        "composition_scores",
        '"Q": W_QK,',
        '"Q": W_QK.transpose(-1, -2),',
        r"these are the K-composition scores",
    ),
    Mutation("composition_scores", '"V": W_OV}', '"V": W_QK}', r"use W_OV\^B"),
    Mutation("composition_scores", EARLIER, EARLIER.replace(" < ", " <= "), r"not <="),
    Mutation("composition_scores", EARLIER, EARLIER.replace(" < ", " > "), r"wrong way round"),
    Mutation(
        "composition_scores",
        "return torch.where(earlier, scores, torch.zeros_like(scores))",
        "return scores",
        r"set the rest to 0",
    ),
    Mutation(
        "patch_heads",
        PATCH_LOOP,
        PATCH_LOOP.replace("[:, head, where]", "[:, :, where]"),
        r"every head of the layer",
    ),
    Mutation(
        "patch_heads",
        "where = slice(None) if positions is None else list(positions)",
        "where = slice(None)",
        r"patched every position",
    ),
    Mutation(
        "patch_heads",
        "by_layer.setdefault(layer, []).append(head)",
        "by_layer[layer] = [head]",
        r"only the last was patched",
    ),
    Mutation(
        "patch_heads",
        "by_layer.setdefault(layer, []).append(head)",
        "by_layer.setdefault(layer, [head])",
        r"only the first was patched",
    ),
    Mutation(
        "patch_heads", "for layer, head in heads:", "for head, layer in heads:", r"\(layer, head\)"
    ),
    Mutation(
        "patch_heads",
        PATCH_LOOP,
        "            z[:, heads_here, where] = clean_z[layer][:, heads_here, where]",
        r"pairs them up",
    ),
    Mutation(
        "patch_heads",
        PATCH_LOOP,
        PATCH_LOOP.replace("= clean_z[layer][:, head, where]", "= z[:, head, where]"),
        r"nothing was patched",
    ),
    Mutation(
        "patch_heads",
        "with patch(model, edits):\n        return model(tokens)",
        "for name, fn in edits.items():\n"
        "        model.get_submodule(name).register_forward_hook(lambda m, i, o, fn=fn: fn(o))\n"
        "    return model(tokens)",
        r"hooks are still registered",
    ),
]
