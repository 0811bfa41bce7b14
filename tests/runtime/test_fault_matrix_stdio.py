"""The fault matrix as Dify runs the plugin: every cell over stdio, at once, in one plugin process.

Dify recognises an error only by its `error_type` name, so each cell must arrive as exactly the
expected class name with Together's words in the message; and the recognisable key must appear in
no line the plugin writes to stdout (errors carry tracebacks there) or stderr.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from models.together.model_mixin import MAX_REPLY_LINE_BYTES
from tests.faults.adapters import ADAPTERS, Adapter
from tests.faults.faults import FAULTS, SECRET_KEY, Fault, closed_port_url
from tests.support.fake_together import FakeTogether
from tools.stdio_runtime import PluginProcess, SessionResult

CELLS = [(fault, adapter) for adapter in ADAPTERS for fault in FAULTS if fault.applies(adapter)]


@dataclass
class Outcome:
    result: SessionResult
    requests: int


def _cell_id(fault: Fault, adapter: Adapter) -> str:
    return f"{adapter.column}-{fault.name}"


@pytest.fixture(scope="module")
def outcomes(plugin: PluginProcess) -> Iterator[dict[str, Outcome]]:
    """Script one prefix of a shared stand-in per cell, send every cell's request, then collect them all."""
    server = FakeTogether().start()
    stall = threading.Event()
    root = server.base_url.removesuffix("/v1")
    sent: dict[str, tuple[str, str]] = {}
    try:
        for number, (fault, adapter) in enumerate(CELLS):
            model = adapter.model()
            prefix = f"/cell{number}/v1"
            for (method, path), reply in adapter.extra_routes(model).items():
                server.route(method, prefix + path, reply)
            if fault.reply is None:
                endpoint = closed_port_url()
            else:
                endpoint = root + prefix
                server.route("POST", prefix + adapter.path, fault.reply(adapter, model, stall))
            credentials = {
                "api_key": SECRET_KEY,
                "endpoint_url": endpoint,
                "read_timeout": fault.read_timeout,
                **adapter.model_credentials,
            }
            action, data = adapter.stdio(model)
            session = plugin.send(action, {**data, "credentials": credentials})
            sent[_cell_id(fault, adapter)] = (session, prefix + adapter.path)
        results = {}
        for cell, (session, path) in sent.items():
            result = plugin.collect(session, timeout=60)
            results[cell] = Outcome(result, sum(1 for r in server.requests if r.path.split("?")[0] == path))
        yield results
    finally:
        stall.set()
        server.stop()


@pytest.mark.parametrize(("fault", "adapter"), [pytest.param(f, a, id=_cell_id(f, a)) for f, a in CELLS])
def test_fault_over_stdio(fault: Fault, adapter: Adapter, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[_cell_id(fault, adapter)]
    error = outcome.result.error

    assert error is not None, f"reported success: {outcome.result.stream!r:.300}"
    expected = fault.expected_for(adapter).__name__
    assert error["error_type"] == expected, f"{error['error_type']} instead of {expected}: {error['message']}"
    for words in fault.words:
        assert words in error["message"]
    assert error["args"].get("description") == error["message"]
    if not adapter.streamed:
        assert outcome.result.stream == [], "a partial result was streamed before the error"
    assert outcome.requests == fault.attempts


def test_the_key_is_in_no_line_the_plugin_wrote(outcomes: dict[str, Outcome], plugin: PluginProcess) -> None:
    assert max(map(len, plugin.stdout_lines)) <= MAX_REPLY_LINE_BYTES  # lines without their newline
    leaks = [line for line in plugin.stdout_lines if SECRET_KEY.encode() in line]
    leaks += [line for line in plugin.stderr_lines if SECRET_KEY in line]
    assert leaks == []
    # The scan saw the errors themselves, tracebacks included.
    assert any(b"Together AI" in line for line in plugin.stdout_lines)
