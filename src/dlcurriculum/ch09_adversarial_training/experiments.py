"""`dlc run adv-mnist`: FGSM and PGD against the prerequisite's CNN, and adversarial training.

Three CNNs are trained (standard, PGD adversarial training, "fast" FGSM-with-random-start
adversarial training), then each is attacked at eps = 0.1, 0.2, 0.3 on a test subset with
FGSM, a short PGD and PGD-40 with restarts. The red-teaming experiment is in
`redteam_experiment.py`.
"""

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch00_mnist.loop import load_splits
from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch09_adversarial_training.attacks import eval_mode
from dlcurriculum.ch09_adversarial_training.config import PRESETS, AdvMNISTConfig
from dlcurriculum.ch09_adversarial_training.impl import load_impl
from dlcurriculum.ch09_adversarial_training.redteam_experiment import run_redteam
from dlcurriculum.ch09_adversarial_training.report import (
    ADV_MNIST_CRITERIA,
    REDTEAM_CRITERIA,
    adv_mnist_figures,
    adv_mnist_sections,
    redteam_figures,
    redteam_sections,
)
from dlcurriculum.ch09_adversarial_training.robust_training import (
    EvalSpec,
    TrainSpec,
    fgsm,
    robustness_table,
    train_model,
)
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything


def _specs(cfg: AdvMNISTConfig) -> dict[str, TrainSpec]:
    base = TrainSpec(
        "standard",
        cfg.standard_epochs,
        cfg.train_eps,
        cfg.train_steps,
        cfg.train_alpha,
        cfg.eps_warmup,
        cfg.lr,
        cfg.batch_size,
    )
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
    ns = load_impl(cfg.impl)
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


ADV_MNIST = ExperimentSpec(
    name="adv-mnist",
    title="Chapter 9: adversarial examples and adversarial training on MNIST",
    presets=PRESETS["adv-mnist"],
    run=run_adv_mnist,
    exercises=("pgd",),
    criteria=ADV_MNIST_CRITERIA,
    figures=adv_mnist_figures,
    sections=adv_mnist_sections,
    next_steps=(
        "Compare the fast-AT row with PGD-AT: if fast AT is robust to FGSM but not to PGD, "
        "it has overfit catastrophically to its own single-step attack. Try "
        "`--set train_steps=10` or more epochs, and `dlc start 9` to write PGD yourself."
    ),
)


REDTEAM = ExperimentSpec(
    name="redteam",
    title="Chapter 9: red teaming a chatbot with a language model",
    presets=PRESETS["redteam"],
    run=run_redteam,
    exercises=("few_shot_prompt",),
    criteria=REDTEAM_CRITERIA,
    sections=redteam_sections,
    figures=redteam_figures,
    next_steps=(
        "Read `failures.jsonl` and `clusters.json` (content warning) for the patterns the red "
        "teams found. Try a stronger classifier online (`--set classifier=unitary/toxic-bert`), "
        "a larger red LM (`--set red_model=gpt2`), or more RL steps on a GPU (`--preset full`)."
    ),
)
