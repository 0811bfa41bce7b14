"""The shared Together client: error mapping, transport failures, streams, retries, URLs, secrets.

respx stands in for Together where only the HTTP exchange matters; the `fake_together` loopback
server is used where real sockets matter (refused connections, resets, chunked bodies, timeouts).
"""

from __future__ import annotations

import email.utils
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml
from dify_plugin.errors import model as dify

respx = pytest.importorskip("respx")

from models.together import client as together_client
from models.together.client import (
    DEFAULT_ENDPOINT_URL,
    MAX_ATTEMPTS,
    TogetherClient,
    TruncatedStreamError,
    normalize_endpoint_url,
    read_timeout_from,
)
from models.together.errors import as_dify_error
from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tests.support.sse import sse_body
from tests.support.sse import streamed_events as events
from tests.support.status_errors import STATUS_ERRORS

BASE = DEFAULT_ENDPOINT_URL
REQUEST_ID = "req-7f3a9c"
VENDOR = "Input validation error: `max_tokens` must be at most 4096"


def client(**extra: str) -> TogetherClient:
    return TogetherClient({"api_key": API_KEY, **extra})


def sse(*events: object, done: bool = True) -> bytes:
    return sse_body(events, done)


def assert_clean(error: BaseException) -> None:
    """The key is nowhere in what an error exposes."""
    for text in (str(error), repr(error), *map(str, error.args), str(getattr(error, "description", ""))):
        assert API_KEY not in text
    assert error.__cause__ is None  # `from None`: no httpx exception (which holds the request) chained


@respx.mock
def test_error_without_a_body_falls_back_to_the_reason_phrase() -> None:
    respx.get(f"{BASE}/models").mock(return_value=httpx.Response(504))

    with pytest.raises(dify.InvokeServerUnavailableError, match=r"Gateway Timeout \(HTTP 504\)"):
        client().get_json("/models")


@respx.mock
def test_old_error_fields_are_read() -> None:
    respx.get(f"{BASE}/models").mock(
        return_value=httpx.Response(400, json={"error": {"error": VENDOR, "error_type": "invalid_request"}})
    )

    with pytest.raises(dify.InvokeBadRequestError, match="must be at most 4096"):
        client().get_json("/models")


@respx.mock
def test_a_huge_error_page_is_shortened() -> None:
    respx.get(f"{BASE}/models").mock(return_value=httpx.Response(500, text="boom " * 10_000))

    with pytest.raises(dify.InvokeServerUnavailableError) as caught:
        client().get_json("/models")

    assert len(str(caught.value)) < 1200


@respx.mock(assert_all_called=False)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"messages": [{"role": "user", "content": "broken \ud83d emoji"}]},
            r"^The input contains a broken character \(U\+D83D, half of a surrogate pair\) that cannot be "
            "sent: remove or retype it$",
        ),
        ({"temperature": float("nan")}, "cannot be encoded as JSON"),
        ({"temperature": float("inf")}, "cannot be encoded as JSON"),
    ],
)
def test_a_body_json_cannot_carry_is_a_bad_request_and_is_not_sent(body: dict, message: str) -> None:
    route = respx.post(f"{BASE}/chat/completions").mock(return_value=httpx.Response(200, json={}))

    with pytest.raises(dify.InvokeBadRequestError, match=message):
        client().post_json("/chat/completions", body)
    with pytest.raises(dify.InvokeBadRequestError, match=message):
        next(events(client(), "/chat/completions", body))

    assert not route.called


# --- 200 bodies that are not an answer ------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"error": {"message": VENDOR, "type": "invalid_request_error"}}, dify.InvokeBadRequestError),
        (
            {"error": {"message": VENDOR, "type": "rate_limit", "code": "dynamic_request_limited"}},
            dify.InvokeRateLimitError,
        ),
        ({"error": {"message": VENDOR, "code": "invalid_api_key"}}, dify.InvokeAuthorizationError),
        ({"error": {"message": VENDOR, "status": 503}}, dify.InvokeServerUnavailableError),
        ({"error": {"message": VENDOR}}, dify.InvokeServerUnavailableError),
        ({"error": VENDOR}, dify.InvokeServerUnavailableError),
    ],
)
def test_a_200_carrying_an_error_object_raises(payload: dict, expected: type[dify.InvokeError]) -> None:
    respx.post(f"{BASE}/embeddings").mock(return_value=httpx.Response(200, json=payload))

    with pytest.raises(expected, match="must be at most 4096"):
        client().post_json("/embeddings", {})


