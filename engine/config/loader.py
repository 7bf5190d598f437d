"""Read brand files with ruamel.yaml and report every error with file:line:col and key path."""

from __future__ import annotations

import difflib
import hashlib
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from engine.config.models import NetworksFile
from engine.config.schema import BrandConfigBase, brand_model
from engine.modules import ModuleRegistry

NETWORKS_FILE = "_networks.yaml"
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigError:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"


class BrandConfigError(Exception):
    def __init__(self, errors: Sequence[ConfigError]):
        self.errors = list(errors)
        super().__init__("\n".join(map(str, errors)))


@dataclass(frozen=True)
class LoadedBrand:
    config: BrandConfigBase
    path: Path
    revision: str
    text: str


@dataclass
class BrandSet:
    brands: dict[str, LoadedBrand] = field(default_factory=dict)
    # file path -> errors; a file with errors has no entry in ``brands``
    errors: dict[Path, list[ConfigError]] = field(default_factory=dict)
    networks: NetworksFile = field(default_factory=NetworksFile)
    revisions: dict[Path, str] = field(default_factory=dict)

    def all_errors(self) -> list[ConfigError]:
        return [e for errs in self.errors.values() for e in errs]


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def revision_of(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def yaml_rt() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


# --- locating errors -------------------------------------------------------------------------


def _position(doc: Any, loc: Loc, *, key: bool = False) -> tuple[int, int]:
    """1-based (line, column) of the node at ``loc``; the deepest existing ancestor otherwise.

    With ``key`` the position of the last key itself rather than its value.
    """
    node = doc
    line, col = getattr(doc.lc, "line", 0), getattr(doc.lc, "col", 0)
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, CommentedMap) and part in node:
            pos = node.lc.key(part) if (key and last) else node.lc.value(part)
            if pos is not None and pos[0] is not None:
                line, col = pos
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            pos = node.lc.item(part)
            if pos is not None:
                line, col = pos
            node = node[part]
        else:
            break
    return line + 1, col + 1


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes and containers an annotation may hold."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(annotation) for x in _unwrap(a)]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return [annotation]


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
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


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc) or "(root)"


def _from_validation(file: str, doc: Any, exc: ValidationError,
                     model: type[BaseModel]) -> list[ConfigError]:
    errors = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(p for p in err["loc"] if p != "function-after")  # type: ignore[misc]
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        elif msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, "):]
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            msg = f"unknown key '{loc[-1]}'{suggest(str(loc[-1]), allowed)}"
            if allowed:
                msg += f" (allowed: {', '.join(sorted(allowed))})"
            line, col = _position(doc, loc, key=True)
        elif err["type"] == "missing":
            line, col = _position(doc, loc[:-1])
            msg = f"missing required key '{loc[-1]}'"
        else:
            line, col = _position(doc, loc)
        errors.append(ConfigError(file, line, col, _dotted(loc), msg))
    return errors


# --- reading one file ------------------------------------------------------------------------


def parse_yaml(text: str, file: str) -> tuple[Any, list[ConfigError]]:
    """Parse ``text`` round-trip; a syntax error becomes a ConfigError with its line."""
    try:
        doc = yaml_rt().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(filter(None, [exc.context, exc.problem])) or str(exc)
        return None, [ConfigError(file, line, col, "(yaml)", f"YAML syntax error: {problem}")]
    except Exception as exc:  # ruamel raises plain errors for some malformed input
        return None, [ConfigError(file, 1, 1, "(yaml)", f"YAML error: {exc}")]
    if doc is None:
        return None, [ConfigError(file, 1, 1, "(root)", "the file is empty; a brand file is a "
                                  "mapping with slug, name, domains, ... (see brands/*.yaml)")]
    if not isinstance(doc, CommentedMap):
        kind = type(doc).__name__.replace("Commented", "").lower()
        return None, [ConfigError(file, 1, 1, "(root)",
                                  f"a brand file must be a mapping of keys, not a {kind}")]
    return doc, []


