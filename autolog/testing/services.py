"""Throwaway services for tests and benchmarks: a PostgreSQL cluster and an S3 server (moto).

Both bind 127.0.0.1 on a free port and leave nothing behind when stopped. The PostgreSQL
cluster uses the server binaries of the machine (Debian's ``/usr/lib/postgresql/<v>/bin`` or
``pg_ctl`` on the PATH); ``initdb`` and ``pg_ctl`` refuse to run as root, so under root they run
as the ``postgres`` user.

Example::

    with PostgresCluster.start() as pg:
        store = SqlStore(pg.new_database(), "artifacts")
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

PASSWORD = "autolog-test"
USER = "postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin_dir() -> str | None:
    """The folder of ``pg_ctl`` and ``initdb``, newest version first; None when not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    on_path = shutil.which("pg_ctl")
    return os.path.dirname(on_path) if on_path else None


def with_database(uri: str, database: str) -> str:
    """``uri`` pointing at another database of the same server."""
    base, _, query = uri.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}" + (f"?{query}" if query else "")


class PostgresCluster:
    """A PostgreSQL server: a throwaway cluster (:meth:`start`) or an existing one (:meth:`at`).

    Attributes:
        uri: a ``postgresql+psycopg://`` URI of the ``postgres`` database, with the password.
    """

    def __init__(self, uri: str, data_dir: str | None = None, bin_dir: str | None = None) -> None:
        self.uri = uri
        self.data_dir = data_dir
        self.bin_dir = bin_dir
        self._options = ""
        self._log = os.devnull

    @classmethod
    def at(cls, uri: str) -> "PostgresCluster":
        """An existing server (its user must be allowed to create databases); never stopped."""
        return cls(uri)

    @classmethod
    def start(cls, durable: bool = False, max_connections: int = 300) -> "PostgresCluster":
        """Create and start a cluster on a free port of 127.0.0.1.

        Args:
            durable: keep fsync on (benchmarks of committed writes); tests turn it off for speed.
            max_connections: the server's limit (parallel-writer tests open many pools).

        Raises:
            FileNotFoundError: PostgreSQL's server binaries are not installed.
            RuntimeError: initdb or pg_ctl failed (their output is in the message).
        """
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL is not installed (no pg_ctl); apt-get install postgresql")
        base = tempfile.mkdtemp(prefix="autolog-pg-")
        os.chmod(base, 0o755)
        data = os.path.join(base, "data")
        pwfile = os.path.join(base, "pw")
        with open(pwfile, "w") as fh:
            fh.write(PASSWORD)
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam("postgres")
            for path in (base, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        cluster = cls("", data, bin_dir)
        locale = ["--locale=C.UTF-8"] if _has_c_utf8() else ["--no-locale"]
        cluster._pg("initdb", "-D", data, "-U", USER, "-E", "UTF8", *locale, "--auth-local=trust",
                    "--auth-host=scram-sha-256", f"--pwfile={pwfile}")
        port = free_port()
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {base} "
                   f"-c max_connections={max_connections} -c shared_buffers=128MB")
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        cluster._options = options
        cluster._log = os.path.join(base, "server.log")
        cluster.uri = f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{port}/postgres"
        cluster.resume()
        return cluster

    def _pg(self, tool: str, *args: str) -> None:
        assert self.bin_dir is not None
        cmd = [os.path.join(self.bin_dir, tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}")

    @property
    def owned(self) -> bool:
        """True for a cluster this object created (and may stop and restart)."""
        return self.data_dir is not None

    def pause(self) -> None:
        """Stop the server, keeping its data (a database outage, for tests)."""
        assert self.data_dir is not None
        self._pg("pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start the server again on the same port."""
        assert self.data_dir is not None
        self._pg("pg_ctl", "-D", self.data_dir, "-l", self._log, "-o", self._options, "-w",
                 "-t", "60", "start")

    def stop(self) -> None:
        """Stop the server and delete its files (no-op for a server given by URI)."""
        if self.data_dir is None:
            return
        try:
            self._pg("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop")
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(os.path.dirname(self.data_dir), ignore_errors=True)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.uri.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self) -> str:
        """Create an empty database and return its URI."""
        name = f"autolog_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return with_database(self.uri, name)

    def drop_database(self, uri: str) -> None:
        """Drop a database made by :meth:`new_database` (disconnecting its sessions)."""
        name = uri.partition("?")[0].rpartition("/")[2]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> "PostgresCluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _has_c_utf8() -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
    except OSError:
        return False
    return any(line.lower().replace("-", "") == "c.utf8" for line in out.splitlines())


class MotoS3Server:
    """moto's S3 server in a subprocess on 127.0.0.1; sets no environment of this process.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>``.
        env: the variables a client needs (endpoint, dummy credentials, region).
    """

    def __init__(self) -> None:
        port = free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.env = {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto's S3 server did not start (is moto[server] installed?)")
                time.sleep(0.1)

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
            aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=name)

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
