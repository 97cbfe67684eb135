"""Pooling labels as JSONL: export a label store, import others' exports, strictly.

Several people label their own copies of a store, export, and anyone imports everyone's
files. Each label keeps its random `uid`, so importing a file twice adds nothing. Import is
strict, unlike `core.runs.read_jsonl` (which skips a torn last line of a log): a file that
is not exactly what `export_labels` wrote imports nothing, and the error names its line.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlcurriculum.ch07_alignment.labels import LABELS, SKIP, LabelStore, order_key
from dlcurriculum.core.errors import DlcError

RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "uid": str,
    "labeler": str,
    "label": str,
    "created": (int, float),
    "text": str,
    "source": str,
    "meta": dict,
}
"""The fields of an exported label record and their JSON types."""


def export_labels(store: LabelStore, path: Path) -> int:
    """Write every label (skips too) with its sample to JSONL, atomically; return the count."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT l.uid, l.labeler, l.label, l.created, s.text, s.source, s.meta "
            "FROM labels l JOIN samples s ON s.id=l.sample_id ORDER BY l.id"
        ).fetchall()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            record = {k: r[k] for k in ("uid", "labeler", "label", "created", "text", "source")}
            record["meta"] = json.loads(r["meta"])
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return len(rows)


def import_labels(store: LabelStore, path: Path) -> int:
    """Add the labels of an exported file (and their samples); return how many were new.

    Labels already here (same uid) are left alone, so importing twice changes nothing.
    The whole file goes in one transaction: a bad line imports nothing.
    """
    records = list(read_label_file(Path(path)))
    new = 0
    with store.connect() as con:
        for r in records:
            con.execute(
                "INSERT OR IGNORE INTO samples (text, source, meta, order_key) VALUES (?, ?, ?, ?)",
                (
                    r["text"],
                    r["source"],
                    json.dumps(r["meta"], sort_keys=True),
                    order_key(r["source"], r["text"]),
                ),
            )
            sid = con.execute(
                "SELECT id FROM samples WHERE source=? AND text=?", (r["source"], r["text"])
            ).fetchone()["id"]
            cur = con.execute(
                "INSERT OR IGNORE INTO labels (uid, sample_id, labeler, label, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (r["uid"], sid, r["labeler"], r["label"], float(r["created"])),
            )
            new += cur.rowcount
    return new


def read_label_file(path: Path) -> Iterator[dict[str, Any]]:
    """Validated records of an exported label file; DlcError names the first bad line."""
    if not path.is_file():
        raise DlcError(f"No label file at {path}: pass a file written by `dlc label export`.")
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise DlcError(f"{path}:{lineno} is not JSON ({e}): re-export the file.") from e
            if not isinstance(r, dict):
                r = {}
            bad = [k for k, t in RECORD_FIELDS.items() if not isinstance(r.get(k), t)]
            if bad or r["label"] not in (*LABELS, SKIP):
                raise DlcError(
                    f"{path}:{lineno} is not a label record (bad fields: {bad or ['label']}): "
                    "import only files written by `dlc label export`."
                )
            yield r
