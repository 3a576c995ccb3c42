"""`JobManager`: the front door. Its public methods check what callers pass and delegate to its collaborators.

`front` holds the strategies, jobs and life cycle; `monitoring` the schedules, webhooks, listeners and retention,
which `JobManager` inherits.
"""

from meterlocal.manager.front import JobManager

__all__ = ["JobManager"]
