"""The contrastive encoder: the prerequisite's CNN trunk plus a projection head.

The loss is applied to the projection. SimCLR found the trunk's features better for a
linear probe; for this chapter's cosine rule the projections do better (see
evaluation.embed), so they are the default and `projection=false` switches.

Ref: Chen et al. 2020 (SimCLR), section 4.2 (a nonlinear projection head).
"""

from jaxtyping import Float
from torch import Tensor, nn

from dlcurriculum.ch00_mnist.model import CNN, MNIST_MEAN, MNIST_STD


class Encoder(nn.Module):
    """CNN features (4 * width, global max pool) -> MLP projection head (proj_dim).

    Args:
        width: channels of the first conv layer (the CNN of chapter 0).
        proj_dim: output size of the projection head.
    """

    def __init__(self, width: int = 32, proj_dim: int = 64):
        super().__init__()
        self.features = CNN(width=width).features  # reuse the prerequisite's trunk, no head
        d = 4 * width
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, proj_dim))

    def forward(self, images: Float[Tensor, "batch 1 28 28"]) -> Float[Tensor, "batch d"]:
        """Features used for evaluation (before the projection head)."""
        return self.features((images - MNIST_MEAN) / MNIST_STD)

    def project(self, images: Float[Tensor, "batch 1 28 28"]) -> Float[Tensor, "batch p"]:
        """Projections the contrastive loss is applied to."""
        return self.head(self(images))
