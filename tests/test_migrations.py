"""Migrations apply from zero on PostgreSQL and on SQLite, and the models have no unmigrated change."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
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


@pytest.fixture
def scratch_database():
    """A fresh PostgreSQL database (name starting with test_) and the environment to manage it."""
    name = f"test_migrate_{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"
    env = _env(DATABASE_URL=url, REDIS_URL=settings.REDIS_URL, WEBHOOK_SECRET="x" * 32, DJANGO_SECRET_KEY="k")
    try:
        yield env, _admin_conninfo().replace("dbname=postgres", f"dbname={name}")
    finally:
        with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgresql_migrates_from_zero(scratch_database):
    env, conninfo = scratch_database
    proc = _manage("migrate", "--noinput", env=env)
    assert proc.returncode == 0, proc.stderr
    with psycopg.connect(conninfo) as conn:
        (count,) = conn.execute("SELECT count(*) FROM portfolio_instrument").fetchone()
    assert count == 4


def test_upgrade_keeps_rows_and_permissions_of_models_that_moved_app(scratch_database):
    """A database of the first layout (platform and reconciliation tables in ``recovery``): its rows
    stay, under the new apps' tables, and a permission granted on a moved model still applies."""
    env, conninfo = scratch_database
    for app, migration in (("contenttypes", "0002"), ("auth", "0012"), ("recovery", "0002")):
        proc = _manage("migrate", app, migration, "--noinput", env=env)
        assert proc.returncode == 0, proc.stderr
    granted = ("SELECT ct.app_label FROM auth_user_user_permissions up JOIN auth_permission p ON p.id = "
               "up.permission_id JOIN django_content_type ct ON ct.id = p.content_type_id "
               "WHERE p.codename = 'change_discrepancy'")
    with psycopg.connect(conninfo) as conn:
        conn.execute("INSERT INTO recovery_leaderlease (name, epoch, holder, backend) VALUES ('default', 7, 'x', 'redis')")
        (user,) = conn.execute("INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, "
                               "is_staff, is_active, date_joined) VALUES ('', false, 'ops', '', '', '', true, true, "
                               "now()) RETURNING id").fetchone()
        conn.execute("INSERT INTO auth_user_user_permissions (user_id, permission_id) SELECT %s, p.id FROM "
                     "auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id "
                     "WHERE ct.app_label = 'recovery' AND p.codename = 'change_discrepancy'", [user])
        assert conn.execute(granted).fetchall() == [("recovery",)]
    proc = _manage("migrate", "--noinput", env=env)
    assert proc.returncode == 0, proc.stderr
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT epoch FROM core_leaderlease").fetchone() == (7,)
        assert conn.execute("SELECT to_regclass('recovery_leaderlease')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM reconciliation_discrepancy").fetchone() == (0,)
        assert conn.execute(granted).fetchall() == [("reconciliation",)]


def test_no_model_change_lacks_a_migration(tmp_path):
    proc = _manage("makemigrations", "--check", "--dry-run",
                   env=_env(DATABASE_URL=f"sqlite:///{tmp_path / 'test_check.sqlite3'}"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