@respx.mock
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"  \n", "empty body"),
        (b"{not json", "not JSON: '{not json'"),
        (b"\xff\xfe not json", "not JSON: '\ufffd\ufffd not json'"),  # quoted with broken bytes replaced
        (b"x" * 300, f"not JSON: '{'x' * 200}'$"),  # its first 200 bytes
    ],
)
def test_an_empty_or_malformed_200_is_server_unavailable(body: bytes, message: str) -> None:
    respx.post(f"{BASE}/rerank").mock(return_value=httpx.Response(200, content=body))

    with pytest.raises(dify.InvokeServerUnavailableError, match=message):
        client().post_json("/rerank", {})


@respx.mock
def test_a_good_body_is_returned_decoded() -> None:
    respx.get(f"{BASE}/models").mock(return_value=httpx.Response(200, json=[{"id": "m"}]))

    assert client().get_json("/models") == [{"id": "m"}]


# --- transport failures ---------------------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (httpx.ConnectError("connection refused"), "failed"),
        (httpx.ConnectTimeout("connect timed out"), "timed out"),
    ],
)
def test_connect_failures_are_retried_then_connection_errors(
    exc: Exception, words: str, no_retry_waits: list[float]
) -> None:
    route = respx.get(f"{BASE}/models").mock(side_effect=exc)

    with pytest.raises(dify.InvokeConnectionError, match=words) as caught:
        client().get_json("/models")

    assert route.call_count == MAX_ATTEMPTS
    first, second = no_retry_waits  # exponential backoff with jitter, as after a retried status
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0
    assert BASE in str(caught.value)
    assert_clean(caught.value)


@respx.mock
@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.WriteError("broken pipe"),
        httpx.PoolTimeout("pool timed out"),
    ],
)
def test_failures_after_the_request_was_sent_are_not_retried(
    exc: Exception, no_retry_waits: list[float]
) -> None:
    # The request may have reached Together (and cost tokens); sending it again is not ours to decide.
    route = respx.post(f"{BASE}/chat/completions").mock(side_effect=exc)

    with pytest.raises(dify.InvokeConnectionError) as caught:
        client().post_json("/chat/completions", {})

    assert route.call_count == 1
    assert no_retry_waits == []
    assert_clean(caught.value)


@respx.mock
@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (httpx.ConnectError("connection refused"), "failed: connection refused"),
        (httpx.ConnectTimeout("handshake"), "timed out: handshake"),
        (httpx.ReadTimeout("the read did not complete"), "timed out: the read did not complete"),
        (httpx.ReadError(""), "failed: ReadError"),  # no message: the kind of failure
        (httpx.ConnectError(f"refused for Bearer {API_KEY}"), "failed: refused for Bearer [REDACTED]"),
    ],
)
def test_a_transport_failure_says_where_and_how_it_failed(exc: Exception, said: str) -> None:
    respx.post(f"{BASE}/chat/completions").mock(side_effect=exc)

    with pytest.raises(dify.InvokeConnectionError) as caught:
        client().post_json("/chat/completions", {})

    assert str(caught.value) == f"Connection to Together AI at {BASE} {said}"
    assert_clean(caught.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_on_a_real_socket(no_retry_waits: list[float]) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}/v1"

    with pytest.raises(dify.InvokeConnectionError, match="127.0.0.1") as caught:
        client(endpoint_url=endpoint).get_json("/models")

    assert len(no_retry_waits) == MAX_ATTEMPTS - 1
    assert_clean(caught.value)


@pytest.fixture
def stall() -> Iterator[threading.Event]:
    """Handlers wait on this event (bounded) and are released when the test ends."""
    released = threading.Event()
    yield released
    released.set()


def test_timeout_before_the_first_byte(fake_together: FakeTogether, stall: threading.Event) -> None:
    def slow(_: Recorded) -> Reply:
        stall.wait(10)
        return Reply.json({"ok": True})

    fake_together.route("POST", "/chat/completions", slow)

    with pytest.raises(dify.InvokeConnectionError, match="timed out") as caught:
        client(endpoint_url=fake_together.base_url, read_timeout="0.2").post_json("/chat/completions", {})

    assert len(fake_together.requests) == 1
    assert_clean(caught.value)


