"""The self-supervised contrastive loss, NT-Xent (SimCLR), on L2-normalised embeddings.

It is InfoNCE: each anchor's positive must win a softmax over its cosine similarities,
divided by a temperature, against every other example in the batch. The supervised
baselines' losses (SupCon, triplet) are in supervised_losses.py.

Ref: Chen et al. 2020 (SimCLR), eq. 1.
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor


def nt_xent_loss(
    z1: Float[Tensor, "batch d"], z2: Float[Tensor, "batch d"], temperature: float = 0.5
) -> Float[Tensor, ""]:
    """SimCLR's normalised temperature-scaled cross-entropy over two views of a batch.

    Ref: Chen et al. 2020 (SimCLR), eq. 1 and Algorithm 1.

    Row i of z1 and row i of z2 are two augmented views of the same image (a positive
    pair). Each of the 2N embeddings is an anchor; its candidates are the other 2N - 1
    embeddings (itself excluded), and the loss is the cross-entropy of picking its
    partner, averaged over all 2N anchors.

    Args:
        z1: projections of the first views (any norm: normalise them first).
        z2: projections of the second views, same shape and order as z1.
        temperature: the similarities are divided by it; lower is sharper.

    Returns:
        The mean loss over the 2N anchors, a scalar to minimise. Random embeddings give
        about log(2N - 1).
    """
    # BEGIN SOLUTION
    # HINT: stack both views into [2N, d], mask the diagonal with -inf, partner of i is i±N.
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature  # [2N, 2N] scaled cosine similarities
    # an embedding is trivially most similar to itself: remove it from the candidates
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, partner)
    # END SOLUTION
