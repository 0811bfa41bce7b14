"""Measurements 1 and 2: streamed chat against the floor, and added time to first token.

Every path reads the same local stream (`servers.chat_stream_events`) and yields the text of each
chunk it hands on; a run counts only when the joined text is exactly what the server sent. Each
framing (`servers.FRAMINGS`) is measured on its own: in each round every path runs once, in a
rotating order, and each figure is the median over rounds of its ratio to that round's floor.

- floor: a raw httpx loop that reads the stream and parses each event (the least any client does);
- client: the plugin's `TogetherClient.stream_event_batches` alone;
- plugin: the plugin's LLM through the SDK's `PluginExecutor.invoke_llm`, each chunk serialised
  as the runtime writes it to stdout (`plugin.run_through_runtime`), i.e. everything Dify waits for;
- direct: the plugin as above with each network chunk handed on as read, no reader thread joining
  the chunks that arrived meanwhile (`sse.iter_arrived`): what reading ahead saves or costs;
- unwritten (paced streams): the same without the serialisation, whose share it shows;
- minimum (paced streams): the floor, plus what any plugin on the SDK must do per event: build
  the event's `LLMResultChunk` and have the runtime's writer serialise it;
- oaicompat: the SDK's `OAICompatLargeLanguageModel` the same way, for comparison.

Wall time is what a user waits for; CPU time (this process only; the server is another one) is
what each event costs when events arrive spread out and the wall time is the model's pace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from dify_plugin.core.entities.plugin.request import ModelInvokeLLMRequest
from dify_plugin.entities.model import ModelType
from dify_plugin.entities.model.llm import LLMResultChunk, LLMResultChunkDelta
from dify_plugin.entities.model.message import AssistantPromptMessage, UserPromptMessage
from dify_plugin.interfaces.model.openai_compatible.llm import OAICompatLargeLanguageModel

from bench.plugin import API_KEY, PROVIDER, credentials, executor, run_through_runtime
from bench.report import Row, median, ms
from bench.servers import stream_tokens
from models.together import client as client_module
from models.together.client import TogetherClient

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
# framing → events per stream (fewer when paced, so a round stays within seconds)
EVENTS = {"burst": 5000, "framed": 5000, "paced-1ms": 1000, "paced-10ms": 200}
FRAMING_LABELS = {
    "burst": "one body in one write",
    "framed": "one HTTP chunk per event, all written at once",
    "paced-1ms": "one HTTP chunk per event, one every 1 ms",
    "paced-10ms": "one HTTP chunk per event, one every 10 ms",
}
SDK_CHUNKS = 5000
FIRST_TOKEN_REQUESTS = 50
FIRST_TOKEN_STREAM = 20  # events per request when only the first one is timed
THROUGHPUT_TARGET = 1.5
FIRST_TOKEN_TARGET = 0.001

Path = Callable[[str, int], Iterator[str]]


def _prompt() -> list:
    return [UserPromptMessage(content="Tell me a long story.")]


def _body(tokens: int) -> dict:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Tell me a long story."}],
        "max_tokens": tokens,
        "stream": True,
    }


def floor_path(http: httpx.Client) -> Path:
    """The raw httpx loop: POST, read lines, parse each `data:` event, take its content."""

    def floor(base_url: str, tokens: int) -> Iterator[str]:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with http.stream("POST", base_url + "/chat/completions", json=_body(tokens), headers=headers) as response:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    return
                content = json.loads(data)["choices"][0]["delta"].get("content")
                if content:
                    yield content

    return floor


def minimum_path(http: httpx.Client) -> Path:
    """The floor, each event's text then made a Dify chunk and written as the runtime writes it."""
    floor = floor_path(http)
    _, _, writer = executor()

    def minimum(base_url: str, tokens: int) -> Iterator[str]:
        for index, content in enumerate(floor(base_url, tokens)):
            message = AssistantPromptMessage(content=content, tool_calls=[])
            chunk = LLMResultChunk(model=MODEL, delta=LLMResultChunkDelta(index=index, message=message))
            writer.session_message(session_id="bench", data=writer.stream_object(data=chunk))
            yield content

    return minimum


def client(base_url: str, tokens: int) -> Iterator[str]:
    """The plugin's client alone, with the body the floor sends; one piece per event."""
    for events in TogetherClient(credentials(base_url)).stream_event_batches("/chat/completions", _body(tokens)):
        for event in events:
            content = event["choices"][0]["delta"].get("content")
            if content:
                yield content


