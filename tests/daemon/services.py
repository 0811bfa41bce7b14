"""Postgres, Redis and Dify's real plugin daemon on loopback, each in a throwaway folder.

The daemon keeps its state in Postgres and Redis and has no in-memory mode, so the layer runs
both from Debian's packages (installed with apt-get when missing and running as root). Each
service listens on 127.0.0.1 on a free port, lives in its own temporary folder, and `stop()` ends
its process and removes the folder. The daemon gets a minimal environment: what it reads, a PATH
whose first Python 3.12 is this machine's (the daemon's `uv` finds interpreters on PATH only, and
must not download one), how this machine reaches the package index, and nothing else of the test
process.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import uv

from tools.dify_daemon import Binaries
from tools.llama_server import free_port

START_TIMEOUT = 60  # seconds for a service to answer after it is started
NETWORK_SETTINGS = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)


class ServiceUnavailable(Exception):
    """A service's program is missing and cannot be installed here; the message names it."""


def debian_binary(name: str, package: str, search: str = "") -> Path:
    """`name` from PATH or the `search` glob, installing Debian's `package` when missing and root."""

    def found() -> Path | None:
        on_path = shutil.which(name)
        matches = sorted(glob.glob(search)) if search else []
        return Path(on_path) if on_path else (Path(matches[-1]) if matches else None)

    if path := found():
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ServiceUnavailable(f"{name} (Debian package {package}; installing it needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    # The package lists may be missing or stale on a fresh machine: refresh them once, then retry.
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        retried = subprocess.run(install, env=env, capture_output=True, text=True)
        if retried.returncode != 0:
            raise ServiceUnavailable(f"{name}: `{' '.join(install)}` failed: {retried.stderr.strip()[-500:]}")
    if path := found():
        return path
    raise ServiceUnavailable(f"{name} is still missing after installing {package}")


def _wait(ready: Callable[[], bool], process: subprocess.Popen, what: str, log: Path) -> None:
    """Return once `ready()`; raise with the log's end if `process` exits or START_TIMEOUT passes."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


class Service:
    """A child process in its own temporary folder and process group; `stop()` ends the group (the
    daemon's plugin processes with it) and removes the folder."""

    name = "service"
    stop_signal = signal.SIGTERM

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix=f"togetherai-{self.name}-"))
        self.log = self.folder / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: list[str], **kwargs: object) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
            )

    def stop(self) -> None:
        if self.process:
            self._signal_group(self.stop_signal)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
            self._signal_group(signal.SIGKILL)  # whatever outlived the leader
            self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _signal_group(self, signal_number: int) -> None:
        try:
            os.killpg(self.process.pid, signal_number)
        except ProcessLookupError:
            pass


