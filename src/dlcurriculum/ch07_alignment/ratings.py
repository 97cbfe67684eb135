"""Blind rating: n samples from each of two sources, shuffled, sources hidden until the end.

The curriculum's last step compares a tuned checkpoint with the original in a blind rating
of 20 samples each. A session fixes which samples are rated, in which order (a seed), and
by whom; each rating is its own transaction, so a session survives the app being killed
and resumes where it stopped; the sources' mean ratings are revealed only once every item
is rated. Sessions, items and ratings live in the label store's SQLite file (its schema is
in `labels.py`), next to the samples they point at.
"""

import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dlcurriculum.ch07_alignment.labels import (
    LABELS,
    LabelStore,
    Sample,
    check_label,
    check_labeler,
    sample_from_row,
)
from dlcurriculum.core.errors import DlcError

LABEL_SCORE = {"positive": 1.0, "neutral": 0.0, "negative": -1.0}
"""Blind ratings use the labeling keys; a source's mean rating is the mean of these scores."""


@dataclass(frozen=True)
class BlindRatings:
    """Blind-rating sessions in a label store."""

    store: LabelStore

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.store.connect() as con:
            return con.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def session(
        self, source_a: str, source_b: str, labeler: str, n: int = 20, seed: int = 0
    ) -> int:
        """Open a blind-rating session: n samples of each source, shuffled; return its id.

        The same sources, n, seed and labeler reopen the same session: to resume it, or to
        see its reveal again. Another seed draws a fresh session.

        Raises:
            DlcError: a source with fewer than n samples, equal sources, or n < 1.
        """
        check_labeler(labeler)
        if source_a == source_b:
            raise DlcError("--a and --b name the same source: pick two different ones.")
        if n < 1:
            raise DlcError(f"--n must be at least 1, got {n}.")
        have = self.store.sources()
        for src in (source_a, source_b):
            if have.get(src, 0) < n:
                raise DlcError(
                    f"Source {src!r} has {have.get(src, 0)} samples, the rating needs {n}: "
                    f"draw more samples or lower --n. Sources here: {sorted(have) or 'none'}."
                )
        with self.store.connect() as con:
            row = con.execute(
                "SELECT id FROM rating_sessions WHERE source_a=? AND source_b=? AND n=? "
                "AND seed=? AND labeler=?",
                (source_a, source_b, n, seed, labeler),
            ).fetchone()
            if row is not None:
                return int(row["id"])
            rng = random.Random(seed)
            chosen = []
            for src in (source_a, source_b):
                rows = con.execute("SELECT id FROM samples WHERE source=? ORDER BY id", (src,))
                chosen += rng.sample([r["id"] for r in rows], n)
            rng.shuffle(chosen)
            cur = con.execute(
                "INSERT INTO rating_sessions (source_a, source_b, n, seed, labeler, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (source_a, source_b, n, seed, labeler, time.time()),
            )
            session = int(cur.lastrowid or 0)
            con.executemany(
                "INSERT INTO rating_items VALUES (?, ?, ?)",
                [(session, pos, sid) for pos, sid in enumerate(chosen)],
            )
        return session

    @staticmethod
    def _session_complete(con: sqlite3.Connection, session: int) -> bool:
        total, rated = con.execute(
            "SELECT COUNT(*), COUNT(r.id) FROM rating_items i LEFT JOIN ratings r "
            "ON r.session_id=i.session_id AND r.position=i.position WHERE i.session_id=?",
            (session,),
        ).fetchone()
        return bool(total) and total == rated

    def next_item(self, session: int) -> tuple[int, Sample] | None:
        """(position, sample) of the first unrated item of the session; None when complete.

        The sample carries its source: a page must show only its text.
        """
        row = self._one(
            "SELECT i.position, s.* FROM rating_items i JOIN samples s ON s.id=i.sample_id "
            "WHERE i.session_id=? AND NOT EXISTS (SELECT 1 FROM ratings r WHERE "
            "r.session_id=i.session_id AND r.position=i.position) ORDER BY i.position LIMIT 1",
            (session,),
        )
        return None if row is None else (int(row["position"]), sample_from_row(row))

    def rate(self, session: int, position: int, rating: str) -> None:
        """Store one blind rating (positive/neutral/negative) in its own transaction.

        Rating a position twice keeps the first rating (a resubmitted page changes nothing).
        """
        check_label(rating, LABELS)
        try:
            self._all(
                "INSERT OR IGNORE INTO ratings (session_id, position, rating, created) "
                "VALUES (?, ?, ?, ?)",
                (session, position, rating, time.time()),
            )
        except sqlite3.IntegrityError as e:
            raise DlcError(f"Rating session {session} has no item {position}.") from e

    def undo(self, session: int) -> int | None:
        """Remove the session's latest rating; return its position (None if none)."""
        with self.store.connect() as con:
            row = con.execute(
                "SELECT id, position FROM ratings WHERE session_id=? ORDER BY id DESC LIMIT 1",
                (session,),
            ).fetchone()
            if row is None:
                return None
            con.execute("DELETE FROM ratings WHERE id=?", (row["id"],))
            return int(row["position"])

    def progress(self, session: int) -> tuple[int, int]:
        """(items rated, items in the session)."""
        row = self._one(
            "SELECT (SELECT COUNT(*) FROM ratings WHERE session_id=?1), "
            "(SELECT COUNT(*) FROM rating_items WHERE session_id=?1)",
            (session,),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    def reveal(self, session: int) -> dict[str, float]:
        """Mean rating per source (positive=1, neutral=0, negative=-1), once all are rated.

        Raises:
            DlcError: the session is unknown or not complete yet (the sources stay hidden).
        """
        with self.store.connect() as con:
            if not self._session_complete(con, session):
                raise DlcError(
                    f"Rating session {session} is unknown or not complete: rate every sample "
                    "first (dlc label rate resumes it); sources stay hidden until then."
                )
            rows = con.execute(
                "SELECT s.source, r.rating FROM ratings r JOIN rating_items i "
                "ON i.session_id=r.session_id AND i.position=r.position "
                "JOIN samples s ON s.id=i.sample_id WHERE r.session_id=?",
                (session,),
            ).fetchall()
            order = con.execute(
                "SELECT source_a, source_b FROM rating_sessions WHERE id=?", (session,)
            ).fetchone()
        scores: dict[str, list[float]] = {order["source_a"]: [], order["source_b"]: []}
        for r in rows:
            scores[r["source"]].append(LABEL_SCORE[r["rating"]])
        return {src: sum(v) / len(v) for src, v in scores.items()}
