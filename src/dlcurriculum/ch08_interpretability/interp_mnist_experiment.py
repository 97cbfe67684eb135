"""`dlc run interp-mnist`: attribution, faithfulness, feature visualisation and a case study
on the prerequisite's CNN (trained here unless a checkpoint is given)."""

from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch00_mnist.config import MNISTConfig
from dlcurriculum.ch00_mnist.impl import load_impl as load_ch00
from dlcurriculum.ch00_mnist.loop import evaluate, fit, load_splits
from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch08_interpretability import mnist_study as study
from dlcurriculum.ch08_interpretability.config import InterpMNISTConfig
from dlcurriculum.ch08_interpretability.impl import load_impl
from dlcurriculum.core import runs
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything

ANALYSIS_FILE = "analysis.pt"  # tensors the report's figures are drawn from


def load_cnn(checkpoint: str, device: torch.device) -> CNN:
    """The CNN saved by `dlc run mnist` (a run folder or its model.pt), in eval mode."""
    path = Path(checkpoint)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise DlcError(f"no CNN at {path}: pass a `dlc run mnist` run folder (with model.pt)")
    state = torch.load(path, map_location=device, weights_only=True)
    if "features.0.0.weight" not in state:
        raise DlcError(f"{path} is not a `dlc run mnist` CNN state dict")
    model = CNN(width=state["features.0.0.weight"].shape[0]).to(device)
    model.load_state_dict(state)
    return model.eval()


def run_interp_mnist(cfg: InterpMNISTConfig, run_dir: Path) -> Result:
    """Get a trained CNN, then measure attributions, faithfulness, feature vis, case study."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = load_impl(cfg.impl)
    train, test = load_splits(cfg.train_size, cfg.test_size, device)
    if cfg.checkpoint:
        model = load_cnn(cfg.checkpoint, device)
    else:
        mnist_cfg = MNISTConfig(
            seed=cfg.seed,
            width=cfg.width,
            epochs=cfg.mnist_epochs,
            train_size=cfg.train_size,
            test_size=cfg.test_size,
            evals_per_epoch=1,
        )
        model = CNN(width=mnist_cfg.width).to(device)
        (run_dir / "cnn").mkdir(exist_ok=True)  # the CNN's own metrics and checkpoints
        fit(
            mnist_cfg,
            model,
            train,
            load_ch00(),
            {"test": test},
            test,
            run_dir / "cnn",
            desc="cnn",
        )
        model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]  # stubs lag
        model.eval()
        with runs.atomic_open(run_dir / "cnn" / "model.pt", "wb") as f:
            torch.save(model.state_dict(), f)  # reuse with --set checkpoint=RUN/cnn
    if cfg.case_top_k > model.head.in_features:
        raise DlcError(
            f"case_top_k ({cfg.case_top_k}) must be at most the CNN's "
            f"{model.head.in_features} last-layer channels: lower case_top_k"
        )
    for p in model.parameters():
        p.requires_grad_(False)  # attributions need input gradients only
    _, test_acc = evaluate(model, test, load_ch00())
    images, labels = test.images[: cfg.n_explain], test.labels[: cfg.n_explain]
    methods = study.attribution_methods(
        ns.integrated_gradients, cfg.ig_steps, cfg.occlusion_window, cfg.occlusion_stride
    )
    summary: dict[str, Any] = {"test_accuracy": test_acc}
    bar = runs.progress(4, "interp-mnist")
    part, tensors = study.attributions_and_faithfulness(
        model, images, labels, methods, cfg.curve_points, cfg.seed
    )
    summary |= part
    bar.update(1)
    k = cfg.n_randomisation
    part, rows = study.randomisation_check(model, images[:k], labels[:k], methods, cfg.seed)
    summary |= part | {"randomisation_rows": rows}
    bar.update(1)
    class_means = torch.stack([test.images[test.labels == d].mean(0) for d in range(10)])
    part, vis = study.feature_visualisation(
        model,
        class_means,
        images,
        labels,
        cfg.vis_steps,
        cfg.seed,
        min(cfg.vis_channels, model.head.in_features),
    )
    summary |= part
    bar.update(1)
    part, case = study.logit_case_study(
        model,
        model.head,
        test.images,
        test.labels,
        cfg.case_digit,
        cfg.case_top_k,
        cfg.seed,
        cfg.vis_steps,
    )
    summary |= part
    bar.update(1)
    bar.close()
    analysis = {
        "images": images,
        "labels": labels,
        **tensors,
        "vis": vis,
        "case": case,
        "class_means": class_means,
    }
    with runs.atomic_open(run_dir / ANALYSIS_FILE, "wb") as f:
        torch.save(analysis, f)
    summary |= {"wall_time_s": clock.elapsed, "device": str(device)}
    return finish(run_dir, summary)
