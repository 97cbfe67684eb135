"""`dlc run interp-mnist`: attribution, faithfulness, feature visualisation and a case study
on the prerequisite's CNN (trained here unless a checkpoint is given)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch00_mnist.experiments import MNISTConfig, load_splits
from dlcurriculum.ch00_mnist.loop import evaluate, fit
from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch08_interpretability import mnist_study as study
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig, check, require
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

SLUG = "ch08_interpretability"
ANALYSIS_FILE = "analysis.pt"  # tensors the report's figures are drawn from
MNIST_BATCH = MNISTConfig.batch_size  # the CNN trained here keeps chapter 0's batch size


@dataclass(frozen=True)
class InterpMNISTConfig(RunConfig):
    """Explain the prerequisite's MNIST CNN."""

    checkpoint: str = ""
    """A `dlc run mnist` run folder or its model.pt ('' = train a CNN first, inside this run)."""
    width: int = 32
    """Width of the CNN trained here (ignored with a checkpoint, whose width is read)."""
    mnist_epochs: int = 2
    """Epochs of the CNN trained here."""
    train_size: int = 60_000
    """Training images for the CNN trained here."""
    test_size: int = 10_000
    """Test images (accuracy and the case study's ablations)."""
    n_explain: int = 64
    """Test images explained by every attribution method."""
    ig_steps: int = 64
    """Points of the integrated-gradients path (midpoint rule)."""
    occlusion_window: int = 4
    """Side of the occluding square, in pixels."""
    occlusion_stride: int = 2
    """Step between occlusion windows."""
    curve_points: int = 29
    """Fractions of pixels at which deletion / insertion curves are measured."""
    n_randomisation: int = 16
    """Images explained in the model-randomisation check."""
    vis_steps: int = 128
    """Gradient-ascent steps of feature visualisation."""
    vis_channels: int = 16
    """Last-layer channels shown by feature visualisation."""
    case_digit: int = 7
    """Digit whose logit the case study dissects."""
    case_top_k: int = 3
    """Channels the case study keeps and ablates."""
    max_completeness_error: float = 0.01
    """Success bar: integrated gradients sum to f(x) - f(0) within this relative error."""
    max_randomised_corr: float = 0.5
    """Success bar: IG's rank correlation with a fully randomised model's is at most this."""
    min_auc_gap: float = 0.1
    """Success bar: IG's deletion AUC is at least this below a random order's, and its
    insertion AUC this far above (AUCs of the mean true-class probability, in [0, 1]). A bar,
    not any gap, so that "faster than random" means clearly faster. Measured on a width-16
    CNN: per-image AUCs of a random order have an SD of 0.15, so over 64 images the mean
    moves by ~0.02 (five random orders: 0.415-0.438), and IG's paired gap has a standard
    error of 0.013-0.022: 0.1 is 4.5 to 8 of them. In the quick run IG's gaps are 0.39 and 0.40,
    and plain saliency, the weakest method, still clears it (0.22, 0.23)."""

    def __post_init__(self) -> None:
        check(self, "width", "mnist_epochs", "n_explain", "ig_steps", "n_randomisation", ge=1)
        check(self, "occlusion_stride", "vis_steps", "vis_channels", "case_top_k", ge=1)
        check(self, "train_size", ge=MNIST_BATCH, le=MNIST_TRAIN)  # a batch of the CNN trained here
        # every digit's mean test image is drawn (the first 62 test images hold all ten)
        check(self, "test_size", ge=100, le=MNIST_TEST)
        check(self, "occlusion_window", ge=1, le=28)  # pixels of an MNIST side
        check(self, "curve_points", ge=2)  # the curves run from 0 to all pixels
        check(self, "case_digit", ge=0, le=9)
        check(self, "max_completeness_error", "max_randomised_corr", "min_auc_gap", ge=0, le=1)
        require(
            self.n_explain <= self.test_size,
            f"n_explain ({self.n_explain}) must be at most test_size ({self.test_size}): the "
            "explained images are the first test images",
        )
        require(
            self.n_randomisation <= self.n_explain,
            f"n_randomisation ({self.n_randomisation}) must be at most n_explain "
            f"({self.n_explain}): it re-explains the first of them",
        )
        require(
            bool(self.checkpoint) or self.case_top_k <= 4 * self.width,
            f"case_top_k ({self.case_top_k}) must be at most the last conv layer's 4 * width = "
            f"{4 * self.width} channels: lower case_top_k or raise width",
        )


INTERP_MNIST_PRESETS = {
    "smoke": InterpMNISTConfig(
        width=8,
        mnist_epochs=1,
        train_size=4096,
        test_size=1000,
        n_explain=8,
        ig_steps=32,
        curve_points=9,
        n_randomisation=4,
        vis_steps=8,
        vis_channels=4,
        case_top_k=2,
    ),
    "quick": InterpMNISTConfig(),
    "full": InterpMNISTConfig(n_explain=256, ig_steps=128, n_randomisation=64, vis_steps=512),
}


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
    ns = resolve(SLUG, cfg.impl)
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
            resolve("ch00_mnist"),
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
    _, test_acc = evaluate(model, test, resolve("ch00_mnist"))
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
