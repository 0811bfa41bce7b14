"""Session fixtures of the daemon layer: the daemon and CLI built from source, Postgres, Redis, the daemon
itself, and this checkout packed by the real `dify plugin package` and installed through the API.

Where Go, the daemon's source or a service cannot be had, the layer skips with one line naming what
it needs; under `make test` (TOGETHERAI_REQUIRE_DAEMON=1) that is a failure instead. Every service
is stopped at the end of the session, whatever happened.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.daemon.dify_api import DifyApi
from tests.daemon.services import Daemon, Postgres, Redis, Service, ServiceUnavailable
from tools import dify_daemon
from tools.dify_daemon import Binaries, BuildUnavailable
from tools.package import package_name

ROOT = Path(__file__).resolve().parents[2]
REQUIRE = "TOGETHERAI_REQUIRE_DAEMON"


def unavailable(what: str) -> NoReturn:
    """Skip, or under `make test` fail, with one line naming what is missing."""
    message = f"the real plugin daemon needs {what}"
    if os.environ.get(REQUIRE):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    try:
        return dify_daemon.build()
    except BuildUnavailable as missing:
        unavailable(str(missing))


def _started[S: Service](service_class: type[S]) -> S:
    """A started `service_class`; a service that fails to start is stopped (its folder removed) first."""
    try:
        service = service_class()
    except ServiceUnavailable as missing:
        unavailable(str(missing))
    try:
        return service.start()
    except BaseException:
        service.stop()
        raise


@pytest.fixture(scope="session")
def postgres(binaries: Binaries) -> Iterator[Postgres]:
    service = _started(Postgres)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def redis(binaries: Binaries) -> Iterator[Redis]:
    service = _started(Redis)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def daemon(binaries: Binaries, postgres: Postgres, redis: Redis) -> Iterator[Daemon]:
    service = Daemon(binaries, postgres, redis, uv_cache=dify_daemon.CACHE / "uv-cache")
    try:
        service.start()
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def package(binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout packed by `dify plugin package`."""
    target = tmp_path_factory.mktemp("dist") / package_name(ROOT)
    subprocess.run([str(binaries.dify), "plugin", "package", str(ROOT), "-o", str(target)], check=True)
    return target


@pytest.fixture(scope="session")
def dify(daemon: Daemon) -> Iterator[DifyApi]:
    api = DifyApi(daemon)
    yield api
    api.close()


@pytest.fixture(scope="session")
def installed(dify: DifyApi, package: Path) -> str:
    """The package installed for the tenant and its plugin process running; its unique identifier."""
    return dify.install(package)
