"""Operators' edits to brand files: round-trip (comments and key order survive), validated first.

An edit is planned on the parsed document and applied to the text as the smallest line change
ruamel.yaml's positions allow (one value replaced, or one line inserted), so every other byte of
the file stays as the operator wrote it. The edited text is re-parsed and must hold exactly the
planned data; when the layout is unusual (flow style, an explicit null) ruamel.yaml dumps the
document instead. The whole brand set is then validated with the new text in place of the file,
and only a valid result is written, atomically.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from engine.config.loader import (
    BrandConfigError,
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
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def find_brand_file(brands_dir: Path, registry: ModuleRegistry, themes_dir: Path,
                    slug: str) -> Path:
    """The file defining brand ``slug`` (it must currently be valid).

    Raises BrandConfigError when the brand's file (``<slug>.yaml``) is invalid, and LookupError
    naming the closest brand when there is none.
    """
    brand_set = load_brand_set(brands_dir, registry, themes_dir)
    if slug in brand_set.brands:
        return brand_set.brands[slug].path
    for path, errors in brand_set.errors.items():
        if path.stem == slug:
            raise BrandConfigError(errors)
    known = sorted(brand_set.brands)
    raise LookupError(f"no brand '{slug}'{suggest(slug, known)} in "
                      f"{display_path(brands_dir)} (brands: {', '.join(known) or 'none'})")


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _is_enabled(mods: Any, module: str) -> bool:
    if module not in mods:
        return False
    section = mods[module]
    return not isinstance(section, dict) or section.get("enabled", True) is not False


def _line_start(lines: list[str], line: int) -> int:
    return sum(len(x) for x in lines[:line])


def _replace_scalar(text: str, line: int, col: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    old = re.match(r"[^\s#,}\]]+", lines[line][col:])
    if old is None:
        return text
    lines[line] = lines[line][:col] + new + lines[line][col + old.end():]
    return "".join(lines)


def _insert_line(text: str, line: int, content: str) -> str:
    lines = text.splitlines(keepends=True)
    if line > 0 and not lines[line - 1].endswith("\n"):
        lines[line - 1] += "\n"
    newline = "\r\n" if text.endswith("\r\n") else "\n"
    lines.insert(line, content + newline)
    return "".join(lines)


def _end_of_block(doc: CommentedMap, key: str, text: str) -> int:
    """The 0-based line after the last content line of top-level ``key``'s block (blank lines
    and column-0 comments before the next key belong to that key, not to this block)."""
    keys = list(doc)
    after = keys.index(key) + 1
    lines = text.splitlines()
    end = doc.lc.key(keys[after])[0] if after < len(keys) else len(lines)
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return end


def _edit_text(text: str, doc: CommentedMap, module: str, enabled: bool) -> str | None:
    """The smallest text edit that switches ``module``; None when the layout needs a dump."""
    mods = doc.get("modules")
    if not isinstance(mods, CommentedMap) or mods.fa.flow_style():
        return None
    word = "true" if enabled else "false"
    section = mods.get(module)
    if module not in mods:
        if not enabled or not mods:
            return None
        col = mods.lc.key(next(iter(mods)))[1]
        return _insert_line(text, _end_of_block(doc, "modules", text),
                            " " * col + f"{module}: {{}}")
    if isinstance(section, CommentedMap) and not section:
        line, col = mods.lc.value(module)
        if text.splitlines()[line][col:].startswith("{}"):
            lines = text.splitlines(keepends=True)
            lines[line] = lines[line][:col] + f"{{enabled: {word}}}" + lines[line][col + 2:]
            return "".join(lines)
        return None
    if isinstance(section, CommentedMap) and not section.fa.flow_style():
        if "enabled" in section:
            line, col = section.lc.value("enabled")
            return _replace_scalar(text, line, col, word)
        if section:
            line, col = section.lc.key(next(iter(section)))
            return _insert_line(text, line, " " * col + f"enabled: {word}")
    if section is None:
        line, col = mods.lc.key(module)
        return _insert_line(text, line + 1, " " * (col + 2) + f"enabled: {word}")
    return None


def plan_module_edit(text: str, file: str, module: str, enabled: bool) -> str | None:
    """The brand file ``text`` with ``module`` switched on or off; None when it already is.

    Raises EditRefused when the file cannot be parsed or its module section is not a mapping.
    """
    doc, errors = parse_yaml(text, file)
    if errors:
        raise EditRefused("the file does not parse; fix it first:\n"
                          + "\n".join(map(str, errors)))
    mods = doc.get("modules")
    if mods is not None and not isinstance(mods, CommentedMap):
        raise EditRefused(f"{file}: 'modules' is not a mapping; fix the file first")
    if _is_enabled(mods or {}, module) == enabled:
        return None
    section = (mods or {}).get(module)
    if section is not None and not isinstance(section, CommentedMap):
        raise EditRefused(f"{file}: modules.{module} is not a mapping; fix the file first")
    new_text = _edit_text(text, doc, module, enabled)
    # The data the file must hold afterwards, built on the parsed document.
    if mods is None:
        mods = doc["modules"] = CommentedMap()
    if section is None:
        mods[module] = CommentedMap() if enabled else CommentedMap([("enabled", False)])
    else:
        section["enabled"] = enabled
    if new_text is not None:
        edited, errors = parse_yaml(new_text, file)
        if not errors and _plain(edited) == _plain(doc):
            return new_text
    out = io.StringIO()
    yaml_rt().dump(doc, out)
    return out.getvalue()


def set_module_enabled(path: Path, module: str, enabled: bool, registry: ModuleRegistry,
                       themes_dir: Path) -> bool:
    """Enable or disable ``module`` in the brand file at ``path``.

    Returns False when the file already said so (nothing written). Raises EditRefused with every
    error when the result would be invalid, and LookupError for an unknown module.
    """
    if module not in registry:
        raise LookupError(f"unknown module '{module}'{suggest(module, registry.names())} "
                          f"(modules: {', '.join(registry.names())})")
    brands_dir = path.parent
    file = display_path(path, brands_dir)
    with open(path, encoding="utf-8", newline="") as fh:
        text = fh.read()
    new_text = plan_module_edit(text, file, module, enabled)
    if new_text is None:
        return False
    brand_set = load_brand_set(brands_dir, registry, themes_dir, texts={path: new_text})
    problems = brand_set.errors.get(path, [])
    if problems:
        verb = "enabling" if enabled else "disabling"
        # Line numbers would point into text that was never written: name the keys instead.
        reasons = "\n".join(f"  {e.path}: {e.message}" for e in problems)
        raise EditRefused(f"{verb} module '{module}' would make {file} invalid; nothing was "
                          f"written:\n{reasons}")
    _write_atomic(path, new_text)
    return True
