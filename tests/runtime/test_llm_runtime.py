"""Chat models under the real SDK runtime over stdio, with messages shaped as Dify's daemon sends them.

Dify's plugin daemon (langgenius/dify-plugin-daemon, written in Go) re-serialises every prompt
message from its Go structs: each carries `name: ""` and `tool_call_id: ""`, `tool_calls` is `null`
except on assistant messages (`[]` when there are none), and content parts carry every field, empty
when unset. The scripted Together stand-in answers with bodies shaped as the spec's ChatCompletionChunk and
ChatCompletionResponse.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from tests.conftest import API_KEY
from tests.support import llm_fakes
from tests.support.fake_together import FakeTogether, Reply
from tests.support.llm_fakes import usage
from tools.stdio_runtime import PluginProcess

LLAMA = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
VISION = "Qwen/Qwen3.5-9B"  # a vision model
CAT_URL = "https://example.com/cat.jpg"
PIXEL_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
        "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
    )
).decode()
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


# --- what the daemon sends -------------------------------------------------------------------


def message(role: str, content: Any, **fields: Any) -> dict[str, Any]:
    """A prompt message as the daemon's Go struct serialises it."""
    return {
        "role": role,
        "content": content,
        "name": "",
        "tool_calls": [] if role == "assistant" else None,
        "tool_call_id": "",
        **fields,
    }


def part(kind: str, **fields: str) -> dict[str, str]:
    """A content part with every field the daemon's struct has."""
    empty = dict.fromkeys(
        ["base64_data", "url", "data", "encode_format", "format", "mime_type", "detail", "filename"], ""
    )
    return {"type": kind, **empty, **fields}


def llm_request(
    credentials: dict,
    messages: list[dict],
    *,
    model: str = LLAMA,
    parameters: dict | None = None,
    tools: list[dict] | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    return {
        "credentials": credentials,
        "model_type": "llm",
        "model": model,
        "prompt_messages": messages,
        "model_parameters": parameters or {},
        "stop": None,
        "tools": tools,
        "stream": stream,
    }


# --- what Together answers -------------------------------------------------------------------


def chunk(delta: dict | None = None, finish_reason: str | None = None, usage: dict | None = None) -> dict:
    return llm_fakes.chunk(delta, finish_reason, usage, model=LLAMA)


def tool_fragment(index: int, **fields: Any) -> dict:
    return {"content": None, "tool_calls": [{"index": index, **fields}]}


def tool_start(index: int, call_id: str) -> dict:
    """The first fragment of a streamed tool call: id, type and name, no arguments yet."""
    function = {"name": WEATHER_TOOL["name"], "arguments": ""}
    return tool_fragment(index, id=call_id, type="function", function=function)


# --- what reaches Dify -----------------------------------------------------------------------


def contents(stream: list[dict]) -> list[Any]:
    return [payload["delta"]["message"]["content"] for payload in stream]


def usages(stream: list[dict]) -> list[dict]:
    return [payload["delta"]["usage"] for payload in stream if payload["delta"].get("usage")]


def assert_priced(reported: dict, prompt: int, completion: int) -> None:
    assert (reported["prompt_tokens"], reported["completion_tokens"]) == (prompt, completion)
    assert reported["total_tokens"] == prompt + completion
    assert reported["currency"] == "USD"
    total = Decimal(str(reported["total_price"]))
    assert total > 0  # priced from the model's YAML
    assert total == Decimal(str(reported["prompt_price"])) + Decimal(str(reported["completion_price"]))


def test_streamed_parallel_tool_calls_reach_dify_whole(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    oslo, paris, rome = '{"city": "Oslo"}', '{"city": "Paris"}', '{"city": "Rome"}'
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply.sse(
            [
                chunk(tool_start(0, "call_a")),
                chunk(tool_fragment(0, function={"arguments": paris[:9]})),
                chunk(tool_start(1, "call_b")),
                chunk(tool_fragment(0, function={"arguments": paris[9:]})),
                chunk(tool_fragment(1, function={"arguments": rome})),
                chunk({"content": None}, finish_reason="tool_calls", usage=usage(61, 24)),
            ]
        ),
    )
    history = [
        message("system", "You check the weather."),
        message("user", "Weather in Oslo?"),
        message(
            "assistant",
            "",
            tool_calls=[
                {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": oslo}},
            ],
        ),
        message("tool", "Snow, -3 °C", name="get_weather", tool_call_id="call_0"),
        message("user", "And in Paris and Rome?"),
    ]

    stream = plugin.call("invoke_llm", llm_request(credentials, history, tools=[WEATHER_TOOL])).ok()

    calls = [call for payload in stream for call in payload["delta"]["message"]["tool_calls"]]
    assert calls == [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": paris}},
        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": rome}},
    ]
    assert all(isinstance(content, str) for content in contents(stream))  # the daemon rejects null
    assert stream[-1]["delta"]["finish_reason"] == "tool_calls"
    [reported] = usages(stream)
    assert_priced(reported, 61, 24)

    [request] = fake_together.requests
    body = request.json()
    assert body["model"] == LLAMA
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["tools"] == [{"type": "function", "function": WEATHER_TOOL}]
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool", "user"]
    [sent_call] = body["messages"][2]["tool_calls"]
    assert sent_call["index"] == 0 and sent_call["id"] == "call_0"
    assert sent_call["function"] == {"name": "get_weather", "arguments": oslo}
    assert body["messages"][3]["tool_call_id"] == "call_0"
    assert body["messages"][3]["content"] == "Snow, -3 °C"
    assert all(m.get("name", "unset") != "" for m in body["messages"]), "the daemon's empty name was sent on"


def test_streamed_image_question_sends_the_image_and_reports_late_usage(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply.sse(
            [
                chunk({"content": "A red"}),
                chunk({"content": " pixel."}, finish_reason="eos"),
                chunk(None, usage=usage(300, 4)),  # usage after the finish, with empty choices
            ]
        ),
    )
    question = message(
        "user",
        [
            part("text", data="What is in these images?"),
            part("image", base64_data=PIXEL_PNG, format="png", mime_type="image/png", detail="low"),
            part("image", url=CAT_URL, format="jpg", mime_type="image/jpeg", detail="high"),
        ],
    )

    stream = plugin.call("invoke_llm", llm_request(credentials, [question], model=VISION)).ok()

    assert "".join(contents(stream)) == "A red pixel."
    assert stream[-1]["delta"]["finish_reason"] == "stop"  # Together's `eos` is a normal stop
    [reported] = usages(stream)
    assert_priced(reported, 300, 4)

    [request] = fake_together.requests
    [sent] = request.json()["messages"]
    text, inline, linked = sent["content"]
    assert text == {"type": "text", "text": "What is in these images?"}
    assert inline["type"] == "image_url"
    assert inline["image_url"]["url"] == f"data:image/png;base64,{PIXEL_PNG}"
    assert linked["type"] == "image_url"
    assert linked["image_url"]["url"] == CAT_URL


def test_blocking_chat_returns_one_priced_answer(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply.json(
            {
                "id": "chatcmpl-9c1d",
                "object": "chat.completion",
                "created": 1750000000,
                "model": LLAMA,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Paris.", "tool_calls": []},
                        "finish_reason": "eos",
                        "logprobs": None,
                    }
                ],
                "usage": usage(18, 3),
            }
        ),
    )
    parameters = {"temperature": 0.3, "max_tokens": 50, "repetition_penalty": 1.1}

    question = [message("user", "Capital of France?")]

    stream = plugin.call(
        "invoke_llm", llm_request(credentials, question, parameters=parameters, stream=False)
    ).ok()

    assert contents(stream) == ["Paris."]
    [reported] = usages(stream)
    assert_priced(reported, 18, 3)
    [request] = fake_together.requests
    body = request.json()
    assert not body.get("stream")
    assert {key: body.get(key) for key in parameters} == parameters
    assert body["messages"] == [{"role": "user", "content": "Capital of France?"}]


