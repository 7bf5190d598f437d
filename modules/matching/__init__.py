"""Matching journey: an intake questionnaire from brand YAML, then a ranked shortlist of
specialists with the reasons for each match.

Privacy decision: the answers are health data, and this module does not keep them. They are
validated, ranked against and echoed into the one response that shows the shortlist (so the
visitor can change them), then dropped: no database row, no session or cookie, no log line, no
cache (that response is ``Cache-Control: no-store``). To book, the shortlist hands them to the
booking page as an encrypted, signed token that expires after two hours
(``modules.booking.intake``); it is kept in the browser tab, never in a URL, and the booking
module stores the answers with the appointment (``booking_intake_answers``, the one place) only
when the patient books. Until then nothing is kept.

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
        requires=("directory", "booking"),
        settings=MatchingSettings,
        mounts=(Mount(bp, "patient", "/match"),),
        nav=(NavEntry("patient", "matching.index", _l("Find my match"), None, 5),),
        journeys=("matching",),
        template_folder=Path(__file__).parent / "templates",
    )


module = _module()

__all__ = ["MatchingSettings", "module"]
