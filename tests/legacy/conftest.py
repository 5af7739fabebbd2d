"""A legacy database built from the legacy schema (tests/legacy/fixtures), in a fresh PostgreSQL
database named test_legacy_<random> that is dropped afterwards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

FIXTURES = Path(__file__).parent / "fixtures"


def _server() -> dict:
    db = settings.DATABASES["default"]
    return {"host": db["HOST"] or "127.0.0.1", "port": str(db["PORT"] or 5432), "user": db["USER"],
            "password": db["PASSWORD"]}


def _conninfo(dbname: str) -> str:
    s = _server()
    return f"host={s['host']} port={s['port']} user={s['user']} password={s['password']} dbname={dbname}"


@dataclass
class LegacyDatabase:
    name: str
    url: str

    def execute(self, sql: str, params: tuple | None = None) -> list[tuple]:
        """Run SQL in the legacy database (committed); the rows it returns, if any."""
        with psycopg.connect(_conninfo(self.name), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def load(self, *files: str) -> None:
        for file in files:
            self.execute((FIXTURES / file).read_text(encoding="utf-8"))


@pytest.fixture
def empty_legacy_db():
    """The legacy schema with its seeds only (migrations 001–015), no trading rows yet."""
    name = f"test_legacy_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    s = _server()
    database = LegacyDatabase(name, f"postgres://{s['user']}:{s['password']}@{s['host']}:{s['port']}/{name}")
    try:
        database.load("legacy_schema.sql")
        yield database
    finally:
        with psycopg.connect(_conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def legacy_db(empty_legacy_db):
    """The legacy schema plus the realistic rows of legacy_rows.sql."""
    empty_legacy_db.load("legacy_rows.sql")
    return empty_legacy_db
