"""The effective Celery configuration (misspelled setting names are silently ignored, so check it)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from config.celery import MALLOC_ARENAS, _yield_cpu_to_ingest, app
from signals.tasks import execute_instrument


def test_tasks_survive_worker_loss_and_are_not_redelivered_while_running():
    conf = app.conf
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_soft_time_limit < conf.task_time_limit
    # An unacknowledged task comes back after the visibility timeout: it must outlast the longest task.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.beat_scheduler == "recovery.beat:LeaderDatabaseScheduler"


def test_executor_task_backs_off_on_database_errors():
    assert execute_instrument.acks_late and execute_instrument.reject_on_worker_lost
    assert execute_instrument.retry_backoff == 1 and execute_instrument.retry_backoff_max == 60
    assert execute_instrument.max_retries == 10


@pytest.mark.parametrize(("niceness", "calls"), [(10, [10]), (0, [])])
def test_a_worker_yields_the_cpu_to_the_web_instances(monkeypatch, settings, niceness, calls):
    made = []
    written = []
    monkeypatch.setattr("config.celery.os.nice", made.append)
    monkeypatch.setattr("builtins.open", lambda path, mode: _Recorder(written, path))
    settings.PM_WORKER_NICENESS = niceness
    _yield_cpu_to_ingest()
    assert made == calls
    assert written == [("/proc/self/autogroup", str(n)) for n in calls]


class _Recorder:
    def __init__(self, written: list, path: str) -> None:
        self.written, self.path = written, path

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def write(self, text: str) -> None:
        self.written.append((self.path, text))


_ARENAS_PROBE = """
import ctypes, os, sys, threading
if sys.argv[1] == "capped":
    import config  # as every process of ours does, through its settings module
go = threading.Barrier(8)
def allocate():
    go.wait()  # all eight threads alive at once, each making its first allocations
    blocks = [bytearray(256) for _ in range(2000)]
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas_of_probe(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    probe = subprocess.run([sys.executable, "-c", _ARENAS_PROBE, mode], env=env, capture_output=True, text=True,
                           check=True, cwd=Path(__file__).resolve().parents[2])
    return probe.stderr.count("Arena ")


_GLIBC_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                 reason="glibc only")


@_GLIBC_ONLY
def test_our_processes_keep_to_two_malloc_arenas():
    assert _arenas_of_probe("capped") == MALLOC_ARENAS  # the main arena and one for all eight threads


@_GLIBC_ONLY
def test_without_the_cap_the_probe_opens_more_arenas():
    assert _arenas_of_probe("default") > MALLOC_ARENAS  # so the test above measures the cap, not the probe
