"""The MNIST CNN, reverse-engineered: the measurements behind `dlc run interp-mnist`.

Each function takes the trained CNN and test data and returns plain numbers plus the
tensors the report's figures need, so `experiments.py` stays a thin runner and the report
can be redrawn from the run folder alone.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from dlcurriculum.ch08_interpretability import attribution as attr
from dlcurriculum.ch08_interpretability.faithfulness import (
    area_under,
    cascading_randomisation,
    perturbation_curve,
    random_order,
)
from dlcurriculum.ch08_interpretability.feature_vis import (
    PLAIN,
    Regularisers,
    channel_objective,
    logit_objective,
    template_similarity,
    visualise,
)
from dlcurriculum.core.hooks import capture, patch

# Names inside ch00's CNN: features = [conv1, pool, conv2, pool, conv3, global max pool, flatten].
CONV_LAYERS = ("features.0", "features.2", "features.4")
POOLED = "features.6"  # [batch, 4 * width]: what the linear head reads
RANDOMISE_TOP_DOWN = ("head", "features.4.0", "features.2.0", "features.0.0")


def attribution_methods(
    integrated_gradients: Callable[..., Tensor], ig_steps: int, window: int, stride: int
) -> dict[str, attr.Attribution]:
    """The four methods, with the (reference or learner's) integrated gradients plugged in."""

    def ig(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return integrated_gradients(model, x, y, n_steps=ig_steps)

    def occ(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return attr.occlusion(model, x, y, window=window, stride=stride)

    return {
        "saliency": attr.saliency,
        "gradient_x_input": attr.gradient_x_input,
        "integrated_gradients": attr.batched(ig, 16),
        "occlusion": occ,
    }


def attributions_and_faithfulness(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    methods: dict[str, attr.Attribution],
    curve_points: int,
    seed: int,
) -> tuple[dict[str, float], dict[str, dict[str, Tensor]]]:
    """Attribute the true class of each image; completeness; deletion/insertion vs random.

    Returns:
        (figures for summary.json, tensors for the report's figures).
    """
    maps = {name: fn(model, images, labels).detach() for name, fn in methods.items()}
    error = attr.completeness_error(model, images, labels, maps["integrated_gradients"])
    summary: dict[str, float] = {
        "ig_completeness_max_error": float(error.max()),
        "ig_completeness_mean_error": float(error.mean()),
    }
    orders = {name: m.flatten(1) for name, m in maps.items()}
    n_images, n_pixels = orders["saliency"].shape
    orders["random"] = random_order((n_images, n_pixels), seed)
    curves = {}
    for mode in ("deletion", "insertion"):
        for name, order in orders.items():
            curve = perturbation_curve(model, images, labels, order, mode, curve_points)
            curves[f"{mode}/{name}"] = curve
            summary[f"{mode}_auc/{name}"] = area_under(curve)
    return summary, {"maps": maps, "curves": curves}


def randomisation_check(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    methods: dict[str, attr.Attribution],
    seed: int,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Adebayo et al.'s cascading randomisation; summary holds the fully randomised stage."""
    rows = cascading_randomisation(model, list(RANDOMISE_TOP_DOWN), images, labels, methods, seed)
    summary = {f"randomised_rank_corr/{name}": float(rows[-1][name]) for name in methods}
    return summary, rows


def feature_visualisation(
    model: nn.Module,
    class_means: Tensor,
    images: Tensor,
    labels: Tensor,
    steps: int,
    seed: int,
    n_channels: int,
) -> tuple[dict[str, float], dict[str, Tensor]]:
    """Visualise the 10 logits with and without regularisers, and the first conv3 channels.

    How readable an image is gets a number: its correlation with the mean test image of
    the digit (the "template"), next to the same correlation for real test digits `images`;
    how well it excites the model, the target class's probability.
    """
    classes = torch.arange(10)
    real = template_similarity(images, class_means[labels])
    summary: dict[str, float] = {"vis_real_template_corr": float(real.mean())}
    drawn: dict[str, Tensor] = {}
    for label, reg in (("plain", PLAIN), ("regularised", Regularisers())):
        vis = visualise(logit_objective(model, classes), 10, reg, steps=steps, seed=seed)
        with torch.no_grad():
            prob = model(vis).softmax(-1)[classes, classes]
        summary[f"vis_{label}_target_prob"] = float(prob.mean())
        summary[f"vis_{label}_template_corr"] = float(template_similarity(vis, class_means).mean())
        drawn[f"logits_{label}"] = vis
    channels = torch.arange(n_channels)
    objective = channel_objective(model, CONV_LAYERS[-1], channels)
    drawn["channels"] = visualise(objective, n_channels, Regularisers(), steps=steps, seed=seed)
    return summary, drawn


def pooled_features(model: nn.Module, images: Tensor) -> Tensor:
    """The [batch, 4 * width] vector the linear head reads (global max of each conv3 channel)."""
    with torch.no_grad(), capture(model, [POOLED]) as cache:
        model(images)
    return cache[POOLED]


def ablated_accuracy(
    model: nn.Module, images: Tensor, labels: Tensor, channels: list[int], digit: int
) -> tuple[float, float]:
    """(accuracy on `digit`, accuracy on the other digits) with `channels` of the pooled
    features set to 0, i.e. removed from what the head reads."""

    def zero(x: Tensor) -> Tensor:
        x = x.clone()
        x[:, channels] = 0.0
        return x

    with torch.no_grad(), patch(model, {POOLED: zero}):
        correct = model(images).argmax(-1) == labels
    mine = labels == digit
    return float(correct[mine].float().mean()), float(correct[~mine].float().mean())


def logit_case_study(
    model: nn.Module,
    head: nn.Linear,
    images: Tensor,
    labels: Tensor,
    digit: int,
    top_k: int,
    seed: int,
    vis_steps: int,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Which conv3 channels drive one digit's logit, what they respond to, and are they needed?

    The logit is a linear read-out, so its value on an image splits exactly into one
    contribution per channel, W[digit, k] * pooled_k. The top channels by mean contribution
    on images of `digit` are then shown (feature visualisation, strongest test images) and
    removed, next to removing the same number of random channels, as the causal test.
    """
    feats = pooled_features(model, images)  # [n, channels]
    contrib = head.weight[digit].detach() * feats  # [n, channels]
    mean_contrib = contrib[labels == digit].mean(0)
    top = mean_contrib.topk(top_k).indices.tolist()
    base_mine, base_other = ablated_accuracy(model, images, labels, [], digit)
    top_mine, top_other = ablated_accuracy(model, images, labels, top, digit)
    g = torch.Generator().manual_seed(seed)
    random_mine, random_other = [], []
    for _ in range(5):
        pick = torch.randperm(feats.shape[1], generator=g)[:top_k].tolist()
        mine, other = ablated_accuracy(model, images, labels, pick, digit)
        random_mine.append(mine)
        random_other.append(other)
    strongest = feats[:, top].topk(6, dim=0).indices.T  # [top_k, 6] image indices
    positive = mean_contrib.clamp_min(0)
    summary = {
        "case_digit": digit,
        "case_channels": top,
        "case_contributions": [float(mean_contrib[k]) for k in top],
        "case_share_of_positive": float(positive[top].sum() / positive.sum()),
        "case_acc_digit": base_mine,
        "case_acc_other": base_other,
        "case_ablate_top_acc_digit": top_mine,
        "case_ablate_top_acc_other": top_other,
        "case_ablate_random_acc_digit": sum(random_mine) / len(random_mine),
        "case_ablate_random_acc_other": sum(random_other) / len(random_other),
        "case_strongest_labels": [[int(labels[i]) for i in row] for row in strongest],
    }
    objective = channel_objective(model, CONV_LAYERS[-1], torch.tensor(top))
    vis = visualise(objective, top_k, Regularisers(), steps=vis_steps, seed=seed)
    return summary, {"case_vis": vis, "case_examples": images[strongest]}


def _describe_channel(channel: int, labels: list[int], digit: int) -> str:
    """How digit-specific a channel's strongest test images are, in words."""
    mine, n = labels.count(digit), len(labels)
    if mine >= n - 1:
        return f"channel {channel} is specific to {digit}s ({mine} of {n})"
    if 2 * mine >= n:
        return f"channel {channel} mostly sees {digit}s ({mine} of {n})"
    common = max(set(labels), key=labels.count)
    return f"channel {channel} is shared ({mine} of {n} are {digit}s, most are {common}s)"


def case_study_text(s: dict[str, Any]) -> str:
    """The case study's written explanation, generated from its measured figures."""
    d, chans = s["case_digit"], s["case_channels"]
    listed = ", ".join(
        f"{k} ({c:+.2f})" for k, c in zip(chans, s["case_contributions"], strict=True)
    )
    top_drop = s["case_acc_digit"] - s["case_ablate_top_acc_digit"]
    random_drop = s["case_acc_digit"] - s["case_ablate_random_acc_digit"]
    described = "; ".join(
        _describe_channel(k, row, d)
        for k, row in zip(chans, s["case_strongest_labels"], strict=True)
    )
    necessary = top_drop > max(3 * random_drop, 0.05)
    verdict = (
        "so these few channels are causally necessary for recognising the digit, not just "
        "correlated with it"
        if necessary
        else "so the digit's evidence is spread over many channels: no small set is necessary"
    )
    other_change = s["case_ablate_top_acc_other"] - s["case_acc_other"]
    return (
        f"The logit of digit {d} is a linear read-out of the globally max-pooled last-layer "
        f"channels, so its value on an image splits exactly into one term per channel. On "
        f"test images of {d}, the largest mean contributions come from channels {listed}; "
        f"together they supply {s['case_share_of_positive']:.0%} of the positive evidence.\n\n"
        f"The six test images that excite each channel most say what it responds to: "
        f"{described}. The figure shows them next to each channel's feature visualisation.\n\n"
        f"Causal test: zeroing these {len(chans)} channels changes the accuracy on {d}s from "
        f"{s['case_acc_digit']:.1%} to {s['case_ablate_top_acc_digit']:.1%}, and on the other "
        f"digits by {other_change:+.1%}; zeroing {len(chans)} random channels gives "
        f"{s['case_ablate_random_acc_digit']:.1%} on {d}s (mean of 5 draws), {verdict}."
    )


def feature_vis_text(s: dict[str, Any]) -> str:
    """The report's note on when feature visualisation fails on MNIST, from the measurements."""
    plain_p, reg_p = s["vis_plain_target_prob"], s["vis_regularised_target_prob"]
    plain_r, reg_r = s["vis_plain_template_corr"], s["vis_regularised_template_corr"]
    real_r = s["vis_real_template_corr"]

    def looks(r: float) -> str:
        # Judged against real digits, which do not match their class mean perfectly either.
        if r >= 0.5 * real_r:
            return "digit-like"
        return "not digit-like" if r < 0.25 * real_r else "only faintly digit-like"

    text = (
        f"How digit-like an image is gets a number: its correlation with the mean test image "
        f"of the digit, which is r = {real_r:.2f} on average for real test digits. Plain "
        f"gradient ascent on the input drives the target class to probability {plain_p:.2f} "
        f"with images at r = {plain_r:.2f} ({looks(plain_r)}); with jitter, zoom and "
        f"rotation, blur and an L2 pull to black, the probability is {reg_p:.2f} at "
        f"r = {reg_r:.2f} ({looks(reg_r)})."
    )
    if looks(plain_r) != "digit-like":
        text += (
            " Without regularisers this is the failure the curriculum warns about: MNIST "
            "digits are thin strokes on an empty background, and a CNN that reads them through "
            "max pooling is excited by scattered bright pixels, so the most exciting input "
            "need not look like any digit."
        )
    if looks(reg_r) == "digit-like":
        text += (
            " The regularisers remove that freedom (an image must keep working when shifted, "
            "zoomed, rotated and blurred), and strokes appear where the digit's strokes usually "
            "are."
        )
    else:
        text += " Dataset examples and attribution maps explain this model better."
    return text
