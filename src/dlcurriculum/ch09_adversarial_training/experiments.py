"""`dlc run adv-mnist`: FGSM and PGD against the prerequisite's CNN, and adversarial training.

Three CNNs are trained (standard, PGD adversarial training, "fast" FGSM-with-random-start
adversarial training), then each is attacked at eps = 0.1, 0.2, 0.3 on a test subset with
FGSM, a short PGD and PGD-40 with restarts. The red-teaming experiment is in
`redteam_experiment.py`.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch00_mnist.experiments import load_splits
from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch09_adversarial_training.attacks import eval_mode
from dlcurriculum.ch09_adversarial_training.robust_training import (
    EvalSpec,
    TrainSpec,
    fgsm,
    robustness_table,
    train_model,
)
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig, check, require
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)
from dlcurriculum.core.seed import choose_device, seed_everything
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

MODELS = ("standard", "pgd", "fast")
LABELS = {"standard": "standard", "pgd": "PGD-AT", "fast": "fast AT"}


@dataclass(frozen=True)
class AdvMNISTConfig(RunConfig):
    """Attack the MNIST CNN and train it to resist L-infinity perturbations."""

    width: int = 32
    """Channels of the CNN's first conv layer (then 2x, 4x)."""
    train_size: int = 60_000
    """Training examples (the first n of the 60k training set)."""
    test_size: int = 1000
    """Test examples attacked (the first n of the test set); the table's sample size."""
    standard_epochs: int = 1
    """Epochs of ordinary training for the standard model."""
    pgd_epochs: int = 3
    """Epochs of PGD adversarial training."""
    fast_epochs: int = 2
    """Epochs of fast (FGSM with random start) adversarial training."""
    train_eps: float = 0.3
    """Radius the adversarially trained models are trained at."""
    train_steps: int = 3
    """PGD steps per training batch (evaluation uses pgd_steps)."""
    train_alpha: float = 0.15
    """PGD step size during training."""
    eps_warmup: float = 0.3
    """Fraction of training over which the training eps ramps up from 0."""
    lr: float = 4e-3
    """Peak learning rate (AdamW, one-cycle)."""
    batch_size: int = 128
    """Examples per optimizer step."""
    epsilons: tuple[float, ...] = (0.1, 0.2, 0.3)
    """Radii of the robustness table."""
    pgd_steps: int = 40
    """Steps of the evaluation PGD (PGD-40)."""
    short_steps: int = 10
    """Steps of the weaker PGD the gradient-masking check compares with."""
    restarts: int = 2
    """Random restarts of the evaluation PGD."""
    robust_target: float = 0.85
    """Criterion: PGD-AT accuracy under PGD at the largest eps is at least this."""
    standard_ceiling: float = 0.10
    """Criterion: the standard model's accuracy under PGD at the largest eps is below this."""
    masking_tol: float = 0.005
    """Slack of the gradient-masking checks (sampling noise of random starts)."""

    def __post_init__(self) -> None:
        check(self, "width", "batch_size", "standard_epochs", "pgd_epochs", "fast_epochs", ge=1)
        check(self, "train_steps", "pgd_steps", "short_steps", "restarts", ge=1)
        check(self, "train_size", ge=1, le=MNIST_TRAIN)
        check(self, "test_size", ge=1, le=MNIST_TEST)
        check(self, "train_eps", "epsilons", gt=0, le=1)  # radii in pixel units, [0, 1]
        check(self, "train_alpha", "lr", gt=0)
        check(self, "eps_warmup", ge=0, lt=1)
        check(self, "robust_target", "standard_ceiling", "masking_tol", ge=0, le=1)
        require(
            self.train_size >= self.batch_size,
            f"train_size ({self.train_size}) must be at least batch_size ({self.batch_size}) "
            "for one step per epoch: raise train_size or lower batch_size",
        )
        require(
            self.short_steps <= self.pgd_steps,
            f"short_steps ({self.short_steps}) must be at most pgd_steps ({self.pgd_steps}): "
            "the gradient-masking check compares the weaker PGD with the stronger",
        )


ADV_PRESETS = {
    "smoke": AdvMNISTConfig(
        width=8,
        train_size=1024,
        test_size=100,
        pgd_epochs=1,
        fast_epochs=1,
        train_steps=2,
        batch_size=64,
        epsilons=(0.1, 0.3),
        pgd_steps=4,
        short_steps=2,
    ),
    "quick": AdvMNISTConfig(),
    "full": AdvMNISTConfig(
        test_size=10_000,
        standard_epochs=4,
        pgd_epochs=20,
        fast_epochs=10,
        train_steps=40,
        train_alpha=0.01,
        eps_warmup=0.2,
        lr=2e-3,
        restarts=5,
    ),
}


def _specs(cfg: AdvMNISTConfig) -> dict[str, TrainSpec]:
    base = TrainSpec("standard", cfg.standard_epochs, cfg.train_eps, cfg.train_steps,
                     cfg.train_alpha, cfg.eps_warmup, cfg.lr, cfg.batch_size)  # fmt: skip
    return {
        "standard": base,
        "pgd": replace(base, method="pgd", epochs=cfg.pgd_epochs),
        "fast": replace(base, method="fast", epochs=cfg.fast_epochs),
    }


