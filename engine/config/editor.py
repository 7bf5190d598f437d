"""Operators' edits to brand files: round-trip (comments and key order survive), validated first.

An edit is applied to the parsed document, dumped to text, and the whole brand set is validated
with that text in place of the file. Only a valid result is written, atomically.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from engine.config.loader import (
    BrandConfigError,
    ConfigError,
    display_path,
    load_brand_set,
    parse_yaml,
    suggest,
    yaml_rt,
)
from engine.modules import ModuleRegistry


class EditRefused(Exception):
    """The edit would leave the brand invalid; nothing was written."""


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def find_brand_file(brands_dir: Path, registry: ModuleRegistry, themes_dir: Path,
                    slug: str) -> Path:
    """The file defining brand ``slug`` (it must currently be valid)."""
    brand_set = load_brand_set(brands_dir, registry, themes_dir)
    if slug in brand_set.brands:
        return brand_set.brands[slug].path
    for path, errors in brand_set.errors.items():
        if path.stem == slug:
            raise BrandConfigError(errors)
    raise LookupError(f"no brand '{slug}'{suggest(slug, brand_set.brands)} in "
                      f"{display_path(brands_dir)}")


def set_module_enabled(path: Path, module: str, enabled: bool, registry: ModuleRegistry,
                       themes_dir: Path) -> bool:
    """Enable or disable ``module`` in the brand file at ``path``.

    Returns False when the file already said so (nothing written). Raises EditRefused with every
    error when the result would be invalid, and LookupError for an unknown module.
    """
    if module not in registry:
        raise LookupError(f"unknown module '{module}'{suggest(module, registry.names())} "
                          f"(modules: {', '.join(registry.names())})")
    text = path.read_text(encoding="utf-8")
    doc, errors = parse_yaml(text, display_path(path))
    if errors:
        raise EditRefused("\n".join(map(str, errors)))
    mods = doc.get("modules")
    if mods is None:
        mods = doc["modules"] = CommentedMap()
    section = mods.get(module)
    currently = module in mods and (section is None or not isinstance(section, dict)
                                    or section.get("enabled", True) is not False)
    if currently == enabled:
        return False
    if section is None:
        mods[module] = CommentedMap([("enabled", enabled)])
    elif isinstance(section, dict):
        if enabled and "enabled" in section and len(section) == 1:
            section["enabled"] = True
        else:
            section["enabled"] = enabled
    else:
        raise EditRefused(f"modules.{module} is not a mapping; fix the file first")
    out = io.StringIO()
    yaml_rt().dump(doc, out)
    new_text = out.getvalue()
    brand_set = load_brand_set(path.parent, registry, themes_dir, texts={path: new_text})
    problems: list[ConfigError] = brand_set.errors.get(path, [])
    if problems:
        raise EditRefused("\n".join(str(e) for e in problems))
    _write_atomic(path, new_text)
    return True
