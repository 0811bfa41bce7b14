"""Chat models of the installed package, called through the real daemon as Dify's API calls them.

Prompt messages are what Dify's API serialises from its pydantic entities (`None` where a field is
unset, `""` for an assistant message that only calls tools). The scripted Together stand-in answers
with the spec's ChatCompletionChunk and ChatCompletionResponse; one test talks to llama.cpp.
"""

from __future__ import annotations

import base64
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import API_KEY
from tests.daemon.dify_api import DifyApi, Dispatched
from tests.support.fake_together import FakeTogether, Reply
from tests.support.llm_fakes import chunk, response, tool_delta, tool_fragment, usage

pytestmark = pytest.mark.usefixtures("installed")

ROOT = Path(__file__).resolve().parents[2]
LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
VISION = "Qwen/Qwen3.5-9B"
REASONER = "openai/gpt-oss-120b"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PIXEL_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
    )
).decode()


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content, "name": None}


def system(content: str) -> dict[str, Any]:
    return {"role": "system", "content": content, "name": None}


def assistant_calling(*calls: tuple[str, str]) -> dict[str, Any]:
    tool_calls = [
        {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
        for call_id, arguments in calls
    ]
    return {"role": "assistant", "content": "", "name": None, "tool_calls": tool_calls}


def tool_result(call_id: str, content: str) -> dict[str, Any]:
    return {"role": "tool", "content": content, "name": "get_weather", "tool_call_id": call_id}


def invoke(
    dify: DifyApi,
    credentials: dict,
    messages: list[dict],
    *,
    model: str = LLAMA,
    parameters: dict | None = None,
    tools: list[dict] | None = None,
    stop: list[str] | None = None,
    stream: bool = True,
) -> Dispatched:
    return dify.model(
        "llm/invoke",
        "llm",
        model,
        credentials,
        prompt_messages=messages,
        model_parameters=parameters or {},
        tools=tools or [],
        stop=stop or [],
        stream=stream,
    )


def text(stream: list[dict]) -> str:
    return "".join(payload["delta"]["message"]["content"] for payload in stream)


def reported_usage(stream: list[dict]) -> dict:
    [reported] = [payload["delta"]["usage"] for payload in stream if payload["delta"].get("usage")]
    return reported


def price(model: str, prompt: int, completion: int) -> dict[str, Decimal]:
    """The prices Dify shows, from the model's YAML: tokens × price × unit, to 7 places."""
    name = model.replace("/", "-")
    pricing = yaml.safe_load((ROOT / "models" / "llm" / f"{name}.yaml").read_text())["pricing"]
    unit = Decimal(pricing["unit"])
    places = Decimal("0.0000001")
    prompt_price = (prompt * Decimal(pricing["input"]) * unit).quantize(places, ROUND_HALF_UP)
    completion_price = (completion * Decimal(pricing["output"]) * unit).quantize(places, ROUND_HALF_UP)
    return {"prompt": prompt_price, "completion": completion_price, "total": prompt_price + completion_price}


def assert_usage(reported: dict, model: str, prompt: int, completion: int) -> None:
    expected = price(model, prompt, completion)
    assert (reported["prompt_tokens"], reported["completion_tokens"]) == (prompt, completion)
    assert reported["total_tokens"] == prompt + completion
    assert Decimal(str(reported["prompt_price"])) == expected["prompt"]
    assert Decimal(str(reported["completion_price"])) == expected["completion"]
    assert Decimal(str(reported["total_price"])) == expected["total"] > 0
    assert reported["currency"] == "USD"
    assert reported["latency"] >= 0


def test_a_streamed_answer_arrives_in_pieces_with_priced_usage(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    pieces = ["The capital", " of France", " is Paris."]
    events = [chunk({"content": piece}, model=LLAMA) for piece in pieces[:-1]]
    events.append(chunk({"content": pieces[-1]}, "stop", usage(21, 7), model=LLAMA))
    fake_together.route("POST", "/chat/completions", Reply.sse(events))

    stream = invoke(dify, credentials, [system("Be brief."), user("Capital of France?")]).ok()

    assert len(stream) >= len(pieces)
    assert text(stream) == "The capital of France is Paris."
    assert {payload["model"] for payload in stream} == {LLAMA}
    assert stream[-1]["delta"]["finish_reason"] == "stop"
    assert_usage(reported_usage(stream), LLAMA, 21, 7)
    [request] = fake_together.requests
    body = request.json()
    assert body["stream"] is True and body["model"] == LLAMA
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


def test_a_blocking_answer_is_one_priced_chunk(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route(
        "POST", "/chat/completions", Reply.json(response("Paris.", usage=usage(18, 3), model=LLAMA))
    )

    stream = invoke(
        dify, credentials, [user("Capital of France?")], parameters={"temperature": 0.2}, stream=False
    ).ok()

    assert [payload["delta"]["message"]["content"] for payload in stream] == ["Paris."]
    assert_usage(reported_usage(stream), LLAMA, 18, 3)
    body = fake_together.requests[0].json()
    assert not body.get("stream") and body["temperature"] == 0.2


def test_parallel_tool_calls_and_the_tool_result_round_trip(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    paris, rome = '{"city": "Paris"}', '{"city": "Rome"}'
    events = [
        chunk(tool_delta(tool_fragment(0, "call_a", "get_weather")), model=LLAMA),
        chunk(tool_delta(tool_fragment(0, arguments=paris[:8])), model=LLAMA),
        chunk(tool_delta(tool_fragment(1, "call_b", "get_weather", rome)), model=LLAMA),
        chunk(tool_delta(tool_fragment(0, arguments=paris[8:])), model=LLAMA),
        chunk({"content": None}, "tool_calls", usage(61, 24), model=LLAMA),
    ]
    fake_together.route("POST", "/chat/completions", Reply.sse(events))
    history = [
        user("Weather in Oslo?"),
        assistant_calling(("call_0", '{"city": "Oslo"}')),
        tool_result("call_0", "Snow, -3 °C"),
        user("And in Paris and Rome?"),
    ]

    stream = invoke(dify, credentials, history, tools=[WEATHER_TOOL]).ok()

    calls = [call for payload in stream for call in payload["delta"]["message"]["tool_calls"]]
    assert calls == [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": paris}},
        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": rome}},
    ]
    assert stream[-1]["delta"]["finish_reason"] == "tool_calls"
    assert_usage(reported_usage(stream), LLAMA, 61, 24)
    body = fake_together.requests[0].json()
    assert body["tools"] == [{"type": "function", "function": WEATHER_TOOL}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool", "user"]
    [sent_call] = body["messages"][1]["tool_calls"]
    assert (sent_call["id"], sent_call["function"]) == (
        "call_0",
        {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    )
    assert (body["messages"][2]["tool_call_id"], body["messages"][2]["content"]) == ("call_0", "Snow, -3 °C")


def test_reasoning_arrives_inside_a_think_block_before_the_answer(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    events = [
        chunk({"content": None, "reasoning": "The user wants"}, model=REASONER),
        chunk({"content": None, "reasoning": " a sum."}, model=REASONER),
        chunk({"content": "4"}, model=REASONER),
        chunk({"content": "."}, "stop", usage(12, 9), model=REASONER),
    ]
    fake_together.route("POST", "/chat/completions", Reply.sse(events))

    stream = invoke(
        dify, credentials, [user("2+2?")], model=REASONER, parameters={"reasoning_effort": "low"}
    ).ok()

    assert text(stream) == "<think>\nThe user wants a sum.\n</think>4."
    assert_usage(reported_usage(stream), REASONER, 12, 9)
    assert fake_together.requests[0].json()["reasoning_effort"] == "low"


def test_a_json_schema_answer_is_asked_for_and_relayed(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    answer = '{"city": "Paris"}'
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply.sse([chunk({"content": answer}, "stop", usage(30, 6), model=LLAMA)]),
    )
    parameters = {
        "response_format": "json_schema",
        "json_schema": json.dumps({"name": "place", "schema": schema}),
    }

    stream = invoke(dify, credentials, [user("Where is the Louvre?")], parameters=parameters).ok()

    assert json.loads(text(stream)) == {"city": "Paris"}
    body = fake_together.requests[0].json()
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "place", "schema": schema},
    }


def test_an_image_reaches_together_as_a_data_url(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply.sse([chunk({"content": "A red pixel."}, "stop", usage(300, 4), model=VISION)]),
    )
    question = user(
        [
            {"type": "text", "data": "What is in this image?"},
            {
                "type": "image",
                "format": "png",
                "base64_data": PIXEL_PNG,
                "url": "",
                "mime_type": "image/png",
                "filename": "",
                "detail": "low",
            },
        ]
    )

    stream = invoke(dify, credentials, [question], model=VISION).ok()

    assert text(stream) == "A red pixel."
    assert_usage(reported_usage(stream), VISION, 300, 4)
    [sent] = fake_together.requests[0].json()["messages"]
    assert sent["content"] == [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL_PNG}"}},
    ]


def test_stop_strings_are_sent_and_the_answer_ends_before_one(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    # Together may stream a little past a stop string; the answer must still end before it.
    pieces = ["Paris.\nUs", "er: and Rome?"]
    events = [
        chunk({"content": pieces[0]}, model=LLAMA),
        chunk({"content": pieces[1]}, "stop", usage(9, 5), model=LLAMA),
    ]
    fake_together.route("POST", "/chat/completions", Reply.sse(events))

    stream = invoke(dify, credentials, [user("Capital of France?")], stop=["\nUser:"]).ok()

    assert text(stream) == "Paris."
    assert fake_together.requests[0].json()["stop"] == ["\nUser:"]


def test_num_tokens_counts_offline_and_grows_with_the_prompt(
    dify: DifyApi, fake_together: FakeTogether, credentials: dict
) -> None:
    def count(messages: list[dict], tools: list[dict] | None = None) -> int:
        [payload] = dify.model(
            "llm/num_tokens", "llm", LLAMA, credentials, prompt_messages=messages, tools=tools or []
        ).ok()
        return payload["num_tokens"]

    short = count([user("Hi")])
    longer = count([user("Hi " * 50)])
    with_tool = count([user("Hi")], [WEATHER_TOOL])

    assert 0 < short < longer and short < with_tool
    assert longer - short >= 49  # fifty "Hi " are at least 49 more tokens than one
    assert fake_together.requests == []


def test_a_real_model_answers_through_the_daemon(dify: DifyApi, llama: Any) -> None:
    custom = {
        "api_key": API_KEY,
        "endpoint_url": llama.base_url,
        "context_size": "2048",
        "max_tokens_to_sample": "64",
    }

    stream = invoke(
        dify, custom, [user("Say hello.")], model="smollm2-135m", parameters={"max_tokens": 16}
    ).ok()

    assert text(stream).strip()
    reported = reported_usage(stream)
    assert reported["prompt_tokens"] > 0 and 0 < reported["completion_tokens"] <= 16
