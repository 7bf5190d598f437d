"""Gunicorn entry for the benchmark: the whole platform, configured from the environment.

``bench/run.py`` sets DARAPORT_BRANDS_DIR, DATABASE_URL, DARAPORT_INSTANCE_DIR and SECRET_KEY to
temporary values before gunicorn imports this, so nothing is read from or written to the repo.
"""

from __future__ import annotations

from engine.wsgi import application  # the production entry, exactly

__all__ = ["application"]
