"""Map errors back to the YAML text: line, column and dotted key path of a node.

pydantic reports a location as a tuple of keys and indexes; the round-trip document from
ruamel.yaml knows where each key and value was written. Union members add tags to pydantic's
location ('constrained-str', 'dict[...]') that are not keys of the file: they are dropped, and
the errors of one place are merged into one message.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigError:
    """One problem of one file, printed as ``file:line:col: key.path: message``."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"


def suggest(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or an empty string."""
    options = sorted(choices)
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    if not close and len(str(word)) >= 3:  # a prefix: 'acme' for 'acme-clinic'
        close = [c for c in options if c.startswith(str(word))][:1]
    return f"; did you mean '{close[0]}'?" if close else ""


def dotted(loc: Loc) -> str:
    """``("modules", "directory", "page_size")`` -> ``modules.directory.page_size``."""
    return ".".join(str(p) for p in loc) or "(root)"


def _child(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, CommentedMap) and part in node:
        return True, node[part]
    if isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def position(doc: Any, loc: Loc, *, key: bool = False) -> tuple[int, int]:
    """1-based (line, column) of the value at ``loc``, or of the deepest ancestor that exists.

    With ``key`` the position of the last key itself rather than its value. The empty location
    (the file as a whole) is 1:1.
    """
    line, col = 0, 0
    node = doc
    for i, part in enumerate(loc):
        found, child = _child(node, part)
        if not found:
            break
        if isinstance(node, CommentedMap):
            pos = node.lc.key(part) if (key and i == len(loc) - 1) else node.lc.value(part)
        else:
            pos = node.lc.item(part)
        if pos is not None and pos[0] is not None:
            line, col = pos
        node = child
    return line + 1, col + 1


def _existing(doc: Any, loc: Loc, keep_last: bool) -> Loc:
    """``loc`` without the parts that name no node of ``doc`` (pydantic's union tags)."""
    out: list[str | int] = []
    node = doc
    for i, part in enumerate(loc):
        found, child = _child(node, part)
        if found:
            out.append(part)
            node = child
        elif keep_last and i == len(loc) - 1:
            out.append(part)
        elif isinstance(part, int) or not _looks_like_tag(part):
            # a default the user did not write (e.g. a model validator on a nested default)
            out.append(part)
            node = None
    return tuple(out)


def _looks_like_tag(part: str) -> bool:
    return any(c in part for c in "[]-(),") or part in {"str", "int", "float", "bool", "none"}


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes and containers an annotation may hold."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(annotation) for x in _unwrap(a)]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return [annotation]


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names allowed at ``loc`` inside ``model`` (for "did you mean" suggestions)."""
    current: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for ann in current:
            origin = typing.get_origin(ann)
            if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(part, str):
                f = ann.model_fields.get(part)
                if f is not None:
                    nxt.extend(_unwrap(f.annotation))
            elif origin in (tuple, list) and isinstance(part, int):
                nxt.extend(_unwrap(typing.get_args(ann)[0]))
            elif origin is dict:
                nxt.extend(_unwrap(typing.get_args(ann)[1]))
        current = nxt
    keys: list[str] = []
    for ann in current:
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.extend(ann.model_fields)
    return keys


def _message(err: Any) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def from_validation(file: str, doc: Any, exc: ValidationError,
                    model: type[BaseModel]) -> tuple[list[ConfigError], list[Loc]]:
    """Every pydantic error as a located ConfigError, plus the locations that had errors."""
    raw = exc.errors(include_url=False)
    located: dict[tuple[Loc, str], list[str]] = {}
    order: list[tuple[Loc, str]] = []
    for err in raw:
        kind = err["type"]
        loc = _existing(doc, tuple(err["loc"]), keep_last=kind == "missing")
        if kind == "too_short" and any(
            len(o) > len(loc) and o[:len(loc)] == loc for o, _ in located
        ):
            continue  # "at least 1 item after validation" repeats the item's own error
        if kind == "extra_forbidden":
            allowed = allowed_keys(model, loc[:-1])
            what = "module" if loc[:1] == ("modules",) and len(loc) == 2 else "key"
            msg = f"unknown {what} '{loc[-1]}'{suggest(str(loc[-1]), allowed)}"
            if allowed:
                msg += f" (allowed: {', '.join(sorted(allowed))})"
            anchor = "key"
        elif kind == "missing":
            msg = f"missing required key '{loc[-1]}'"
            anchor = "parent"
        else:
            msg = _message(err)
            anchor = "value"
        slot = (loc, anchor)
        if slot not in located:
            located[slot] = []
            order.append(slot)
        if msg not in located[slot]:
            located[slot].append(msg)
    errors = []
    for loc, anchor in order:
        if anchor == "key":
            line, col = position(doc, loc, key=True)
        elif anchor == "parent":
            line, col = position(doc, loc[:-1], key=True) if loc[:-1] else (1, 1)
        else:
            line, col = position(doc, loc)
        message = "; or ".join(located[(loc, anchor)])
        errors.append(ConfigError(file, line, col, dotted(loc), message))
    return errors, [loc for loc, _ in order]
