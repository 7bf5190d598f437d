"""Helpers for tests that break brand files on purpose (in a copy made by ``brands_dir``)."""

from __future__ import annotations

from pathlib import Path

from engine.config import BrandSet, load_brand_set
from engine.modules import registry
from engine.settings import ROOT

THEMES = ROOT / "themes"


def load(brands_dir: Path) -> BrandSet:
    """The brand set of ``brands_dir`` as the platform and the CLI load it."""
    return load_brand_set(brands_dir, registry(), THEMES)


def edit(path: Path, old: str, new: str) -> str:
    """Replace the one occurrence of ``old`` in the file; returns the new text."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return text


def where(text: str, marker: str, at: str | None = None) -> tuple[int, int]:
    """1-based (line, column) where ``at`` (default: the whole marker) starts inside the one
    occurrence of ``marker`` in ``text``: computed from the raw text, not by the YAML parser."""
    assert text.count(marker) == 1, f"{marker!r} occurs {text.count(marker)} times"
    offset = text.index(marker) + (marker.index(at) if at else 0)
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def messages(brand_set: BrandSet, file: str) -> list[str]:
    """The errors of one file (by name) as printed."""
    return [str(e) for path, errs in brand_set.errors.items() if path.name == file for e in errs]
