"""A synthetic labeler: VADER's sentiment lexicon standing in for human raters.

Ref: Hutto and Gilbert 2014, "VADER: A Parsimonious Rule-based Model for Sentiment
Analysis of Social Media Text".

This is a stand-in, so that automated runs and CI can go through the whole RLHF loop
without people. It writes through the same `LabelStore` as the labeling web app, under its
own labeler name, so the pipeline reads human and synthetic labels the same way. VADER was
built for modern English; it knows "love" and "villain" but not "woe is me" as a period
idiom, which is one more reason to label by hand when you can.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dlcurriculum.ch07_alignment.labels import LABELS, LabelStore, Sample
from dlcurriculum.core.config import check
from dlcurriculum.core.errors import DlcError

SYNTHETIC_LABELER = "vader"


@dataclass(frozen=True)
class VaderLabeler:
    """Positive above `threshold`, negative below `-threshold`, neutral in between.

    VADER's compound score lies in [-1, 1]; its authors suggest 0.05 as the neutral band,
    but short Shakespeare-like samples almost always touch some sentiment word, so a wider
    band keeps the weakly tinted ones neutral (soft 50% targets for the reward model).
    """

    threshold: float = 0.3
    """Half-width of the neutral band of the compound score."""

    def __post_init__(self) -> None:
        check(self, "threshold", ge=0, lt=1)

    def scores(self, texts: Sequence[str]) -> list[float]:
        """VADER's compound score of each text."""
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()
        return [analyzer.polarity_scores(t)["compound"] for t in texts]

    def labels(self, texts: Sequence[str]) -> list[str]:
        """One of LABELS per text."""
        return [self.label_of(s) for s in self.scores(texts)]

    def label_of(self, compound: float) -> str:
        """The label of one compound score."""
        if compound > self.threshold:
            return LABELS[0]
        if compound < -self.threshold:
            return LABELS[2]
        return LABELS[1]


def label_synthetically(
    store: LabelStore, samples: Sequence[Sample], labeler: VaderLabeler
) -> None:
    """Label `samples` with VADER and record the labels in `store` (one transaction)."""
    labels = labeler.labels([s.text for s in samples])
    store.record_many(
        [(s.id, lab) for s, lab in zip(samples, labels, strict=True)], SYNTHETIC_LABELER
    )


def load_labels(path: Path, labeler: str | None = None) -> list[tuple[str, str]]:
    """(text, label) pairs from a label database, e.g. one filled by `dlc label serve`.

    Raises:
        DlcError: no such file, or it holds no labels.
    """
    if not path.is_file():
        raise DlcError(f"no label database at {path}: label samples with `dlc label serve` first")
    pairs = [(s.text, lab) for s, lab in LabelStore(path).labeled(labeler)]
    if not pairs:
        who = f" by {labeler!r}" if labeler else ""
        raise DlcError(f"{path} holds no labels{who}: label some samples with `dlc label serve`")
    return pairs
