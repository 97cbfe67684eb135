"""`dlc start 7` also writes the ELK proposal template, and never overwrites the learner's."""

from pathlib import Path

from dlcurriculum.core.exercises import start


def test_start_writes_the_elk_proposal_once(tmp_path: Path) -> None:
    written = dict(start("ch07_alignment", tmp_path))
    proposal = tmp_path / "ch07_alignment" / "elk_proposal.md"
    assert written[proposal] and "counterexample" in proposal.read_text().lower()
    proposal.write_text("my proposal")
    again = dict(start("ch07_alignment", tmp_path))
    assert not again[proposal] and proposal.read_text() == "my proposal"
