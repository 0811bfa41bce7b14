"""The chat model through the SDK's public `invoke`, against respx answers shaped as Together's spec.

Covers endpoints and modes, streamed and blocking replies, usage wherever it
arrives, message and tool translation, tool-call aggregation, structured output, reasoning,
stop sequences, finish reasons and errors. Text assembly details are in test_llm_reply.py.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from dify_plugin.entities.model.llm import LLMResultChunk
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    PromptMessageRole,
    PromptMessageTool,
    SystemPromptMessage,
    TextPromptMessageContent,
    ToolPromptMessage,
    UserPromptMessage,
)
from dify_plugin.errors.model import (
    CredentialsValidateFailedError,
    InvokeBadRequestError,
    InvokeConnectionError,
    InvokeError,
    InvokeRateLimitError,
    InvokeServerUnavailableError,
)

respx = pytest.importorskip("respx")

from models.llm import llm as llm_module
from models.llm.num_tokens import count_prompt_tokens
from models.together.tokens import count_tokens
from tests.conftest import API_KEY
from tests.faults.adapters import build
from tests.support.llm_fakes import (
    CHAT_URL,
    COMPLETIONS_URL,
    CREDENTIALS,
    CUSTOM,
    CUSTOM_CREDENTIALS,
    INPUT_PRICE,
    MODEL,
    OUTPUT_PRICE,
    chunk,
    completion_chunk,
    completion_response,
    llm,
    response,
    sent,
    sse,
    text_chunks,
    text_of,
    tool_delta,
    tool_fragment,
    usage,
)

QUESTION = [SystemPromptMessage(content="You are terse."), UserPromptMessage(content="Capital of France?")]
WEATHER = PromptMessageTool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = PromptMessageTool(
    name="get_time", description="Local time.", parameters={"type": "object", "properties": {}}
)


def ask(
    messages=QUESTION,
    parameters=None,
    *,
    tools=None,
    stop=None,
    stream=True,
    model=MODEL,
    credentials=CREDENTIALS,
) -> list[LLMResultChunk]:
    return list(llm().invoke(model, credentials, messages, parameters or {}, tools, stop, stream, "user-1"))


def final(chunks: list[LLMResultChunk]) -> LLMResultChunk:
    """The one chunk with usage, which must be the last."""
    with_usage = [c for c in chunks if c.delta.usage is not None]
    assert with_usage == [chunks[-1]]
    return chunks[-1]


# --- endpoints, streaming, usage -------------------------------------------------------------


@respx.mock
def test_streamed_chat_sends_include_usage_and_prices_usage_from_the_finish_chunk() -> None:
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("Par", "is", ".", usage=usage(21, 3))))

    chunks = ask()

    assert text_of(chunks) == "Paris."
    assert all(c.delta.finish_reason is None for c in chunks[:-1])
    last = final(chunks)
    assert last.delta.finish_reason == "stop"  # Together's `eos`
    assert (last.delta.usage.prompt_tokens, last.delta.usage.completion_tokens) == (21, 3)
    assert last.delta.usage.total_price == (21 * INPUT_PRICE + 3 * OUTPUT_PRICE) / 1_000_000
    body = sent(route)
    assert route.calls[0].request.headers["authorization"] == f"Bearer {API_KEY}"
    assert body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Capital of France?"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@respx.mock
def test_usage_on_a_last_chunk_with_empty_choices_is_used() -> None:
    events = [*text_chunks("Paris", ".", finish_reason="stop"), chunk(None, usage=usage(30, 2))]
    respx.post(CHAT_URL).mock(return_value=sse(events))

    chunks = ask()

    assert text_of(chunks) == "Paris."
    last = final(chunks)
    assert (last.delta.usage.prompt_tokens, last.delta.usage.completion_tokens) == (30, 2)
    assert last.delta.finish_reason == "stop"


@respx.mock
def test_usage_is_estimated_offline_only_when_together_reports_none() -> None:
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("Paris is the capital", ".")))

    last = final(ask())

    assert last.delta.usage.prompt_tokens == count_prompt_tokens(QUESTION)
    assert last.delta.usage.completion_tokens == count_tokens("Paris is the capital.")
    assert last.delta.usage.total_price > 0


@respx.mock
def test_blocking_chat_returns_one_result_with_usage_and_no_stream_fields() -> None:
    route = respx.post(CHAT_URL).mock(
        return_value=httpx.Response(200, json=response("Paris.", usage=usage(18, 3)))
    )

    [result] = ask(stream=False)

    assert result.delta.message.content == "Paris."
    assert result.delta.message.tool_calls == []
    assert (result.delta.usage.prompt_tokens, result.delta.usage.completion_tokens) == (18, 3)
    body = sent(route)
    assert "stream" not in body and "stream_options" not in body


@respx.mock
def test_blocking_requests_are_retried_per_the_client_policy(no_retry_waits: list[float]) -> None:
    route = respx.post(CHAT_URL).mock(
        side_effect=[
            httpx.Response(503, json={"error": {"message": "Overloaded", "type": "server_error"}}),
            httpx.Response(200, json=response("Paris.", usage=usage(18, 3))),
        ]
    )

    [result] = ask(stream=False)

    assert result.delta.message.content == "Paris."
    assert route.call_count == 2 and len(no_retry_waits) == 1


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_completion_mode_posts_a_prompt_built_from_the_messages(stream: bool) -> None:
    if stream:
        answer = sse(
            [completion_chunk(" Paris"), completion_chunk(".", finish_reason="eos", usage=usage(9, 2))]
        )
    else:
        answer = httpx.Response(200, json=completion_response(" Paris.", usage=usage(9, 2)))
    route = respx.post(COMPLETIONS_URL).mock(return_value=answer)
    credentials = {**CUSTOM_CREDENTIALS, "mode": "completion"}

    chunks = ask(model=CUSTOM, credentials=credentials, stream=stream, parameters={"temperature": 0.2})

    assert text_of(chunks) == " Paris."
    assert (chunks[-1].delta.usage.prompt_tokens, chunks[-1].delta.usage.completion_tokens) == (9, 2)
    if stream:
        assert chunks[-1].delta.finish_reason == "stop"
    body = sent(route)
    assert body["model"] == CUSTOM
    assert body["prompt"] == "You are terse.\n\nCapital of France?"
    assert body["temperature"] == 0.2
    assert "messages" not in body


def test_completion_mode_refuses_tools_and_media_naming_them() -> None:
    credentials = {**CUSTOM_CREDENTIALS, "mode": "completion"}
    with pytest.raises(InvokeBadRequestError, match="cannot call tools"):
        ask(model=CUSTOM, credentials=credentials, tools=[WEATHER])
    image = UserPromptMessage(
        content=[{"type": "image", "url": "https://x.test/a.png", "format": "png", "mime_type": "image/png"}]
    )
    with pytest.raises(InvokeBadRequestError) as caught:
        ask([image], model=CUSTOM, credentials=credentials)
    assert str(caught.value) == (
        "Together takes only text in completion mode (a plain text prompt): remove the image part 'image/png'"
    )


# --- parameters ------------------------------------------------------------------------------


@respx.mock
def test_parameters_are_sent_as_together_names_them() -> None:
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("ok", usage=usage(5, 1))))
    parameters = {
        "temperature": 1.3,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "repetition_penalty": 1.1,
        "presence_penalty": -0.5,
        "frequency_penalty": 0.5,
        "max_tokens": 300,
        "seed": 7,
        "reasoning": False,
        "reasoning_effort": "high",
        "preserved_thinking": True,
        "response_format": "text",
        "not_a_rule": 1,  # dropped by the SDK: the model does not declare it
    }

    ask(parameters=parameters)

    body = sent(route)
    for name in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty"):
        assert body[name] == parameters[name]
    assert (body["frequency_penalty"], body["max_tokens"], body["seed"]) == (0.5, 300, 7)
    assert body["reasoning"] == {"enabled": False}
    assert body["reasoning_effort"] == "high"
    assert body["chat_template_kwargs"] == {"clear_thinking": False}
    assert "response_format" not in body and "not_a_rule" not in body


@respx.mock
def test_unset_parameters_send_nothing() -> None:
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("ok")))

    ask(parameters={"preserved_thinking": False, "safety_model": "meta-llama/Llama-Guard-4-12B"})

    assert set(sent(route)) == {"model", "messages", "stream", "stream_options"}


@respx.mock
@pytest.mark.parametrize("name", ["max_tokens", "top_k", "seed", "temperature"])
def test_a_boolean_for_a_number_is_refused_before_sending(name: str) -> None:
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("ok")))

    with pytest.raises(InvokeBadRequestError, match=f"{name} must be a number"):
        ask(parameters={name: True})

    assert not route.called


# --- structured output -----------------------------------------------------------------------

PERSON = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@respx.mock
@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"response_format": "json_object"}, {"type": "json_object"}),
        (
            {"response_format": "json_schema", "json_schema": json.dumps(PERSON)},
            {"type": "json_schema", "json_schema": {"name": "output", "schema": PERSON}},
        ),
        (  # Dify's structured output wraps the schema with a name
            {
                "response_format": "json_schema",
                "json_schema": json.dumps({"name": "person", "schema": PERSON, "strict": True}),
            },
            {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}},
        ),
        (  # a schema without response_format asks for it
            {"json_schema": json.dumps(PERSON)},
            {"type": "json_schema", "json_schema": {"name": "output", "schema": PERSON}},
        ),
        (
            {"json_schema": json.dumps({"name": "p", "schema": PERSON, "description": "A person"})},
            {
                "type": "json_schema",
                "json_schema": {"name": "p", "schema": PERSON, "description": "A person"},
            },
        ),
    ],
    ids=["json_object", "bare-schema", "named-schema", "schema-alone", "described-schema"],
)
def test_response_format_reaches_together(parameters: dict, expected: dict) -> None:
    route = respx.post(CHAT_URL).mock(return_value=httpx.Response(200, json=response('{"name": "Ada"}')))

    [result] = ask(parameters=parameters, stream=False)

    assert json.loads(result.delta.message.content) == {"name": "Ada"}
    assert sent(route)["response_format"] == expected


def test_json_schema_given_as_an_object_is_refused_before_any_call() -> None:
    with respx.mock(assert_all_called=False) as router:
        with pytest.raises(InvokeBadRequestError, match="json_schema should be string"):
            ask(parameters={"response_format": "json_schema", "json_schema": PERSON})
        assert not router.calls


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ("", "needs a JSON schema"),
        (json.dumps({"name": "my schema!", "schema": PERSON}), "name must be"),
        (json.dumps({"type": "object", "properties": ["name"]}), "'properties' must be an object"),
        (json.dumps({"type": 3}), "'type' must be a string"),
        (json.dumps({"type": "object", "required": "name"}), "'required' must be a list"),
    ],
)
def test_an_invalid_json_schema_is_a_bad_request_before_any_call(schema: str, message: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        with pytest.raises(InvokeBadRequestError, match=message):
            ask(parameters={"response_format": "json_schema", "json_schema": schema})
        assert not router.calls


# --- messages --------------------------------------------------------------------------------

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVQI12P4z8AAAAMBAQAY3Y2wAAAAAElFTkSuQmCC"


def part(kind: str, **fields: str) -> dict:
    return {
        "type": kind,
        "format": fields.pop("format", "bin"),
        "mime_type": fields.pop("mime_type", ""),
        **fields,
    }


@respx.mock
def test_every_message_kind_is_translated_to_the_spec_shape() -> None:
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("ok")))
    history = [
        SystemPromptMessage(content="Be helpful."),
        UserPromptMessage(
            content=[
                TextPromptMessageContent(data="Look:"),
                part("image", base64_data=PIXEL, format="png", mime_type="image/png", detail="low"),
                part("image", url="https://example.com/cat.jpg", format="jpg", mime_type="image/jpeg"),
                part("video", url="https://example.com/clip.mp4", format="mp4", mime_type="video/mp4"),
                part("audio", url="https://example.com/a.mp3", format="mp3", mime_type="audio/mpeg"),
                part("audio", base64_data="UklGRg==", format="wav", mime_type="audio/wav"),
                part("audio", base64_data="SUQz", format="mp3", mime_type="audio/mpeg"),
            ],
            name="",
        ),
        AssistantPromptMessage(
            content="<think>\nThe user wants weather.\n</think>\n\nChecking.",
            tool_calls=[
                AssistantPromptMessage.ToolCall(
                    id="call_0",
                    type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                        name="get_weather", arguments='{"city":"Oslo"}'
                    ),
                ),
                AssistantPromptMessage.ToolCall(
                    id="call_1",
                    type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                        name="get_time", arguments="{}"
                    ),
                ),
            ],
        ),
        ToolPromptMessage(content="Snow", tool_call_id="call_0", name="get_weather"),
        ToolPromptMessage(content="09:00", tool_call_id="call_1"),
        UserPromptMessage(
            content=[TextPromptMessageContent(data="Thanks"), TextPromptMessageContent(data="!")]
        ),
    ]

    ask(history, tools=[WEATHER, TIME])

    messages = sent(route)["messages"]
    assert messages[0] == {"role": "system", "content": "Be helpful."}
    assert messages[1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Look:"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}},
            {"type": "audio_url", "audio_url": {"url": "https://example.com/a.mp3"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "audio_url", "audio_url": {"url": "data:audio/mpeg;base64,SUQz"}},
        ],
    }
    assert messages[2] == {
        "role": "assistant",
        "content": "Checking.",
        "reasoning": "The user wants weather.",  # the trace goes back unmodified, out of the text
        "tool_calls": [
            {
                "index": 0,
                "id": "call_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
            },
            {
                "index": 1,
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_time", "arguments": "{}"},
            },
        ],
    }
    assert messages[3] == {"role": "tool", "tool_call_id": "call_0", "content": "Snow", "name": "get_weather"}
    assert messages[4] == {"role": "tool", "tool_call_id": "call_1", "content": "09:00"}
    assert messages[5] == {"role": "user", "content": "Thanks!"}


LITERAL_TAGS = "Use the <think> tag like this: <think>...</think> to wrap reasoning."


@respx.mock
@pytest.mark.parametrize(
    ("shown", "content", "reasoning"),
    [
        (LITERAL_TAGS, LITERAL_TAGS, None),  # an answer about the tag, no reasoning
        (f"<think>\nPlan.\n</think>\n\n{LITERAL_TAGS}", LITERAL_TAGS, "Plan."),
        ("<think>\nPlan.</think>Done.", "Done.", "Plan."),  # closed by a template-opened block
        ("<think>\nCut off mid-thought", "", "Cut off mid-thought"),
        (f"Sure. {LITERAL_TAGS}", f"Sure. {LITERAL_TAGS}", None),
        (" <think>\nNot at the start\n</think>x", " <think>\nNot at the start\n</think>x", None),
        ("<think>\nOne.\n</think>A<think>\nTwo.\n</think>B", "A<think>\nTwo.\n</think>B", "One."),
    ],
    ids=["literal", "block-then-literal", "template-closed", "unclosed", "later", "indented", "two-blocks"],
)
def test_only_the_block_an_answer_opens_with_goes_back_as_reasoning(
    shown: str, content: str, reasoning: str | None
) -> None:
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("ok")))

    ask([*QUESTION, AssistantPromptMessage(content=shown), UserPromptMessage(content="Go on.")])

    earlier = sent(route)["messages"][2]
    expected = {"role": "assistant", "content": content} | ({"reasoning": reasoning} if reasoning else {})
    assert earlier == expected


@respx.mock
def test_a_completion_prompt_drops_only_an_assistant_turns_opening_reasoning() -> None:
    route = respx.post(COMPLETIONS_URL).mock(return_value=httpx.Response(200, json=completion_response("ok")))
    quoted = "<think>\nQuoted by the user.\n</think>\n\nExplain this."
    prompt = [
        SystemPromptMessage(content="<think>\nA system rule.\n</think> Be brief."),
        UserPromptMessage(content=quoted),
        AssistantPromptMessage(content=f"<think>\nPlan.\n</think>\n\n{LITERAL_TAGS}"),
        UserPromptMessage(content="Thanks"),
    ]

    ask(prompt, model=CUSTOM, credentials={**CUSTOM_CREDENTIALS, "mode": "completion"}, stream=False)

    assert sent(route)["prompt"] == "\n\n".join(
        ["<think>\nA system rule.\n</think> Be brief.", quoted, LITERAL_TAGS, "Thanks"]
    )


IMAGE_URL = part("image", url="https://x.test/a.png", mime_type="image/png")


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            UserPromptMessage(
                content=[
                    part(
                        "document",
                        url="https://x.test/r.pdf",
                        filename="report.pdf",
                        mime_type="application/pdf",
                    )
                ]
            ),
            "Together's chat models take no document files: remove the document 'report.pdf' "
            "or pass its text instead",
        ),
        (
            SystemPromptMessage(content=[IMAGE_URL]),
            "Together takes only text in a system message: remove the image part 'image/png'",
        ),
        (
            AssistantPromptMessage(content=[part("audio", url="https://x.test/a.mp3", format="mp3")]),
            "Together takes only text in an assistant message: remove the audio part 'mp3'",
        ),
        (
            ToolPromptMessage(content=[IMAGE_URL], tool_call_id="call_0"),
            "Together takes only text in a tool result: remove the image part 'image/png'",
        ),
        (
            UserPromptMessage(content=[part("image", mime_type="image/png")]),
            "The image part 'image/png' has neither a URL nor data",
        ),
        (
            PromptMessage(role=PromptMessageRole.TOOL, content="Snow"),
            "A tool message needs the id of the tool call it answers",
        ),
    ],
    ids=["document", "system-image", "assistant-audio", "tool-image", "empty-image", "tool-without-id"],
)
def test_unsupported_parts_are_refused_naming_the_part(message, error: str) -> None:
    with respx.mock(assert_all_called=False) as router:
        with pytest.raises(InvokeBadRequestError) as caught:
            ask([message])
        assert str(caught.value) == error
        assert not router.calls


@respx.mock
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"format": "wav", "mime_type": "application/octet-stream"}, "input_audio"),
        ({"format": ".WAV", "mime_type": ""}, "input_audio"),
        ({"format": "", "mime_type": "audio/wav"}, "input_audio"),
        ({"format": "", "mime_type": "audio/x-wav"}, "input_audio"),
        ({"format": "", "mime_type": "audio/wave"}, "input_audio"),
        ({"format": "", "mime_type": "Audio/Vnd.Wave"}, "input_audio"),
        ({"format": "mp3", "mime_type": "audio/mpeg"}, "audio_url"),
        ({"format": "wav", "mime_type": "audio/wav", "url": "https://x.test/a.wav"}, "audio_url"),
    ],
)
def test_inline_wav_goes_as_input_audio_by_its_format_or_mime_type(fields: dict, expected: str) -> None:
    # input_audio is the one inline audio form the spec names, and it takes only WAV.
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("ok")))
    audio = {"base64_data": "UklGRg==", **fields}

    ask([UserPromptMessage(content=[part("audio", **audio)])])

    [sent_part] = sent(route)["messages"][0]["content"]
    assert sent_part["type"] == expected
    if expected == "input_audio":
        assert sent_part["input_audio"] == {"data": "UklGRg==", "format": "wav"}
    else:
        assert sent_part["audio_url"]["url"] in (fields.get("url"), "data:audio/mpeg;base64,UklGRg==")


# --- tools -----------------------------------------------------------------------------------


@respx.mock
def test_fragmented_parallel_tool_calls_are_joined_by_index_and_emitted_whole() -> None:
    paris, rome = '{"city": "Paris"}', '{"city": "Rome"}'
    events = [
        chunk(tool_delta(tool_fragment(0, "call_a", "get_weather"))),
        chunk(tool_delta(tool_fragment(0, arguments=paris[:9]))),
        chunk(tool_delta(tool_fragment(1, "call_b", "get_weather", rome[:4]))),
        chunk(tool_delta(tool_fragment(0, arguments=paris[9:]))),
        chunk(tool_delta(tool_fragment(1, arguments=rome[4:]))),
        chunk({"content": None}, finish_reason="tool_calls", usage=usage(61, 24)),
    ]
    route = respx.post(CHAT_URL).mock(return_value=sse(events))

    chunks = ask(tools=[WEATHER])

    calls = [call for c in chunks for call in c.delta.message.tool_calls]
    assert [(call.id, call.function.name, call.function.arguments) for call in calls] == [
        ("call_a", "get_weather", paris),
        ("call_b", "get_weather", rome),
    ]
    assert chunks[-1].delta.message.tool_calls == calls  # all in the final chunk
    assert chunks[-1].delta.finish_reason == "tool_calls"
    assert all(isinstance(c.delta.message.content, str) for c in chunks)
    body = sent(route)
    assert body["tools"] == [{"type": "function", "function": WEATHER.model_dump()}]
    assert body["tool_choice"] == "auto"


@respx.mock
def test_whole_calls_without_index_or_id_are_kept_apart_and_given_ids() -> None:
    whole = [
        {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"id": "call_t", "type": "function", "function": {"name": "get_time", "arguments": ""}},
    ]
    respx.post(CHAT_URL).mock(return_value=sse([chunk({"tool_calls": whole}, finish_reason="tool_calls")]))

    calls = final(ask(tools=[WEATHER, TIME])).delta.message.tool_calls

    assert [call.function.name for call in calls] == ["get_weather", "get_time"]
    assert calls[0].id.startswith("call_") and calls[1].id == "call_t"
    assert calls[1].function.arguments == "{}"  # no arguments still parse as JSON


@respx.mock
def test_blocking_tool_calls_come_back_whole() -> None:
    calls = [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
        },
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    respx.post(CHAT_URL).mock(
        return_value=httpx.Response(200, json=response(None, finish_reason="tool_calls", tool_calls=calls))
    )

    [result] = ask(tools=[WEATHER, TIME], stream=False)

    assert result.delta.message.content == ""
    assert [(c.id, c.function.name, c.function.arguments) for c in result.delta.message.tool_calls] == [
        ("call_a", "get_weather", '{"city":"Oslo"}'),
        ("call_b", "get_time", "{}"),
    ]


def cut_off_reply(arguments: str, stream: bool) -> httpx.Response:
    """A reply that stopped at max_tokens after a whole call to get_time and one to get_weather."""
    whole = tool_fragment(0, "call_t", "get_time", "{}")
    if stream:
        events = [
            chunk(tool_delta(whole)),
            chunk(tool_delta(tool_fragment(1, "call_w", "get_weather", arguments))),
            chunk({"content": None}, finish_reason="length"),
        ]
        return sse(events)
    calls = [{**whole, "type": "function"}, tool_fragment(1, "call_w", "get_weather", arguments)]
    return httpx.Response(200, json=response(None, finish_reason="length", tool_calls=calls))


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_whole_tool_calls_survive_the_token_limit(stream: bool) -> None:
    respx.post(CHAT_URL).mock(return_value=cut_off_reply('{"city": "Oslo"}', stream))

    last = ask(tools=[WEATHER, TIME], stream=stream)[-1]

    calls = [(c.id, c.function.name, c.function.arguments) for c in last.delta.message.tool_calls]
    assert calls == [("call_t", "get_time", "{}"), ("call_w", "get_weather", '{"city": "Oslo"}')]
    assert last.delta.finish_reason == ("length" if stream else None)  # a blocking result has none


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
@pytest.mark.parametrize("arguments", ['{"ci', ""], ids=["half-written", "not-yet-written"])
def test_a_tool_call_cut_off_by_the_token_limit_is_an_error_naming_max_tokens(
    arguments: str, stream: bool
) -> None:
    respx.post(CHAT_URL).mock(return_value=cut_off_reply(arguments, stream))

    message = (
        r"^The answer reached Max Tokens in the middle of tool call 1 \(get_weather\), so the call is "
        r"incomplete: raise Max Tokens in the model's parameters$"
    )
    with pytest.raises(InvokeBadRequestError, match=message):
        ask(tools=[WEATHER, TIME], stream=stream)


@respx.mock
def test_a_tool_call_without_a_name_is_an_invoke_error_not_a_crash() -> None:
    respx.post(CHAT_URL).mock(
        return_value=sse(
            [chunk(tool_delta(tool_fragment(0, "call_a", None, "{}")), finish_reason="tool_calls")]
        )
    )

    with pytest.raises(InvokeServerUnavailableError, match="without a function name"):
        ask(tools=[WEATHER])


# --- reasoning -------------------------------------------------------------------------------


@respx.mock
@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_streamed_reasoning_in_either_field_becomes_a_think_block(field: str) -> None:
    events = [
        chunk({field: "\n"}),
        chunk({field: "The user asks"}),
        chunk({field: " for a capital.", "content": ""}),
        *text_chunks("Paris", ".", usage=usage(12, 9)),
    ]
    respx.post(CHAT_URL).mock(return_value=sse(events))

    chunks = ask()

    assert text_of(chunks) == "<think>\nThe user asks for a capital.\n</think>Paris."


@respx.mock
@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_blocking_reasoning_in_either_field_becomes_a_think_block(field: str) -> None:
    respx.post(CHAT_URL).mock(
        return_value=httpx.Response(200, json=response("Paris.", **{field: "Capital of France."}))
    )

    [result] = ask(stream=False)

    assert result.delta.message.content == "<think>\nCapital of France.\n</think>Paris."


@respx.mock
def test_reasoning_before_a_tool_call_is_closed_and_empty_reasoning_opens_nothing() -> None:
    events = [
        chunk({"reasoning": "  "}),
        chunk({"reasoning": "Need weather."}),
        chunk(
            tool_delta(tool_fragment(0, "call_a", "get_weather", '{"city":"Oslo"}')),
            finish_reason="tool_calls",
        ),
    ]
    respx.post(CHAT_URL).mock(return_value=sse(events))

    chunks = ask(tools=[WEATHER])

    assert text_of(chunks) == "<think>\nNeed weather.\n</think>"
    respx.post(CHAT_URL).mock(return_value=sse([chunk({"reasoning": " \n"}), *text_chunks("Hi")]))
    assert text_of(ask()) == "Hi"


@respx.mock
def test_inline_think_comes_out_balanced_and_empty_blocks_are_dropped() -> None:
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("<think>\n\n</th", "ink>\n\nHi", " there")))
    assert text_of(ask()) == "Hi there"

    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("<think>Hmm", " more", finish_reason="length")))
    chunks = ask()
    assert text_of(chunks) == "<think>\nHmm more\n</think>"
    assert chunks[-1].delta.finish_reason == "length"


TEMPLATE_OPENED = {**CREDENTIALS, "think_tags": "close_only"}


@respx.mock
def test_the_streamed_answer_of_a_model_whose_template_opens_the_block_starts_inside_it() -> None:
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("\nSum", " it.\n</think>", "\n\n4.")))

    chunks = ask(credentials=TEMPLATE_OPENED)

    assert text_of(chunks) == "<think>\nSum it.\n</think>\n\n4."


@respx.mock
def test_a_blocking_answer_of_a_model_whose_template_opens_the_block_is_split_the_same_way() -> None:
    respx.post(CHAT_URL).mock(return_value=httpx.Response(200, json=response("Sum it.</think>4.")))

    [result] = ask(stream=False, credentials=TEMPLATE_OPENED)

    assert result.delta.message.content == "<think>\nSum it.</think>4."


@respx.mock
def test_thinking_switched_off_leaves_no_block_open_for_a_template_that_opens_one() -> None:
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("It is", " 4.")))

    assert text_of(ask(parameters={"reasoning": False}, credentials=TEMPLATE_OPENED)) == "It is 4."


# --- stop sequences and finish reasons -------------------------------------------------------


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_stop_strings_are_sent_and_never_leak(stream: bool) -> None:
    pieces = ["Monday\nTues", "day\nWed", "nes", "day\nThursday"]
    if stream:
        answer = sse([*text_chunks(*pieces, finish_reason="length"), chunk(None, usage=usage(20, 12))])
    else:
        answer = httpx.Response(
            200, json=response("".join(pieces), finish_reason="length", usage=usage(20, 12))
        )
    route = respx.post(CHAT_URL).mock(return_value=answer)

    chunks = ask(stop=["Wednesday", "", "Friday"], stream=stream)

    assert text_of(chunks) == "Monday\nTuesday\n"
    assert chunks[-1].delta.usage.completion_tokens == 12  # the stream was read to its usage
    if stream:
        assert chunks[-1].delta.finish_reason == "stop"
        assert all("Wed" not in c.delta.message.content for c in chunks)
    assert sent(route)["stop"] == ["Wednesday", "Friday"]


@respx.mock
@pytest.mark.parametrize(
    ("together", "dify"),
    [
        ("eos", "stop"),
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
    ],
)
def test_finish_reasons_are_mapped(together: str, dify: str) -> None:
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("x", finish_reason=together)))

    assert ask()[-1].delta.finish_reason == dify


# --- token counting --------------------------------------------------------------------------


def test_token_count_is_offline_deterministic_and_counts_what_is_sent() -> None:
    model = llm()
    with respx.mock(assert_all_called=False) as router:
        plain = model.get_num_tokens(MODEL, CREDENTIALS, QUESTION)
        assert plain == model.get_num_tokens(MODEL, CREDENTIALS, QUESTION)
        with_tools = model.get_num_tokens(MODEL, CREDENTIALS, QUESTION, [WEATHER])
        image = part("image", base64_data=PIXEL * 2000, format="png", mime_type="image/png")
        with_image = [
            QUESTION[0],
            UserPromptMessage(content=[TextPromptMessageContent(data="Capital of France?"), image]),
        ]
        assert not router.calls

    text = count_tokens("You are terse.") + count_tokens("Capital of France?")
    assert plain > text  # roles and per-message overhead
    assert with_tools - plain > count_tokens(WEATHER.description)
    assert model.get_num_tokens(MODEL, CREDENTIALS, with_image) == plain  # the image is not counted as text


def tool_call(call_id: str, name: str, arguments: str) -> AssistantPromptMessage.ToolCall:
    function = AssistantPromptMessage.ToolCall.ToolCallFunction(name=name, arguments=arguments)
    return AssistantPromptMessage.ToolCall(id=call_id, type="function", function=function)


def counted_as_sent(body: dict) -> int:
    """The counting rule read off the request Together receives: per message 3 tokens of template
    plus its role, text, reasoning, name and tool calls; per tool 8 tokens of wrapper plus its
    schema as sent; 3 for the reply's priming."""
    total = 3
    for message in body["messages"]:
        content = message["content"]
        texts = [content] if isinstance(content, str) else [p["text"] for p in content if p["type"] == "text"]
        texts += [message["role"], message.get("reasoning", ""), message.get("name", "")]
        for call in message.get("tool_calls", []):
            texts += [call["function"]["name"], call["function"]["arguments"]]
        total += 3 + sum(count_tokens(text) for text in texts)
    for tool in body.get("tools", []):
        total += 8 + count_tokens(json.dumps(tool["function"], ensure_ascii=False, sort_keys=True))
    return total


