"""Merge the Spanish translations parallel work wrote to ``translations/pending/*.po`` into the
catalogues, after a refresh (extract + update), then list what is still untranslated.
``*-console.po`` files go to the operator console's own catalogue
(``engine/console/translations``), the others to the brands' (``translations``).

    .venv/bin/python translations/merge_pending.py [--keep]

Only empty or fuzzy entries of ``es/LC_MESSAGES/messages.po`` are filled; a translation already
reviewed in the catalogue wins over a pending one. The pending files are removed unless --keep.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
CATALOGUE = HERE / "es" / "LC_MESSAGES" / "messages.po"
CONSOLE_CATALOGUE = (HERE.parent / "engine" / "console" / "translations" / "es" / "LC_MESSAGES"
                     / "messages.po")


def _key(message_id: object) -> str:
    return message_id[0] if isinstance(message_id, tuple | list) else str(message_id)


def merge(catalogue_path: Path, pending: list[Path]) -> tuple[int, list[str], list[str]]:
    """Fill ``catalogue_path`` from ``pending``: (filled, unused pending ids, still missing).
    A pending file may also be a whole catalogue (the console takes what the brands' already
    translate)."""
    with catalogue_path.open("rb") as f:
        catalogue = read_po(f, locale="es")
    filled, unused = 0, []
    for path in pending:
        whole = path == CATALOGUE or (catalogue_path == CONSOLE_CATALOGUE
                                      and not path.name.endswith("-console.po"))
        with path.open("rb") as f:
            extra = read_po(f, locale="es")
        for message in extra:
            if not message.id or not message.string:
                continue
            target = catalogue.get(message.id)
            if target is None:
                if not whole:
                    unused.append(f"{path.name}: {_key(message.id)!r}")
                continue
            if message.fuzzy:
                continue
            empty = not target.string or (isinstance(target.string, tuple)
                                          and not all(target.string))
            if empty or target.fuzzy:
                target.string = message.string
                target.flags.discard("fuzzy")
                filled += 1
    with catalogue_path.open("wb") as f:
        write_po(f, catalogue)
    missing = [_key(m.id) for m in catalogue if m.id and (
        not m.string or (isinstance(m.string, tuple) and not all(m.string)) or m.fuzzy)]
    return filled, unused, missing


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    pending = sorted((HERE / "pending").glob("*.po"))
    console = [p for p in pending if p.name.endswith("-console.po")]
    brands = [p for p in pending if p not in console]
    failed = False
    for catalogue, files in ((CATALOGUE, brands),
                             (CONSOLE_CATALOGUE, [*console, *brands, CATALOGUE])):
        filled, unused, missing = merge(catalogue, files)
        print(f"{catalogue.relative_to(HERE.parent)}: filled {filled} from {len(files)} file(s)")
        for line in unused:
            print(f"  not in the catalogue (stale or mistyped msgid): {line}")
        for msgid in missing:
            print(f"  untranslated: {msgid!r}")
        failed |= bool(missing)
    if not keep:
        for path in pending:  # (the brands' catalogue is never among them)
            path.unlink()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
