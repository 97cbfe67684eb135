"""Chapter 6's reports: the success criteria (solved in time, above a random policy, a
healthy update), the return and diagnostics figures and the per-seed tables."""

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlcurriculum.ch06_reinforcement_learning.diagnostics import (
    CHECKS,
    CLIPFRAC_RANGE,
    EV_FLOOR,
    KL_SPIKE_FACTOR,
    KL_SPIKE_FLOOR,
    KL_SPIKE_SHARE,
    Health,
    kl_spikes,
    run_health,
    seed_rows,
)
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)


def return_figure(record: RunRecord, target: float | None, baseline: float | None) -> Path:
    """Evaluation and training returns of every seed, with the target and random baseline."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (name, rows) in enumerate(seed_rows(record.run_dir).items()):
        color = f"C{i % 10}"
        train = [r for r in rows if "charts/episodic_return" in r]
        ax.plot(
            [r["step"] for r in train],
            [r["charts/episodic_return"] for r in train],
            color=color,
            alpha=0.45,
            lw=0.8,
        )
        evals = [r for r in rows if "charts/eval_return" in r]
        ax.plot(
            [r["step"] for r in evals],
            [r["charts/eval_return"] for r in evals],
            color=color,
            marker="o",
            ms=3,
            label=f"{name} (evaluation)",
        )
    if target is not None:
        ax.axhline(target, color="black", ls=":", label="target")
    if baseline is not None:
        ax.axhline(baseline, color="tab:red", ls="--", label="random policy")
    ax.set(
        xlabel="environment steps",
        ylabel="episode return",
        title=f"{record.config['env']}: returns (faint: training episodes)",
    )
    ax.legend(fontsize=7)
    return save_figure(fig, record.run_dir / "figures" / "returns.png")


PANELS = (
    ("policy/clipfrac", "clip fraction", CLIPFRAC_RANGE),
    ("policy/approx_kl", "approx KL", None),
    ("policy/entropy", "entropy", None),
    ("value/explained_variance", "explained variance", (EV_FLOOR, 1.0)),
    ("adv/mean", "advantage mean (before normalization)", None),
    ("adv/std", "advantage std (before normalization)", None),
    ("losses/value_loss", "value loss", None),
    ("charts/sps", "environment steps per second", None),
)


def diagnostics_figure(record: RunRecord) -> Path:
    """The eight diagnostics over training, one line per seed, healthy bands shaded."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 4, figsize=(16, 6.5))
    per_seed = seed_rows(record.run_dir)
    for ax, (key, title, band) in zip(axes.flat, PANELS, strict=True):
        for i, (name, rows) in enumerate(per_seed.items()):
            xs = [r["step"] for r in rows if key in r]
            ax.plot(xs, [r[key] for r in rows if key in r], color=f"C{i % 10}", lw=0.9, label=name)
        if band is not None:
            ax.axhspan(*band, color="tab:green", alpha=0.08)
        if key == "value/explained_variance":
            ax.axhline(0.0, color="gray", lw=0.8)
        ax.set(title=title, xlabel="environment steps")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, record.run_dir / "figures" / "diagnostics.png")


def in_time(seed: dict[str, Any], limit_s: float) -> bool:
    """Whether a seed reached the target within limit_s seconds of training."""
    return seed["time_to_target_s"] is not None and seed["time_to_target_s"] <= limit_s


def _solved(record: RunRecord) -> Verdict:
    cfg, seeds = record.config, record.summary["seeds"]
    if not seeds:
        return not_measured("no seed finished")
    times = ", ".join(
        f"{s['time_to_target_s']:.1f} s" if s["time_to_target_s"] is not None else "never"
        for s in seeds
    )
    # recounted from the seeds against this record's bar, not read from solved_seeds
    n = sum(in_time(s, cfg["target_time_s"]) for s in seeds)
    return Verdict(n >= cfg["min_seeds_solved"], f"{n}/{len(seeds)} seeds; time to target: {times}")


