"""The sentence-encoder reward model and the reward-model stage's choice of labels."""

import json
from functools import cache
from pathlib import Path

import pytest
import torch
from torch import Tensor

from dlcurriculum.ch01_transformers.shakespeare import load_shakespeare_model
from dlcurriculum.ch07_alignment.config import PRESETS, RLHFConfig
from dlcurriculum.ch07_alignment.impl import load_impl
from dlcurriculum.ch07_alignment.labeler import VaderLabeler, load_labels
from dlcurriculum.ch07_alignment.labels import LabelStore
from dlcurriculum.ch07_alignment.reward_model import RMTrainSettings, accuracy
from dlcurriculum.ch07_alignment.reward_stage import (
    clear_snippets,
    stage_reward_model,
    training_labels,
)
from dlcurriculum.ch07_alignment.sentence_rm import (
    fit_sentence_reward_model,
    load_encoder,
    minilm_encoder,
)
from dlcurriculum.ch07_alignment.tasks import sentence_happy_sad
from dlcurriculum.core.errors import DlcError
from tests.ch07_alignment.helpers import tiny_policy

pytest.importorskip("sentence_transformers")

GOOD = "love joy delight sweet kindness a merry feast the happiest day glad hearts".split()
BAD = "grief woe murder a bitter curse the cruellest night hateful wretched misery".split()
THINGS = "the king my lord this night the garden her letter our house his sword".split()
SETTINGS = RMTrainSettings(epochs=30, batch_size=16, lr=3e-3)


@cache
def encode():  # type: ignore[no-untyped-def]
    return minilm_encoder(load_encoder())


def _sentences(words: list[str], seed: int, n: int) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(words), (n, 2), generator=g).tolist()
    thing = torch.randint(len(THINGS), (n,), generator=g).tolist()
    return [
        f"{THINGS[t]} brings {words[a]} and {words[b]}"
        for (a, b), t in zip(picks, thing, strict=True)
    ]


def _data(seed: int, n: int) -> list[tuple[str, str]]:
    pos, neg = _sentences(GOOD, seed, n), _sentences(BAD, seed + 1, n)
    return [(t, "positive") for t in pos] + [(t, "negative") for t in neg]


def _fit(loss_fn=None) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    train, test = _data(0, 40), _data(100, 40)
    kwargs = {"loss_fn": loss_fn} if loss_fn else {}
    srm, losses = fit_sentence_reward_model(
        encode(), train, SETTINGS, torch.Generator().manual_seed(0), **kwargs
    )
    p = srm.positive_logprob([t for t, _ in test]).exp()
    return accuracy(p, [lab for _, lab in test]), losses


def test_head_on_the_sentence_encoder_learns_sentiment_from_few_labels() -> None:
    acc, losses = _fit()
    assert acc >= 0.95  # unseen sentences: the encoder, not the 80 labels, knows the words
    assert losses[0] == pytest.approx(0.6931, abs=1e-3)  # a zero head: P = 1/2 for all
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0]


def test_the_learners_loss_trains_the_head_and_a_swapped_one_inverts_it() -> None:
    ex = load_impl()

    def swapped(logits: Tensor, mask: Tensor, p: Tensor, happy: int, sad: int) -> Tensor:
        return ex.reward_model_loss(logits, mask, p, sad, happy)

    assert _fit(ex.reward_model_loss)[0] >= 0.95
    assert _fit(swapped)[0] <= 0.05


def test_sentence_reward_reads_the_text_after_the_start_piece(tmp_path: Path) -> None:
    _, tok = load_shakespeare_model(tiny_policy(tmp_path))
    srm, _ = fit_sentence_reward_model(encode(), _data(0, 20), SETTINGS, torch.Generator())
    happy_sad = sentence_happy_sad(srm, tok)
    texts = ["my love, my joy", "woe and bloody death"]
    rows = torch.tensor([[tok.index[".\n"], *tok.encode(t)] for t in texts[:1]])
    assert happy_sad.row_logprob(rows).item() == pytest.approx(
        srm.positive_logprob([tok.decode(rows[0, 1:].tolist())]).item()
    )
    p = happy_sad.p_positive(texts)
    assert p[0] > 0.5 > p[1]


def test_training_labels_mix_clear_snippets_by_the_share() -> None:
    cfg = RLHFConfig(corpus_share=0.7, clear_threshold=0.5)
    snippets = clear_snippets(cfg, 35)
    scores = VaderLabeler(cfg.neutral_threshold).scores([t for t, _ in snippets])
    assert len(snippets) == 35 and all(abs(s) >= 0.5 for s in scores)
    assert {lab for _, lab in snippets} <= {"positive", "negative"}
    samples = [(f"sample {i}", "neutral") for i in range(100)]
    assert training_labels(samples, snippets, 50, 0.7) == snippets[:35] + samples[:15]
    assert training_labels(samples, snippets, 50, 0.0) == samples[:50]


def test_a_label_database_keeps_its_snippets_out_of_the_test(tmp_path: Path) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    store = LabelStore(tmp_path / "labels.sqlite")
    data = _data(0, 15) + _data(50, 5)  # 30 samples, then 10 corpus snippets
    ids = store.add_samples([t for t, _ in data[:30]], "model:tiny")
    ids += store.add_samples([t for t, _ in data[30:]], "corpus")
    store.record_many([(i, lab) for i, (_, lab) in zip(ids, data, strict=True)], "me")
    pairs = load_labels(tmp_path / "labels.sqlite")
    cfg = RLHFConfig(labels=str(tmp_path / "labels.sqlite"), rm_base="minilm", heldout_fraction=0.5)
    stage_reward_model(cfg, tmp_path, policy, tok, pairs, load_impl())
    info = json.loads((tmp_path / "reward_model.json").read_text())
    # the test holds half of the 30 samples and no snippet; the 10 snippets all train
    assert (info["n_test"], info["n_train"], info["n_train_corpus"]) == (15, 25, 10)


def test_too_many_rm_labels_for_the_split_is_one_line(tmp_path: Path) -> None:
    policy, tok = load_shakespeare_model(tiny_policy(tmp_path))
    cfg = RLHFConfig(rm_labels=100, heldout_fraction=0.5, label_curve=())
    pairs = [(f"text {i}", "positive") for i in range(40)]
    with pytest.raises(DlcError, match="raise n_label_samples or lower rm_labels"):
        stage_reward_model(cfg, tmp_path, policy, tok, pairs, load_impl())


def test_quick_preset_trains_on_a_few_hundred_labels() -> None:
    quick = PRESETS["rlhf"]["quick"]
    assert quick.rm_labels <= 500 and quick.rm_base == "minilm"
    assert 500 in quick.label_curve and quick.min_rm_accuracy >= 0.7


def test_the_bf16_encoder_gives_the_float32_embeddings_within_rounding() -> None:
    texts = _sentences(GOOD, 0, 8) + _sentences(BAD, 1, 8)
    full = encode()(texts)
    half = minilm_encoder(load_encoder(), torch.bfloat16)(texts)
    assert half.dtype == torch.float32 and half.shape == full.shape
    gap = (half - full).abs().max().item()
    assert 0 < gap < 1e-2  # bf16 did run (not bit-equal), and stayed close
    # ... close enough that no text changes side under a sentiment direction
    direction = full[:8].mean(0) - full[8:].mean(0)
    assert torch.equal((full @ direction) > 0, (half @ direction) > 0)
