"""Seconds of training to reach 99.0% MNIST test accuracy: ours vs the classic PyTorch example.

The peer is the recipe of pytorch/examples' mnist/main.py: two conv layers (32, 64), max
pool, dropout 0.25, a 9216->128 linear layer, dropout 0.5, log-softmax + NLL loss, Adadelta
with lr 1.0 and StepLR(gamma 0.7) per epoch, batch size 64. Both run in this one process on
the same in-memory tensors (so the data pipeline is not what is compared), both are
evaluated on the full test set every quarter epoch with the clock paused, and only training
time counts.

The figure is the ratio of the median times over `--rounds` rounds (seeds 0, 1, ...), each
round running both recipes in alternating order.

    python benchmarks/mnist_speed.py [--rounds 3] [--max-epochs 4] [--threads 1]
"""

import argparse
import statistics
import time
from dataclasses import replace
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from dlcurriculum.ch00_mnist.config import PRESETS
from dlcurriculum.ch00_mnist.loop import fit, load_splits
from dlcurriculum.ch00_mnist.model import CNN, predict
from dlcurriculum.ch00_mnist.training import accuracy, train_step


class ClassicNet(nn.Module):
    """The network of pytorch/examples mnist/main.py, re-typed here."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 0.1307) / 0.3081  # the example's Normalize transform
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout1(x).flatten(1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def classic_time_to_target(train, test, max_epochs: int, seed: int, target: float) -> dict:
    """Train the classic recipe; evaluate every quarter epoch; stop at the target."""
    torch.manual_seed(seed)
    model = ClassicNet()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    batch, n = 64, len(train.labels)
    steps_per_epoch = -(-n // batch)
    evals = {steps_per_epoch * k // 4 for k in range(1, 5)}
    trained, acc = 0.0, 0.0
    for epoch in range(max_epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
        model.train()
        start = time.perf_counter()
        for i in range(steps_per_epoch):
            idx = order[i * batch : (i + 1) * batch]
            optimizer.zero_grad()
            F.nll_loss(model(train.images[idx]), train.labels[idx]).backward()
            optimizer.step()
            if i + 1 in evals:
                trained += time.perf_counter() - start
                acc = accuracy(predict(model, test.images), test.labels)
                print(
                    f"  classic  epoch {epoch + (i + 1) / steps_per_epoch:.2f}  "
                    f"train {trained:6.1f} s  test acc {acc:.4f}",
                    flush=True,
                )
                if acc >= target:
                    return {
                        "time_s": trained,
                        "epochs": epoch + (i + 1) / steps_per_epoch,
                        "acc": acc,
                    }
                model.train()
                start = time.perf_counter()
        schedule.step()
    return {"time_s": None, "trained_s": trained, "epochs": max_epochs, "acc": acc}


def ours_time_to_target(train, test, seed: int) -> dict:
    """The quick preset as `dlc run mnist --preset quick` trains it, watching the test split
    four times per epoch like the classic run (the preset itself watches validation)."""
    cfg = replace(PRESETS["mnist"]["quick"], evals_per_epoch=4, seed=seed)
    torch.manual_seed(seed)
    ns = SimpleNamespace(train_step=train_step, accuracy=accuracy, predict=predict)
    out = fit(cfg, CNN(width=cfg.width), train, ns, {"test": test}, test, desc=f"ours {seed}")
    return {"time_s": out["time_to_target_s"], "acc": out["test_accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, test = load_splits(60_000, 10_000, torch.device("cpu"))
    target = 0.99
    cfg = PRESETS["mnist"]["quick"]
    print(
        f"ours: quick preset, CNN(width={cfg.width}), AdamW one-cycle lr {cfg.lr}, "
        f"batch {cfg.batch_size}, {cfg.epochs} epochs on all 60k images",
        flush=True,
    )
    print("classic: pytorch/examples mnist recipe (Adadelta lr 1.0, batch 64)", flush=True)
    times: dict[str, list[float]] = {"ours": [], "classic": []}
    for seed in range(args.rounds):
        # alternate which runs first so that a change in machine load falls on both alike
        order = ("ours", "classic") if seed % 2 == 0 else ("classic", "ours")
        for name in order:
            if name == "ours":
                result = ours_time_to_target(train, test, seed)
            else:
                result = classic_time_to_target(train, test, args.max_epochs, seed, target)
            t = result["time_s"]
            print(
                f"round {seed}  {name:<7}  "
                + (f"{t:6.1f} s to {target:.0%}" if t else "missed the target")
                + f"  (test acc {result['acc']:.4f})",
                flush=True,
            )
            # a missed target counts as never: the median then says so
            times[name].append(t if t is not None else float("inf"))

    ours_t, classic_t = statistics.median(times["ours"]), statistics.median(times["classic"])
    print(f"\nthreads {args.threads}, {args.rounds} rounds, target {target:.1%} test accuracy")
    print(f"ours:    median {ours_t:.1f} s  ({', '.join(f'{t:.1f}' for t in times['ours'])})")
    print(f"classic: median {classic_t:.1f} s  ({', '.join(f'{t:.1f}' for t in times['classic'])})")
    print(f"speed-up (classic / ours, medians): {classic_t / ours_t:.2f}x")


if __name__ == "__main__":
    main()