def test_timeout_between_stream_events(fake_together: FakeTogether, stall: threading.Event) -> None:
    def chunks() -> Iterator[bytes]:
        yield sse({"choices": [{"delta": {"content": "Hel"}}]}, done=False)
        stall.wait(10)
        yield b"data: [DONE]\n\n"

    fake_together.route(
        "POST",
        "/chat/completions",
        lambda _: Reply(200, {"Content-Type": "text/event-stream"}, chunks=chunks()),
    )
    received = []

    with pytest.raises(dify.InvokeConnectionError, match="timed out"):
        for event in events(
            client(endpoint_url=fake_together.base_url, read_timeout="0.2"), "/chat/completions", {}
        ):
            received.append(event)

    assert received == [{"choices": [{"delta": {"content": "Hel"}}]}]
    assert len(fake_together.requests) == 1


def test_reset_mid_body(fake_together: FakeTogether) -> None:
    fake_together.route(
        "POST",
        "/embeddings",
        Reply(200, {"Content-Type": "application/json"}, chunks=[b'{"data": [{"emb'], reset=True),
    )

    with pytest.raises(dify.InvokeConnectionError) as caught:
        client(endpoint_url=fake_together.base_url).post_json("/embeddings", {})

    assert len(fake_together.requests) == 1
    assert_clean(caught.value)


def test_reset_mid_stream_is_not_retried_and_not_a_success(fake_together: FakeTogether) -> None:
    first = {"choices": [{"delta": {"content": "Hel"}}]}
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply(200, {"Content-Type": "text/event-stream"}, chunks=[sse(first, done=False)], reset=True),
    )
    received = []

    with pytest.raises(dify.InvokeConnectionError):
        for event in events(client(endpoint_url=fake_together.base_url), "/chat/completions", {}):
            received.append(event)

    assert received == [first]
    assert len(fake_together.requests) == 1


def test_reset_mid_audio_stream(fake_together: FakeTogether) -> None:
    fake_together.route(
        "POST",
        "/audio/speech",
        Reply(200, {"Content-Type": "audio/mpeg"}, chunks=[b"ID3" + b"\0" * 100], reset=True),
    )

    with pytest.raises(dify.InvokeConnectionError):
        b"".join(client(endpoint_url=fake_together.base_url).stream_bytes("/audio/speech", {}))

    assert len(fake_together.requests) == 1


def test_chunked_body_is_joined(fake_together: FakeTogether) -> None:
    payload = json.dumps({"data": [{"embedding": [0.25] * 50}]}).encode()
    pieces = [payload[i : i + 7] for i in range(0, len(payload), 7)]
    fake_together.route(
        "POST", "/embeddings", Reply(200, {"Content-Type": "application/json"}, chunks=pieces)
    )

    assert client(endpoint_url=fake_together.base_url).post_json("/embeddings", {}) == json.loads(payload)


# --- streams --------------------------------------------------------------------------------------


@respx.mock
def test_stream_yields_events_in_order_and_stops_at_done() -> None:
    sent = [{"choices": [{"delta": {"content": c}}]} for c in ("a", "b", "c")]
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(200, content=sse(*sent) + b'data: {"after": "done"}\n\n')
    )

    assert list(events(client(), "/chat/completions", {"stream": True})) == sent


@respx.mock
def test_stream_error_event_raises_the_mapped_error_after_what_came_before() -> None:
    first = {"choices": [{"delta": {"content": "Hel"}}]}
    error = {
        "error": {
            "message": "Rate limit exceeded for model",
            "type": "rate_limit",
            "code": "dynamic_token_limited",
        }
    }
    respx.post(f"{BASE}/chat/completions").mock(return_value=httpx.Response(200, content=sse(first, error)))
    received = []

    with pytest.raises(dify.InvokeRateLimitError, match="Rate limit exceeded for model"):
        for event in events(client(), "/chat/completions", {}):
            received.append(event)

    assert received == [first]