@respx.mock
def test_the_offline_count_is_the_count_of_the_request_it_stands_for() -> None:
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("ok")))
    image = part("image", url="https://example.com/cat.jpg", mime_type="image/jpeg")
    history = [
        SystemPromptMessage(content="You are terse."),
        UserPromptMessage(content=[TextPromptMessageContent(data="Weather in Oslo? "), image], name="alice"),
        AssistantPromptMessage(
            content="<think>\nAsk both tools.\n</think>\n\nChecking.",
            name="planner",
            tool_calls=[
                tool_call("call_0", "get_weather", '{"city": "Oslo"}'),
                tool_call("call_1", "get_time", '{"zone": "Europe/Oslo"}'),
            ],
        ),
        ToolPromptMessage(content="Snow, -3 °C", tool_call_id="call_0", name="get_weather"),
        ToolPromptMessage(content="09:00", tool_call_id="call_1", name="get_time"),
    ]

    convert = PromptMessageTool(
        name="convert",
        description="Convertit des °C en °F, à l'unité près.",  # non-ASCII is sent as it is
        parameters={"type": "object", "properties": {"celsius": {"type": "number"}}},
    )
    tools = [WEATHER, TIME, convert]

    ask(history, tools=tools)

    assert llm().get_num_tokens(MODEL, CREDENTIALS, history, tools) == counted_as_sent(sent(route))


