"""The label store: samples and human (or synthetic) labels in one SQLite file.

Every label is its own transaction in a WAL-mode database with `synchronous=FULL`, so a label
the app has confirmed survives the server being killed at any moment. The store opens a fresh
connection per call: SQLite connections are cheap, and this keeps the store safe to use from the
web server's worker threads without sharing a connection between them.

Labels carry a random `uid`, which makes pooling them idempotent (`label_pooling.py`): several
people label their own copies, export, and anyone imports everyone's files, as often as they
like, without duplicates.
"""

import hashlib
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcurriculum.core.errors import DlcError

LABELS = ("positive", "neutral", "negative")
SKIP = "skip"
SCHEMA_VERSION = 1
# Fixed seed of the labeling order: every labeler sees the samples in the same shuffled order,
# so model samples and corpus snippets interleave and a restart resumes at the same place.
ORDER_SEED = 0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    meta TEXT NOT NULL,
    order_key TEXT NOT NULL,
    UNIQUE (source, text)
);
CREATE INDEX IF NOT EXISTS samples_order ON samples (order_key);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    sample_id INTEGER NOT NULL REFERENCES samples (id),
    labeler TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('positive', 'neutral', 'negative', 'skip')),
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_by_labeler ON labels (labeler, sample_id);
CREATE TABLE IF NOT EXISTS rating_sessions (
    id INTEGER PRIMARY KEY,
    source_a TEXT NOT NULL,
    source_b TEXT NOT NULL,
    n INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    labeler TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rating_items (
    session_id INTEGER NOT NULL REFERENCES rating_sessions (id),
    position INTEGER NOT NULL,
    sample_id INTEGER NOT NULL REFERENCES samples (id),
    PRIMARY KEY (session_id, position)
);
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES rating_sessions (id),
    position INTEGER NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('positive', 'neutral', 'negative')),
    created REAL NOT NULL,
    UNIQUE (session_id, position),
    FOREIGN KEY (session_id, position) REFERENCES rating_items (session_id, position)
);
"""


@dataclass(frozen=True)
class Sample:
    """One text to label.

    Attributes:
        id: row id in this database (not stable across databases; `(source, text)` is).
        text: the sample itself.
        source: where it came from, e.g. `"model:<run_dir>#<ckpt>"` or `"corpus"`.
        meta: how it was made (sampling settings, prompt, ...), JSON-serialisable.
    """

    id: int
    text: str
    source: str
    meta: dict


def order_key(source: str, text: str) -> str:
    """Position of a sample in the shared labeling order: a keyed hash, stable as samples arrive."""
    return hashlib.sha256(f"{ORDER_SEED}\0{source}\0{text}".encode()).hexdigest()


def sample_from_row(row: sqlite3.Row) -> Sample:
    """The Sample of a row of the samples table."""
    return Sample(
        id=row["id"], text=row["text"], source=row["source"], meta=json.loads(row["meta"])
    )


def check_labeler(labeler: str) -> None:
    """DlcError if the labeler name is empty."""
    if not labeler.strip():
        raise DlcError("The labeler name is empty: pass a name, e.g. --labeler alice.")


def check_label(label: str, allowed: Sequence[str]) -> None:
    """DlcError naming the allowed labels if `label` is not one."""
    if label not in allowed:
        raise DlcError(f"Unknown label {label!r}: use one of {', '.join(allowed)}.")


class LabelStore:
    """Samples and labels in one SQLite file (created on first use); blind ratings live in
    the same file (`ratings.BlindRatings`)."""

    def __init__(self, path: Path) -> None:
        """Create or open the store at `path`, in WAL mode, upgrading nothing silently.

        Raises:
            DlcError: the file is not a label store, or one of a newer schema version.
        """
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.connect() as con:
                # WAL lets the page read while a label commits; the mode is stored in the file.
                con.execute("PRAGMA journal_mode=WAL")
                con.executescript(_SCHEMA)
                row = con.execute("SELECT value FROM info WHERE key='schema_version'").fetchone()
                if row is None:
                    con.execute(
                        "INSERT INTO info VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                elif int(row["value"]) != SCHEMA_VERSION:
                    raise DlcError(
                        f"{self.path} has label-store schema {row['value']}, this version reads "
                        f"{SCHEMA_VERSION}: upgrade dlcurriculum or use a new --db file."
                    )
        except sqlite3.DatabaseError as e:
            raise DlcError(f"{self.path} is not a label store ({e}): pass another --db.") from e

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction: commits on success, rolls back on error.

        `ratings.BlindRatings` and `label_pooling` work in the same file through this.
        """
        con = sqlite3.connect(self.path, timeout=30)
        con.row_factory = sqlite3.Row
        try:
            # FULL: a commit is on disk before we answer, so a confirmed label survives even a
            # power cut, not only a killed process.
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            with con:
                yield con
        finally:
            con.close()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """The rows of one query, in its own connection."""
        with self.connect() as con:
            return con.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    # -- samples ---------------------------------------------------------------------------

    def add_samples(self, texts: Sequence[str], source: str, meta: dict | None = None) -> list[int]:
        """Add texts from one source; return their ids in order.

        A `(source, text)` pair already stored keeps its first id and meta, so adding the same
        corpus snippets or samples again is harmless.
        """
        if not source.strip():
            raise DlcError("The sample source is empty: name it, e.g. 'corpus' or 'model:<run>'.")
        meta_json = json.dumps(meta or {}, sort_keys=True)
        ids = []
        with self.connect() as con:
            for text in texts:
                con.execute(
                    "INSERT OR IGNORE INTO samples (text, source, meta, order_key) "
                    "VALUES (?, ?, ?, ?)",
                    (text, source, meta_json, order_key(source, text)),
                )
                row = con.execute(
                    "SELECT id FROM samples WHERE source=? AND text=?", (source, text)
                ).fetchone()
                ids.append(int(row["id"]))
        return ids

    def samples(self, source: str | None = None) -> list[Sample]:
        """All samples (of one source if given), in id order."""
        rows = self._all(
            "SELECT * FROM samples WHERE ?1 IS NULL OR source=?1 ORDER BY id", (source,)
        )
        return [sample_from_row(r) for r in rows]

    def sources(self) -> dict[str, int]:
        """Number of samples per source."""
        rows = self._all("SELECT source, COUNT(*) AS n FROM samples GROUP BY source")
        return {r["source"]: int(r["n"]) for r in rows}

    # -- labels ----------------------------------------------------------------------------

    def record(self, sample_id: int, label: str, labeler: str) -> None:
        """Store one label (or "skip") in its own transaction; it is on disk when this returns.

        Raises:
            DlcError: unknown label, empty labeler or unknown sample.
        """
        self.record_many([(sample_id, label)], labeler)

    def record_many(self, items: Sequence[tuple[int, str]], labeler: str) -> None:
        """Store many `(sample_id, label)` pairs in one transaction (for synthetic labelers)."""
        check_labeler(labeler)
        for _, label in items:
            check_label(label, (*LABELS, SKIP))
        now = time.time()
        try:
            with self.connect() as con:
                con.executemany(
                    "INSERT INTO labels (uid, sample_id, labeler, label, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(uuid.uuid4().hex, int(sid), labeler, lab, now) for sid, lab in items],
                )
        except sqlite3.IntegrityError as e:
            raise DlcError(
                f"A label names a sample id that is not in {self.path}: add the sample first."
            ) from e

    def undo(self, labeler: str) -> int | None:
        """Remove this labeler's most recent label; return its sample id (None if none)."""
        with self.connect() as con:
            row = con.execute(
                "SELECT id, sample_id FROM labels WHERE labeler=? ORDER BY id DESC LIMIT 1",
                (labeler,),
            ).fetchone()
            if row is None:
                return None
            con.execute("DELETE FROM labels WHERE id=?", (row["id"],))
            return int(row["sample_id"])

    def label_of(self, sample_id: int, labeler: str) -> str | None:
        """This labeler's latest label (or "skip") of one sample, None if unlabeled."""
        row = self._one(
            "SELECT label FROM labels WHERE sample_id=? AND labeler=? ORDER BY id DESC LIMIT 1",
            (sample_id, labeler),
        )
        return None if row is None else str(row["label"])

    def next_unlabeled(self, labeler: str, source: str | None = None) -> Sample | None:
        """The first sample, in the fixed shuffled order, that this labeler has not labeled."""
        row = self._one(
            "SELECT * FROM samples s WHERE (?2 IS NULL OR s.source=?2) AND NOT EXISTS "
            "(SELECT 1 FROM labels l WHERE l.sample_id=s.id AND l.labeler=?1) "
            "ORDER BY s.order_key LIMIT 1",
            (labeler, source),
        )
        return None if row is None else sample_from_row(row)

    def progress(self, labeler: str, source: str | None = None) -> tuple[int, int]:
        """(samples this labeler has labeled or skipped, all samples)."""
        row = self._one(
            "SELECT (SELECT COUNT(DISTINCT l.sample_id) FROM labels l JOIN samples s "
            "ON s.id=l.sample_id WHERE l.labeler=?1 AND (?2 IS NULL OR s.source=?2)), "
            "(SELECT COUNT(*) FROM samples WHERE ?2 IS NULL OR source=?2)",
            (labeler, source),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    def labeled(self, labeler: str | None = None) -> list[tuple[Sample, str]]:
        """The latest non-skip label of each (sample, labeler) pair, in sample-id order.

        With several labelers (pooled imports) a sample appears once per labeler who labeled it.
        """
        rows = self._all(
            "SELECT s.*, l.label FROM labels l JOIN samples s ON s.id=l.sample_id "
            "WHERE l.label!='skip' AND (?1 IS NULL OR l.labeler=?1) AND l.id=("
            "  SELECT MAX(l2.id) FROM labels l2 WHERE l2.sample_id=l.sample_id"
            "  AND l2.labeler=l.labeler AND l2.label!='skip') "
            "ORDER BY s.id, l.labeler",
            (labeler,),
        )
        return [(sample_from_row(r), str(r["label"])) for r in rows]

    def label_counts(self) -> dict[tuple[str, str, str], int]:
        """How many samples each labeler gave each label, per source: {(labeler, source, label): n}.

        Counts each (sample, labeler) pair once, by its latest label (skips included).
        """
        rows = self._all(
            "SELECT l.labeler, s.source, l.label, COUNT(*) AS n FROM labels l "
            "JOIN samples s ON s.id=l.sample_id WHERE l.id=(SELECT MAX(l2.id) FROM labels l2 "
            "WHERE l2.sample_id=l.sample_id AND l2.labeler=l.labeler) "
            "GROUP BY l.labeler, s.source, l.label"
        )
        return {(r["labeler"], r["source"], r["label"]): int(r["n"]) for r in rows}

    def labelers(self) -> dict[str, int]:
        """Number of labels (skips included) per labeler."""
        rows = self._all("SELECT labeler, COUNT(*) AS n FROM labels GROUP BY labeler")
        return {r["labeler"]: int(r["n"]) for r in rows}


def corpus_snippets(text: str, n: int, seed: int = 0, max_chars: int = 240) -> list[str]:
    """n distinct short snippets of a corpus, each a run of whole lines, chosen with a seed.

    They are mixed into the labeling queue (source "corpus") so labelers also see real text.
    """
    lines = [ln.strip() for ln in text.splitlines()]
    starts = [i for i, ln in enumerate(lines) if ln]
    if not starts:
        raise DlcError("The corpus is empty: nothing to cut snippets from.")
    rng = random.Random(seed)
    snippets: list[str] = []
    seen: set[str] = set()
    for _ in range(50 * n):
        if len(snippets) == n:
            break
        i = rng.choice(starts)
        chunk: list[str] = []
        while i < len(lines) and lines[i] and len("\n".join([*chunk, lines[i]])) <= max_chars:
            chunk.append(lines[i])
            i += 1
        snippet = "\n".join(chunk) or lines[rng.choice(starts)][:max_chars]
        if snippet not in seen:
            seen.add(snippet)
            snippets.append(snippet)
    return snippets


def mix_corpus(store: LabelStore, n: int, text: str | None = None, seed: int = 0) -> list[int]:
    """Add n corpus snippets (Shakespeare unless `text` is given) to the store as "corpus"."""
    if n <= 0:
        return []
    if text is None:
        from dlcurriculum.data import load_shakespeare

        text = load_shakespeare()
    return store.add_samples(corpus_snippets(text, n, seed), "corpus", {"seed": seed})