@respx.mock
def test_truncated_stream_is_a_connection_error() -> None:
    first = {"choices": [{"delta": {"content": "Hel"}, "finish_reason": None}]}
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(200, content=sse(first, done=False))
    )
    received = []

    with pytest.raises(TruncatedStreamError) as caught:
        for event in events(client(), "/chat/completions", {}):
            received.append(event)

    assert str(caught.value) == "Together AI closed the stream before it was complete; the answer is cut off"

    assert isinstance(caught.value, dify.InvokeConnectionError)
    assert received == [first]


@respx.mock
@pytest.mark.parametrize("body", [b"", b": keep-alive\n\n"])
def test_a_stream_with_nothing_in_it_is_truncated(body: bytes) -> None:
    respx.post(f"{BASE}/chat/completions").mock(return_value=httpx.Response(200, content=body))

    with pytest.raises(TruncatedStreamError):
        list(events(client(), "/chat/completions", {}))


@respx.mock
@pytest.mark.parametrize("data", ["{broken", "[1, 2]", '"text"', "null", "42", "x" * 300])
def test_a_stream_event_that_is_not_a_json_object_is_server_unavailable(data: str) -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(200, content=f"data: {data}\n\ndata: [DONE]\n\n".encode())
    )

    with pytest.raises(dify.InvokeServerUnavailableError) as caught:
        list(events(client(), "/chat/completions", {}))

    # the event quoted, up to its first 200 characters
    assert str(caught.value) == f"Together AI sent a malformed stream event: {data[:200]!r}"


@respx.mock
def test_a_failed_stream_request_raises_before_any_event() -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(
            400, json={"error": {"message": VENDOR}}, headers={"x-request-id": REQUEST_ID}
        )
    )

    with pytest.raises(dify.InvokeBadRequestError, match=REQUEST_ID):
        next(events(client(), "/chat/completions", {}))


@respx.mock
def test_stream_bytes_yields_the_body_in_bounded_chunks() -> None:
    audio = bytes(range(256)) * 40
    respx.post(f"{BASE}/audio/speech").mock(return_value=httpx.Response(200, content=audio))

    chunks = list(client().stream_bytes("/audio/speech", {}, chunk_size=1000))

    assert b"".join(chunks) == audio
    assert max(map(len, chunks)) <= 1000


@respx.mock
def test_stream_bytes_raises_the_error_object_of_a_json_200() -> None:
    payload = {"error": {"message": f"voice not found for key {API_KEY}", "type": "invalid_request_error"}}
    respx.post(f"{BASE}/audio/speech").mock(return_value=httpx.Response(200, json=payload))

    with pytest.raises(dify.InvokeBadRequestError, match="voice not found") as caught:
        list(client().stream_bytes("/audio/speech", {}))

    assert_clean(caught.value)


@respx.mock
def test_stream_bytes_passes_other_json_on_as_data() -> None:
    respx.post(f"{BASE}/audio/speech").mock(return_value=httpx.Response(200, json={"audio": "none"}))

    chunks = list(client().stream_bytes("/audio/speech", {}, chunk_size=4))

    assert json.loads(b"".join(chunks)) == {"audio": "none"}
    assert max(map(len, chunks)) <= 4


def test_a_truncated_stream_reaches_dify_under_a_name_it_knows() -> None:
    # The SDK sends `type(error).__name__`; Dify maps only its five dify.InvokeError names.
    error = as_dify_error(TruncatedStreamError("cut off"))

    assert type(error) is dify.InvokeConnectionError
    assert str(error) == "cut off"


# --- retries --------------------------------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize(
    "status", [status for status, (_, attempts) in STATUS_ERRORS.items() if attempts > 1]
)
def test_retried_statuses_are_retried_then_succeed(status: int, no_retry_waits: list[float]) -> None:
    route = respx.get(f"{BASE}/models").mock(
        side_effect=[httpx.Response(status), httpx.Response(status), httpx.Response(200, json=[])]
    )

    assert client().get_json("/models") == []
    assert route.call_count == 3
    assert len(no_retry_waits) == 2


