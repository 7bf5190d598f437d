"""Matching journey: an intake questionnaire from brand YAML, then a ranked shortlist of
specialists with the reasons for each match.

Privacy decision: the answers are health data, and this module does not keep them. They are
validated, ranked against and echoed into the one response that shows the shortlist (so the
visitor can change them), then dropped: no database row, no session or cookie, no log line, no
cache (that response is ``Cache-Control: no-store``). The booking module will store them with
the appointment, encrypted at field level by the privacy work; until then nothing is kept.

The journey is open to anonymous visitors, so the module defines no permissions: every view is
``public``.
"""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from engine.modules import Module, Mount, NavEntry
from modules.matching.settings import MatchingSettings


def _module() -> Module:
    from modules.matching.blueprint import bp

    return Module(
        name="matching",
        title="Matching journey",
        requires=("directory",),
        settings=MatchingSettings,
        mounts=(Mount(bp, "patient", "/match"),),
        nav=(NavEntry("patient", "matching.index", _l("Find my match"), None, 5),),
        journeys=("matching",),
        template_folder=Path(__file__).parent / "templates",
    )


module = _module()

__all__ = ["MatchingSettings", "module"]
