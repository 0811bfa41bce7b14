"""The fault matrix, in-process: every fault × every model type → the right InvokeError, key never seen.

Each cell calls the model class through its public `invoke` (as the SDK does, with its error
mapping), against a loopback stand-in scripted with one fault. It passes when the call raises the
expected `InvokeError` subclass (never a plain exception, never a result), the message carries
Together's words, the request was sent the right number of times, and the recognisable API key is
in no message, exception argument, traceback, log record or captured output.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterator

import pytest
from dify_plugin.errors.model import InvokeError

from tests.faults.adapters import ADAPTERS, Adapter
from tests.faults.faults import FAULTS, RESULTS, SECRET_KEY, Fault, closed_port_url
from tests.support.fake_together import FakeTogether

CELLS = [
    pytest.param(fault, adapter, id=f"{adapter.column}-{fault.name}")
    for adapter in ADAPTERS
    for fault in FAULTS
    if fault.applies(adapter)
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTogether]:
    """One stand-in for the whole matrix (stopping one costs half a second), cleared for each cell."""
    fake = FakeTogether().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeTogether) -> FakeTogether:
    server.routes.clear()
    server.requests.clear()
    return server


@pytest.fixture(autouse=True)
def no_waits(no_retry_waits: list[float]) -> list[float]:
    """Retries are counted, not waited for: the waits themselves are the client tests' business."""
    return no_retry_waits


@pytest.fixture
def stall() -> Iterator[threading.Event]:
    released = threading.Event()
    yield released
    released.set()


def exposed_text(error: BaseException) -> str:
    """Everything an exception shows anyone: message, repr, args, description and its traceback."""
    parts = [str(error), repr(error), repr(error.args), str(getattr(error, "description", ""))]
    parts.extend(traceback.format_exception(error))
    return "\n".join(parts)


@pytest.mark.parametrize(("fault", "adapter"), CELLS)
def test_fault(
    fault: Fault,
    adapter: Adapter,
    fake: FakeTogether,
    stall: threading.Event,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    cell = (fault.name, adapter.column)
    RESULTS[cell] = "FAIL"
    caplog.set_level(logging.DEBUG)

    model = adapter.model()
    for (method, path), reply in adapter.extra_routes(model).items():
        fake.route(method, path, reply)
    endpoint = fake.base_url
    if fault.reply is None:
        endpoint = closed_port_url()
    else:
        fake.route("POST", adapter.path, fault.reply(adapter, model, stall))
    credentials = {
        "api_key": SECRET_KEY,
        "endpoint_url": endpoint,
        "read_timeout": fault.read_timeout,
        **adapter.model_credentials,
    }

    try:
        result = adapter.invoke(adapter.build_model(), model, credentials)
    except Exception as exc:  # noqa: BLE001  the point is to see whatever escapes
        error: Exception | None = exc
    else:
        error = None

    try:
        assert error is not None, f"reported success: {result!r:.300}"
        assert isinstance(error, InvokeError), f"plain exception escaped: {error!r}"
        expected = fault.expected_for(adapter)
        assert isinstance(error, expected), f"{type(error).__name__} instead of {expected.__name__}: {error}"
        message = str(error)
        for words in fault.words:
            assert words in message, f"{words!r} missing from {message!r}"
        sent = [r for r in fake.requests if r.path.split("?")[0].endswith(adapter.path)]
        assert len(sent) == fault.attempts, f"{len(sent)} requests instead of {fault.attempts}"

        for received in fake.requests:  # the key travels in the Authorization header only
            assert SECRET_KEY.encode() not in received.body and SECRET_KEY not in received.path

        assert SECRET_KEY not in exposed_text(error), f"key in the error: {message!r}"
        for record in caplog.records:
            assert SECRET_KEY not in record.getMessage(), f"key logged by {record.name}"
            assert SECRET_KEY not in repr(record.args), f"key in log args of {record.name}"
        out, err = capfd.readouterr()
        assert SECRET_KEY not in out + err, "key written to stdout or stderr"
    except AssertionError as failure:
        RESULTS[cell] = f"FAIL: {str(failure).splitlines()[0][:160]}"
        raise
    RESULTS[cell] = "pass"