@respx.mock
@pytest.mark.parametrize(
    ("status", "verdict", "attempts"),
    [
        (529, "True", MAX_ATTEMPTS),  # any 5xx the server says to retry
        (503, "FALSE", 1),  # a retried status the server says not to
        (401, "true", 1),  # never a 4xx, whatever the server says
    ],
)
def test_the_servers_retry_verdict_is_read_whatever_its_case(
    status: int, verdict: str, attempts: int, no_retry_waits: list[float]
) -> None:
    route = respx.get(f"{BASE}/models").mock(
        return_value=httpx.Response(status, headers={"x-should-retry": verdict})
    )

    with pytest.raises(dify.InvokeError):
        client().get_json("/models")

    assert route.call_count == attempts


@respx.mock
def test_retries_are_bounded(no_retry_waits: list[float]) -> None:
    route = respx.get(f"{BASE}/models").mock(
        return_value=httpx.Response(429, json={"error": {"message": "slow down"}})
    )

    with pytest.raises(dify.InvokeRateLimitError, match="slow down"):
        client().get_json("/models")

    assert route.call_count == MAX_ATTEMPTS == 3
    assert len(no_retry_waits) == MAX_ATTEMPTS - 1


@respx.mock
def test_backoff_grows_with_jitter_without_hints(no_retry_waits: list[float]) -> None:
    respx.get(f"{BASE}/models").mock(return_value=httpx.Response(503))

    with pytest.raises(dify.InvokeServerUnavailableError):
        client().get_json("/models")

    first, second = no_retry_waits
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0


@respx.mock
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "1.5", "x-ratelimit-reset": "9"}, 1.5),  # Retry-After wins
        ({"x-ratelimit-reset": "3"}, 3.0),
        ({"retry-after": "soon", "x-ratelimit-reset": "4"}, 4.0),  # an unreadable hint is skipped
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # milliseconds are the finer hint
        ({"retry-after-ms": "0"}, 0.0),
        ({"retry-after": "20"}, 20.0),  # the longest wait spent
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": email.utils.formatdate(time.time() - 60, usegmt=True)}, 0.0),  # a moment past
        ({"x-ratelimit-reset": str(int(time.time()) - 60)}, 0.0),
    ],
)
def test_retry_honours_the_servers_delay(
    headers: dict[str, str], expected: float, no_retry_waits: list[float]
) -> None:
    respx.get(f"{BASE}/models").mock(
        side_effect=[httpx.Response(429, headers=headers), httpx.Response(200, json=[])]
    )

    client().get_json("/models")

    assert no_retry_waits == [expected]


@respx.mock
def test_retry_after_as_an_http_date(no_retry_waits: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    respx.get(f"{BASE}/models").mock(
        side_effect=[httpx.Response(503, headers={"retry-after": when}), httpx.Response(200, json=[])]
    )

    client().get_json("/models")

    [wait] = no_retry_waits
    assert 3 <= wait <= 5  # whole seconds in the date, and the clock moves on


@respx.mock
def test_ratelimit_reset_as_a_unix_time(no_retry_waits: list[float]) -> None:
    reset = str(int(time.time()) + 4)
    respx.get(f"{BASE}/models").mock(
        side_effect=[httpx.Response(429, headers={"x-ratelimit-reset": reset}), httpx.Response(200, json=[])]
    )

    client().get_json("/models")

    [wait] = no_retry_waits
    assert 2 <= wait <= 4


@respx.mock
def test_a_longer_requested_wait_than_we_spend_is_reported_at_once(no_retry_waits: list[float]) -> None:
    route = respx.get(f"{BASE}/models").mock(
        return_value=httpx.Response(
            429,
            headers={"retry-after": "20.5"},  # above the longest wait spent, 20 s
            json={"error": {"message": "per-minute limit"}},
        )
    )

    with pytest.raises(dify.InvokeRateLimitError, match="per-minute limit"):
        client().get_json("/models")

    assert route.call_count == 1
    assert no_retry_waits == []


@respx.mock
def test_a_stream_request_is_retried_only_before_its_response_starts(no_retry_waits: list[float]) -> None:
    route = respx.post(f"{BASE}/chat/completions").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, content=sse({"choices": []}))]
    )

    assert list(events(client(), "/chat/completions", {})) == [{"choices": []}]
    assert route.call_count == 2


