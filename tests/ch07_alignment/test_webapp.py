"""The labeling web app: escaping, form posts, rating mode, CLI, and a real SIGKILL test."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from dlcurriculum.ch07_alignment.label_cli import label_app
from dlcurriculum.ch07_alignment.labels import LabelStore
from dlcurriculum.ch07_alignment.ratings import BlindRatings
from dlcurriculum.ch07_alignment.webapp import create_app

EVIL = '<script>document.title="pwned"</script><img src=x onerror="alert(1)"> & "quotes"'


def _item(html: str) -> int:
    """The sample id (or rating position) the page is asking about."""
    match = re.search(r'name="item" value="(\d+)"', html)
    assert match, html
    return int(match.group(1))


def _client(db: Path, labeler: str = "alice", **kwargs: object) -> TestClient:
    return TestClient(create_app(db, labeler, **kwargs), base_url="http://127.0.0.1:8000")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    store = LabelStore(tmp_path / "labels.db")
    store.add_samples([f"sample {i}\nsecond line" for i in range(5)], "model:a")
    store.add_samples(["a corpus snippet"], "corpus")
    return tmp_path / "labels.db"


def test_sample_text_is_escaped_and_only_the_nonced_script_can_run(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "l.db")
    store.add_samples([EVIL], "model:a")
    response = _client(tmp_path / "l.db").get("/")
    html = response.text
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &#34;quotes&#34;" in html
    assert "<img" not in html and html.count("<script") == 1
    nonce = re.search(r'<script nonce="([^"]+)">', html)
    assert nonce is not None
    csp = response.headers["content-security-policy"]
    assert f"script-src 'nonce-{nonce.group(1)}'" in csp and "default-src 'none'" in csp


def test_label_skip_undo_by_form_posts(db: Path) -> None:
    client = _client(db)
    store = LabelStore(db)
    page = client.get("/")
    assert page.status_code == 200 and "0 / 6" in page.text
    first = _item(page.text)
    response = client.post(
        "/label", data={"item": first, "label": "positive"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/?saved=positive"
    assert store.label_of(first, "alice") == "positive"  # committed before the redirect
    page = client.get(response.headers["location"])
    assert "Saved: positive." in page.text and "1 / 6" in page.text
    second = _item(page.text)
    assert second != first
    # A resubmitted form for an already labeled sample changes nothing.
    client.post("/label", data={"item": first, "label": "negative"})
    assert store.label_of(first, "alice") == "positive"
    client.post("/label", data={"item": second, "label": "skip"})
    assert store.progress("alice") == (2, 6) and len(store.labeled("alice")) == 1
    page = client.post("/undo")
    assert "Undone" in page.text and _item(page.text) == second
    assert store.progress("alice") == (1, 6)


def test_bad_posts_are_refused_without_writing(db: Path) -> None:
    client = _client(db)
    item = _item(client.get("/").text)
    assert client.post("/label", data={"item": item, "label": "ecstatic"}).status_code == 400
    assert client.post("/label", data={"item": "x", "label": "positive"}).status_code == 400
    assert client.post("/label", data={"item": 999, "label": "positive"}).status_code == 400
    # Another web page cannot post labels into the local app (CSRF) ...
    evil = {"origin": "http://evil.example"}
    assert (
        client.post("/label", data={"item": item, "label": "positive"}, headers=evil).status_code
        == 403
    )
    assert client.post("/undo", headers=evil).status_code == 403
    # ... nor reach it through a rebound DNS name.
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    assert LabelStore(db).labelers() == {}


def test_all_done_page_and_source_filter(db: Path) -> None:
    client = _client(db, source="corpus")
    page = client.get("/")
    assert "a corpus snippet" in page.text and "0 / 1" in page.text
    client.post("/label", data={"item": _item(page.text), "label": "neutral"})
    page = client.get("/")
    assert 'name="item"' not in page.text and "All 1 samples labeled" in page.text


def test_rating_mode_hides_sources_until_the_end(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "l.db")
    store.add_samples([f"orig {i}" for i in range(3)], "model:ORIGSOURCE")
    store.add_samples([f"tuned {i}" for i in range(3)], "model:TUNEDSOURCE")
    session = BlindRatings(store).session("model:ORIGSOURCE", "model:TUNEDSOURCE", "alice", n=2)
    client = _client(tmp_path / "l.db", session=session)
    for _ in range(4):
        page = client.get("/")
        assert "SOURCE" not in page.text and 'data-key="s"' not in page.text
        text = re.search(r'id="sample"[^>]*>([^<]*)<', page.text)
        assert text is not None
        rating = "positive" if text.group(1).startswith("tuned") else "negative"
        client.post("/label", data={"item": _item(page.text), "label": rating})
    page = client.get("/")
    assert "All 4 samples rated" in page.text
    assert re.search(r"model:ORIGSOURCE</td><td>-1.00", page.text)
    assert re.search(r"model:TUNEDSOURCE</td><td>\+1.00", page.text)


def test_cli_export_import_status_and_finished_rating(db: Path, tmp_path: Path) -> None:
    store = LabelStore(db)
    for s in store.samples():
        store.record(s.id, "positive", "alice")
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(label_app, ["export", "--db", str(db), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0 and "6 labels written" in result.output
    other = tmp_path / "other.db"
    result = runner.invoke(label_app, ["import", "--db", str(other), str(tmp_path / "out.jsonl")])
    assert "6 new labels" in result.output
    result = runner.invoke(label_app, ["import", "--db", str(other), str(tmp_path / "out.jsonl")])
    assert "0 new labels" in result.output
    result = runner.invoke(label_app, ["status", "--db", str(other)])
    assert result.exit_code == 0
    assert re.search(r"alice\s*│\s*model:a\s*│\s*5\s*│\s*5\s*│\s*5\s*│\s*0", result.output)
    # A finished session: `rate` with the same settings prints the reveal, no server needed.
    session = BlindRatings(store).session("model:a", "corpus", "bob", n=1)
    while (item := BlindRatings(store).next_item(session)) is not None:
        BlindRatings(store).rate(
            session, item[0], "positive" if item[1].source == "corpus" else "negative"
        )
    args = ["rate", "--db", str(db), "--a", "model:a", "--b", "corpus", "--labeler", "bob"]
    result = runner.invoke(label_app, [*args, "--n", "1"])
    assert result.exit_code == 0
    assert re.search(r"model:a\s*│\s*-1\.00", result.output)
    assert re.search(r"corpus\s*│\s*\+1\.00", result.output)
    result = runner.invoke(label_app, [*args, "--n", "9"])
    assert result.exit_code != 0 and "has 5 samples" in str(result.exception)
    result = runner.invoke(label_app, ["serve", "--db", str(tmp_path / "empty.db")])
    assert result.exit_code != 0 and "--mix-corpus" in str(result.exception)


def _start_server(db: Path, labeler: str = "alice") -> tuple[subprocess.Popen[str], str]:
    """`dlc label serve` in a real subprocess on a free port; returns it and its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dlcurriculum",
            "label",
            "serve",
            "--db",
            str(db),
            "--labeler",
            labeler,
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
    if match is None:
        proc.kill()
        pytest.fail(f"server did not start: {line}{proc.stdout.read()}")
    return proc, match.group(1)


