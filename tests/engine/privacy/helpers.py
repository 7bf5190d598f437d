"""Scans for a person's traces: every text column of every table, every file of a folder."""

from __future__ import annotations

import zipfile
from pathlib import Path

from sqlalchemy import JSON, MetaData, String, Text, select
from sqlalchemy.orm import Session


def text_hits(session: Session, needles: list[str]) -> list[tuple[str, str]]:
    """(table, column) of every text value in the database containing one of ``needles``."""
    meta = MetaData()
    meta.reflect(bind=session.connection())
    hits = []
    lowered = [n.lower() for n in needles]
    for table in meta.sorted_tables:
        cols = [c for c in table.columns
                if isinstance(c.type, String | Text | JSON) or "JSON" in str(c.type).upper()
                or "CHAR" in str(c.type).upper() or "TEXT" in str(c.type).upper()]
        if not cols:
            continue
        for row in session.execute(select(*cols)):
            for col, value in zip(cols, row, strict=True):
                if value is not None and any(n in str(value).lower() for n in lowered):
                    hits.append((table.name, col.name))
    return hits


def file_hits(folder: Path, needles: list[str]) -> list[Path]:
    """Files under ``folder`` (and members of ZIPs) whose bytes hold one of ``needles``."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if zipfile.is_zipfile(path):  # compressed: look inside every member
                with zipfile.ZipFile(path) as archive:
                    data += b"".join(archive.read(n) for n in archive.namelist())
            if any(n.lower().encode() in data.lower() for n in needles):
                found.append(path)
    return found
