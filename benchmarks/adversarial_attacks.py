"""Our FGSM and PGD against torchattacks' on the same MNIST models: accuracy under attack
and seconds per attack, side by side in one process.

Both attack the same 1000 test images with the same settings: FGSM at eps; PGD with a
uniform random start, `--steps` signed-gradient steps of size 2.5 * eps / steps (Madry et
al.'s rule), one restart. FGSM is deterministic, so the two must produce the same images.
Seeded alike, both PGDs draw the same uniform start from torch's CPU generator, so their
images should nearly agree; the script prints the share of pixels that differ (measured:
0.06-0.4% at eps 0.3 after 40 steps, with identical accuracies). Models come
from a finished `dlc run adv-mnist` folder (`--run DIR`, its models/*.pt), or a standard CNN
is trained for one epoch here.

    pip install --no-deps torchattacks==3.5.1   # its pinned requests/torchvision are unused
    python benchmarks/adversarial_attacks.py [--run DIR] [--steps 40] [--threads 1]

Never part of CI.
"""

import argparse
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torchattacks

from dlcurriculum.ch00_mnist.loop import load_splits
from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch09_adversarial_training.attacks import pgd
from dlcurriculum.ch09_adversarial_training.robust_training import TrainSpec, fgsm, train_model

Attack = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def timed_accuracy(model: torch.nn.Module, attack: Attack, images, labels) -> tuple[float, float]:
    """(accuracy on the attacked images, seconds the attack took), in batches of 500."""
    start, correct, advs = time.perf_counter(), 0, []
    for i in range(0, len(images), 500):
        advs.append(attack(images[i : i + 500], labels[i : i + 500]))
    seconds = time.perf_counter() - start
    with torch.no_grad():
        for i, adv in zip(range(0, len(images), 500), advs, strict=True):
            correct += (model(adv).argmax(1) == labels[i : i + 500]).sum().item()
    return correct / len(images), seconds


def load_models(run: Path | None, train) -> dict[str, torch.nn.Module]:
    if run is None:
        torch.manual_seed(0)
        model = CNN()
        spec = TrainSpec("standard", 1, 0.3, 3, 0.15, 0.3, 4e-3, 128)
        train_model(model, train, spec, 0, "standard", lambda *a, **k: None, pgd)
        return {"standard": model.eval()}
    models = {}
    for path in sorted((run / "models").glob("*.pt")):
        model = CNN()
        model.load_state_dict(torch.load(path, map_location="cpu"))
        models[path.stem] = model.eval()
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train, test = load_splits(60_000, 1000, torch.device("cpu"))
    models = load_models(args.run, train)
    images, labels = test.images, test.labels
    print(f"{'model':9} {'eps':>4} {'attack':7} {'ours acc':>8} {'peer acc':>8} "
          f"{'ours s':>7} {'peer s':>7} {'time ratio':>10}")  # fmt: skip
    for name, model in models.items():
        for eps in (0.1, 0.2, 0.3):
            alpha = 2.5 * eps / args.steps
            gen = torch.Generator().manual_seed(0)
            pairs: dict[str, tuple[Attack, Attack]] = {
                "FGSM": (partial(fgsm, model, eps=eps), torchattacks.FGSM(model, eps=eps)),
                f"PGD-{args.steps}": (
                    partial(pgd, model, eps=eps, alpha=alpha, steps=args.steps, generator=gen),
                    torchattacks.PGD(model, eps=eps, alpha=alpha, steps=args.steps),
                ),
            }  # fmt: skip
            for attack, (ours, peer) in pairs.items():
                torch.manual_seed(0)
                acc_ours, s_ours = timed_accuracy(model, ours, images, labels)
                acc_peer, s_peer = timed_accuracy(model, peer, images, labels)
                ratio = s_ours / s_peer
                print(f"{name:9} {eps:4.1f} {attack:7} {acc_ours:8.1%} {acc_peer:8.1%} "
                      f"{s_ours:7.2f} {s_peer:7.2f} {ratio:10.2f}", flush=True)  # fmt: skip
        x, y, alpha = images[:500], labels[:500], 2.5 * 0.3 / args.steps
        ours_fgsm, peer_fgsm = fgsm(model, x, y, 0.3), torchattacks.FGSM(model, eps=0.3)(x, y)
        torch.manual_seed(0)
        ours_pgd = pgd(
            model, x, y, 0.3, alpha, args.steps, generator=torch.Generator().manual_seed(0)
        )
        torch.manual_seed(0)
        peer_pgd = torchattacks.PGD(model, eps=0.3, alpha=alpha, steps=args.steps)(x, y)
        for attack, a, b in (("FGSM", ours_fgsm, peer_fgsm), ("PGD", ours_pgd, peer_pgd)):
            differ = ((a - b).abs() > 1e-6).float().mean().item()
            print(f"{name}: {attack} at eps 0.3, pixels where ours and the peer's differ: "
                  f"{differ:.2e}")  # fmt: skip


if __name__ == "__main__":
    main()
