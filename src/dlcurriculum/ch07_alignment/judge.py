"""An independent judge of sentiment, to see over-optimisation of the reward model.

The reward model learned VADER's (or your) labels; if PPO finds text the reward model
over-rates, a judge that shares the reward model's blind spots would not notice. This judge
shares no code or word list with VADER: a small lexicon of sentiment words as Shakespeare
uses them ("merry", "woe", "fair", "villain", "thee" left neutral), written for this
chapter, with negation by a preceding "not", "no", "never" or "nor". It is crude by design
and easy to read: a judge you can audit line by line.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

POSITIVE = frozenset(
    """
    love loves loved loving lovely lover joy joys joyful merry mirth happy happiness glad
    gladly sweet sweetly fair fairest gentle gentler kind kindly kindness good goodness
    noble nobly grace gracious blessed bless blessing dear dearest delight delights
    honour honourable honest true truly faithful heaven heavenly bright beauty beauteous
    beautiful smile smiles laugh laughing pleasure pleasant peace peaceful comfort hope
    rich worthy virtue virtuous brave valiant friend friends friendship welcome wonder
    wondrous content thanks thank praise rejoice sing music fortune fortunate best well
    """.split()
)
NEGATIVE = frozenset(
    """
    death dead die dies died dying kill killed murder murderer blood bloody woe woeful
    grief grieve sorrow sorrows sad sadness weep weeping tears mourn curse cursed damned
    hell hate hated hateful foul vile villain villainy traitor treason false wicked evil
    fear afraid fearful cruel poison wretch wretched misery miserable sick pain plague
    shame shameful fool base wrong angry rage fury revenge despair grave tomb sin slave
    enemy enemies war fight fall fallen poor alas ill worst bitter dark
    """.split()
)
NEGATORS = frozenset({"not", "no", "never", "nor", "neither"})


@dataclass(frozen=True)
class LexiconJudge:
    """Counts sentiment words (negated within the two words before them) in each text."""

    negation_window: int = 2

    def score(self, text: str) -> int:
        """Positive minus negative words; a negated word counts for the other side."""
        words = re.findall(r"[a-z']+", text.lower())
        total = 0
        for i, w in enumerate(words):
            sign = (w in POSITIVE) - (w in NEGATIVE)
            if sign and NEGATORS & set(words[max(0, i - self.negation_window) : i]):
                sign = -sign
            total += sign
        return total

    def labels(self, texts: Sequence[str]) -> list[str]:
        """positive / neutral / negative by the sign of each text's score."""
        scores = [self.score(t) for t in texts]
        return ["positive" if s > 0 else "negative" if s < 0 else "neutral" for s in scores]

    def rates(self, texts: Sequence[str]) -> dict[str, float]:
        """Share of texts judged positive and negative."""
        labels = self.labels(texts)
        n = max(1, len(labels))
        return {"positive": labels.count("positive") / n, "negative": labels.count("negative") / n}
