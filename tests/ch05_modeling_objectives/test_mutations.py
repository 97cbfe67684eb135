"""Typical single mistakes in chapter 5's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch05_modeling_objectives"
SELF_MASK = (
    'sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))'
)
NORMALIZE = "z = F.normalize(torch.cat([z1, z2]), dim=1)"
SHIFT = "tx, ty = uniform(-max_shift, max_shift) / 14, uniform(-max_shift, max_shift) / 14"
MEAN_SIM = "mean_sim = (sim @ onehot) / onehot.sum(0)  # [n_query, class]"
COSINE = "sim = F.normalize(queries, dim=1) @ F.normalize(support, dim=1).T"

MUTATIONS = [
    # nt_xent_loss
    Mutation("nt_xent_loss", SELF_MASK, "sim = sim", r"itself.*diagonal"),
    Mutation("nt_xent_loss", SELF_MASK, SELF_MASK.replace('float("-inf")', "0.0"), r"-inf.*not 0"),
    Mutation("nt_xent_loss", NORMALIZE, "z = torch.cat([z1, z2])", r"L2-normalise"),
    Mutation("nt_xent_loss", NORMALIZE, NORMALIZE.replace("dim=1", "dim=0"), r"each row.*dim=1"),
    Mutation(
        "nt_xent_loss",
        "sim = z @ z.T / temperature",
        "sim = z @ z.T * temperature",
        r"divide.*by the temperature",
    ),
    Mutation(
        "nt_xent_loss",
        "return F.cross_entropy(sim, partner)",
        "return F.cross_entropy(sim[:n], partner[:n])",
        r"all 2N anchors",
    ),
    Mutation(
        "nt_xent_loss",
        "partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])",
        "partner = torch.cat([torch.arange(n), torch.arange(n, 2 * n)])",
        r"partner of row i is row i \+ N",
    ),
    # augment
    Mutation(
        "augment",
        SHIFT,
        "tx, ty = uniform(-max_shift, max_shift), uniform(-max_shift, max_shift)",
        r"pixels, not grid units",
    ),
    Mutation(
        "augment",
        SHIFT,
        "tx, ty = uniform(-max_shift, max_shift) / 28, uniform(-max_shift, max_shift) / 28",
        r"14 pixels",
    ),
    Mutation(
        "augment",
        "angle = uniform(-max_rotation, max_rotation) * math.pi / 180",
        "angle = uniform(-max_rotation, max_rotation)",
        r"radians",
    ),
    Mutation(
        "augment",
        "return low + (high - low) * torch.rand(n, generator=generator)",
        "return low + (high - low) * torch.rand(n)",
        r"generator",
    ),
    Mutation(
        "augment",
        "return low + (high - low) * torch.rand(n, generator=generator)",
        "return low + (high - low) * torch.rand(1, generator=generator).expand(n)",
        r"per image",
    ),
    Mutation("augment", "return (warped + jitter).clamp(0, 1)", "return warped + jitter", r"clamp"),
    Mutation(
        "augment",
        "grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)",
        "grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=True)",
        r"align_corners",
    ),
    # nearest_class
    Mutation("nearest_class", MEAN_SIM, "mean_sim = sim @ onehot", r"do not sum"),
    Mutation("nearest_class", COSINE, "sim = queries @ support.T", r"normalise"),
    Mutation(
        "nearest_class",
        "return mean_sim.argmax(dim=1)",
        "return mean_sim.argmax(dim=0)",
        r"argmax over the class dimension",
    ),
    Mutation(
        "nearest_class",
        f"    {COSINE}  # [n_query, n_support]\n",
        "    onehot = F.one_hot(support_labels, n_classes).float()\n"
        "    centroids = F.normalize(support, dim=1).T @ onehot  # [d, class]\n"
        "    sim = F.normalize(queries, dim=1) @ F.normalize(centroids, dim=0)\n"
        "    return sim.argmax(dim=1)\n",
        r"centroid",
    ),
]
