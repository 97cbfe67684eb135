"""The prerequisite's CNN: three conv layers, enough for 99% on MNIST in one or two epochs.

Ref: LeCun et al. 1998 (LeNet) for the conv-pool pattern; Ioffe & Szegedy 2015 for batch
norm, which lets a large learning rate reach 99% in about one epoch.
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class CNN(nn.Module):
    """Three 3x3 conv layers (width w, 2w, 4w), each conv -> batch norm -> ReLU, then a linear head.

    28x28 -> pool -> 14x14 -> pool -> 7x7 -> global max pool -> 4w features -> 10 logits.

    Args:
        width: channels of the first conv layer; the next two have 2x and 4x as many.
        dropout: dropout probability before the linear head (0 = off).
    """

    def __init__(self, width: int = 32, dropout: float = 0.0):
        super().__init__()

        # BEGIN SOLUTION
        # HINT: Conv2d(c_in, c_out, 3, padding=1) keeps the spatial size; MaxPool2d(2) halves it.
        def conv(c_in: int, c_out: int) -> nn.Sequential:
            # no conv bias: batch norm's shift makes it redundant
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
            )

        self.features = nn.Sequential(
            conv(1, width),
            nn.MaxPool2d(2),
            conv(width, 2 * width),
            nn.MaxPool2d(2),
            conv(2 * width, 4 * width),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(4 * width, 10)
        # END SOLUTION

    def forward(self, images: Float[Tensor, "batch 1 28 28"]) -> Float[Tensor, "batch 10"]:
        """Logits for a batch of images with pixel values in [0, 1].

        Args:
            images: float32, shape [batch, 1, 28, 28], values in [0, 1].

        Returns:
            Unnormalised class scores (logits), shape [batch, 10].
        """
        # BEGIN SOLUTION
        # HINT: standardise the pixels first: (images - MNIST_MEAN) / MNIST_STD.
        x = (images - MNIST_MEAN) / MNIST_STD
        return self.head(self.dropout(self.features(x)))
        # END SOLUTION


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def predict(model: nn.Module, images: Float[Tensor, "n 1 28 28"], batch_size: int = 1000) -> Tensor:
    """Logits for many images, as evaluation needs them: in eval mode, without autograd, in batches.

    Eval mode turns dropout off and makes batch norm use its running statistics, so each
    image's logits depend on that image alone; without autograd no graph is kept, and
    batches keep memory flat however many images there are.

    Args:
        model: maps [batch, 1, 28, 28] to logits [batch, 10]; in train or eval mode.
        images: the images to classify.
        batch_size: at most this many images per forward call.

    Returns:
        Logits [n, 10], one row per image in order. The model is left in the mode it was in.
    """
    # BEGIN SOLUTION
    # HINT: remember model.training, call model.eval(), and restore it with model.train(...).
    # HINT: run the forward passes under torch.no_grad(), on images[i : i + batch_size].
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat(
            [model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        )
    model.train(was_training)
    return out
    # END SOLUTION