def _request(base_url: str, tokens: int) -> ModelInvokeLLMRequest:
    return ModelInvokeLLMRequest(
        user_id="bench",
        provider=PROVIDER,
        model_type=ModelType.LLM,
        model=MODEL,
        credentials=credentials(base_url),
        prompt_messages=_prompt(),
        model_parameters={"max_tokens": tokens},
        stop=None,
        tools=None,
        stream=True,
    )


def plugin(base_url: str, tokens: int) -> Iterator[str]:
    """The plugin's LLM through the SDK's executor and the runtime's serialisation of each chunk."""
    for chunk in run_through_runtime(_request(base_url, tokens), "invoke_llm"):
        if chunk.delta.message.content:
            yield chunk.delta.message.content


@contextmanager
def _reading_directly() -> Iterator[None]:
    """The client hands on each network chunk as httpx reads it, instead of `sse.iter_arrived`'s joins."""
    joined = client_module.iter_arrived
    client_module.iter_arrived = iter
    try:
        yield
    finally:
        client_module.iter_arrived = joined


def direct(base_url: str, tokens: int) -> Iterator[str]:
    """`plugin` with every network chunk handed on as read: no reader thread, no joined chunks."""
    with _reading_directly():
        yield from plugin(base_url, tokens)


def unwritten(base_url: str, tokens: int) -> Iterator[str]:
    """The plugin's LLM through the SDK's executor, its chunks not serialised: the writer's share."""
    plugin_executor, session, _ = executor()
    for chunk in plugin_executor.invoke_llm(session, _request(base_url, tokens)):
        if chunk.delta.message.content:
            yield chunk.delta.message.content


def oaicompat(base_url: str, tokens: int) -> Iterator[str]:
    """The SDK's OpenAI-compatible LLM, each chunk serialised as the runtime does."""
    llm = OAICompatLargeLanguageModel([])
    creds = {
        "api_key": API_KEY,
        "endpoint_url": base_url,
        "mode": "chat",
        "context_size": "131072",
        "max_tokens_to_sample": str(tokens),
    }
    _, _, writer = executor()
    for chunk in llm.invoke(MODEL, creds, _prompt(), {"max_tokens": tokens}, stream=True, user="bench"):
        writer.session_message(session_id="bench", data=writer.stream_object(data=chunk))
        if chunk.delta.message.content:
            yield chunk.delta.message.content


def _timed_run(path: Path, base_url: str, tokens: int) -> tuple[float, float, int]:
    """Wall and CPU seconds to read the whole stream, and how many chunks carried its text."""
    expected = "".join(stream_tokens(tokens))
    wall, cpu = time.perf_counter(), time.process_time()
    pieces = list(path(base_url, tokens))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if "".join(pieces) != expected:
        raise AssertionError(f"{path.__name__} returned text other than the stream's")
    return wall, cpu, len(pieces)


def _first_token(path: Path, base_url: str) -> float:
    """Seconds from the call to the first piece of text; the rest is read untimed."""
    started = time.perf_counter()
    stream = path(base_url, FIRST_TOKEN_STREAM)
    next(stream)
    elapsed = time.perf_counter() - started
    for _ in stream:
        pass
    return elapsed


def _sdk_per_chunk(runs: int) -> float:
    """Seconds the runtime spends serialising and writing one text chunk the plugin has built."""
    _, _, writer = executor()
    chunk = LLMResultChunk(
        model=MODEL,
        delta=LLMResultChunkDelta(index=1, message=AssistantPromptMessage(content=" the", tool_calls=[])),
    )
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(SDK_CHUNKS):
            writer.session_message(session_id="bench", data=writer.stream_object(data=chunk))
        seconds.append((time.perf_counter() - started) / SDK_CHUNKS)
    return median(seconds)


