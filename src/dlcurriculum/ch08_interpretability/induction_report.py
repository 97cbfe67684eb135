"""The report of `induction-heads`: criteria, figures and sections, the circuit included
(K-composition and activation patching); `induction-lm`'s are in induction_lm_report.py."""

from pathlib import Path
from typing import Any

import torch

from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)

ANALYSIS_FILE = "analysis.pt"


def analysis(record: RunRecord) -> dict[str, Any]:
    """The tensors the run saved for its figures."""
    return torch.load(record.run_dir / ANALYSIS_FILE, weights_only=False)  # type: ignore[no-any-return]


def out(record: RunRecord, name: str) -> Path:
    """Where a figure of the run goes."""
    return record.run_dir / "figures" / name


def heatmap(ax: Any, scores: torch.Tensor, title: str) -> None:
    """Per-(layer, head) scores in [0, 1], layers along x."""
    image = ax.imshow(scores.T.cpu(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set(xlabel="layer", ylabel="head", title=title)
    ax.figure.colorbar(image, ax=ax)


def _name(head: list[int]) -> str:
    return f"{head[0]}.{head[1]}"


def induction_heads_figures(record: RunRecord) -> list[Path]:
    """Training curves, score heatmaps, attention patterns, loss by position with ablations,
    the composition scores and the patching results."""
    plt = pyplot()
    a, s = analysis(record), record.summary
    paths = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(*record.series("induction/best_score"), marker="o", label="best induction score")
    ax1.plot(*record.series("induction/best_prev_token_score"), marker="o", label="best prev-token")
    ax1.set(xlabel="step", ylabel="score", title="Head scores during training")
    ax1.legend()
    ax2.plot(*record.series("repeat/first_half_loss"), label="random tokens, 1st copy")
    ax2.plot(*record.series("repeat/second_half_loss"), label="random tokens, 2nd copy")
    ax2.plot(*record.series("eval/loss"), label="Shakespeare validation")
    ax2.set(xlabel="step", ylabel="loss (nats)", title="Loss")
    ax2.legend()
    paths.append(save_figure(fig, out(record, "training.png")))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
    heatmap(ax1, a["induction"], "Induction (prefix-matching) score")
    heatmap(ax2, a["previous"], "Previous-token score")
    paths.append(save_figure(fig, out(record, "head_scores.png")))

    ind, prev = s["best_induction_head"], s["ablate_prev_token_heads"][0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, (layer, head), name in ((axes[0], ind, "induction"), (axes[1], prev, "previous-token")):
        ax.imshow(a["patterns"][layer][head].cpu(), cmap="Blues", vmin=0, vmax=1)
        ax.set(
            title=f"head {layer}.{head} ({name})", xlabel="key position", ylabel="query position"
        )
    fig.suptitle("Attention on random tokens repeated twice")
    paths.append(save_figure(fig, out(record, "attention_patterns.png")))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    ax1.plot(a["probe_loss"].cpu(), label="clean", lw=1)
    for name, loss in a["ablations"].items():
        ax1.plot(loss.cpu(), label=f"{name} heads ablated", lw=1)
    ax1.set(xlabel="position", ylabel="loss (nats)", title="Repeated random tokens")
    ax1.legend(fontsize=7)
    ax2.plot(range(1, len(a["val_loss"]) + 1), a["val_loss"].cpu())
    ax2.set(
        xscale="log",
        xlabel="token index",
        ylabel="loss (nats)",
        title=f"Shakespeare loss by position (ICL score {s['icl_score']:+.2f})",
    )
    paths.append(save_figure(fig, out(record, "loss_by_position.png")))
    paths.append(_composition_figure(record, a, s))
    paths.append(_patching_figure(record, a, s))
    return paths


def _composition_figure(record: RunRecord, a: dict[str, Any], s: dict[str, Any]) -> Path:
    plt = pyplot()
    k = a["composition"]["K"]
    n_layers, n_heads = k.shape[:2]
    labels = [f"{la}.{h}" for la in range(n_layers) for h in range(n_heads)]
    flat = k.reshape(n_layers * n_heads, n_layers * n_heads).clone()
    earlier = torch.arange(n_layers).repeat_interleave(n_heads)
    flat[earlier[:, None] >= earlier[None, :]] = float("nan")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    image = ax1.imshow(flat.cpu(), cmap="viridis", vmin=0)
    ax1.set_xticks(range(len(labels)), labels, fontsize=7, rotation=90)
    ax1.set_yticks(range(len(labels)), labels, fontsize=7)
    ax1.set(xlabel="reader head (keys)", ylabel="writer head (OV)", title="K-composition score")
    fig.colorbar(image, ax=ax1)
    ax2.hist(a["composition_random"].cpu(), bins=30, color="grey", label="random matrices")
    prev = s["ablate_prev_token_heads"][0]
    circuit = {tuple(h) for h in s["patch_induction_heads"]}
    valid = earlier[:, None] < earlier[None, :]
    labelled: set[bool] = set()
    for i, j in valid.nonzero().tolist():
        writer, reader = divmod(i, n_heads), divmod(j, n_heads)
        mine = list(writer) == prev and reader in circuit
        label = None if mine in labelled else ("prev-token -> induction" if mine else "others")
        labelled.add(mine)
        ax2.axvline(
            float(flat[i, j]),
            color="tab:red" if mine else "tab:blue",
            alpha=0.9 if mine else 0.4,
            label=label,
        )
    ax2.set(
        xlabel="K-composition score",
        ylabel="pairs",
        title="The model's head pairs vs random matrices",
    )
    ax2.legend(fontsize=7)
    return save_figure(fig, out(record, "composition.png"))


def _patching_figure(record: RunRecord, a: dict[str, Any], s: dict[str, Any]) -> Path:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8), width_ratios=(1, 2.2))
    by_head = a["patch_heads"]
    lim = max(1.0, float(by_head.abs().max()))
    image = ax1.imshow(by_head.T.cpu(), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax1.set(xlabel="layer", ylabel="head", title="Recovery, one head patched (all positions)")
    ax1.set_xticks(range(by_head.shape[0]))
    ax1.set_yticks(range(by_head.shape[1]))
    fig.colorbar(image, ax=ax1)
    fig.subplots_adjust(wspace=0.3)
    half = record.config["half_len"]
    positions = a["patch_positions"]
    for head, row in zip(s["patch_position_heads"], positions, strict=True):
        ax2.plot(row.cpu() * (half - 1), lw=1, label=f"head {_name(head)}")
    n = positions.shape[1]
    ax2.axvspan(n - 2 * half - 0.5, n - half - 0.5, color="grey", alpha=0.15, label="1st copy")
    ax2.set(
        xlabel="patched position",
        ylabel=f"recovery x {half - 1} queries",
        title="One head patched at one position (0 = corrupted run, 1 = one query restored)",
    )
    ax2.legend(fontsize=7)
    return save_figure(fig, out(record, "patching.png"))


def _heads(heads: list[list[int]]) -> str:
    return ", ".join(_name(h) for h in heads)


def _circuit_text(r: RunRecord) -> str:
    s = r.summary
    k = s["k_composition_top"]
    top = ", ".join(f"{la}.{ha} -> {lb}.{hb} ({sc:.3f})" for la, ha, lb, hb, sc in k)
    other = {kind: s[f"{kind.lower()}_composition_top"][0] for kind in "QV"}
    return (
        f"Top K-composition pairs (writer -> reader): {top}. Random matrices of the same "
        f"shapes score {s['composition_random_mean']:.3f} ± {s['composition_random_sd']:.3f} "
        f"(1/sqrt(d_model) = {s['composition_random_expected']:.3f}), so the top pair is "
        f"{s['k_composition_ratio']:.2f}x the baseline. The best Q-composition pair is "
        f"{other['Q'][0]}.{other['Q'][1]} -> {other['Q'][2]}.{other['Q'][3]} "
        f"({other['Q'][4]:.3f}) and the best V-composition pair "
        f"{other['V'][0]}.{other['V'][1]} -> {other['V'][2]}.{other['V'][3]} "
        f"({other['V'][4]:.3f})."
    )


def _patching_text(r: RunRecord) -> str:
    s = r.summary
    heads = s["patch_position_heads"]
    where = ", ".join(
        f"{_name(h)}: {f:+.2f} at the first copy, {q:+.2f} at the repeat"
        for h, f, q in zip(
            heads, s["patch_position_first_copy"], s["patch_position_repeat"], strict=True
        )
    )
    return (
        "Clean run: the probe; corrupted run: its first copy redrawn. Metric: logit of the "
        "repeat's next token minus that of the token the corrupted first copy would supply, "
        f"{s['patch_clean_logit_diff']:.2f} (clean) vs {s['patch_corrupted_logit_diff']:.2f} "
        "(corrupted); recovery = (patched - corrupted) / (clean - corrupted).\n\n"
        f"- Patching the induction heads {_heads(s['patch_induction_heads'])} recovers "
        f"{s['patch_induction_recovery']:.2f}; as many low-scoring heads "
        f"({_heads(s['patch_control_heads'])}) {s['patch_control_recovery']:+.2f}; the "
        f"previous-token head alone {s['patch_prev_token_recovery']:+.2f}.\n"
        f"- Per position (summed over positions): {where}.\n"
        f"{_key_side(s)}"
    )


def _key_side(s: dict[str, Any]) -> str:
    att = s["induction_attention"]
    if att["earlier_layers"] != att["earlier_layers"]:  # NaN: the heads sit in layer 0
        return "- The key side: not measured, no layer comes before the induction heads."
    return (
        "- The key side: patching only the earlier layers' heads, only at the first copy, "
        "moves the induction heads' attention to their target from "
        f"{att['corrupted']:.3f} (corrupted) to {att['earlier_layers']:.3f} (clean "
        f"{att['clean']:.3f}): {s['attention_restored_earlier_layers']:.0%} restored "
        f"(the previous-token head alone: {s['attention_restored_prev_token']:.0%}). The "
        "logit difference then goes to "
        f"{s['patch_earlier_layers_first_copy_recovery']:+.2f} of the gap; below 0 means the "
        "induction heads look in the right place and copy the corrupted token that sits "
        "there: what the earlier layer writes decides where they attend (K-composition), the "
        "token at the key what they copy."
    )


def induction_heads_sections(r: RunRecord) -> list[tuple[str, str]]:
    s = r.summary
    n_layers, n_heads = len(s["induction_scores"]), len(s["induction_scores"][0])
    rows = [
        (
            f"{la}.{h}",
            f"{s['induction_scores'][la][h]:.3f}",
            f"{s['prev_token_scores'][la][h]:.3f}",
            f"{s['patch_head_recovery'][la][h]:+.2f}",
        )
        for la in range(n_layers)
        for h in range(n_heads)
    ]
    header = ["head", "induction score", "previous-token score", "patching recovery"]
    text = (
        f"{markdown_table(header, rows)}\n\n"
        f"On {r.config['n_probe']} sequences of {r.config['half_len']} random tokens repeated "
        f"twice, the loss is {s['repeat_first_half_loss']:.2f} nats on the first copy and "
        f"{s['repeat_second_half_loss']:.2f} on the second. Ablating the induction head(s) "
        f"{_heads(s['ablate_induction_heads'])} raises the second copy's loss to "
        f"{s['ablate_induction_second_half_loss']:.2f}; ablating the strongest previous-token "
        f"head of layer 0 ({_heads(s['ablate_prev_token_heads'])}) gives "
        f"{s['ablate_prev_token_second_half_loss']:.2f} (K-composition: the induction head "
        "finds its target through what this head wrote); ablating as many low-scoring heads "
        f"gives {s['ablate_control_second_half_loss']:.2f}.\n\n"
        f"In-context learning score on Shakespeare (loss at token {s['icl_positions'][0]} minus "
        f"at token {s['icl_positions'][1]}): {s['icl_score']:+.3f} nats; validation loss "
        f"{s['val_loss']:.3f}."
    )
    return [
        ("Heads and ablations", text),
        ("The circuit in the weights: composition scores", _circuit_text(r)),
        ("The circuit in the activations: patching", _patching_text(r)),
    ]


def _induction_head(r: RunRecord) -> Verdict:
    best, (layer, head) = r.summary["best_induction_score"], r.summary["best_induction_head"]
    return Verdict(
        bool(best >= r.config["induction_threshold"]), f"{best:.3f} (head {layer}.{head})"
    )


def _ablation_rise(r: RunRecord) -> Verdict:
    s = r.summary
    if not s["detected_induction_heads"]:
        # the run then ablates its best head, which is not an induction head: no verdict
        return not_measured("no head reached induction_threshold, so none was ablated as one")
    rise = s["ablation_loss_rise"]
    control = s["ablate_control_second_half_loss"] - s["repeat_second_half_loss"]
    return Verdict(
        bool(rise >= r.config["min_ablation_rise"] and rise > control),
        f"{rise:+.2f} nats (as many low-scoring heads: {control:+.2f})",
    )


def _k_composition(r: RunRecord) -> Verdict:
    s = r.summary
    if not s["detected_induction_heads"]:
        return not_measured("no head reached induction_threshold: no circuit to score")
    la, ha, lb, hb, score = s["k_composition_top"][0]
    prev, ratio = s["ablate_prev_token_heads"][0], s["k_composition_ratio"]
    in_circuit = [la, ha] == prev and [lb, hb] in s["detected_induction_heads"]
    return Verdict(
        bool(in_circuit and ratio >= r.config["min_composition_ratio"]),
        f"{la}.{ha} -> {lb}.{hb}: {score:.3f} = {ratio:.2f}x random "
        f"({s['composition_random_mean']:.3f}); previous-token head {_name(prev)}"
        + ("" if in_circuit else ", so the top pair is not the circuit's"),
    )


def _patch_recovery(r: RunRecord) -> Verdict:
    s = r.summary
    if not s["detected_induction_heads"]:
        return not_measured("no head reached induction_threshold, so none was patched as one")
    got, control = s["patch_induction_recovery"], s["patch_control_recovery"]
    return Verdict(
        bool(got >= r.config["min_patch_recovery"] and got > control),
        f"{got:.2f} (as many low-scoring heads: {control:+.2f})",
    )


def _attention_restored(r: RunRecord) -> Verdict:
    s = r.summary
    if not s["detected_induction_heads"]:
        return not_measured("no head reached induction_threshold: no induction attention")
    got, att = s["attention_restored_earlier_layers"], s["induction_attention"]
    return Verdict(
        bool(got >= r.config["min_attention_restored"]),
        f"{got:.2f} ({att['corrupted']:.3f} -> {att['earlier_layers']:.3f}, clean "
        f"{att['clean']:.3f})",
    )


INDUCTION_HEADS_CRITERIA = (
    Criterion("the best head's induction score ≥ {induction_threshold:g}", _induction_head),
    Criterion(
        "ablating the induction heads raises the second copy's loss by ≥ "
        "{min_ablation_rise:g} nats, and more than ablating as many low-scoring heads",
        _ablation_rise,
    ),
    Criterion(
        "the top K-composition pair is (layer-0 previous-token head, an induction head) and "
        "scores ≥ {min_composition_ratio:g}x random matrices of the same shapes",
        _k_composition,
    ),
    Criterion(
        "patching the induction heads' clean outputs into the corrupted run recovers ≥ "
        "{min_patch_recovery:g} of the logit difference, and more than as many low-scoring heads",
        _patch_recovery,
    ),
    Criterion(
        "patching the earlier layer only at the first copy restores ≥ "
        "{min_attention_restored:g} of the induction heads' attention to their target "
        "(the key side)",
        _attention_restored,
    ),
)
