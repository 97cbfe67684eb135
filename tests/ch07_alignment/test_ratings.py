"""Blind rating: sources hidden until complete, resume, undo, double submits, bad input."""

from pathlib import Path

import pytest

from dlcurriculum.ch07_alignment.labels import LabelStore
from dlcurriculum.ch07_alignment.ratings import BlindRatings
from dlcurriculum.core.errors import DlcError


def _ratings(path: Path) -> BlindRatings:
    store = LabelStore(path)
    store.add_samples([f"original {i}" for i in range(8)], "model:orig")
    store.add_samples([f"tuned {i}" for i in range(8)], "model:tuned")
    return BlindRatings(store)


def test_blind_rating_hides_sources_until_complete(tmp_path: Path) -> None:
    ratings = _ratings(tmp_path / "l.db")
    session = ratings.session("model:orig", "model:tuned", "alice", n=5, seed=3)
    assert ratings.progress(session) == (0, 10)
    seen = []
    # Rate tuned samples positive and original ones negative, except one neutral original.
    while (item := ratings.next_item(session)) is not None:
        pos, sample = item
        seen.append(sample)
        with pytest.raises(DlcError, match="not complete"):
            ratings.reveal(session)
        if sample.source == "model:tuned":
            rating = "positive"
        else:
            rating = "neutral" if sample.text == seen[0].text else "negative"
        ratings.rate(session, pos, rating)
    assert sorted(s.source for s in seen).count("model:orig") == 5
    assert [s.source for s in seen] != sorted(s.source for s in seen)  # shuffled
    means = ratings.reveal(session)
    n_neutral = 1 if seen[0].source == "model:orig" else 0
    assert means == {"model:orig": (-5 + n_neutral) / 5, "model:tuned": 1.0}


def test_rating_session_resumes_undoes_and_ignores_double_rating(tmp_path: Path) -> None:
    ratings = _ratings(tmp_path / "l.db")
    s1 = ratings.session("model:orig", "model:tuned", "alice", n=4)
    first = ratings.next_item(s1)
    assert first is not None
    ratings.rate(s1, first[0], "positive")
    ratings.rate(s1, first[0], "negative")  # a resubmitted page: the first rating stays
    assert ratings.session("model:orig", "model:tuned", "alice", n=4) == s1
    assert ratings.progress(s1) == (1, 8)
    assert ratings.undo(s1) == first[0]
    assert ratings.next_item(s1) == first
    while (item := ratings.next_item(s1)) is not None:
        ratings.rate(s1, item[0], "neutral")
    assert ratings.reveal(s1) == {"model:orig": 0.0, "model:tuned": 0.0}
    # The same settings reopen the finished session (to see its reveal); another seed draws anew.
    assert ratings.session("model:orig", "model:tuned", "alice", n=4) == s1
    s2 = ratings.session("model:orig", "model:tuned", "alice", n=4, seed=1)
    assert s2 != s1 and ratings.progress(s2) == (0, 8)
    with pytest.raises(DlcError, match="no item"):
        ratings.rate(s1, 99, "positive")
    with pytest.raises(DlcError, match="Unknown label"):
        ratings.rate(s1, 0, "skip")


@pytest.mark.parametrize(
    ("a", "b", "n", "match"),
    [
        ("model:orig", "model:tuned", 9, "has 8 samples"),
        ("model:orig", "model:nope", 2, "has 0 samples"),
        ("model:orig", "model:orig", 2, "same source"),
        ("model:orig", "model:tuned", 0, "at least 1"),
    ],
)
def test_rating_session_bad_input(tmp_path: Path, a: str, b: str, n: int, match: str) -> None:
    ratings = _ratings(tmp_path / "l.db")
    with pytest.raises(DlcError, match=match):
        ratings.session(a, b, "alice", n=n)