@respx.mock
def test_multipart_files_are_resent_whole_on_retry(no_retry_waits: list[float]) -> None:
    import io

    audio = io.BytesIO(b"RIFF" + b"\1" * 64)
    route = respx.post(f"{BASE}/audio/transcriptions").mock(
        side_effect=[httpx.Response(429), httpx.Response(200, json={"text": "hi"})]
    )

    audio.read()  # a file the caller has already read must still be sent from its start
    files = {"file": ("a.wav", audio, "audio/wav")}

    assert client().post_multipart("/audio/transcriptions", {"model": "w"}, files) == {"text": "hi"}
    for call in route.calls:
        assert b"RIFF" + b"\1" * 64 + b"\r\n--" in call.request.content


# --- endpoint_url, read_timeout, headers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "https://api.together.ai/v1"),
        ("", "https://api.together.ai/v1"),
        ("   ", "https://api.together.ai/v1"),
        ("https://api.together.ai", "https://api.together.ai/v1"),
        ("https://api.together.ai/", "https://api.together.ai/v1"),
        ("https://api.together.ai/v1", "https://api.together.ai/v1"),
        ("https://api.together.ai/v1/", "https://api.together.ai/v1"),
        ("  https://api.together.xyz/v1  ", "https://api.together.xyz/v1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"),
        ("https://gateway.example.com/together/", "https://gateway.example.com/together/v1"),
        ("https://gateway.example.com/together/v1?x=1#frag", "https://gateway.example.com/together/v1"),
        ("HTTPS://API.TOGETHER.AI/v1", "https://api.together.ai/v1"),
        ("https://gateway.example.com/X", "https://gateway.example.com/X/v1"),  # only slashes are trimmed
    ],
)
def test_endpoint_url_is_normalised(given: str | None, expected: str) -> None:
    assert normalize_endpoint_url(given) == expected


@pytest.mark.parametrize(
    "junk",
    [
        "ftp://api.together.ai",
        "api.together.ai",
        "/v1",
        "https://",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://[::1",
    ],
)
def test_endpoint_url_junk_is_a_bad_request(junk: str) -> None:
    with pytest.raises(dify.InvokeBadRequestError) as caught:
        normalize_endpoint_url(junk)

    assert str(caught.value) == (
        f"endpoint_url must be an http or https URL such as https://api.together.ai/v1, got {junk!r}"
    )


def test_an_endpoint_url_with_a_user_name_or_password_is_a_bad_request() -> None:
    with pytest.raises(dify.InvokeBadRequestError) as caught:
        normalize_endpoint_url("https://me:secret@api.together.ai/v1")

    assert str(caught.value) == "endpoint_url must not contain a user name or password"


@respx.mock
def test_requests_go_to_the_normalised_endpoint() -> None:
    route = respx.get("https://gateway.example.com/together/v1/models").mock(
        return_value=httpx.Response(200, json=[])
    )

    client(endpoint_url="https://gateway.example.com/together/").get_json("/models")

    assert route.called


@pytest.mark.parametrize(
    ("given", "expected"), [(None, 600.0), ("", 600.0), ("30", 30.0), (0.2, 0.2), ("3600", 3600.0)]
)
def test_read_timeout(given: object, expected: float) -> None:
    assert read_timeout_from({"read_timeout": given}) == expected


@pytest.mark.parametrize("bad", ["soon", "0", "-1", "3601", "nan", "inf", [], {}, True])
def test_read_timeout_out_of_range_is_a_bad_request(bad: object) -> None:
    with pytest.raises(dify.InvokeBadRequestError) as caught:
        read_timeout_from({"read_timeout": bad})

    assert str(caught.value) == (
        f"read_timeout must be a number of seconds above 0 and at most 3600, got {bad!r}"
    )


@respx.mock
def test_each_request_carries_its_clients_timeouts() -> None:
    route = respx.get(f"{BASE}/models").mock(return_value=httpx.Response(200, json=[]))

    client(read_timeout="42").get_json("/models")
    client().get_json("/models")

    slow, default = (call.request.extensions["timeout"] for call in route.calls)
    assert slow["read"] == 42.0 and default["read"] == 600.0
    assert slow["connect"] == default["connect"] == 10.0  # a host that takes longer to answer is reported


