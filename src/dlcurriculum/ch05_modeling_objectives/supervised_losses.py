"""Losses that use the labels, for the supervised baselines: SupCon and the triplet loss.

SupCon is InfoNCE with every same-label example as a positive; the triplet loss asks each
positive to be closer than a mined negative by a margin. Both work on L2-normalised
embeddings. (Kept apart from losses.py, which holds the NT-Xent exercise.)

Ref: Khosla et al. 2020 (SupCon), eq. 2 ("L_out"); Schroff et al. 2015 (FaceNet).
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor


def supcon_loss(
    z: Float[Tensor, "n d"], labels: Int[Tensor, " n"], temperature: float = 0.1
) -> Float[Tensor, ""]:
    """Supervised contrastive loss: every other example with the same label is a positive.

    Ref: Khosla et al. 2020 (SupCon), eq. 2 (the "outside" form, mean over positives
    outside the log).

    Args:
        z: projections of all views (e.g. both views of a batch stacked).
        labels: class of each row; anchors without any positive are skipped.
        temperature: the similarities are divided by it.

    Returns:
        Mean over anchors of minus the mean log-probability of its positives.
    """
    z = F.normalize(z, dim=1)
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    sim = (z @ z.T / temperature).masked_fill(self_mask, float("-inf"))
    log_prob = sim - sim.logsumexp(dim=1, keepdim=True)  # [n, n], -inf on the diagonal
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = positive.sum(1)
    # where() rather than multiply: -inf * 0 on the diagonal would give nan
    per_anchor = torch.where(positive, log_prob, 0.0).sum(1) / n_pos.clamp(min=1)
    return -per_anchor[n_pos > 0].mean()


def triplet_loss(
    z: Float[Tensor, "n d"], labels: Int[Tensor, " n"], margin: float = 0.2
) -> Float[Tensor, ""]:
    """Triplet loss on cosine distance with semi-hard negative mining (FaceNet's rule).

    Ref: Schroff et al. 2015 (FaceNet), section 3.2.

    Every anchor-positive pair (a, p) is paired with the closest negative that is still
    farther from a than p is (a "semi-hard" negative); pairs with no such negative take
    their farthest negative. Mining the very hardest negative instead (batch-hard) made
    the encoder collapse in our runs: FaceNet warns of exactly that early in training.

    Args:
        z: embeddings (normalised here).
        labels: class of each row.
        margin: the negative must be this much farther than the positive.

    Returns:
        Mean over anchor-positive pairs of relu(d(a, p) - d(a, n) + margin).
    """
    z = F.normalize(z, dim=1)
    dist = 1 - z @ z.T  # cosine distance, [n, n]
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    # each anchor's negative distances, sorted; non-negatives (inf) go to the end
    sorted_neg = torch.where(same, float("inf"), dist).sort(dim=1).values
    n_neg = (~same).sum(1, keepdim=True)
    # for every pair (a, j): index of a's first negative farther than d(a, j); a binary
    # search per pair instead of a [pairs, n] comparison, which took 2x the training time
    first = torch.searchsorted(sorted_neg, dist.detach().contiguous(), right=True)
    closest_semi_hard = sorted_neg.gather(1, first.clamp(max=len(z) - 1))
    farthest = sorted_neg.gather(1, (n_neg - 1).clamp(min=0))  # [n, 1]
    d_neg = torch.where(first < n_neg, closest_semi_hard, farthest)
    positive = same & ~eye
    return F.relu(dist - d_neg + margin)[positive].mean()