def test_sigkill_loses_no_confirmed_label_and_restart_resumes(db: Path) -> None:
    """A real kill: every label the server confirmed (303) is in the database afterwards."""
    proc, url = _start_server(db)
    confirmed: list[tuple[int, str]] = []
    cycle = ["positive", "neutral", "negative", "skip"]
    store = LabelStore(db)
    store.add_samples([f"extra {i}" for i in range(200)], "model:a")
    stop = threading.Event()

    def label_until_killed() -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not stop.is_set():
                try:
                    item = _item(client.get("/").text)
                    label = cycle[len(confirmed) % 4]
                    r = client.post("/label", data={"item": item, "label": label})
                except httpx.TransportError:
                    return  # the server is gone
                if r.status_code == 303:
                    confirmed.append((item, label))

    worker = threading.Thread(target=label_until_killed)
    try:
        worker.start()
        while len(confirmed) < 15 and worker.is_alive():
            time.sleep(0.01)
        # Kill in the middle of the stream: some request is very likely in flight.
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        worker.join(timeout=10)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert len(confirmed) >= 15

    reopened = LabelStore(db)
    for item, label in confirmed:
        assert reopened.label_of(item, "alice") == label
    done, _ = reopened.progress("alice")
    assert done in (len(confirmed), len(confirmed) + 1)  # at most the unconfirmed one in flight
    expected_next = reopened.next_unlabeled("alice")
    assert expected_next is not None

    proc, url = _start_server(db)
    try:
        page = httpx.get(url, timeout=10).text
        assert _item(page) == expected_next.id
        assert f"{done} / 206" in page
    finally:
        proc.kill()
        proc.wait(timeout=10)