def test_150_streams_held_open_at_once_do_not_wait_for_each_other(fake_together: FakeTogether) -> None:
    streams = 150
    everyone_started = threading.Barrier(streams + 1, timeout=30)

    def answer(_: Recorded) -> Reply:
        def chunks() -> Iterator[bytes]:
            yield sse({"n": 1}, done=False)
            everyone_started.wait()  # held open until every stream has its first event
            yield b"data: [DONE]\n\n"

        return Reply(200, {"Content-Type": "text/event-stream"}, chunks=chunks())

    fake_together.route("POST", "/chat/completions", answer)
    outcomes: list[object] = []

    def read_one() -> None:
        try:
            outcomes.append(
                list(
                    events(
                        client(endpoint_url=fake_together.base_url, read_timeout="20"),
                        "/chat/completions",
                        {},
                    )
                )
            )
        except Exception as exc:  # noqa: BLE001  reported below
            outcomes.append(exc)

    threads = [threading.Thread(target=read_one) for _ in range(streams)]
    for thread in threads:
        thread.start()
    everyone_started.wait()
    for thread in threads:
        thread.join(30)

    assert outcomes == [[{"n": 1}]] * streams


@respx.mock
@pytest.mark.parametrize(
    ("status", "headers", "target"),
    [
        (301, {"location": "https://api.together.xyz/v1/models"}, "https://api.together.xyz/v1/models"),
        (300, {"location": "https://api.together.xyz/v1/models"}, "https://api.together.xyz/v1/models"),
        (307, {"location": f"https://sso.example.com/?k={API_KEY}"}, "https://sso.example.com/?k=[REDACTED]"),
        (302, {}, "an unnamed address"),
    ],
)
def test_a_redirect_names_where_it_points_and_is_not_followed(
    status: int, headers: dict[str, str], target: str, no_retry_waits: list[float]
) -> None:
    route = respx.get(f"{BASE}/models").mock(return_value=httpx.Response(status, headers=headers))

    with pytest.raises(dify.InvokeBadRequestError) as caught:
        client().get_json("/models")

    assert str(caught.value) == (
        f"{BASE} redirects (HTTP {status}) to {target}: set endpoint_url to the address the API answers at"
    )
    assert route.call_count == 1


@respx.mock
def test_a_stream_answered_with_something_else_quotes_it_without_the_key() -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(
            200, text=f"<html>Login required {API_KEY}</html>", headers={"content-type": "text/html"}
        )
    )

    with pytest.raises(dify.InvokeServerUnavailableError, match="text/html, not an event stream") as caught:
        list(events(client(), "/chat/completions", {}))

    assert "Login required [REDACTED]" in str(caught.value)
    assert_clean(caught.value)


@respx.mock
def test_a_stream_answered_with_bytes_that_are_not_utf8_quotes_them_replaced() -> None:
    page = b"\xff\xfe<html>" + b"x" * 300
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(200, content=page, headers={"content-type": "text/html"})
    )

    with pytest.raises(dify.InvokeServerUnavailableError) as caught:
        list(events(client(), "/chat/completions", {}))

    quoted = "\ufffd\ufffd<html>" + "x" * 192  # its first 200 bytes, each broken one replaced
    assert str(caught.value).endswith(f"text/html, not an event stream: {quoted!r}")


@respx.mock
def test_a_stream_answered_with_a_json_error_raises_it_without_the_key() -> None:
    payload = {"error": {"message": f"Invalid API key provided: {API_KEY}", "type": "invalid_request_error"}}
    respx.post(f"{BASE}/chat/completions").mock(return_value=httpx.Response(200, json=payload))

    with pytest.raises(dify.InvokeBadRequestError, match=r"Invalid API key provided: \[REDACTED\]") as caught:
        list(events(client(), "/chat/completions", {}))

    assert_clean(caught.value)


def test_a_blocking_answer_must_arrive_whole_within_read_timeout(
    fake_together: FakeTogether, stall: threading.Event
) -> None:
    def trickle() -> Iterator[bytes]:
        yield b'{"data": ['
        while not stall.wait(0.05):  # each byte well within the read timeout
            yield b" "

    fake_together.route(
        "POST", "/embeddings", lambda _: Reply(200, {"Content-Type": "application/json"}, chunks=trickle())
    )
    started = time.monotonic()

    with pytest.raises(dify.InvokeConnectionError, match=r"longer than read_timeout \(0.3 s\)"):
        client(endpoint_url=fake_together.base_url, read_timeout="0.3").post_json("/embeddings", {})

    assert time.monotonic() - started < 2


