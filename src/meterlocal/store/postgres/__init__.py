"""The PostgreSQL store: one database shared by the managers and workers of many hosts.

Needs `pip install 'meterlocal[postgres]'` (psycopg 3 and psycopg_pool), imported only when a store opens.
"""

from __future__ import annotations

from meterlocal.store.postgres.store import INSTALL_HINT, PostgresStore, is_postgres_url

__all__ = ["INSTALL_HINT", "PostgresStore", "is_postgres_url"]
