"""Migrations apply from zero on PostgreSQL and on SQLite, and the models have no unmigrated change."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def _env(**overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", LOG_FORMAT="console", **overrides)
    return env


def _admin_conninfo() -> str:
    db = settings.DATABASES["default"]
    return f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} password={db['PASSWORD']} dbname=postgres"


def test_sqlite_migrates_from_zero(tmp_path):
    path = tmp_path / "test_embedded.sqlite3"
    proc = _manage("migrate", "--noinput", env=_env(DATABASE_URL=f"sqlite:///{path}"))
    assert proc.returncode == 0, proc.stderr
    check = _manage("shell", "-c", "from portfolio.models import Instrument; print(Instrument.objects.count())",
                    env=_env(DATABASE_URL=f"sqlite:///{path}"))
    assert check.stdout.strip().splitlines()[-1] == "4"


def test_postgresql_migrates_from_zero():
    name = f"test_migrate_{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"
        env = _env(DATABASE_URL=url, REDIS_URL=settings.REDIS_URL, WEBHOOK_SECRET="x" * 20, DJANGO_SECRET_KEY="k")
        proc = _manage("migrate", "--noinput", env=env)
        assert proc.returncode == 0, proc.stderr
        with psycopg.connect(_admin_conninfo().replace("dbname=postgres", f"dbname={name}")) as conn:
            (count,) = conn.execute("SELECT count(*) FROM portfolio_instrument").fetchone()
        assert count == 4
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_no_model_change_lacks_a_migration(tmp_path):
    proc = _manage("makemigrations", "--check", "--dry-run",
                   env=_env(DATABASE_URL=f"sqlite:///{tmp_path / 'test_check.sqlite3'}"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
