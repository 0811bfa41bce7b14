"""Measurements 1 and 2: streamed chat throughput against the floor, and added time to first token.

Every path reads the same local stream (`servers.chat_stream_body`) and yields the text of each
chunk it hands on; a run counts only when the joined text is exactly what the server sent.

- floor: a raw httpx loop that reads the stream and parses each event (the least any client does);
- client: the plugin's `TogetherClient.stream_events` alone (where the plugin's cost sits);
- plugin: the SDK's `LargeLanguageModel.invoke` through the plugin's LLM class, as Dify calls it;
- oaicompat: the SDK's `OAICompatLargeLanguageModel`, the base of the togetherai plugin it replaces.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
from dify_plugin.entities.model import ModelType
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.interfaces.model.openai_compatible.llm import OAICompatLargeLanguageModel

from bench.plugin import API_KEY, credentials, model_instance
from bench.report import Row, median, ms
from bench.servers import stream_tokens
from models.together.client import TogetherClient

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
STREAM_TOKENS = 5000
FIRST_TOKEN_REQUESTS = 50
FIRST_TOKEN_STREAM = 20  # tokens per request when only the first one is timed
THROUGHPUT_TARGET = 1.5
FIRST_TOKEN_TARGET = 0.002

Path = Callable[[str, int], Iterator[str]]


def _prompt() -> list:
    return [UserPromptMessage(content="Tell me a long story.")]


def floor_path(http: httpx.Client) -> Path:
    """The raw httpx loop: POST, read lines, parse each `data:` event, take its content."""

    def stream(base_url: str, tokens: int) -> Iterator[str]:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Tell me a long story."}],
            "max_tokens": tokens,
            "stream": True,
        }
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with http.stream("POST", base_url + "/chat/completions", json=body, headers=headers) as response:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    return
                content = json.loads(data)["choices"][0]["delta"].get("content")
                if content:
                    yield content

    return stream


def client_path(base_url: str, tokens: int) -> Iterator[str]:
    """The plugin's client alone, with the body the floor sends."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Tell me a long story."}],
        "max_tokens": tokens,
        "stream": True,
    }
    for event in TogetherClient(credentials(base_url)).stream_events("/chat/completions", body):
        content = event["choices"][0]["delta"].get("content")
        if content:
            yield content


def plugin_path(base_url: str, tokens: int) -> Iterator[str]:
    """The plugin's LLM through the SDK's `invoke`, a new model object per request as the SDK makes."""
    llm = model_instance(ModelType.LLM)
    for chunk in llm.invoke(
        MODEL, credentials(base_url), _prompt(), {"max_tokens": tokens}, stream=True, user="bench"
    ):
        if chunk.delta.message.content:
            yield chunk.delta.message.content


def oaicompat_path(base_url: str, tokens: int) -> Iterator[str]:
    """The SDK's OpenAI-compatible LLM, configured as the togetherai plugin configures it."""
    llm = OAICompatLargeLanguageModel([])
    creds = {
        "api_key": API_KEY,
        "endpoint_url": base_url,
        "mode": "chat",
        "context_size": "131072",
        "max_tokens_to_sample": str(STREAM_TOKENS),
    }
    for chunk in llm.invoke(MODEL, creds, _prompt(), {"max_tokens": tokens}, stream=True, user="bench"):
        if chunk.delta.message.content:
            yield chunk.delta.message.content


def _timed_run(path: Path, base_url: str, tokens: int) -> tuple[float, int]:
    """Seconds to read the whole stream, and how many chunks carried its text."""
    expected = "".join(stream_tokens(tokens))
    started = time.perf_counter()
    pieces = list(path(base_url, tokens))
    elapsed = time.perf_counter() - started
    if "".join(pieces) != expected:
        raise AssertionError(f"{path.__name__} returned text other than the stream's")
    return elapsed, len(pieces)


def _first_token(path: Path, base_url: str) -> float:
    """Seconds from the call to the first piece of text; the rest is read untimed."""
    started = time.perf_counter()
    stream = path(base_url, FIRST_TOKEN_STREAM)
    next(stream)
    elapsed = time.perf_counter() - started
    for _ in stream:
        pass
    return elapsed


def measure(base_url: str, runs: int) -> tuple[list[Row], list[str]]:
    http = httpx.Client(timeout=60)
    floor = floor_path(http)
    floor.__name__ = "floor"
    paths: dict[str, Path] = {
        "floor": floor,
        "client": client_path,
        "plugin": plugin_path,
        "oaicompat": oaicompat_path,
    }
    for path in paths.values():  # warm-up: imports, connection pools, the server's body cache
        _timed_run(path, base_url, STREAM_TOKENS)

    times: dict[str, list[float]] = {name: [] for name in paths}
    ratios: dict[str, list[float]] = {name: [] for name in paths}
    chunks: dict[str, int] = {}
    order = list(paths)
    for run in range(runs):
        shift = run % len(order)
        seconds: dict[str, float] = {}
        for name in order[shift:] + order[:shift]:  # rotate who goes first
            seconds[name], chunks[name] = _timed_run(paths[name], base_url, STREAM_TOKENS)
        for name in paths:
            times[name].append(seconds[name])
            ratios[name].append(seconds[name] / seconds["floor"])

    label = f"1. Stream {STREAM_TOKENS:,} one-token chunks"
    rows = [Row(f"{label}: raw httpx floor, median of {runs}", ms(median(times["floor"])))]
    for name, what in (
        ("client", "TogetherClient.stream_events alone"),
        ("plugin", "plugin LLM via SDK invoke"),
        ("oaicompat", "SDK OAICompatLargeLanguageModel"),
    ):
        ratio = median(ratios[name])
        result = f"{ms(median(times[name]))} = **{ratio:.2f}× floor** ({chunks[name]:,} chunks out)"
        if name == "plugin":
            rows.append(
                Row(f"{label}: {what}", result, f"≤ {THROUGHPUT_TARGET}× floor", ratio <= THROUGHPUT_TARGET)
            )
        else:
            rows.append(Row(f"{label}: {what}", result))

    plugin_first: list[float] = []
    floor_first: list[float] = []
    added: list[float] = []
    for i in range(FIRST_TOKEN_REQUESTS):
        pair = [("floor", floor), ("plugin", plugin_path)]
        got = {name: _first_token(path, base_url) for name, path in (pair if i % 2 else pair[::-1])}
        plugin_first.append(got["plugin"])
        floor_first.append(got["floor"])
        added.append(got["plugin"] - got["floor"])
    delta = median(added)
    rows.append(
        Row(
            f"2. Added time to first token, median of {FIRST_TOKEN_REQUESTS} paired requests",
            f"**{delta * 1000:+.2f} ms** (plugin {ms(median(plugin_first))}, floor {ms(median(floor_first))})",
            f"≤ {FIRST_TOKEN_TARGET * 1000:.0f} ms",
            delta <= FIRST_TOKEN_TARGET,
        )
    )
    http.close()
    notes = [
        (
            "Streaming: the plugin hands Dify one chunk per network read, so a burst of events that "
            "arrived together costs one chunk; no event waits for a later read."
        )
    ]
    return rows, notes
