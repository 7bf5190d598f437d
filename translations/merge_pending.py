"""Merge the Spanish translations parallel work wrote to ``translations/pending/*.po`` into the
catalogue, after a refresh (extract + update), then list what is still untranslated.

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


def _key(message_id: object) -> str:
    return message_id[0] if isinstance(message_id, tuple | list) else str(message_id)


def main() -> int:
    keep = "--keep" in sys.argv[1:]
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f, locale="es")
    pending = sorted((HERE / "pending").glob("*.po"))
    filled, unused = 0, []
    for path in pending:
        with path.open("rb") as f:
            extra = read_po(f, locale="es")
        for message in extra:
            if not message.id or not message.string:
                continue
            target = catalogue.get(message.id)
            if target is None:
                unused.append(f"{path.name}: {_key(message.id)!r}")
                continue
            empty = not target.string or (isinstance(target.string, tuple)
                                          and not all(target.string))
            if empty or target.fuzzy:
                target.string = message.string
                target.flags.discard("fuzzy")
                filled += 1
    with CATALOGUE.open("wb") as f:
        write_po(f, catalogue)
    missing = [_key(m.id) for m in catalogue if m.id and (
        not m.string or (isinstance(m.string, tuple) and not all(m.string)) or m.fuzzy)]
    print(f"filled {filled} from {len(pending)} pending file(s)")
    for line in unused:
        print(f"not in the catalogue (stale or mistyped msgid): {line}")
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    if not keep:
        for path in pending:
            path.unlink()
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
