"""The reward-model stage of `dlc run rlhf`: which labels train it, on which base, how well.

The reward model trains on `rm_labels` labels (all of them when 0): with synthetic labels,
`corpus_share` of them are corpus snippets whose sentiment is clear (the curriculum's
suggestion; VADER's |compound| >= clear_threshold stands in for a person's "clear"), the
rest unconditional samples; a label database keeps its own share of snippets (those its
store marks "corpus"). It is tested on held-out samples only, never snippets, so the test
matches what PPO will ask it to rate. The label-count curve trains one more model per
count with the same recipe and tests it on the same held-out samples.
"""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.ch01_transformers.shakespeare import (
    load_shakespeare_model,
    save_shakespeare_model,
)
from dlcurriculum.ch07_alignment.config import RLHFConfig
from dlcurriculum.ch07_alignment.impl import Impl
from dlcurriculum.ch07_alignment.labeler import VaderLabeler
from dlcurriculum.ch07_alignment.labels import LabelStore, corpus_snippets
from dlcurriculum.ch07_alignment.reward_model import (
    RMTrainSettings,
    accuracy,
    fit_reward_model,
    label_ids,
    majority_rate,
    reliability,
)
from dlcurriculum.ch07_alignment.samples import start_id
from dlcurriculum.ch07_alignment.sentence_rm import (
    SentenceRewardModel,
    fit_sentence_reward_model,
    load_encoder,
    minilm_encoder,
)
from dlcurriculum.ch07_alignment.tasks import HappySad, sentence_happy_sad, shakespeare_happy_sad
from dlcurriculum.core import runs
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.precision import choose_dtype
from dlcurriculum.core.stats import wilson_interval
from dlcurriculum.data import load_shakespeare

Pairs = list[tuple[str, str]]


def heldout_split(cfg: RLHFConfig, pairs: Pairs, g: torch.Generator) -> tuple[Pairs, Pairs]:
    """(held out, train): the reward model's split of the labeled samples."""
    order = torch.randperm(len(pairs), generator=g).tolist()
    n_test = max(1, round(cfg.heldout_fraction * len(pairs)))
    return [pairs[i] for i in order[:n_test]], [pairs[i] for i in order[n_test:]]


def clear_snippets(cfg: RLHFConfig, n: int) -> Pairs:
    """n corpus snippets whose VADER score is clear, labeled (the same ones for a seed)."""
    if n == 0:
        return []
    labeler = VaderLabeler(cfg.neutral_threshold)
    snippets = corpus_snippets(load_shakespeare(), 8 * n, seed=cfg.seed + 8, max_chars=100)
    scores = labeler.scores(snippets)
    clear = [(t, labeler.label_of(s)) for t, s in zip(snippets, scores, strict=True)
             if abs(s) >= cfg.clear_threshold]  # fmt: skip
    if len(clear) < n:
        raise DlcError(
            f"only {len(clear)} of {len(snippets)} corpus snippets have |VADER| >= "
            f"clear_threshold ({cfg.clear_threshold}): lower clear_threshold or corpus_share"
        )
    return clear[:n]


def database_snippets(cfg: RLHFConfig, pairs: Pairs) -> tuple[Pairs, Pairs]:
    """(samples, corpus snippets) of the labels: a label database says which is which
    (`dlc label serve --mix-corpus`); synthetic labels are all samples."""
    if not cfg.labels:
        return pairs, []
    store = LabelStore(Path(cfg.labels).expanduser())
    corpus = {s.text for s, _ in store.labeled(cfg.labeler or None) if s.source == "corpus"}
    return [p for p in pairs if p[0] not in corpus], [p for p in pairs if p[0] in corpus]


def training_labels(train: Pairs, snippets: Pairs, n: int, share: float) -> Pairs:
    """The first n training labels: round(share * n) corpus snippets, the rest samples."""
    k = round(share * n)
    return snippets[:k] + train[: n - k]


def _encoder(cfg: RLHFConfig) -> Callable[[Sequence[str]], Tensor]:
    """The MiniLM sentence encoder, in the run's aux_dtype."""
    return minilm_encoder(load_encoder(), choose_dtype(cfg.aux_dtype, torch.device("cpu")))


def _fitter(
    cfg: RLHFConfig, policy: Any, tokenizer: Any, ex: Impl, test: Sequence[str]
) -> Callable[[Pairs, torch.Generator], tuple[Any, Tensor, list[float]]]:
    """labels, generator -> (a trained reward model, its P(positive) on `test`, its step losses)."""
    settings = RMTrainSettings(cfg.rm_epochs, cfg.rm_batch_size, cfg.rm_lr)
    if cfg.rm_base == "minilm":
        encode = _encoder(cfg)
        test_emb = encode(test)

        def fit_minilm(labels: Pairs, g: torch.Generator) -> tuple[Any, Tensor, list[float]]:
            srm, losses = fit_sentence_reward_model(
                encode, labels, settings, g, ex.reward_model_loss
            )
            return srm, srm(test_emb).detach().softmax(-1)[:, 0], losses

        return fit_minilm
    first = start_id(tokenizer, cfg.start_text)

    def fit_shakespeare(labels: Pairs, g: torch.Generator) -> tuple[Any, Tensor, list[float]]:
        rm, rm_tok, losses = fit_reward_model(
            policy, tokenizer, labels, first, settings, g, ex.reward_model_loss
        )
        model = shakespeare_happy_sad(rm, label_ids(rm_tok), tokenizer, first)
        return (rm, rm_tok), model.p_positive(test), losses

    return fit_shakespeare