def _plain(doc: Any) -> Any:
    """A module section written as ``directory:`` (null) means enabled with defaults."""
    data = dict(doc)
    mods = data.get("modules")
    if isinstance(mods, Mapping):
        data["modules"] = {k: ({} if v is None else v) for k, v in mods.items()}
    return data


def _semantic_checks(file: str, doc: Any, cfg: BrandConfigBase, registry: ModuleRegistry,
                     themes_dir: Path, networks: NetworksFile,
                     brands_dir: Path) -> list[ConfigError]:
    errors: list[ConfigError] = []

    def err(loc: Loc, msg: str, *, key: bool = False) -> None:
        line, col = _position(doc, loc, key=key)
        errors.append(ConfigError(file, line, col, _dotted(loc), msg))

    enabled = set(cfg.enabled_modules())
    for name in sorted(enabled):
        for dep in registry[name].requires:
            if dep not in enabled:
                err(("modules", name), f"module '{name}' requires module '{dep}', which is not "
                    f"enabled on this brand", key=True)
    provider = registry.journey_providers().get(cfg.journey.mode)
    if provider is None:
        err(("journey", "mode"), f"no installed module provides the '{cfg.journey.mode}' journey")
    elif provider not in enabled:
        err(("journey", "mode"), f"journey '{cfg.journey.mode}' needs module '{provider}', "
            f"which is not enabled on this brand")
    themes = sorted(p.name for p in themes_dir.iterdir() if (p / "templates").is_dir()) \
        if themes_dir.is_dir() else []
    if cfg.theme.name not in themes:
        err(("theme", "name"), f"unknown theme '{cfg.theme.name}'"
            f"{suggest(cfg.theme.name, themes)} (themes: {', '.join(themes)})")
    elif cfg.theme.logo and not cfg.theme.logo.startswith("https://"):
        candidates = [themes_dir / cfg.theme.name / "static" / cfg.theme.logo,
                      themes_dir / "base" / "static" / cfg.theme.logo]
        if not any(c.is_file() for c in candidates):
            err(("theme", "logo"), f"logo '{cfg.theme.logo}' is not in "
                f"themes/{cfg.theme.name}/static/ nor themes/base/static/")
    net = cfg.specialists.network
    if net != "own" and net not in networks.networks:
        known = sorted(networks.networks)
        err(("specialists", "network"), f"unknown network '{net}'{suggest(net, known)} "
            f"(declare shared networks in brands/{NETWORKS_FILE}, or use 'own')")
    known_perms = {p for m in registry for p in m.permissions} | CORE_PERMISSIONS
    for role, perms in cfg.permissions.deny.items():
        for i, perm in enumerate(perms):
            if perm not in known_perms:
                err(("permissions", "deny", role, i),
                    f"unknown permission '{perm}'{suggest(perm, known_perms)}")
    for i, doc_cfg in enumerate(cfg.consent):
        if not (brands_dir / doc_cfg.file).is_file():
            err(("consent", i, "file"), f"consent text '{doc_cfg.file}' not found under "
                f"{display_path(brands_dir)}/")
    return errors


# Permissions the engine itself defines (modules add theirs in their manifests).
CORE_PERMISSIONS = frozenset({
    "core.account.manage",
    "core.portal.patient",
    "core.portal.specialist",
    "core.portal.org",
    "core.portal.partners",
    "core.org.roster.view",
})


def load_brand_text(text: str, path: Path, registry: ModuleRegistry, themes_dir: Path,
                    networks: NetworksFile, brands_dir: Path | None = None,
                    ) -> tuple[BrandConfigBase | None, Any, list[ConfigError]]:
    """Validate one brand file's text. Returns (config or None, round-trip doc, errors)."""
    file = display_path(path)
    doc, errors = parse_yaml(text, file)
    if errors:
        return None, doc, errors
    model = brand_model(registry)
    try:
        cfg = model.model_validate(_plain(doc))
    except ValidationError as exc:
        return None, doc, _from_validation(file, doc, exc, model)
    errors = _semantic_checks(file, doc, cfg, registry, themes_dir, networks,
                              brands_dir or path.parent)
    return (None if errors else cfg), doc, errors


