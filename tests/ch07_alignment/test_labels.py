"""The label store: resume, undo, skip, pooling by JSONL, corpus snippets, bad input."""

import json
import sqlite3
from pathlib import Path

import pytest

from dlcurriculum.ch07_alignment.label_pooling import export_labels, import_labels
from dlcurriculum.ch07_alignment.labels import (
    LABELS,
    LabelStore,
    Sample,
    corpus_snippets,
    mix_corpus,
)
from dlcurriculum.core.errors import DlcError

MODEL = "model:runs/shakespeare/x#final"


def _store(path: Path, n_model: int = 6, n_corpus: int = 4) -> LabelStore:
    store = LabelStore(path)
    store.add_samples([f"model text {i}" for i in range(n_model)], MODEL, {"temperature": 0.8})
    store.add_samples([f"corpus text {i}" for i in range(n_corpus)], "corpus")
    return store


def _label_all(store: LabelStore, labeler: str, labels: list[str]) -> list[Sample]:
    done = []
    for label in labels:
        sample = store.next_unlabeled(labeler)
        assert sample is not None
        store.record(sample.id, label, labeler)
        done.append(sample)
    return done


def test_samples_keep_source_and_meta_and_duplicates_are_stored_once(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "l.db")
    ids = store.add_samples(["a", "b"], MODEL, {"temperature": 0.8, "ckpt": "final"})
    again = store.add_samples(["b", "c"], MODEL)
    assert again[0] == ids[1] and len(set(ids + again)) == 3
    assert store.samples(MODEL)[0] == Sample(
        ids[0], "a", MODEL, {"ckpt": "final", "temperature": 0.8}
    )
    assert store.sources() == {MODEL: 3}
    with sqlite3.connect(tmp_path / "l.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_order_is_a_fixed_shuffle_that_interleaves_sources(tmp_path: Path) -> None:
    a = _store(tmp_path / "a.db", n_model=12, n_corpus=12)
    # Same samples, added in the other order: the queue must be the same.
    b = LabelStore(tmp_path / "b.db")
    b.add_samples([f"corpus text {i}" for i in range(12)][::-1], "corpus")
    b.add_samples([f"model text {i}" for i in range(12)], MODEL, {"temperature": 0.8})
    order_a = [s.text for s in _label_all(a, "x", ["skip"] * 24)]
    order_b = [s.text for s in _label_all(b, "x", ["skip"] * 24)]
    assert order_a == order_b
    assert order_a != sorted(order_a)
    first_half_sources = {t.split()[0] for t in order_a[:12]}
    assert first_half_sources == {"model", "corpus"}


def test_resume_after_reopening(tmp_path: Path) -> None:
    store = _store(tmp_path / "l.db")
    done = _label_all(store, "alice", ["positive", "negative", "skip"])
    reopened = LabelStore(tmp_path / "l.db")
    nxt = reopened.next_unlabeled("alice")
    assert nxt is not None and nxt.id not in {s.id for s in done}
    assert reopened.progress("alice") == (3, 10)
    # Another labeler starts from the beginning of the same order.
    assert reopened.next_unlabeled("bob") == done[0]
    assert reopened.progress("bob") == (0, 10)


def test_undo_brings_back_the_last_sample_per_labeler(tmp_path: Path) -> None:
    store = _store(tmp_path / "l.db")
    assert store.undo("alice") is None
    done = _label_all(store, "alice", ["positive", "neutral"])
    _label_all(store, "bob", ["negative"])
    assert store.undo("alice") == done[1].id
    assert store.next_unlabeled("alice") == done[1]
    assert store.progress("alice") == (1, 10) and store.progress("bob") == (1, 10)
    assert store.undo("alice") == done[0].id
    assert store.undo("alice") is None
    assert [lab for _, lab in store.labeled("bob")] == ["negative"]


def test_skips_count_as_progress_but_are_not_labels(tmp_path: Path) -> None:
    store = _store(tmp_path / "l.db")
    done = _label_all(store, "alice", ["skip", "positive", "skip"])
    assert store.progress("alice") == (3, 10)
    assert store.labeled("alice") == [(done[1], "positive")]
    assert store.label_of(done[0].id, "alice") == "skip"


def test_labeled_keeps_the_latest_label(tmp_path: Path) -> None:
    store = _store(tmp_path / "l.db")
    sid = store.samples()[0].id
    store.record(sid, "positive", "alice")
    store.record(sid, "negative", "alice")
    store.record(sid, "skip", "alice")
    store.record(sid, "neutral", "bob")
    assert [(s.id, lab) for s, lab in store.labeled("alice")] == [(sid, "negative")]
    assert sorted(lab for _, lab in store.labeled()) == ["negative", "neutral"]
    assert store.label_counts()[("alice", MODEL, "skip")] == 1


@pytest.mark.parametrize("label", ["happy", "POSITIVE", "", "skipped"])
def test_bad_label_is_refused_and_nothing_is_written(tmp_path: Path, label: str) -> None:
    store = _store(tmp_path / "l.db")
    ids = [s.id for s in store.samples()]
    with pytest.raises(DlcError, match="positive, neutral, negative"):
        store.record(ids[0], label, "alice")
    with pytest.raises(DlcError, match="Unknown label"):
        store.record_many([(ids[0], "positive"), (ids[1], label)], "alice")
    assert store.progress("alice") == (0, 10)


def test_unknown_sample_and_empty_labeler_are_refused(tmp_path: Path) -> None:
    store = _store(tmp_path / "l.db")
    sid = store.samples()[0].id
    with pytest.raises(DlcError, match="add the sample first"):
        store.record_many([(sid, "positive"), (10_000, "positive")], "alice")
    with pytest.raises(DlcError, match="labeler"):
        store.record(sid, "positive", "  ")
    assert store.labelers() == {}


def test_record_many_is_one_batch(tmp_path: Path) -> None:
    store = _store(tmp_path / "l.db")
    items = [(s.id, LABELS[i % 3]) for i, s in enumerate(store.samples())]
    store.record_many(items, "vader")
    assert sorted((s.id, lab) for s, lab in store.labeled("vader")) == sorted(items)
    assert store.next_unlabeled("vader") is None


def _comparable(store: LabelStore) -> list[tuple]:
    return sorted(
        (s.text, s.source, json.dumps(s.meta, sort_keys=True), lab) for s, lab in store.labeled()
    )


def test_export_import_round_trip_is_idempotent_and_pools_people(tmp_path: Path) -> None:
    alice, bob = _store(tmp_path / "alice.db"), _store(tmp_path / "bob.db")
    _label_all(alice, "alice", ["positive", "negative", "skip", "neutral"])
    _label_all(bob, "bob", ["negative", "negative"])
    # Bob's copy also has a sample Alice never had.
    extra = bob.add_samples(["only bob has this"], "corpus")[0]
    bob.record(extra, "positive", "bob")
    assert export_labels(alice, tmp_path / "alice.jsonl") == 4
    assert export_labels(bob, tmp_path / "bob.jsonl") == 3

    pooled = LabelStore(tmp_path / "pooled.db")
    assert import_labels(pooled, tmp_path / "alice.jsonl") == 4
    assert import_labels(pooled, tmp_path / "bob.jsonl") == 3
    assert import_labels(pooled, tmp_path / "alice.jsonl") == 0  # idempotent
    assert import_labels(pooled, tmp_path / "bob.jsonl") == 0
    assert _comparable(pooled) == sorted(_comparable(alice) + _comparable(bob))
    assert pooled.labelers() == {"alice": 4, "bob": 3}
    assert pooled.progress("alice") == (4, 5)  # only labeled samples travel
    # Importing one's own export back changes nothing either.
    assert import_labels(alice, tmp_path / "alice.jsonl") == 0
    # And a second export of the pooled store re-imports into Alice without duplicates.
    export_labels(pooled, tmp_path / "pooled.jsonl")
    assert import_labels(alice, tmp_path / "pooled.jsonl") == 3


def test_import_of_a_bad_file_imports_nothing(tmp_path: Path) -> None:
    alice = _store(tmp_path / "alice.db")
    _label_all(alice, "alice", ["positive", "negative"])
    export_labels(alice, tmp_path / "a.jsonl")
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    bad = json.loads(lines[1]) | {"label": "ecstatic"}
    (tmp_path / "bad.jsonl").write_text(lines[0] + "\n" + json.dumps(bad) + "\n")
    (tmp_path / "junk.jsonl").write_text("{not json\n")
    other = LabelStore(tmp_path / "other.db")
    with pytest.raises(DlcError, match=r"bad\.jsonl:2"):
        import_labels(other, tmp_path / "bad.jsonl")
    with pytest.raises(DlcError, match=r"junk\.jsonl:1 is not JSON"):
        import_labels(other, tmp_path / "junk.jsonl")
    with pytest.raises(DlcError, match="No label file"):
        import_labels(other, tmp_path / "missing.jsonl")
    assert other.labelers() == {} and other.samples() == []


def test_not_a_store_and_newer_schema_are_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DlcError, match="not a label store"):
        LabelStore(tmp_path / "junk.db")
    LabelStore(tmp_path / "l.db")
    with sqlite3.connect(tmp_path / "l.db") as con:
        con.execute("UPDATE info SET value='99' WHERE key='schema_version'")
    with pytest.raises(DlcError, match="schema 99"):
        LabelStore(tmp_path / "l.db")


CORPUS = "\n".join(
    f"LINE {i}: " + "word " * (i % 7) + ("\n" if i % 5 == 4 else "") for i in range(200)
)


def test_corpus_snippets_are_seeded_short_runs_of_whole_lines() -> None:
    snippets = corpus_snippets(CORPUS, 12, seed=1, max_chars=80)
    assert snippets == corpus_snippets(CORPUS, 12, seed=1, max_chars=80)
    assert snippets != corpus_snippets(CORPUS, 12, seed=2, max_chars=80)
    assert len(set(snippets)) == 12
    lines = {ln.strip() for ln in CORPUS.splitlines()}
    for snippet in snippets:
        assert 0 < len(snippet) <= 80
        assert set(snippet.split("\n")) <= lines
    with pytest.raises(DlcError, match="empty"):
        corpus_snippets("\n\n", 3)


def test_mix_corpus_adds_snippets_once(tmp_path: Path) -> None:
    store = _store(tmp_path / "l.db")
    ids = mix_corpus(store, 5, text=CORPUS, seed=0)
    assert mix_corpus(store, 5, text=CORPUS, seed=0) == ids
    assert store.sources()["corpus"] == 4 + 5
    assert mix_corpus(store, 0) == []
