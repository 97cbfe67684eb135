"""Word-level tokenizer: split at word boundaries, keep every piece, map rare ones to <unk>.

The same class also tokenizes by character (`level="char"`: every character is a piece),
which chapter 8 uses: a small vocabulary lets induction heads form within a CPU budget.

Ref: the curriculum's chapter 1 exercise (tokenize with `re.split(r"\\b", text)`).

Splitting at `\\b` keeps words, and the runs of spaces and punctuation between them, as
separate pieces: "Hi, you!" -> ["Hi", ", ", "you", "!"]. Joining the pieces gives the text
back exactly, so decoding is `"".join`, except that pieces outside the vocabulary come
back as the unknown token.
"""

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from dlcurriculum.core.errors import DlcError

UNK = "<unk>"
Level = Literal["word", "char"]


def split_pieces(text: str, level: Level = "word") -> list[str]:
    """The text cut at every word boundary (or into characters), empty strings dropped;
    "".join gives it back."""
    if level == "char":
        return list(text)
    return [p for p in re.split(r"\b", text) if p]


class WordTokenizer:
    """A fixed vocabulary of pieces; id 0 is the unknown token.

    Build one with `WordTokenizer.fit`; save and load it with `to_dict` / `from_dict`.
    """

    def __init__(self, vocab: list[str], level: Level = "word") -> None:
        if not vocab or vocab[0] != UNK:
            raise DlcError(f"a tokenizer vocabulary must start with {UNK!r}")
        if len(set(vocab)) != len(vocab):
            raise DlcError("a tokenizer vocabulary must not repeat pieces")
        self.vocab = list(vocab)
        self.level: Level = level
        self.index = {piece: i for i, piece in enumerate(self.vocab)}

    @property
    def unk_id(self) -> int:
        """Id of the unknown token."""
        return 0

    def __len__(self) -> int:
        return len(self.vocab)

    @classmethod
    def fit(
        cls,
        pieces: Iterable[str],
        min_count: int = 1,
        max_vocab: int | None = None,
        level: Level = "word",
    ) -> "WordTokenizer":
        """A vocabulary of the pieces seen at least `min_count` times, most frequent first.

        Args:
            pieces: training pieces (from `split_pieces`), never the validation text, so the
                vocabulary leaks nothing about it.
            min_count: rarer pieces become the unknown token.
            max_vocab: cap on the vocabulary size, unknown token included (None = no cap).
            level: how `encode` will split text ("word" or "char"); match `pieces`.

        Raises:
            DlcError: no piece is frequent enough (empty or tiny text).
        """
        if min_count < 1:
            raise DlcError(f"min_count must be at least 1, got {min_count}")
        counts = Counter(pieces)
        # Ties are broken alphabetically so the same text always gives the same ids.
        kept = sorted(
            (p for p, c in counts.items() if c >= min_count), key=lambda p: (-counts[p], p)
        )
        kept = [p for p in kept if p != UNK]
        if max_vocab is not None:
            kept = kept[: max_vocab - 1]
        if not kept:
            raise DlcError(
                f"no piece of the text occurs at least {min_count} times "
                f"({sum(counts.values())} pieces in all): use more text or lower min_count"
            )
        return cls([UNK, *kept], level)

    def encode(self, text: str) -> list[int]:
        """Ids of the text's pieces; a piece outside the vocabulary becomes the unknown id."""
        return self.encode_pieces(split_pieces(text, self.level))

    def encode_pieces(self, pieces: Iterable[str]) -> list[int]:
        """Ids of already-split pieces."""
        return [self.index.get(p, 0) for p in pieces]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of a sequence of ids.

        Raises:
            DlcError: an id outside the vocabulary (e.g. from a model of another tokenizer).
        """
        out = []
        for i in ids:
            if not 0 <= int(i) < len(self.vocab):
                raise DlcError(
                    f"token id {int(i)} is outside this tokenizer's vocabulary of {len(self)}: "
                    "was the model trained with a different tokenizer?"
                )
            out.append(self.vocab[int(i)])
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what checkpoints store)."""
        return {"kind": "word", "vocab": self.vocab, "level": self.level}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WordTokenizer":
        """Rebuild a tokenizer saved by `to_dict`."""
        if data.get("kind") != "word" or not isinstance(data.get("vocab"), list):
            raise DlcError("not a saved WordTokenizer (expected {'kind': 'word', 'vocab': [...]})")
        level = data.get("level", "word")
        if level not in ("word", "char"):
            raise DlcError(f"a saved tokenizer's level must be 'word' or 'char', got {level!r}")
        return cls(data["vocab"], level)

    def save(self, path: Path) -> None:
        """Write the tokenizer as JSON."""
        path.write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path) -> "WordTokenizer":
        """Read a tokenizer written by `save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))