@respx.mock
def test_an_earlier_turns_reasoning_counts_as_it_is_sent_back() -> None:
    # Dify trims history and budgets max_tokens from this count: reasoning that goes back to
    # Together but is not counted overruns the model's context.
    route = respx.post(CHAT_URL).mock(return_value=sse(text_chunks("Madrid.")))
    reasoning = "The capital is the seat of government, so check it. " * 200  # 10,400 characters
    follow_up = UserPromptMessage(content="And Spain?")
    answered = AssistantPromptMessage(content=f"<think>\n{reasoning}\n</think>\n\nParis.")
    history = [*QUESTION, answered, follow_up]
    without_reasoning = [*QUESTION, AssistantPromptMessage(content="Paris."), follow_up]

    ask(history)

    earlier = sent(route)["messages"][2]
    assert earlier["content"] == "Paris." and earlier["reasoning"] == reasoning
    model = llm()
    added = model.get_num_tokens(MODEL, CREDENTIALS, history) - model.get_num_tokens(
        MODEL, CREDENTIALS, without_reasoning
    )
    assert added == count_tokens(earlier["reasoning"]) > 1000


# --- errors ----------------------------------------------------------------------------------


@respx.mock
def test_an_error_inside_the_stream_is_raised_as_the_mapped_invoke_error() -> None:
    error = {"error": {"message": "You have been rate limited.", "type": "rate_limit_exceeded"}}
    respx.post(CHAT_URL).mock(return_value=sse([chunk({"content": "Par"}), error], done=False))

    stream = llm().invoke(MODEL, CREDENTIALS, QUESTION, {}, None, None, True)
    assert next(stream).delta.message.content == "Par"
    with pytest.raises(InvokeRateLimitError, match="rate limited"):
        list(stream)


