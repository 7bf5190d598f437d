"""Read brand files with ruamel.yaml and report every error with file:line:col and key path."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from engine.config.locate import ConfigError, Loc, dotted, from_validation, position, suggest
from engine.config.models import Journey, NetworksFile
from engine.config.schema import BrandConfigBase, brand_model
from engine.modules import ModuleRegistry

__all__ = [
    "CORE_PERMISSIONS",
    "NETWORKS_FILE",
    "BrandConfigError",
    "BrandSet",
    "ConfigError",
    "LoadedBrand",
    "brand_files",
    "display_path",
    "load_brand_set",
    "load_brand_text",
    "load_networks",
    "parse_yaml",
    "revision_of",
    "suggest",
    "yaml_rt",
]

NETWORKS_FILE = "_networks.yaml"


class BrandConfigError(Exception):
    """One or more located errors of a brand file."""

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
        """Every error of every file, file by file."""
        return [e for errs in self.errors.values() for e in errs]


def display_path(path: Path, brands_dir: Path | None = None) -> str:
    """How a file is named in messages: ``brands/acme-clinic.yaml`` (relative to the parent of
    ``brands_dir`` when it lies there), else relative to the working directory when inside it,
    else absolute."""
    path = Path(os.path.abspath(path))
    bases = [Path(os.path.abspath(brands_dir)).parent] if brands_dir is not None else []
    bases.append(Path.cwd())
    for base in bases:
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return str(path)


def revision_of(text: str | bytes) -> str:
    """The revision of a file: a short hash of its content."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def yaml_rt() -> YAML:
    """The round-trip YAML reader/writer, set up for the layout of brand files."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


# --- reading one file ------------------------------------------------------------------------


def parse_yaml(text: str, file: str) -> tuple[Any, list[ConfigError]]:
    """Parse ``text`` round-trip; a syntax error becomes a ConfigError with its line."""
    try:
        doc = yaml_rt().load(text)
    except DuplicateKeyError as exc:
        mark, first = exc.problem_mark, exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        where = f" in the mapping that starts at line {first.line + 1}" if first else ""
        key = str(exc.problem or "").split('"')[1] if '"' in str(exc.problem) else "?"
        return None, [ConfigError(file, line, col, "(yaml)",
                                  f"duplicate key '{key}': it is already set earlier{where}")]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = "; ".join(filter(None, [exc.context, exc.problem])) or str(exc)
        return None, [ConfigError(file, line, col, "(yaml)", f"YAML syntax error: {problem}")]
    except Exception as exc:  # ruamel raises plain errors for some malformed input
        return None, [ConfigError(file, 1, 1, "(yaml)", f"YAML error: {exc}")]
    if doc is None:
        return None, [ConfigError(file, 1, 1, "(root)", "the file is empty; a brand file is a "
                                  "mapping with slug, name, domains, ... (see brands/*.yaml)")]
    if not isinstance(doc, CommentedMap):
        kind = "list" if isinstance(doc, list) else f"single value ({doc!r:.40})"
        return None, [ConfigError(file, 1, 1, "(root)",
                                  f"the file must be a mapping of keys, not a {kind}")]
    return doc, []


def _plain(doc: Any) -> Any:
    """A module section written as ``directory:`` (null) means enabled with defaults."""
    data = dict(doc)
    mods = data.get("modules")
    if isinstance(mods, Mapping):
        data["modules"] = {k: ({} if v is None else v) for k, v in mods.items()}
    return data


def _section(doc: Any, key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, Mapping) else {}


def enabled_in(doc: Any, registry: ModuleRegistry) -> set[str]:
    """Installed modules switched on in a parsed brand file (valid or not)."""
    return {name for name, sec in _section(doc, "modules").items()
            if name in registry and (sec is None or (isinstance(sec, Mapping)
                                                     and sec.get("enabled", True) is not False))}


def _semantic_checks(file: str, doc: Any, registry: ModuleRegistry, themes_dir: Path,
                     networks: NetworksFile, brands_dir: Path,
                     known_bad: Collection[Loc]) -> list[ConfigError]:
    """Rules pydantic cannot see (other files, installed modules, themes). They read the parsed
    document, so they run even when the schema found errors, skipping places already reported."""
    errors: list[ConfigError] = []

    def err(loc: Loc, msg: str, *, key: bool = False) -> None:
        if any(bad and loc[:len(bad)] == bad for bad in known_bad):
            return
        line, col = position(doc, loc, key=key)
        errors.append(ConfigError(file, line, col, dotted(loc), msg))

    enabled = enabled_in(doc, registry)
    for name in sorted(enabled):
        for dep in registry[name].requires:
            if dep not in enabled:
                err(("modules", name), f"module '{name}' requires module '{dep}', which is not "
                    f"enabled on this brand", key=True)
    mode = _section(doc, "journey").get("mode")
    if isinstance(mode, str) and mode in get_args(Journey.model_fields["mode"].annotation):
        provider = registry.journey_providers().get(mode)
        if provider is None:
            err(("journey", "mode"), f"no installed module provides the '{mode}' journey")
        elif provider not in enabled:
            err(("journey", "mode"), f"journey '{mode}' needs module '{provider}', which is not "
                f"enabled on this brand")
    themes = sorted(p.name for p in themes_dir.iterdir() if (p / "templates").is_dir()) \
        if themes_dir.is_dir() else []
    theme = _section(doc, "theme")
    name, logo = theme.get("name", "base"), theme.get("logo")
    if isinstance(name, str) and name not in themes:
        err(("theme", "name"), f"unknown theme '{name}'{suggest(name, themes)} "
            f"(themes: {', '.join(themes)})")
    elif isinstance(name, str) and isinstance(logo, str) and not logo.startswith("https://"):
        candidates = [themes_dir / name / "static" / logo, themes_dir / "base" / "static" / logo]
        if not any(c.is_file() for c in candidates):
            err(("theme", "logo"), f"logo '{logo}' is not in themes/{name}/static/ "
                f"nor themes/base/static/")
    net = _section(doc, "specialists").get("network")
    if isinstance(net, str) and net != "own" and net not in networks.networks:
        known = sorted(networks.networks)
        err(("specialists", "network"), f"unknown network '{net}'{suggest(net, known)} "
            f"(declare shared networks in {NETWORKS_FILE}, or use 'own')")
    known_perms = {p for m in registry for p in m.permissions} | CORE_PERMISSIONS
    for role, perms in _section(_section(doc, "permissions"), "deny").items():
        for i, perm in enumerate(perms if isinstance(perms, list) else []):
            if isinstance(perm, str) and perm not in known_perms:
                err(("permissions", "deny", role, i),
                    f"unknown permission '{perm}'{suggest(perm, known_perms)}")
    consent = doc.get("consent")
    for i, item in enumerate(consent if isinstance(consent, list) else []):
        text_file = item.get("file") if isinstance(item, Mapping) else None
        if isinstance(text_file, str) and not (brands_dir / text_file).is_file():
            err(("consent", i, "file"), f"consent text '{text_file}' not found under "
                f"{display_path(brands_dir, brands_dir)}/")
    return errors


# Permissions the engine itself defines (modules add theirs in their manifests).
CORE_PERMISSIONS = frozenset({
    "core.account.manage",
    "core.portal.patient",
    "core.portal.specialist",
    "core.portal.org",
    "core.portal.partners",
    "core.org.roster.view",
    "core.audit.own",
    "core.audit.org",
})


def load_brand_text(text: str, path: Path, registry: ModuleRegistry, themes_dir: Path,
                    networks: NetworksFile, brands_dir: Path | None = None,
                    ) -> tuple[BrandConfigBase | None, Any, list[ConfigError]]:
    """Validate one brand file's text. Returns (config or None, round-trip doc, errors).

    Every error of the file is reported: schema errors and the checks against installed
    modules, themes, networks and consent texts together.
    """
    brands_dir = brands_dir or path.parent
    file = display_path(path, brands_dir)
    doc, errors = parse_yaml(text, file)
    if errors:
        return None, doc, errors
    model = brand_model(registry)
    cfg: BrandConfigBase | None = None
    bad: list[Loc] = []
    try:
        cfg = model.model_validate(_plain(doc))
    except ValidationError as exc:
        errors, bad = from_validation(file, doc, exc, model)
    errors += _semantic_checks(file, doc, registry, themes_dir, networks, brands_dir, bad)
    errors.sort(key=lambda e: (e.line, e.column))
    return (None if errors else cfg), doc, errors


def load_networks(brands_dir: Path) -> tuple[NetworksFile, list[ConfigError]]:
    """The shared specialist networks of ``brands_dir/_networks.yaml`` (none when absent)."""
    path = brands_dir / NETWORKS_FILE
    if not path.exists():
        return NetworksFile(), []
    file = display_path(path, brands_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return NetworksFile(), [ConfigError(file, 1, 1, "(file)", f"cannot read: {exc}")]
    doc, errors = parse_yaml(text, file)
    if errors:
        return NetworksFile(), errors
    try:
        return NetworksFile.model_validate(dict(doc)), []
    except ValidationError as exc:
        errors = from_validation(file, doc, exc, NetworksFile)[0]
        return NetworksFile(), sorted(errors, key=lambda e: (e.line, e.column))


def brand_files(brands_dir: Path) -> list[Path]:
    """Brand files of a directory: every *.yaml / *.yml not starting with '_' or '.'."""
    if not brands_dir.is_dir():
        return []
    return sorted(p for p in brands_dir.iterdir()
                  if p.suffix in (".yaml", ".yml") and not p.name.startswith(("_", "."))
                  and p.is_file())


def load_brand_set(brands_dir: Path, registry: ModuleRegistry, themes_dir: Path,
                   paths: Sequence[Path] | None = None,
                   texts: Mapping[Path, str] | None = None, *,
                   incumbents: Collection[Path] = (),
                   fallback_networks: NetworksFile | None = None) -> BrandSet:
    """Load and validate every brand file, then check the rules that span files.

    ``texts`` replaces the on-disk text of some files (used to validate an edit before writing).
    ``incumbents`` are files whose brands are being served: in a clash of slug or host they keep
    their claim and the newcomer gets the error (otherwise the later file by name does).
    ``fallback_networks`` is used when ``_networks.yaml`` is broken (its errors are reported),
    so a running platform keeps validating brands against the last good networks.
    """
    result = BrandSet()
    networks, net_errors = load_networks(brands_dir)
    if net_errors:
        result.errors[brands_dir / NETWORKS_FILE] = net_errors
        networks = fallback_networks or networks
    result.networks = networks
    texts = dict(texts or {})
    docs: dict[Path, Any] = {}
    valid: list[LoadedBrand] = []
    for path in (paths if paths is not None else brand_files(brands_dir)):
        path = Path(path)
        try:
            # The revision is the hash of the bytes on disk (CRLF and all), as /healthz says.
            data = texts[path].encode() if path in texts else path.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.errors[path] = [ConfigError(display_path(path, brands_dir), 1, 1, "(file)",
                                               f"cannot read: {exc}")]
            continue
        result.revisions[path] = revision_of(data)
        cfg, doc, errors = load_brand_text(text, path, registry, themes_dir, networks, brands_dir)
        docs[path] = doc
        if errors:
            result.errors[path] = errors
        elif cfg is not None:
            valid.append(LoadedBrand(cfg, path, result.revisions[path], text))
    first = set(incumbents)
    valid.sort(key=lambda lb: (lb.path not in first, lb.path.name))
    for lb in _cross_file_checks(valid, docs, result, brands_dir):
        result.brands[lb.config.slug] = lb
    return result


def _cross_file_checks(brands: Sequence[LoadedBrand], docs: Mapping[Path, Any],
                       result: BrandSet, brands_dir: Path) -> list[LoadedBrand]:
    """Slugs and hosts are unique across the set: the first claim (in ``brands`` order) wins,
    a later file claiming the same gets an error. Returns the brands without errors."""
    slugs: dict[str, Path] = {}
    hosts: dict[str, Path] = {}
    ok = []
    for lb in brands:
        cfg, path, doc = lb.config, lb.path, docs[lb.path]
        file = display_path(path, brands_dir)
        errors: list[ConfigError] = []
        if cfg.slug in slugs:
            line, col = position(doc, ("slug",))
            errors.append(ConfigError(file, line, col, "slug", f"slug '{cfg.slug}' is already "
                                      f"used by {display_path(slugs[cfg.slug], brands_dir)}"))
        for field_name in ("domains", "aliases"):
            for i, host in enumerate(getattr(cfg, field_name)):
                if host in hosts:
                    line, col = position(doc, (field_name, i))
                    errors.append(ConfigError(file, line, col, f"{field_name}.{i}",
                                              f"host '{host}' is already claimed by "
                                              f"{display_path(hosts[host], brands_dir)}"))
        if errors:
            result.errors[path] = errors
            continue
        slugs[cfg.slug] = path
        hosts.update({h: path for h in (*cfg.domains, *cfg.aliases)})
        ok.append(lb)
    return ok
