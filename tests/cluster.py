"""A local cluster on loopback: N gunicorn web instances, Celery workers and beats, a private Redis,
all against one PostgreSQL database — for the HA and chaos tests, and by hand:

    python -m tests.cluster --web 2 --workers 1 --beats 2      # Ctrl-C stops everything

Each process logs to its own file (JSON lines) under the cluster's directory.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SECRET = "cluster-webhook-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class RedisServer:
    """A private redis-server, so a test can shut it down and bring it back."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, what=f"redis on {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def shutdown(self) -> None:
        """Like ``redis-cli shutdown nosave``: the server goes away with everything in it."""
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10)
        if self.process is not None:
            self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class Proc:
    name: str
    kind: str
    popen: subprocess.Popen
    log: Path
    url: str | None = None

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Cluster:
    database_url: str
    directory: Path
    redis: RedisServer
    procs: dict[str, Proc] = field(default_factory=dict)

    def env(self, name: str, **overrides: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PM_", "DJANGO_", "PROMETHEUS_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=self.database_url, REDIS_URL=self.redis.url,
            WEBHOOK_SECRET=SECRET, DJANGO_SECRET_KEY="cluster-secret-key", LOG_FORMAT="json", INSTANCE_ID=name,
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        env.update(overrides)
        return env

    def _spawn(self, name: str, kind: str, argv: list[str], env: dict, url: str | None = None) -> Proc:
        log = self.directory / f"{name}.log"
        handle = open(log, "ab")
        popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        proc = Proc(name, kind, popen, log, url)
        self.procs[name] = proc
        return proc

    def start_web(self, name: str, *, port: int | None = None, database_url: str | None = None,
                  workers: int = 1, threads: int = 8) -> Proc:
        port = port or free_port()
        env = self.env(name, PM_BIND=f"127.0.0.1:{port}", WEB_WORKERS=str(workers), WEB_THREADS=str(threads))
        if database_url:
            env["DATABASE_URL"] = database_url
        proc = self._spawn(name, "web", [sys.executable, "-m", "gunicorn", "config.wsgi", "--config",
                                         "config/gunicorn.py"], env, url=f"http://127.0.0.1:{port}")
        wait_until(lambda: _responds(proc.url + "/health"), timeout=30, what=f"{name} to serve")
        return proc

    def start_worker(self, name: str, concurrency: int = 4) -> Proc:
        argv = [sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "--pool", "threads", "--concurrency",
                str(concurrency), "--without-gossip", "--without-mingle", "-n", f"{name}@%h", "-l", "INFO"]
        return self._spawn(name, "worker", argv, self.env(name))

    def start_beat(self, name: str) -> Proc:
        argv = [sys.executable, "-m", "celery", "-A", "config", "--quiet", "beat", "-l", "INFO", "--pidfile="]
        return self._spawn(name, "beat", argv, self.env(name))

    def signal(self, name: str, sig: int) -> float:
        """Send ``sig`` to the process; returns the wall-clock time it was sent."""
        sent = time.time()
        os.kill(self.procs[name].popen.pid, sig)
        return sent

    def wait_exit(self, name: str, timeout: float = 30) -> int:
        return self.procs[name].popen.wait(timeout=timeout)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.alive:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.popen.wait(timeout=35)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=5)

    def post(self, web: str, payload: dict, **kwargs) -> httpx.Response:
        return httpx.post(self.procs[web].url + "/webhook", json={**payload, "secret": SECRET}, timeout=10, **kwargs)


def _responds(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 600
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--beats", type=int, default=2)
    parser.add_argument("--base-port", type=int, default=8001)
    parser.add_argument("--database-url", default=os.environ.get(
        "DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/pm_cluster"))
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="pm-cluster-"))
    redis = RedisServer(directory).start()
    cluster = Cluster(args.database_url, directory, redis)
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                             env=cluster.env("migrate"))
    if migrate.returncode:
        sys.exit("migrate failed (does the database exist?)")
    subprocess.run([sys.executable, "manage.py", "init_portfolio", "--capital", "5000000"], cwd=ROOT,
                   env=cluster.env("init"))
    try:
        for i in range(args.web):
            cluster.start_web(f"web{i + 1}", port=args.base_port + i)
        for i in range(args.workers):
            cluster.start_worker(f"worker{i + 1}")
        for i in range(args.beats):
            cluster.start_beat(f"beat{i + 1}")
        for proc in cluster.procs.values():
            print(f"{proc.name:<8} pid {proc.popen.pid:<7} {proc.url or ''}  log {proc.log}")
        print(f"redis    port {redis.port}; webhook secret {SECRET}; Ctrl-C to stop")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        redis.shutdown()


if __name__ == "__main__":
    main()