@respx.mock
def test_a_stream_cut_off_before_its_finish_is_a_connection_error_not_an_answer() -> None:
    respx.post(CHAT_URL).mock(
        return_value=sse([chunk({"content": "Par"}), chunk({"content": "is"})], done=False)
    )

    chunks: list[LLMResultChunk] = []
    with pytest.raises(InvokeConnectionError, match="cut off"):
        for c in llm().invoke(MODEL, CREDENTIALS, QUESTION, {}, None, None, True):
            chunks.append(c)
    assert all(c.delta.finish_reason is None and c.delta.usage is None for c in chunks)


@respx.mock
def test_a_finished_stream_missing_only_done_is_accepted() -> None:
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("Paris", ".", usage=usage(8, 2)), done=False))

    chunks = ask()

    assert text_of(chunks) == "Paris."
    assert final(chunks).delta.usage.completion_tokens == 2


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_a_rate_limit_is_a_rate_limit_error_with_togethers_message(stream: bool) -> None:
    body = {"error": {"message": "Rate limit exceeded for model", "type": "dynamic_request_limited"}}
    route = respx.post(CHAT_URL).mock(
        return_value=httpx.Response(429, json=body, headers={"retry-after": "60"})
    )

    with pytest.raises(InvokeRateLimitError, match="Rate limit exceeded") as caught:
        ask(stream=stream)
    assert API_KEY not in str(caught.value)
    assert route.call_count == 1  # Together asked for a longer wait than the client retries within