def load_networks(brands_dir: Path) -> tuple[NetworksFile, list[ConfigError]]:
    path = brands_dir / NETWORKS_FILE
    if not path.exists():
        return NetworksFile(), []
    file = display_path(path)
    doc, errors = parse_yaml(path.read_text(encoding="utf-8"), file)
    if errors:
        return NetworksFile(), errors
    try:
        return NetworksFile.model_validate(dict(doc)), []
    except ValidationError as exc:
        return NetworksFile(), _from_validation(file, doc, exc, NetworksFile)


def brand_files(brands_dir: Path) -> list[Path]:
    """Brand files of a directory: every *.yaml / *.yml not starting with '_' or '.'."""
    if not brands_dir.is_dir():
        return []
    return sorted(p for p in brands_dir.iterdir()
                  if p.suffix in (".yaml", ".yml") and not p.name.startswith(("_", "."))
                  and p.is_file())


def load_brand_set(brands_dir: Path, registry: ModuleRegistry, themes_dir: Path,
                   paths: Sequence[Path] | None = None,
                   texts: Mapping[Path, str] | None = None) -> BrandSet:
    """Load and validate every brand file, then check the rules that span files.

    ``texts`` replaces the on-disk text of some files (used to validate an edit before writing).
    """
    result = BrandSet()
    networks, net_errors = load_networks(brands_dir)
    result.networks = networks
    if net_errors:
        result.errors[brands_dir / NETWORKS_FILE] = net_errors
    texts = dict(texts or {})
    docs: dict[Path, Any] = {}
    for path in (paths if paths is not None else brand_files(brands_dir)):
        path = Path(path)
        try:
            text = texts[path] if path in texts else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.errors[path] = [ConfigError(display_path(path), 1, 1, "(file)",
                                               f"cannot read: {exc}")]
            continue
        result.revisions[path] = revision_of(text)
        cfg, doc, errors = load_brand_text(text, path, registry, themes_dir, networks, brands_dir)
        docs[path] = doc
        if errors:
            result.errors[path] = errors
        elif cfg is not None:
            result.brands[str(path)] = LoadedBrand(cfg, path, result.revisions[path], text)
    _cross_file_checks(result, docs)
    result.brands = {lb.config.slug: lb for lb in result.brands.values()}
    return result


def _cross_file_checks(result: BrandSet, docs: Mapping[Path, Any]) -> None:
    """Slugs and hosts are unique across the set; the later file (by name) gets the error."""
    slugs: dict[str, Path] = {}
    hosts: dict[str, Path] = {}
    for _key, lb in sorted(result.brands.items()):
        cfg, path, doc = lb.config, lb.path, docs[lb.path]
        file = display_path(path)
        errors: list[ConfigError] = []
        if cfg.slug in slugs:
            line, col = _position(doc, ("slug",))
            errors.append(ConfigError(file, line, col, "slug", f"slug '{cfg.slug}' is already "
                                      f"used by {display_path(slugs[cfg.slug])}"))
        else:
            slugs[cfg.slug] = path
        for field_name in ("domains", "aliases"):
            for i, host in enumerate(getattr(cfg, field_name)):
                if host in hosts:
                    line, col = _position(doc, (field_name, i))
                    errors.append(ConfigError(file, line, col, f"{field_name}.{i}",
                                              f"host '{host}' is already claimed by "
                                              f"{display_path(hosts[host])}"))
                else:
                    hosts[host] = path
        if errors:
            result.errors.setdefault(path, []).extend(errors)
    for path in result.errors:
        result.brands.pop(str(path), None)