def _as_happy_sad(cfg: RLHFConfig, fitted: Any, tokenizer: Any) -> HappySad:
    if cfg.rm_base == "minilm":
        return sentence_happy_sad(fitted, tokenizer)
    rm, rm_tok = fitted
    return shakespeare_happy_sad(
        rm, label_ids(rm_tok), tokenizer, start_id(tokenizer, cfg.start_text)
    )


def _load(cfg: RLHFConfig, run_dir: Path, policy: Any, tokenizer: Any) -> HappySad | None:
    """The reward model a previous attempt of this run saved, or None."""
    if cfg.rm_base == "minilm":
        path = run_dir / "reward_head.pt"
        if not path.exists():
            return None
        srm = SentenceRewardModel(_encoder(cfg))
        srm.load_state_dict(torch.load(path, map_location="cpu"))
        return _as_happy_sad(cfg, srm.eval(), tokenizer)
    path = run_dir / "reward_model.pt"
    if not path.exists():
        return None
    device = next(policy.parameters()).device
    return _as_happy_sad(cfg, load_shakespeare_model(path, device, fast_path=True), tokenizer)


def _save(cfg: RLHFConfig, run_dir: Path, fitted: Any) -> None:
    if cfg.rm_base == "minilm":
        with runs.atomic_open(run_dir / "reward_head.pt", "wb") as f:
            torch.save(fitted.state_dict(), f)
    else:
        save_shakespeare_model(run_dir / "reward_model.pt", *fitted)


def stage_reward_model(
    cfg: RLHFConfig, run_dir: Path, policy: Any, tokenizer: Any, pairs: Pairs, ex: Impl
) -> HappySad:
    """Train (or reload) the reward model; write its held-out accuracy, calibration and
    label-count curve to reward_model.json."""
    loaded = _load(cfg, run_dir, policy, tokenizer)
    if loaded is not None:  # saved after reward_model.json: that stage is done
        return loaded
    g = torch.Generator().manual_seed(cfg.seed)  # splits, then shuffles the batches
    samples, mine = database_snippets(cfg, pairs)
    test, train = heldout_split(cfg, samples, g)  # the test is samples, as PPO will rate
    # a database keeps its own mix of snippets; synthetic labels mix in corpus_share of them
    share = len(mine) / (len(mine) + len(train)) if cfg.labels else cfg.corpus_share
    n_rm = cfg.rm_labels or len(train) + len(mine)
    if n_rm - round(share * n_rm) > len(train):
        raise DlcError(
            f"rm_labels ({n_rm}) needs more labeled samples than the {len(train)} of the "
            "training split: raise n_label_samples or lower rm_labels"
        )
    # curve points that need more samples than the training split has are dropped
    counts = [n for n in sorted({*cfg.label_curve, n_rm}) if n - round(share * n) <= len(train)]
    snippets = mine or clear_snippets(cfg, max(round(share * n) for n in counts))
    test_labels = [lab for _, lab in test]
    n_sided = sum(lab != "neutral" for lab in test_labels)
    if n_sided == 0:
        raise DlcError(
            f"all {len(test)} held-out labels are neutral, so the reward model's accuracy "
            "cannot be measured: raise n_label_samples or heldout_fraction, or lower "
            "neutral_threshold"
        )
    fit = _fitter(cfg, policy, tokenizer, ex, [t for t, _ in test])
    rm_train = training_labels(train, snippets, n_rm, share)
    fitted, p, losses = fit(rm_train, g)
    acc = accuracy(p, test_labels)

    def curve_point(n: int) -> dict[str, Any]:
        """A reward model trained on the first n labels, tested on the same held-out."""
        if n == n_rm:
            a = acc
        else:
            g_n = torch.Generator().manual_seed(cfg.seed + 7)
            a = accuracy(fit(training_labels(train, snippets, n, share), g_n)[1], test_labels)
        return {"n": n, "accuracy": a, "ci95": list(wilson_interval(round(a * n_sided), n_sided))}

    mean_p, frac, count, ece = reliability(p, test_labels)
    runs.write_json(
        run_dir / "reward_model.json",
        {
            "base": cfg.rm_base,
            "accuracy": acc,
            "accuracy_ci95": list(wilson_interval(round(acc * n_sided), n_sided)),
            "majority": majority_rate(test_labels),
            "label_curve": [curve_point(n) for n in counts] if cfg.label_curve else [],
            "ece": ece,
            "label_counts": {  # of every labeled sample, held-out ones included
                lab: sum(1 for _, x in pairs if x == lab)
                for lab in ("positive", "neutral", "negative")
            },
            "n_train": len(rm_train),
            "n_train_corpus": round(share * n_rm),
            "n_test": len(test),
            "n_test_non_neutral": n_sided,
            "reliability": {"mean_p": mean_p, "frac_positive": frac, "count": count},
            "first_losses": losses[:5],
            "last_losses": losses[-5:],
            "labels_from": cfg.labels or "synthetic (VADER, a stand-in for human labels)",
        },
    )
    _save(cfg, run_dir, fitted)
    return _as_happy_sad(cfg, fitted, tokenizer)
