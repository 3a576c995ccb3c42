"""meterlocal: a local, embeddable scraping engine that speaks Meter's Jobs API."""

from meterlocal.errors import *  # noqa: F403  (placeholder until the package API lands)

__version__ = "0.1.0"