def _framing(paths: dict[str, Path], base_url: str, framing: str, runs: int) -> list[Row]:
    url = base_url.removesuffix("/v1") + f"/{framing}/v1"
    events = EVENTS[framing]
    names = list(paths)
    walls: dict[str, list[float]] = {name: [] for name in names}
    wall_ratios: dict[str, list[float]] = {name: [] for name in names}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    chunks: dict[str, int] = {}
    for name in names:  # warm-up: imports, connection pools, the server's body cache
        _timed_run(paths[name], url, events)
    for run in range(runs):
        shift = run % len(names)
        measured = {name: _timed_run(paths[name], url, events) for name in names[shift:] + names[:shift]}
        floor_wall, floor_cpu, _ = measured["floor"]
        for name, (wall, cpu, pieces) in measured.items():
            walls[name].append(wall)
            cpus[name].append(cpu)
            wall_ratios[name].append(wall / floor_wall)
            cpu_ratios[name].append(cpu / floor_cpu)
            chunks[name] = pieces

    label = f"1. Stream {events:,} events, {FRAMING_LABELS[framing]}"
    per_event = median(cpus["floor"]) / events * 1e6
    rows = [
        Row(
            f"{label}: raw httpx floor, median of {runs}",
            f"{ms(median(walls['floor']))} wall; CPU {per_event:.0f} µs/event",
        )
    ]
    for name, what in (
        ("minimum", "the floor plus building and writing a Dify chunk per event"),
        ("client", "TogetherClient.stream_event_batches alone"),
        ("unwritten", "plugin LLM via the SDK's executor, chunks not serialised"),
        ("plugin", "plugin LLM via the SDK's executor and writer"),
        ("direct", "the same, each network chunk handed on as read (no reading ahead)"),
        ("oaicompat", "SDK OAICompatLargeLanguageModel via the writer"),
    ):
        if name not in paths:
            continue
        wall_ratio, cpu_ratio = median(wall_ratios[name]), median(cpu_ratios[name])
        result = (
            f"{ms(median(walls[name]))} = **{wall_ratio:.2f}× floor** wall; CPU "
            f"{median(cpus[name]) / events * 1e6:.0f} µs/event = {cpu_ratio:.2f}× floor "
            f"({chunks[name]:,} chunks out)"
        )
        if name == "plugin" and "minimum" in paths:
            above = median([cpu / least for cpu, least in zip(cpus["plugin"], cpus["minimum"], strict=True)])
            result += f"; CPU {above:.2f}× the minimum"
        if name == "direct":
            # per round against the plugin reading ahead: above 1, reading ahead saves that much
            wall_vs = median([d / p for d, p in zip(walls["direct"], walls["plugin"], strict=True)])
            cpu_vs = median([d / p for d, p in zip(cpus["direct"], cpus["plugin"], strict=True)])
            result += f"; **{wall_vs:.2f}× the plugin's wall**, {cpu_vs:.2f}× its CPU"
        if name == "plugin":
            # A paced stream's wall time is the model's pace: what it costs is CPU per event.
            kind, ratio = ("CPU", cpu_ratio) if framing.startswith("paced") else ("wall", wall_ratio)
            target = f"{kind} ≤ {THROUGHPUT_TARGET}× floor"
            rows.append(Row(f"{label}: {what}", result, target, ratio <= THROUGHPUT_TARGET))
        else:
            rows.append(Row(f"{label}: {what}", result))
    return rows


def measure(base_url: str, runs: int) -> tuple[list[Row], list[str]]:
    http = httpx.Client(timeout=60)
    floor = floor_path(http)
    rows: list[Row] = []
    for framing in EVENTS:
        paths: dict[str, Path] = {"floor": floor, "client": client, "plugin": plugin, "direct": direct}
        if framing == "framed":
            paths["oaicompat"] = oaicompat
        if framing.startswith("paced"):
            paths["unwritten"] = unwritten
            paths["minimum"] = minimum_path(http)
        rows += _framing(paths, base_url, framing, runs)

    sdk = _sdk_per_chunk(runs)
    rows.append(
        Row(
            f"1. The SDK alone: serialising and writing one text chunk, median of {runs}",
            f"{sdk * 1e6:.1f} µs per chunk (no plugin can remove it)",
        )
    )

    framed = base_url.removesuffix("/v1") + "/framed/v1"
    plugin_first: list[float] = []
    floor_first: list[float] = []
    added: list[float] = []
    for i in range(FIRST_TOKEN_REQUESTS):
        pair = [("floor", floor), ("plugin", plugin)]
        got = {name: _first_token(path, framed) for name, path in (pair if i % 2 else pair[::-1])}
        plugin_first.append(got["plugin"])
        floor_first.append(got["floor"])
        added.append(got["plugin"] - got["floor"])
    delta = median(added)
    rows.append(
        Row(
            f"2. Added time to first token (framed), median of {FIRST_TOKEN_REQUESTS} paired requests",
            f"**{delta * 1000:+.2f} ms** (plugin {ms(median(plugin_first))}, floor {ms(median(floor_first))})",
            f"≤ {FIRST_TOKEN_TARGET * 1000:.0f} ms",
            delta <= FIRST_TOKEN_TARGET,
        )
    )
    http.close()
    notes = [
        (
            "Streaming: the plugin hands Dify one chunk for all the events that have arrived when it "
            "reads, so events written together cost one chunk while none waits for a later one."
        )
    ]
    return rows, notes