def run_adv_mnist(cfg: AdvMNISTConfig, run_dir: Path) -> Result:
    """Train the three models (reusing any already saved in run_dir), attack them, save examples."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = resolve("ch09_adversarial_training", cfg.impl)
    train, test = load_splits(cfg.train_size, cfg.test_size, device)
    resumed = (run_dir / "models").exists()
    logger = runs.MetricLogger(run_dir, resume_step=10**12 if resumed else None)
    evals = EvalSpec(cfg.epsilons, cfg.pgd_steps, cfg.short_steps, cfg.restarts)
    summary: dict[str, Any] = {"device": str(device), "test_size": cfg.test_size, "models": {}}
    models = {}
    for k, (name, spec) in enumerate(_specs(cfg).items()):
        path = run_dir / "models" / f"{name}.pt"
        torch.manual_seed(cfg.seed * 1000 + k)
        model = CNN(width=cfg.width).to(device)
        train_s = None
        if path.exists():  # finished before an interruption: reuse it
            model.load_state_dict(torch.load(path, map_location=device))
        else:

            def log(step: int, name: str = name, **row: Any) -> None:
                logger.log(step, **{f"{name}/{key}": v for key, v in row.items()})

            train_s = train_model(model, train, spec, cfg.seed + k, name, log, ns.pgd)
            with runs.atomic_open(path, "wb") as f:
                torch.save(model.state_dict(), f)
        model.eval()
        models[name] = model
        table = robustness_table(model, test, evals, cfg.seed, f"attack {name}", ns.pgd)
        summary["models"][name] = {"train_time_s": train_s, **table}
    logger.close()
    summary["examples"] = _save_examples(models, test, cfg, run_dir, ns.pgd)
    summary["wall_time_s"] = clock.elapsed
    return finish(run_dir, summary)


def _save_examples(
    models: Mapping[str, torch.nn.Module],
    test: Any,
    cfg: AdvMNISTConfig,
    run_dir: Path,
    pgd_fn: Any,
) -> dict[str, float]:
    """Attack 8 test images at the largest eps on each model; save them for the figure.

    Also measures that PGD's output respects its constraints (returned for the report).
    """
    eps, steps = max(cfg.epsilons), cfg.pgd_steps
    x, y = test.images[:8], test.labels[:8]
    saved: dict[str, Any] = {"clean": x.cpu(), "labels": y.cpu(), "eps": eps}
    worst_dist, out_of_range = 0.0, 0.0
    for name, model in models.items():
        adv = pgd_fn(model, x, y, eps, 2.5 * eps / steps, steps, True, None)
        worst_dist = max(worst_dist, (adv - x).abs().max().item())
        out_of_range = max(out_of_range, (adv - adv.clamp(0, 1)).abs().max().item())
        with torch.no_grad(), eval_mode(model):
            saved[name] = {
                "adv": adv.cpu(),
                "pred_clean": model(x).argmax(1).cpu(),
                "pred_adv": model(adv).argmax(1).cpu(),
                "fgsm_pred": model(fgsm(model, x, y, eps)).argmax(1).cpu(),
            }
    with runs.atomic_open(run_dir / "examples.pt", "wb") as f:
        torch.save(saved, f)
    return {"eps": eps, "max_linf": worst_dist, "max_out_of_range": out_of_range}


def _pgd_at(record: RunRecord, model: str) -> float:
    eps = str(max(record.config["epsilons"]))
    return float(record.summary["models"][model]["eps"][eps]["pgd"])


def _robust_criterion(record: RunRecord) -> Verdict:
    acc, eps = _pgd_at(record, "pgd"), max(record.config["epsilons"])
    return Verdict(bool(acc >= record.config["robust_target"]), f"{acc:.1%} at eps={eps}")


def _standard_criterion(record: RunRecord) -> Verdict:
    acc, eps = _pgd_at(record, "standard"), max(record.config["epsilons"])
    return Verdict(bool(acc < record.config["standard_ceiling"]), f"{acc:.1%} at eps={eps}")


def _masking_criterion(record: RunRecord) -> Verdict:
    """PGD must be at least as strong as FGSM, and PGD-long as PGD-short, per model and eps."""
    tol, models = record.config["masking_tol"], record.summary["models"]
    wanted = {str(e) for e in record.config["epsilons"]}
    missing = [n for n in MODELS if n not in models or set(models[n]["eps"]) != wanted]
    if missing:  # an empty table would otherwise pass: no pair, no inconsistency
        return not_measured(f"no full attack table for {', '.join(missing)}")
    bad = [
        f"{name} eps={eps}: " + ("PGD > FGSM" if r["pgd"] > r["fgsm"] + tol else "more steps help")
        for name, m in models.items()
        for eps, r in m["eps"].items()
        if not (r["pgd"] <= r["fgsm"] + tol and r["pgd"] <= r["pgd_short"] + tol)
    ]
    n = sum(len(m["eps"]) for m in models.values())
    return Verdict(not bad, "; ".join(bad) if bad else f"{n} of {n} (model, eps) pairs consistent")


def _constraint_criterion(record: RunRecord) -> Verdict:
    ex = record.summary["examples"]
    ok = ex["max_linf"] <= ex["eps"] + 1e-6 and ex["max_out_of_range"] == 0
    return Verdict(
        bool(ok),
        f"max |x_adv - x| = {ex['max_linf']:.4f} (eps {ex['eps']}); farthest outside [0, 1]: "
        f"{ex['max_out_of_range']:.2g}",
    )


def _figures(record: RunRecord) -> list[Path]:
    plt = pyplot()
    out = []
    saved = torch.load(record.run_dir / "examples.pt", weights_only=False)
    names = [n for n in MODELS if n in saved]
    fig, axes = plt.subplots(1 + 2 * len(names), 8, figsize=(12, 1.6 * (1 + 2 * len(names))))
    for j in range(8):
        axes[0, j].imshow(saved["clean"][j, 0], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"clean: {int(saved['labels'][j])}", fontsize=8)
        for i, name in enumerate(names):
            s = saved[name]
            adv = s["adv"][j, 0]
            axes[1 + 2 * i, j].imshow(adv, cmap="gray", vmin=0, vmax=1)
            axes[1 + 2 * i, j].set_title(
                f"{LABELS[name]}: {int(s['pred_clean'][j])}→{int(s['pred_adv'][j])}", fontsize=7
            )
            axes[2 + 2 * i, j].imshow(adv - saved["clean"][j, 0], cmap="seismic", vmin=-1, vmax=1)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"PGD examples at eps={saved['eps']} (rows: image, then perturbation)")
    out.append(save_figure(fig, record.run_dir / "figures" / "adversarial_examples.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, m in record.summary["models"].items():
        eps = [0.0] + [float(e) for e in m["eps"]]
        ax.plot(eps, [m["clean"]] + [r["pgd"] for r in m["eps"].values()], "o-", label=LABELS[name])
    ax.set(xlabel="eps (L-infinity)", ylabel="accuracy under PGD", ylim=(0, 1.02))
    ax.legend()
    out.append(save_figure(fig, record.run_dir / "figures" / "robust_accuracy.png"))
    return out


def wilson_halfwidth(p: float, n: int, z: float = 1.96) -> float:
    """Half-width of the 95% Wilson interval around p (sample size n), for the table."""
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)


def _sections(record: RunRecord) -> list[tuple[str, str]]:
    cfg, s = record.config, record.summary
    n = s["test_size"]
    rows = []
    for name, m in s["models"].items():
        for eps, r in m["eps"].items():
            rows.append(
                (LABELS[name], f"{m['clean']:.1%}", eps, f"{r['fgsm']:.1%}",
                 f"{r['pgd_short']:.1%}", f"{r['pgd']:.1%} ± {wilson_halfwidth(r['pgd'], n):.1%}")
            )  # fmt: skip
    header = ["model", "clean", "eps", "FGSM", f"PGD-{cfg['short_steps']}",
              f"PGD-{cfg['pgd_steps']} ×{cfg['restarts']} restarts (95% CI)"]  # fmt: skip
    times = ", ".join(
        f"{LABELS[k]} {m['train_time_s']:.0f} s"
        for k, m in s["models"].items()
        if m["train_time_s"] is not None
    )
    body = (
        f"Accuracy on the first {n} test images (PGD step size 2.5·eps/steps, random start).\n\n"
        + markdown_table(header, rows)
        + f"\n\nTraining time: {times}. Device: {s['device']}."
    )
    return [("Robustness table", body)]


ADV_MNIST = ExperimentSpec(
    name="adv-mnist",
    title="Chapter 9: adversarial examples and adversarial training on MNIST",
    presets=ADV_PRESETS,
    run=run_adv_mnist,
    exercises=("pgd",),
    criteria=(
        Criterion(
            "PGD-AT accuracy under PGD-{pgd_steps} at the largest eps of {epsilons} "
            "≥ {robust_target:.0%}",
            _robust_criterion,
        ),
        Criterion(
            "standard model's accuracy under PGD-{pgd_steps} at the largest eps of {epsilons} "
            "< {standard_ceiling:.0%}",
            _standard_criterion,
        ),
        Criterion(
            "no gradient masking: for every model and eps, PGD-{pgd_steps} ≤ FGSM and "
            "≤ PGD-{short_steps}, with {masking_tol:.1%} slack",
            _masking_criterion,
        ),
        Criterion("PGD stays in the eps-ball and in [0, 1]", _constraint_criterion),
    ),
    figures=_figures,
    sections=_sections,
    next_steps=(
        "Compare the fast-AT row with PGD-AT: if fast AT is robust to FGSM but not to PGD, "
        "it has overfit catastrophically to its own single-step attack. Try "
        "`--set train_steps=10` or more epochs, and `dlc start 9` to write PGD yourself."
    ),
)
