"""The stand-in labeler, the independent judge, and drawing samples from a checkpoint."""

from pathlib import Path

import pytest

from dlcurriculum.ch01_transformers.shakespeare import load_shakespeare_model
from dlcurriculum.ch01_transformers.tokenizer import split_pieces
from dlcurriculum.ch07_alignment.judge import LexiconJudge
from dlcurriculum.ch07_alignment.labeler import (
    SYNTHETIC_LABELER,
    VaderLabeler,
    label_synthetically,
    load_labels,
)
from dlcurriculum.ch07_alignment.labels import LabelStore
from dlcurriculum.ch07_alignment.samples import (
    SamplingSettings,
    corpus_prompts,
    prompt_continuations,
    sample_meta,
    start_id,
    unconditional_samples,
)
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.errors import DlcError
from tests.ch07_alignment.helpers import TEXT, tiny_policy


def test_vader_labels_clear_cases_and_keeps_a_neutral_band() -> None:
    labeler = VaderLabeler(threshold=0.3)
    texts = [
        "O my love, my joy, my sweet lady",
        "Thou villain, foul murderer, I hate thee",
        "the king is come",
    ]
    assert labeler.labels(texts) == ["positive", "negative", "neutral"]
    assert [labeler.label_of(s) for s in (0.31, 0.3, -0.3, -0.31)] == [
        "positive",
        "neutral",
        "neutral",
        "negative",
    ]
    with pytest.raises(ConfigError, match=r"threshold must be in \[0, 1\), got 1.5"):
        VaderLabeler(threshold=1.5)


def test_synthetic_labels_go_through_the_label_store(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.sqlite")
    store.add_samples(["I love thee, sweet", "death and woe"], "policy", {"seed": 0})
    label_synthetically(store, store.samples(), VaderLabeler())
    pairs = load_labels(tmp_path / "labels.sqlite", SYNTHETIC_LABELER)
    assert sorted(lab for _, lab in pairs) == ["negative", "positive"]
    with pytest.raises(DlcError, match="dlc label serve"):
        load_labels(tmp_path / "missing.sqlite")
    with pytest.raises(DlcError, match="no labels by 'alice'"):
        load_labels(tmp_path / "labels.sqlite", "alice")


def test_lexicon_judge_counts_words_and_flips_negated_ones() -> None:
    judge = LexiconJudge()
    assert judge.labels(
        [
            "O merry day, sweet love",
            "Alas, woe and grief",
            "the king",
            "I do not love thee, nor joy",
        ]
    ) == ["positive", "negative", "neutral", "negative"]
    assert judge.score("not happy") == -1 and judge.score("happy") == 1
    assert judge.rates(["joy", "woe", "joy", "king"]) == {"positive": 0.5, "negative": 0.25}


def test_samples_are_reproducible_free_of_unk_and_carry_their_settings(tmp_path: Path) -> None:
    path = tiny_policy(tmp_path)
    model, tok = load_shakespeare_model(path)
    settings = SamplingSettings(n_tokens=8, seed=3)
    a = unconditional_samples(model, tok, 5, settings)
    assert a == unconditional_samples(model, tok, 5, settings) and len(a) == 5
    assert all("<unk>" not in t for t in a)
    meta = sample_meta(model, path, settings)
    assert meta["sampling"]["n_tokens"] == 8 and len(meta["checkpoint_sha256"]) == 12
    with pytest.raises(DlcError, match="start text"):
        start_id(tok, "zzz qqq")
    assert tok.vocab[start_id(tok)] == ".\n"


def test_prompt_continuations_come_in_pairs_per_prompt(tmp_path: Path) -> None:
    model, tok = load_shakespeare_model(tiny_policy(tmp_path))
    prompts = corpus_prompts(TEXT, 3, prompt_pieces=4, seed=0)
    assert all(len(split_pieces(p)) == 4 for p in prompts)
    pairs = prompt_continuations(model, tok, prompts, 2, SamplingSettings(n_tokens=6))
    assert [p for p, _ in pairs] == [p for p in prompts for _ in range(2)]