def _beats_random(record: RunRecord) -> Verdict:
    """Training returns of every seed's last episodes against the random baseline: the gap in
    standard errors of the difference, with the spread between seeds counted as noise."""
    s, seeds = record.summary, record.summary["seeds"]
    if "random_return_mean" not in s:
        return not_measured("no random baseline (--set random_episodes=N)")
    finished = [x for x in seeds if x["recent_return_mean"] is not None and x["recent_episodes"]]
    if not finished:
        return not_measured("no training episode finished")
    n = sum(x["recent_episodes"] for x in finished)
    mean = sum(x["recent_episodes"] * x["recent_return_mean"] for x in finished) / n
    var = (  # of all those episodes pooled: within-seed plus between-seed spread
        sum(
            x["recent_episodes"]
            * (x["recent_return_std"] ** 2 + (x["recent_return_mean"] - mean) ** 2)
            for x in finished
        )
        / n
    )
    se = math.sqrt(var / n + s["random_return_std"] ** 2 / s["random_episodes"])
    gap = mean - s["random_return_mean"]
    sigmas = gap / se if se > 0 else math.copysign(math.inf, gap) if gap else 0.0
    return Verdict(
        sigmas >= record.config["min_sigmas_over_random"],
        f"last {n} training episodes {mean:.2f} vs random {s['random_return_mean']:.2f} "
        f"({sigmas:.1f} standard errors apart)",
    )


HEALTH_KEYS = ("policy/clipfrac", "value/explained_variance", "policy/approx_kl")
"""The metric each health criterion reads, in the order of diagnostics.CHECKS."""


Rows = dict[str, list[dict[str, Any]]]


def _every_seed(found: dict[str, Health], _per_seed: Rows) -> tuple[bool, str]:
    return all(h.ok for h in found.values()), ""


def _most_seeds(found: dict[str, Health], _per_seed: Rows) -> tuple[bool, str]:
    ok = sum(h.ok for h in found.values())
    return 2 * ok > len(found), f"{ok} of {len(found)} seeds; "


def _few_spikes(_found: dict[str, Health], per_seed: Rows) -> tuple[bool, str]:
    counts = [kl_spikes(rows)[:2] for rows in per_seed.values()]
    spikes, updates = sum(s for s, _ in counts), sum(n for _, n in counts)
    share = f"{spikes} spike(s) in {updates} updates ({spikes / updates:.1%}); "
    return spikes <= KL_SPIKE_SHARE * updates, share


def _health_criterion(
    name: str,
    check_index: int,
    passes: Callable[[dict[str, Health], Rows], tuple[bool, str]],
) -> Criterion:
    def judge(record: RunRecord) -> Verdict:
        per_seed = seed_rows(record.run_dir)
        if not per_seed:
            return not_measured("no seed folder with metrics")
        key = HEALTH_KEYS[check_index]
        missing = [
            seed
            for seed, rows in per_seed.items()
            if not any(isinstance(r.get(key), int | float) and math.isfinite(r[key]) for r in rows)
        ]
        if missing:
            return not_measured(f"{', '.join(missing)} logged no finite {key}")
        found = {seed: CHECKS[check_index](rows) for seed, rows in per_seed.items()}
        ok, overall = passes(found, per_seed)
        return Verdict(
            ok, overall + "; ".join(f"{seed}: {h.measured}" for seed, h in found.items())
        )

    return Criterion(name, judge)


