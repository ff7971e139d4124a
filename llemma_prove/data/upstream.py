"""Other people's files (prompts, harness code) fetched from their upstream at a pinned commit.

The project carries no third-party text in its source: a file is fetched on first use with the same
shallow fetch as the statement sets (`minif2f.fetch_git_paths`), cached under the cache directory
(`$LLEMMA_PROVE_CACHE`), and its sha256 recorded beside it, so a run's configuration can name exactly
what it used and a cache that changed under us is noticed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .minif2f import _write_atomic, default_cache_dir, fetch_git_paths


@dataclass(frozen=True)
class PinnedFile:
    """One file of a git repository at one commit (a full 40-hex commit: servers fetch those only)."""

    repo: str  # owner/name
    commit: str
    path: str
    url: str | None = None  # default: the GitHub repository; tests point it at a local repository

    @property
    def clone_url(self) -> str:
        return self.url or f"https://github.com/{self.repo}.git"

    def describe(self) -> str:
        return f"{self.repo}@{self.commit[:12]}:{self.path}"


@dataclass(frozen=True)
class FetchedFile:
    spec: PinnedFile
    local_path: Path
    text: str
    sha256: str


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_file_path(spec: PinnedFile, cache_root: Path | None = None) -> Path:
    root = cache_root or default_cache_dir()
    return root / "upstream" / spec.repo.replace("/", "--") / spec.commit / spec.path


def read_cached(path: Path, what: str) -> tuple[str, str]:
    """(text, sha256) of a cached file, checked against the sha256 recorded when it was written."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cached {what} {path} cannot be read: {exc}") from None
    digest = sha256_text(text)
    record = path.with_name(path.name + ".sha256")
    if record.exists():
        recorded = record.read_text(encoding="utf-8").strip()
        if recorded != digest:
            raise DataError(f"cached {what} {path} changed since it was fetched (sha256 {digest[:12]}, "
                            f"recorded {recorded[:12]}); delete it to fetch it again")
    else:
        _write_atomic(record, digest + "\n")
    return text, digest


def write_cached(path: Path, text: str) -> str:
    _write_atomic(path, text)
    digest = sha256_text(text)
    _write_atomic(path.with_name(path.name + ".sha256"), digest + "\n")
    return digest


async def fetch_pinned_file(spec: PinnedFile, cache_root: Path | None = None, hint: str = "") -> FetchedFile:
    """The file's text: from the cache, else fetched at its commit and cached. Offline with no cache
    this raises `DataError` ending with `hint` (what the user can do instead)."""
    cache_root = cache_root or default_cache_dir()
    target = cached_file_path(spec, cache_root)
    if target.exists():
        text, digest = read_cached(target, spec.describe())
        return FetchedFile(spec, target, text, digest)
    git_dir = cache_root / "git" / spec.repo.replace("/", "--")
    files = await fetch_git_paths(spec.clone_url, spec.commit, [spec.path], git_dir,
                                  hint=hint or "download it by hand into " + str(target))
    if spec.path not in files:
        raise DataError(f"{spec.describe()} does not exist upstream")
    digest = write_cached(target, files[spec.path])
    return FetchedFile(spec, target, files[spec.path], digest)
