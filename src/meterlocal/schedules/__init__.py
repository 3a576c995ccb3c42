"""Schedules: strategies re-run on an interval or at cron times, their unseen changes and their changelog.

`timing` computes due times, `rules` checks a schedule's fields, `keywords` is the changes filter, `changelog`
aligns two runs' items; all four are pure. `loop` is the collaborator that fires due schedules inside every open
`JobManager`, once per due time across every process on the store.
"""

from meterlocal.schedules.changelog import ItemChanges, item_changes
from meterlocal.schedules.keywords import KeywordFilter
from meterlocal.schedules.timing import (
    MIN_INTERVAL_SECONDS,
    MIN_LIBRARY_INTERVAL_SECONDS,
    ScheduleType,
    next_run_after,
)

__all__ = [
    "MIN_INTERVAL_SECONDS",
    "MIN_LIBRARY_INTERVAL_SECONDS",
    "ItemChanges",
    "KeywordFilter",
    "ScheduleType",
    "item_changes",
    "next_run_after",
]