@respx.mock
def test_errors_are_invoke_errors_for_dify() -> None:
    respx.post(CHAT_URL).mock(
        return_value=httpx.Response(200, json={"id": "x", "object": "chat.completion", "choices": []})
    )

    with pytest.raises(InvokeError, match="without any choice"):
        ask(stream=False)


@respx.mock(assert_all_called=False)
def test_max_tokens_beyond_the_models_ceiling_is_refused_before_anything_is_sent() -> None:
    route = respx.post(CHAT_URL)

    with pytest.raises(InvokeBadRequestError, match="max_tokens should be less than or equal to 8192"):
        ask(parameters={"max_tokens": 10**7}, model=CUSTOM, credentials=CUSTOM_CREDENTIALS)

    assert not route.called


@respx.mock
@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("moonshotai/Kimi-K3", "reasoning_content"),
        ("openai/gpt-oss-120b", "reasoning"),
        (CUSTOM, "reasoning"),  # any model outside the catalog: Together's documented field
    ],
)
def test_an_earlier_turns_reasoning_goes_back_under_the_models_key_whatever_earlier_replies_used(
    model: str, key: str
) -> None:
    other = "reasoning" if key == "reasoning_content" else "reasoning_content"
    route = respx.post(CHAT_URL).mock(
        side_effect=[
            sse(text_chunks("Snow in Oslo.")),
            sse([chunk({other: "Needs the weather.", "content": "Checking."}, "stop")]),
            sse(text_chunks("Snow in Oslo.")),
        ]
    )
    credentials = CUSTOM_CREDENTIALS if model == CUSTOM else CREDENTIALS
    plugin = llm() if model == CUSTOM else build("llm")
    history = [
        *QUESTION,
        AssistantPromptMessage(content="<think>\nNeeds the weather.\n</think>Checking."),
        UserPromptMessage(content="And now?"),
    ]

    def send(messages: list) -> list[LLMResultChunk]:
        return list(plugin.invoke(model, credentials, messages, {}, None, None, True))

    send(history)
    answer = text_of(send(QUESTION))  # an answer whose reasoning came on the other key
    send(history)

    assert answer == "<think>\nNeeds the weather.\n</think>Checking."
    first, _, again = (json.loads(call.request.content) for call in route.calls)
    assert first["messages"][2] == {"role": "assistant", "content": "Checking.", key: "Needs the weather."}
    assert again == first, "a request's shape does not depend on earlier requests"


