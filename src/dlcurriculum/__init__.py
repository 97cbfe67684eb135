"""dlcurriculum: an alignment-focused deep learning curriculum as working software.

`import dlcurriculum` stays cheap: heavy libraries (torch, matplotlib) load inside the
modules that need them.
"""

from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def load_shakespeare_model(path: str | Path, device: str = "cpu") -> tuple[Any, Any]:
    """The chapter-1 Shakespeare model (eval mode) and its tokenizer, from a run folder or file.

    Chapters 7 and 8 start from this checkpoint; see `dlc run shakespeare`.
    """
    from dlcurriculum.ch01_transformers.shakespeare import load_shakespeare_model as load

    return load(path, device=device)
