"""A server process settles its start-up heap: frozen out of the collector's reach, and young
collections spaced so that one request's working set is not promoted to the old generation."""

from __future__ import annotations

import gc

from engine.platform import settle_heap


def test_settling_freezes_what_exists_and_spaces_young_collections() -> None:
    thresholds = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (10_000, 10, 10)
        # what a request makes afterwards is collected as usual
        before = gc.get_freeze_count()
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