class Postgres(Service):
    """A Postgres cluster owned by the `postgres` user when run as root (Postgres refuses root)."""

    name = "postgres"
    user = "postgres"
    stop_signal = signal.SIGINT  # a fast shutdown: SIGTERM would wait for every client to leave

    def __init__(self) -> None:
        # Resolved: Postgres's programs sit together, and a link to initdb on PATH may not.
        self.initdb = debian_binary("initdb", "postgresql", "/usr/lib/postgresql/*/bin/initdb").resolve()
        super().__init__()
        self.password = secrets.token_hex(12)
        self.postgres = self.initdb.parent / "postgres"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            self._as_owner = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
            shutil.chown(self.folder, "postgres", "postgres")

    def start(self) -> Postgres:
        data = self.folder / "data"
        password_file = self.folder / "password"
        password_file.write_text(self.password)
        if self._as_owner:
            shutil.chown(password_file, "postgres", "postgres")
        subprocess.run(
            [*self._as_owner, str(self.initdb), "-D", str(data), "-U", self.user, "--auth=scram-sha-256",
             f"--pwfile={password_file}", "--encoding=UTF8", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.folder,
        }
        settings |= {"fsync": "off", "full_page_writes": "off", "max_connections": 200}
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        self._spawn([*self._as_owner, str(self.postgres), "-D", str(data), *options])
        isready = self.initdb.parent / "pg_isready"
        probe = [str(isready), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
        _wait(
            lambda: subprocess.run(probe, capture_output=True).returncode == 0,
            self.process,
            "postgres",
            self.log,
        )
        return self


class Redis(Service):
    name = "redis"

    def __init__(self) -> None:
        self.binary = debian_binary("redis-server", "redis-server")
        super().__init__()
        self.password = secrets.token_hex(12)

    def start(self) -> Redis:
        config = [
            "--bind", "127.0.0.1", "--port", str(self.port), "--requirepass", self.password,
            "--dir", str(self.folder), "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip
        self._spawn([str(self.binary), *config])
        _wait(self._answers, self.process, "redis", self.log)
        return self

    def _answers(self) -> bool:
        """AUTH and PING over the wire protocol answer `+OK` and `+PONG`."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as connection:
                connection.sendall(f"AUTH {self.password}\r\nPING\r\n".encode())
                received = b""
                while b"+PONG" not in received and (more := connection.recv(100)):
                    received += more
                return received.startswith(b"+OK")
        except OSError:
            return False


class Daemon(Service):
    """dify-plugin-daemon with `platform=local`, after `dify migrate` against `postgres`.

    `url` serves Dify's inner API (`/plugin/{tenant}/...`, header `X-Api-Key: key`);
    `debugging_port` takes remote-debugging plugins. Its log, plugin output included, is `log`.
    """

    name = "daemon"

    def __init__(self, binaries: Binaries, postgres: Postgres, redis: Redis, uv_cache: Path) -> None:
        super().__init__()
        self.binaries = binaries
        self.key = secrets.token_hex(16)
        self.tenant = str(uuid.uuid4())  # tenants are Postgres uuid columns
        self.debugging_port = free_port()
        working = self.folder / "cwd"
        working.mkdir()
        # The daemon gives uv `<working path>/.uv-cache`; a lasting cache there keeps warm runs fast.
        uv_cache.mkdir(parents=True, exist_ok=True)
        (working / ".uv-cache").symlink_to(uv_cache)
        python_bin = sysconfig.get_config_var("BINDIR")
        self.env = {
            "PATH": os.pathsep.join([python_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(self.folder),
            "LANG": "C.UTF-8",
            "SERVER_HOST": "127.0.0.1",
            "SERVER_PORT": str(self.port),
            "SERVER_KEY": self.key,
            "PLATFORM": "local",
            "DIFY_INNER_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing answers: no backwards calls
            "DIFY_INNER_API_KEY": secrets.token_hex(8),
            "DB_TYPE": "postgresql",
            "DB_USERNAME": postgres.user,
            "DB_PASSWORD": postgres.password,
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(postgres.port),
            "DB_DATABASE": "dify_plugin",
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis.port),
            "REDIS_PASSWORD": redis.password,
            "PLUGIN_WORKING_PATH": str(working),
            "PLUGIN_STORAGE_LOCAL_ROOT": str(self.folder / "storage"),
            "PLUGIN_REMOTE_INSTALLING_HOST": "127.0.0.1",
            "PLUGIN_REMOTE_INSTALLING_PORT": str(self.debugging_port),
            "FORCE_VERIFYING_SIGNATURE": "false",
            "PIP_MIRROR_AUTO_DETECT": "false",
            "UV_PATH": uv.find_uv_bin(),
            "UV_PYTHON_DOWNLOADS": "never",
            "PYTHON_INTERPRETER_PATH": str(Path(python_bin) / "python3.12"),
            # How this machine reaches the package index; the daemon hands these on to uv.
            **{name: os.environ[name] for name in NETWORK_SETTINGS if name in os.environ},
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Daemon:
        # `migrate` reads a .env in its working folder; this one has none.
        migrate = subprocess.run(
            [str(self.binaries.dify), "migrate"],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"dify migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-2000:]}")
        self._spawn([str(self.binaries.server)], cwd=self.folder, env=self.env)
        _wait(self._healthy, self.process, "dify-plugin-daemon", self.log)
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/check", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")