_LOW, _HIGH = CLIPFRAC_RANGE
HEALTH_CRITERIA = (  # the indices follow diagnostics.CHECKS
    _health_criterion(
        f"median clip fraction in {_LOW:.0%}–{_HIGH:.0%}, in every seed", 0, _every_seed
    ),
    # a seed or two of CartPole ends with a noisy critic or one jumpy update by chance (see
    # EV_FLOOR and KL_SPIKE_SHARE): these two judge the seeds together, so chance cannot
    # fail them and a real bug, which shows in most seeds, does
    _health_criterion(
        f"explained variance > {EV_FLOOR:g} (mean over the second half of training), "
        "in more than half the seeds",
        1,
        _most_seeds,
    ),
    _health_criterion(
        f"approximate KL spikes (above max({KL_SPIKE_FLOOR:g}, {KL_SPIKE_FACTOR:g} × the "
        f"seed's median)) in at most {KL_SPIKE_SHARE:.0%} of all seeds' updates",
        2,
        _few_spikes,
    ),
)


def ppo_figures(target: bool) -> Callable[[RunRecord], list[Path]]:
    def draw(record: RunRecord) -> list[Path]:
        baseline = record.summary.get("random_return_mean")
        goal = record.config["target_return"] if target else None
        return [return_figure(record, goal, baseline), diagnostics_figure(record)]

    return draw


def _fmt(x: float | int | None, spec: str = ".1f") -> str:
    return "—" if x is None else format(x, spec)


def ppo_sections(record: RunRecord) -> list[tuple[str, str]]:
    s = record.summary
    rows = [
        (
            x["seed"],
            _fmt(x["final_eval_return"]),
            _fmt(x["best_eval_return"]),
            _fmt(x["recent_return_mean"]),
            _fmt(x["steps_to_target"], ","),
            _fmt(x["time_to_target_s"]),
            _fmt(x["train_time_s"]),
            _fmt(x["sps"], ",.0f"),
        )
        for x in s["seeds"]
    ]
    header = [
        "seed",
        "final eval return",
        "best eval return",
        "last 100 training episodes",
        "steps to target",
        "time to target (s)",
        "training time (s)",
        "steps/s",
    ]
    text = (
        f"{s['env']}, {s['parameters']:,} parameters, on {s['device']}. Evaluation: "
        f"{record.config['eval_episodes']} episodes per evaluation; time excludes evaluation.\n\n"
        + markdown_table(header, rows)
    )
    if "random_return_mean" in s:
        text += (
            f"\n\nRandom policy, measured in this run: {s['random_return_mean']:.2f} ± "
            f"{s['random_return_std']:.2f} over {s['random_episodes']} episodes."
        )
    health = run_health(record)
    table = markdown_table(
        ["seed", "diagnostic", "healthy", "measured", "status", "what to turn"],
        [
            (seed, h.name, h.healthy, h.measured, "ok" if h.ok else "**out of range**", h.advice)
            for seed, checks in health.items()
            for h in checks
        ],
    )
    sections = [("Seeds", text), ("Diagnostics", table)]
    gif = record.run_dir / f"seed_{record.config['seed']}" / "eval.gif"
    if gif.exists():
        rel = gif.relative_to(record.run_dir).as_posix()
        sections.append(("Evaluation episodes", f"![evaluation episodes]({rel})"))
    return sections


NEXT_STEPS = (
    "Read the diagnostics figure before the returns: the clip fraction between 1% and 20%, "
    "explained variance rising above 0 and a smooth approximate KL say the update itself is "
    "healthy. Then break it on purpose to learn the symptoms: `--set learning_rate=0.02` "
    "(KL spikes, clip fraction up), `--set norm_adv=false`, `--set gae_lambda=0.0`. "
    "`dlc eval RUN_DIR` replays the final evaluation from the saved agents."
)


PPO_CARTPOLE_CRITERIA = (
    Criterion(
        "≥ {min_seeds_solved} of {num_seeds} seeds reach a mean evaluation return ≥ "
        "{target_return:g} within {target_time_s:g} s of training",
        _solved,
    ),
    *HEALTH_CRITERIA,
)


PPO_PROCGEN_CRITERIA = (
    Criterion(
        "training returns above a random policy's by ≥ {min_sigmas_over_random:g} standard errors",
        _beats_random,
    ),
    *HEALTH_CRITERIA,
)
