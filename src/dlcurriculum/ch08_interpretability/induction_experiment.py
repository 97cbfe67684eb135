"""`dlc run induction-heads`: train a 2-layer attention-only transformer (chapter 1 code) on
Shakespeare, find its induction and previous-token heads, and ablate them."""

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import LMTrainConfig
from dlcurriculum.ch01_transformers.lm_training import train_lm
from dlcurriculum.ch01_transformers.model import Transformer, config_of
from dlcurriculum.ch01_transformers.shakespeare import evaluate_loss, load_corpus, prepare_data
from dlcurriculum.ch08_interpretability.induction import (
    attention_patterns,
    half_losses,
    icl_score,
    per_position_loss,
    previous_token_score,
    repeated_random_tokens,
    top_heads,
)
from dlcurriculum.core import runs
from dlcurriculum.core.config import check, one_of, require
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything

SLUG = "ch08_interpretability"
ANALYSIS_FILE = "analysis.pt"
N_REGIONS = 20  # prepare_data's default: the corpus is cut into this many regions


@dataclass(frozen=True)
class InductionConfig(LMTrainConfig):
    """Train a 2-layer attention-only model on Shakespeare and look for induction heads."""

    level: Literal["char", "word"] = "char"
    """Tokens are characters (84, or 63 at min_count 500: the copying circuit forms within a
    CPU budget) or chapter 1's words (a vocabulary of thousands needs far more training to
    leave the plateau)."""
    seq_len: int = 512
    """Tokens per training sequence (= n_ctx). The ICL score is the loss at token 500 minus
    the loss at token 50; a shorter context reads its last token instead of token 500."""
    min_count: int = 1
    """Pieces seen fewer times become <unk>."""
    max_vocab: int = 0
    """Vocabulary cap (0 = none; word level: a cap keeps the unembedding cheap on a CPU)."""
    max_chars: int = 0
    """Use only the first this many characters of the corpus (0 = all; for smoke tests)."""
    repeat_prob: float = 0.25
    """Share of training sequences made of one Shakespeare stretch repeated (random period):
    copying pays there, so induction heads form within a CPU budget (0 = plain text)."""
    half_len: int = 50
    """Length T of the random sequence repeated twice when measuring induction."""
    n_probe: int = 32
    """Repeated random sequences used for scores and ablation."""
    eval_seqs: int = 512
    """Validation sequences for the loss and the ICL score (one position's loss is noisy:
    over 32 sequences the ICL score wanders by about 0.5 nats)."""
    induction_threshold: float = 0.5
    """A head scoring at least this is called an induction head (and is ablated)."""
    min_ablation_rise: float = 1.0
    """Success bar: ablating the induction heads raises the repeated-half loss this much (nats)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        one_of(self, "level", ("char", "word"))
        # the ICL score reads the loss at token 50 (icl_score), so sequences must reach it
        check(self, "seq_len", ge=51)
        check(self, "min_count", "n_probe", "eval_seqs", ge=1)
        check(self, "max_vocab", "max_chars", ge=0)  # 0 = no cap / all
        check(self, "half_len", ge=2)  # each half then has a token to predict
        check(self, "repeat_prob", "induction_threshold", ge=0, le=1)
        check(self, "min_ablation_rise", ge=0)
        require(
            2 * self.half_len <= self.seq_len,
            f"the probe of 2 * half_len = {2 * self.half_len} tokens must fit in seq_len "
            f"({self.seq_len}): lower half_len or raise seq_len",
        )
        require(
            self.max_vocab != 1,
            "max_vocab must be 0 (no cap) or at least 2 (<unk> and one piece), got 1",
        )
        need = 2 * N_REGIONS * self.seq_len  # prepare_data's least corpus
        require(
            self.max_chars == 0 or self.max_chars >= need,
            f"max_chars ({self.max_chars}) must be 0 (all) or at least {need} characters: "
            f"the corpus is cut into {N_REGIONS} regions of two seq_len ({self.seq_len}) "
            "sequences or more; raise max_chars or lower seq_len",
        )


INDUCTION_PRESETS = {
    "smoke": InductionConfig(
        max_chars=200_000,
        seq_len=64,
        min_count=1,
        d_model=32,
        n_heads=2,
        attn_only=True,
        pos_embed="sinusoidal",
        steps=40,
        batch_size=8,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        eval_every=20,
        half_len=10,
        n_probe=8,
        eval_seqs=4,
    ),
    # Measured on one CPU core: the previous-token head appears near step 1000, the induction
    # head near 1500, and its best score ends at 0.62 (seeds 0 and 1). Sinusoidal
    # positions and a 0.1 init shorten the plateau before the previous-token head (learned
    # positions at GPT-2's 0.02 init had only a weak previous-token head, 0.15, at step 3000).
    "quick": InductionConfig(
        seq_len=256,
        min_count=500,  # 20 rare symbols (digits, brackets) -> <unk>: see the chapter page
        repeat_prob=0.8,
        d_model=128,
        n_heads=4,
        attn_only=True,
        pos_embed="sinusoidal",
        init_range=0.1,
        fast_path=True,
        steps=4000,
        batch_size=8,
        lr=2e-3,
        min_lr=2e-4,
        warmup_steps=50,
        weight_decay=0.05,
        eval_every=250,
    ),
    "full": InductionConfig(
        seq_len=512,
        min_count=500,
        repeat_prob=0.5,
        d_model=256,
        n_heads=8,
        attn_only=True,
        pos_embed="sinusoidal",
        init_range=0.1,
        fast_path=True,
        steps=8000,
        batch_size=32,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=200,
        weight_decay=0.05,
        eval_every=500,
        n_probe=128,
    ),
}


def with_repeats(
    batch: Tensor, prob: float, g: torch.Generator, min_period: int = 8, max_period: int = 64
) -> Tensor:
    """Turn a random `prob` share of the sequences into one stretch of text repeated.

    Each chosen sequence gets its own period p, uniform in [min_period, max_period], and
    becomes its first p tokens repeated to the full length, so most of its tokens can be
    predicted by copying. A random period matters: with a fixed one, a layer-0 head could
    copy by position alone (attend p - 1 back), without the induction circuit.
    """
    n, seq_len = batch.shape
    out = batch.clone()
    chosen = (torch.rand(n, generator=g) < prob).nonzero()[:, 0].tolist()
    periods = torch.randint(min_period, max_period + 1, (n,), generator=g).tolist()
    for i in chosen:
        p = periods[i]
        out[i] = batch[i, :p].repeat(-(-seq_len // p))[:seq_len]
    return out


def scores(model: nn.Module, ns: Any, probe: Tensor, half_len: int) -> tuple[Tensor, Tensor]:
    """(induction, previous-token) scores, each [n_layers, n_heads]."""
    patterns = attention_patterns(model, probe)
    induction = torch.stack([ns.induction_score(p, half_len) for p in patterns])
    previous = torch.stack([previous_token_score(p) for p in patterns])
    return induction, previous


def run_induction(cfg: InductionConfig, run_dir: Path) -> Result:
    """Train, then score every head, measure ICL, and ablate the detected heads."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = resolve(SLUG, cfg.impl)
    data = prepare_data(
        load_corpus(cfg.max_chars),
        cfg.seq_len,
        cfg.min_count,
        cfg.max_vocab or None,
        level=cfg.level,
    )
    d_vocab = len(data.tokenizer)
    model = Transformer(cfg.model_config(d_vocab, cfg.seq_len)).to(device)
    train = data.train.to(device)
    val = data.val[:: max(1, len(data.val) // cfg.eval_seqs)][: cfg.eval_seqs].to(device)
    probe = repeated_random_tokens(
        cfg.n_probe, cfg.half_len, d_vocab, torch.Generator().manual_seed(cfg.seed + 1), low=1
    ).to(device)
    # Patterns need the explicit attention path; the fused one (fast_path) only trains faster.
    readable = Transformer(dataclasses.replace(config_of(model), fast_path=False)).to(device)
    steps_per_epoch = max(1, len(train) // cfg.batch_size)

    def batch_at(step: int) -> Tensor:
        epoch, i = divmod(step, steps_per_epoch)
        order = torch.randperm(
            len(train), generator=torch.Generator().manual_seed(cfg.seed * 9973 + epoch)
        )
        batch = train[order[i * cfg.batch_size : (i + 1) * cfg.batch_size].to(device)]
        return with_repeats(batch, cfg.repeat_prob, torch.Generator().manual_seed(cfg.seed + step))

    def evaluate() -> dict[str, float]:
        readable.load_state_dict(model.state_dict())
        readable.eval()
        induction, previous = scores(readable, ns, probe, cfg.half_len)
        with torch.no_grad():
            first, second = half_losses(per_position_loss(readable(probe), probe), cfg.half_len)
        return {
            "eval/loss": evaluate_loss(model, val, 16),
            "induction/best_score": float(induction.max()),
            "induction/best_prev_token_score": float(previous.max()),
            "repeat/first_half_loss": first,
            "repeat/second_half_loss": second,
        }

    fit = train_lm(cfg, model, batch_at, evaluate, run_dir, "induction", "induction/best_score")
    readable.load_state_dict(model.state_dict())
    readable.eval()
    found, analysis = analyse(readable, ns, cfg, probe, val)
    summary = fit | found
    with runs.atomic_open(run_dir / ANALYSIS_FILE, "wb") as f:
        torch.save(analysis, f)
    with runs.atomic_open(run_dir / "model.pt", "wb") as f:
        torch.save(
            {"config": dataclasses.asdict(config_of(readable)), "model": readable.state_dict()}, f
        )
    summary |= {"wall_time_s": clock.elapsed, "device": str(device), "d_vocab": d_vocab}
    return finish(run_dir, summary, run_dir / "model.pt")


def analyse(
    model: nn.Module, ns: Any, cfg: InductionConfig, probe: Tensor, val: Tensor
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Scores, ICL, and ablations of the trained model; tensors go to analysis.pt for figures."""
    induction, previous = scores(model, ns, probe, cfg.half_len)
    with torch.no_grad():
        probe_loss = per_position_loss(model(probe), probe)
        # In chunks: the explicit attention path holds [batch, heads, pos, pos] patterns.
        chunks = val.split(64)
        val_loss = torch.stack([per_position_loss(model(c), c) * len(c) for c in chunks]).sum(
            0
        ) / len(val)
    first, second = half_losses(probe_loss, cfg.half_len)
    detected = [
        (layer, head)
        for layer, head, s in top_heads(induction, induction.numel())
        if s >= cfg.induction_threshold
    ]
    ablated_heads = detected or [top_heads(induction, 1)[0][:2]]
    prev_layer0 = [(0, int(previous[0].argmax()))]
    taken = set(ablated_heads) | set(prev_layer0)  # the control shares no head with them
    all_heads = [(la, h) for la in range(induction.shape[0]) for h in range(induction.shape[1])]
    control = [h for h in all_heads if h not in taken]
    control = sorted(control, key=lambda h: float(induction[h]))[: len(ablated_heads)]
    ablations: dict[str, dict[str, Any]] = {}
    for name, heads in (
        ("induction", ablated_heads),
        ("prev_token", prev_layer0),
        ("control", control),
    ):
        with torch.no_grad():
            loss = per_position_loss(ns.ablate_heads(model, probe, heads), probe)
        ablations[name] = {
            "heads": [list(h) for h in heads],
            "second_half_loss": half_losses(loss, cfg.half_len)[1],
            "per_position": loss,
        }
    patterns = attention_patterns(model, probe[:1])
    analysis = {
        "induction": induction,
        "previous": previous,
        "probe_loss": probe_loss,
        "val_loss": val_loss,
        "patterns": [p[0] for p in patterns],
        "ablations": {k: v["per_position"] for k, v in ablations.items()},
    }
    summary = {
        "induction_scores": induction.tolist(),
        "prev_token_scores": previous.tolist(),
        "best_induction_score": float(induction.max()),
        "best_induction_head": list(top_heads(induction, 1)[0][:2]),
        "detected_induction_heads": [list(h) for h in detected],
        "icl_score": icl_score(val_loss),
        "icl_positions": [min(500, len(val_loss)), 50],
        "repeat_first_half_loss": first,
        "repeat_second_half_loss": second,
        **{f"ablate_{k}_heads": v["heads"] for k, v in ablations.items()},
        **{f"ablate_{k}_second_half_loss": v["second_half_loss"] for k, v in ablations.items()},
        "ablation_loss_rise": ablations["induction"]["second_half_loss"] - second,
        "val_loss": float(evaluate_loss(model, val, 16)),
    }
    return summary, analysis
