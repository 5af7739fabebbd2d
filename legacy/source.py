"""Reading the legacy PostgreSQL database: one read-only, repeatable-read transaction per read, so
the tables are seen at one instant and nothing can be written there by mistake.

Rows come back as plain dicts (``SELECT *``), so columns the legacy system added late and a given
installation may lack (``equity_high`` of migration 015, ``is_test`` of 004, ``exit_*`` of 005, the
tables of 008 and 010) simply read as absent; a missing optional table is listed, not fatal.
Timestamps are the legacy ``TIMESTAMP`` columns as psycopg returns them: naive (IST wall clock).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

LIVE_STATUSES = ("open", "partial", "closing")


class LegacyUnavailable(Exception):
    """The legacy database could not be read (connection, permissions, a required table)."""


def describe(url: str) -> dict:
    """Host, port and database name of a connection URL (never its password)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise LegacyUnavailable(f"--from is not a PostgreSQL connection URL: {exc}") from None
    return {"host": info.get("host") or "localhost", "port": str(info.get("port") or "5432"),
            "dbname": info.get("dbname") or info.get("user") or ""}


@dataclass
class LegacySnapshot:
    """Everything the import needs, read at one instant."""

    database: dict
    read_only: bool
    positions: list[dict]
    state: dict | None
    ledger: list[dict]
    pyramiding: list[dict]
    signals: list[dict]
    missing_tables: list[str] = field(default_factory=list)


@dataclass
class LegacyHistory:
    """What ``compare_legacy`` needs: the signal log since a date, its audit rows, and positions."""

    database: dict
    signals: list[dict]
    audits: list[dict]
    positions: list[dict]
    missing_tables: list[str] = field(default_factory=list)


@contextmanager
def _read_only(url: str) -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(url, connect_timeout=5, row_factory=dict_row, autocommit=False)
    except psycopg.Error as exc:
        raise LegacyUnavailable(f"cannot connect to the legacy database: {exc}".strip()) from None
    try:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL statement_timeout = '60s'")
            yield conn
    except psycopg.Error as exc:
        raise LegacyUnavailable(f"reading the legacy database failed: {exc}".strip()) from None
    finally:
        conn.close()


def _rows(conn: psycopg.Connection, sql: str, params: tuple = (), *, optional: str = "",
          missing: list[str] | None = None) -> list[dict]:
    """The query's rows; for an ``optional`` table that does not exist, [] (and it is listed)."""
    if not optional:
        return conn.execute(sql, params).fetchall()
    try:
        with conn.transaction():  # a savepoint: the read-only transaction survives the error
            return conn.execute(sql, params).fetchall()
    except (errors.UndefinedTable, errors.UndefinedColumn):
        if missing is not None:
            missing.append(optional)
        return []


def _naive(moment: datetime, tz: str) -> datetime:
    """An aware instant as the legacy columns store it: naive wall clock in ``tz``."""
    return moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def read_snapshot(url: str, *, signals_since: datetime, tz: str) -> LegacySnapshot:
    """Open positions, the portfolio row, the ledger, pyramiding and recent signals, at one instant."""
    missing: list[str] = []
    with _read_only(url) as conn:
        read_only = conn.execute("SHOW transaction_read_only").fetchone()["transaction_read_only"] == "on"
        positions = _rows(conn, "SELECT * FROM portfolio_positions WHERE status = ANY(%s) "
                                "ORDER BY instrument, position_id", (list(LIVE_STATUSES),))
        state = _rows(conn, "SELECT * FROM portfolio_state WHERE id = 1")
        ledger = _rows(conn, "SELECT * FROM capital_transactions ORDER BY created_at, id",
                       optional="capital_transactions", missing=missing)
        pyramiding = _rows(conn, "SELECT * FROM pyramiding_state ORDER BY instrument")
        signals = _rows(conn, "SELECT * FROM signal_log WHERE signal_timestamp >= %s ORDER BY signal_timestamp, id",
                        (_naive(signals_since, tz),))
    return LegacySnapshot(describe(url), read_only, positions, state[0] if state else None, ledger, pyramiding,
                          signals, missing)


def read_history(url: str, *, since: datetime, tz: str) -> LegacyHistory:
    missing: list[str] = []
    cutoff = (_naive(since, tz),)
    with _read_only(url) as conn:
        signals = _rows(conn, "SELECT * FROM signal_log WHERE signal_timestamp >= %s ORDER BY signal_timestamp, id",
                        cutoff)
        audits = _rows(conn, "SELECT * FROM signal_audit WHERE signal_timestamp >= %s ORDER BY id", cutoff,
                       optional="signal_audit", missing=missing)
        positions = _rows(conn, "SELECT * FROM portfolio_positions ORDER BY position_id")
    return LegacyHistory(describe(url), signals, audits, positions, missing)
