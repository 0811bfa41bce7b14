"""The stdio driver (tools/stdio_runtime.py) reports a plugin that dies mid-session at once."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tools.stdio_runtime import PluginProcess


def test_a_plugin_that_dies_mid_session_is_reported_at_once(fake_together: FakeTogether) -> None:
    arrived, release = threading.Event(), threading.Event()

    def hold(_request: Recorded) -> Reply:
        arrived.set()
        release.wait(30)
        return Reply.json([])

    fake_together.route("GET", "/models", hold)
    credentials = {"api_key": API_KEY, "endpoint_url": fake_together.base_url}
    with PluginProcess() as plugin:
        session = plugin.send("validate_provider_credentials", {"credentials": credentials})
        assert arrived.wait(30)
        plugin.stop()
        # A RuntimeError, not the TimeoutError the session timeout would give.
        with pytest.raises(RuntimeError, match="plugin exited with code"):
            plugin.collect(session, timeout=60)
    release.set()