@respx.mock
def test_headers_carry_the_key_and_the_manifest_version() -> None:
    route = respx.get(f"{BASE}/models").mock(return_value=httpx.Response(200, json=[]))
    manifest = yaml.safe_load((together_client.PLUGIN_ROOT / "manifest.yaml").read_text())

    client().get_json("/models")

    headers = route.calls[0].request.headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["user-agent"] == f"dify-plugin-togetherai/{manifest['version']}"


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_missing_key_is_an_authorization_error(key: str | None) -> None:
    with pytest.raises(dify.InvokeAuthorizationError) as caught:
        TogetherClient({"api_key": key})

    assert str(caught.value) == "Together AI API key is missing: enter it in the provider settings"


@pytest.mark.parametrize("key", [123456789012, True, ["tgp_v1_abc"], {"key": "tgp_v1_abc"}])
def test_a_key_that_is_not_text_is_an_authorization_error_that_does_not_echo_it(key: object) -> None:
    with pytest.raises(dify.InvokeAuthorizationError) as caught:
        TogetherClient({"api_key": key})

    assert str(caught.value) == f"Together AI API key must be text, not {type(key).__name__}: paste it again"


@pytest.mark.parametrize("url", [8080, True, ["https://api.together.ai"], {"url": "x"}])
def test_an_endpoint_url_that_is_not_text_is_a_bad_request(url: object) -> None:
    with pytest.raises(dify.InvokeBadRequestError, match="endpoint_url must be an http or https URL"):
        TogetherClient({"api_key": API_KEY, "endpoint_url": url})


@respx.mock
def test_surrounding_whitespace_in_the_key_is_dropped() -> None:
    route = respx.get(f"{BASE}/models").mock(return_value=httpx.Response(200, json=[]))

    TogetherClient({"api_key": f"  {API_KEY}\n"}).get_json("/models")

    assert route.calls[0].request.headers["authorization"] == f"Bearer {API_KEY}"


# --- the key stays secret -------------------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize("status", [400, 401, 429, 502])
def test_a_key_echoed_by_the_server_is_redacted(status: int) -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(
            status, json={"error": {"message": f"Invalid API key provided: {API_KEY}"}}
        )
    )

    with pytest.raises(dify.InvokeError) as caught:
        client().post_json("/chat/completions", {})

    assert "Invalid API key provided: [REDACTED]" in str(caught.value)
    assert_clean(caught.value)


@respx.mock
@pytest.mark.parametrize(
    "body",
    [
        f'{{"error": {{"message": "bad key {API_KEY}"}}}}'.encode(),  # 200 with an error object
        f"not json {API_KEY}".encode(),
    ],
)
def test_a_key_echoed_in_a_200_is_redacted(body: bytes) -> None:
    respx.post(f"{BASE}/embeddings").mock(return_value=httpx.Response(200, content=body))

    with pytest.raises(dify.InvokeError) as caught:
        client().post_json("/embeddings", {})

    assert_clean(caught.value)


@respx.mock
@pytest.mark.parametrize("data", [f'{{"error": {{"message": "key {API_KEY}"}}}}', f"garbage {API_KEY}"])
def test_a_key_echoed_in_a_stream_is_redacted(data: str) -> None:
    respx.post(f"{BASE}/chat/completions").mock(
        return_value=httpx.Response(200, content=f"data: {data}\n\n".encode())
    )

    with pytest.raises(dify.InvokeError) as caught:
        list(events(client(), "/chat/completions", {}))

    assert_clean(caught.value)


@pytest.mark.parametrize(
    "key",
    [
        "tgp_v1_abc\ndef-0123456789",
        "tgp_v1_clé-0123456789",
        "tgp_v1_abc\x00def-0123456789",
        "tgp_v1 abc 0123456789",
    ],
)
def test_a_key_that_cannot_be_a_header_is_an_authorization_error_that_does_not_echo_it(key: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{BASE}/models").mock(return_value=httpx.Response(200, json=[]))
        with pytest.raises(dify.InvokeAuthorizationError) as caught:
            TogetherClient({"api_key": key}).get_json("/models")
        assert not router.calls

    assert str(caught.value) == (
        "Together AI API key contains spaces, line breaks or non-ASCII characters: paste it again"
    )