def test_token_count_is_offline_and_counts_tools_but_not_image_bytes(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    def count(messages: list[dict], tools: list[dict] | None = None, model: str = LLAMA) -> int:
        request = {"credentials": credentials, "model_type": "llm", "model": model}
        request |= {"prompt_messages": messages, "tools": tools}
        [payload] = plugin.call("get_llm_num_tokens", request).ok()
        return payload["num_tokens"]

    question = [message("system", "You are terse."), message("user", "What is the weather in Paris today?")]
    big_image = base64.b64encode(bytes(range(256)) * 400).decode()  # ~137,000 base64 characters
    with_image = [
        question[0],
        message(
            "user",
            [
                part("text", data="What is the weather in Paris today?"),
                part("image", base64_data=big_image, format="png", mime_type="image/png", detail="low"),
            ],
        ),
    ]

    plain = count(question)
    assert plain > 0
    assert count(question) == plain  # deterministic
    assert count(question, [WEATHER_TOOL]) > plain
    assert count(with_image, model=VISION) - plain < 2000  # the image is not counted as its base64 text
    assert fake_together.requests == []  # counted offline


def test_reasoning_of_a_model_whose_template_opens_the_block_reaches_dify_inside_one(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    # A reasoning model served with a chat template that ends the prompt with `<think>\n`: its
    # answer starts with the reasoning and only the closing tag arrives.
    pieces = ["\nThe user wants", " a sum.\n</th", "ink>\n\n4", "."]
    events = [chunk({"content": piece}) for piece in pieces]
    fake_together.route("POST", "/chat/completions", Reply.sse([*events, chunk({}, "stop", usage(12, 9))]))
    model = "acme/r1-distill-dedicated"
    opened = {**credentials, "mode": "chat", "think_tags": "close_only"}
    question = [message("user", "2+2?")]

    streamed = plugin.call("invoke_llm", llm_request(opened, question, model=model)).ok()
    plain = plugin.call("invoke_llm", llm_request(credentials, question, model=model)).ok()

    assert "".join(contents(streamed)) == "<think>\nThe user wants a sum.\n</think>\n\n4."
    # Without the setting the block cannot be known until its end: the tag is dropped, the text stays.
    assert "".join(contents(plain)) == "\nThe user wants a sum.\n\n\n4."


def test_a_rate_limit_reaches_dify_as_the_mapped_error_with_togethers_message(
    plugin: PluginProcess, fake_together: FakeTogether, credentials: dict
) -> None:
    together_message = f"You have reached the rate limit specific to this model {LLAMA}."
    fake_together.route(
        "POST",
        "/chat/completions",
        Reply.json(
            {"error": {"message": together_message, "type": "dynamic_request_limited", "code": None}},
            429,
            # Longer than the client waits, so it gives up at once instead of retrying.
            headers={"Retry-After": "60"},
        ),
    )

    result = plugin.call("invoke_llm", llm_request(credentials, [message("user", "Hi")]))

    assert result.error is not None, f"no error, stream was {json.dumps(result.stream)[:500]}"
    assert result.error["error_type"] == "InvokeRateLimitError"
    assert together_message in result.error["message"]
    assert API_KEY not in json.dumps(result.error)
    assert len(fake_together.requests) == 1
    assert all(payload["delta"].get("finish_reason") is None for payload in result.stream)  # no fake success