@respx.mock
@pytest.mark.parametrize(
    "details",
    [
        {
            "completion_tokens_details": {"reasoning_tokens": 30},
            "prompt_tokens_details": {"cached_tokens": 15},
        },
        {"cached_tokens": 15},  # the flat shape some non-reasoning models report
    ],
)
def test_reasoning_and_cached_tokens_are_priced_as_together_bills_them(details: dict) -> None:
    # Together bills reasoning as completion tokens, which already count it, and publishes no
    # cached-input price for these models: every prompt token is priced as input.
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("ok", usage={**usage(20, 40), **details})))

    last = final(ask())

    assert (last.delta.usage.prompt_tokens, last.delta.usage.completion_tokens) == (20, 40)
    assert last.delta.usage.total_price == (20 * INPUT_PRICE + 40 * OUTPUT_PRICE) / 1_000_000


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_completion_mode_sends_the_stop_strings_and_ends_the_answer_before_one(stream: bool) -> None:
    # A server that ignores `stop` (as some gateways do) must not show Dify the text after it.
    text = " Paris.\nQ: And Spain?"
    if stream:
        answer = sse([completion_chunk(" Paris.\nQ"), completion_chunk(": And Spain?", finish_reason="eos")])
    else:
        answer = httpx.Response(200, json=completion_response(text))
    route = respx.post(COMPLETIONS_URL).mock(return_value=answer)
    credentials = {**CUSTOM_CREDENTIALS, "mode": "completion"}

    chunks = ask(model=CUSTOM, credentials=credentials, stop=["\nQ:"], stream=stream)

    assert text_of(chunks) == " Paris."
    assert sent(route)["stop"] == ["\nQ:"]


def test_a_fault_of_the_plugin_while_checking_llm_credentials_is_said_so_and_logged_without_the_key(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> dict:
        raise KeyError(f"unexpected field for {API_KEY}")

    monkeypatch.setattr(llm_module, "chat_request", broken)

    with pytest.raises(CredentialsValidateFailedError, match="fault is in the plugin") as caught:
        llm().validate_credentials(MODEL, CREDENTIALS)

    assert API_KEY not in str(caught.value)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "KeyError: 'unexpected field for [REDACTED]'" in record.getMessage()
