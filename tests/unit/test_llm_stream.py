"""How Together's events and whole responses are read: what reaches Dify from each field, through the
SDK's public `invoke` against respx answers. Tool calls at the token limit and the overall flow are in
test_llm.py; text assembly in test_llm_reply.py."""

from __future__ import annotations

import logging

import httpx
import pytest
from dify_plugin.entities.model.message import PromptMessageTool, UserPromptMessage
from dify_plugin.errors.model import InvokeServerUnavailableError

respx = pytest.importorskip("respx")

from models.llm.num_tokens import count_prompt_tokens
from models.together.tokens import count_tokens
from tests.support.llm_fakes import (
    CHAT_URL,
    COMPLETIONS_URL,
    CREDENTIALS,
    CUSTOM,
    CUSTOM_CREDENTIALS,
    MODEL,
    chunk,
    completion_response,
    llm,
    response,
    sse,
    text_chunks,
    text_of,
    tool_delta,
    tool_fragment,
    usage,
)

PROMPT = [UserPromptMessage(content="Weather in Oslo and Rome?")]
WEATHER = PromptMessageTool(name="get_weather", description="Weather.", parameters={"type": "object"})
COMPLETION = {**CUSTOM_CREDENTIALS, "mode": "completion"}


def ask(stream: bool = True, model: str = MODEL, credentials: dict = CREDENTIALS, tools=None) -> list:
    return list(llm().invoke(model, credentials, PROMPT, {}, tools, None, stream))


def choice_event(**choice) -> dict:
    return {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, **choice}]}


@respx.mock
def test_chunks_are_numbered_in_the_order_they_are_sent() -> None:
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("a", "b", "c", "d")))

    chunks = ask()

    assert text_of(chunks) == "abcd"
    assert [c.delta.index for c in chunks] == list(range(len(chunks)))


@respx.mock
def test_text_in_an_event_that_also_carries_reasoning_or_a_tool_call_is_shown() -> None:
    events = [
        chunk({"reasoning": "Two cities.", "content": "Checking"}),
        chunk({**tool_delta(tool_fragment(0, "call_a", "get_weather", "{}")), "content": " both."}),
        chunk({"content": None}, finish_reason="tool_calls"),
    ]
    respx.post(CHAT_URL).mock(return_value=sse(events))

    chunks = ask(tools=[WEATHER])

    assert text_of(chunks) == "<think>\nTwo cities.\n</think>Checking both."
    assert [call.id for call in chunks[-1].delta.message.tool_calls] == ["call_a"]


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_an_empty_reasoning_field_gives_way_to_the_other_one(stream: bool) -> None:
    fields = {"reasoning": "", "reasoning_content": "Plan."}
    if stream:
        answer = sse([chunk({"content": None, **fields}), *text_chunks("Done.")])
    else:
        answer = httpx.Response(200, json=response("Done.", **fields))
    respx.post(CHAT_URL).mock(return_value=answer)

    assert text_of(ask(stream=stream)) == "<think>\nPlan.\n</think>Done."


@respx.mock
def test_only_the_first_choice_is_read_wherever_it_sits_in_the_list() -> None:
    event = chunk({"content": "A"}, finish_reason="eos")
    second = {**event["choices"][0], "index": 1, "delta": {"content": "B"}}
    event["choices"] = ["not a choice", second, *event["choices"]]
    respx.post(CHAT_URL).mock(return_value=sse([event]))

    assert text_of(ask()) == "A"


@respx.mock
def test_a_blocking_answer_without_a_choice_is_a_server_error() -> None:
    respx.post(CHAT_URL).mock(return_value=httpx.Response(200, json={**response("x"), "choices": []}))

    with pytest.raises(InvokeServerUnavailableError) as raised:
        ask(stream=False)

    assert str(raised.value) == "Together AI answered without any choice"


@respx.mock
@pytest.mark.parametrize("message", ["x", None, ["x"]], ids=["text", "null", "list"])
def test_a_blocking_choice_whose_message_is_not_an_object_is_a_server_error(message: object) -> None:
    payload = response("x")
    payload["choices"][0]["message"] = message
    respx.post(CHAT_URL).mock(return_value=httpx.Response(200, json=payload))

    with pytest.raises(InvokeServerUnavailableError) as raised:
        ask(stream=False)

    assert str(raised.value) == f"Together AI answered a choice without a message: {message!r}"


@respx.mock
def test_blocking_calls_without_index_or_id_stay_apart() -> None:
    calls = [
        {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
    ]
    respx.post(CHAT_URL).mock(
        return_value=httpx.Response(200, json=response(None, finish_reason="tool_calls", tool_calls=calls))
    )

    [result] = ask(stream=False, tools=[WEATHER])

    arguments = [call.function.arguments for call in result.delta.message.tool_calls]
    assert arguments == ['{"city": "Oslo"}', '{"city": "Rome"}']


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_unreported_usage_is_estimated_from_the_text_and_every_call(stream: bool) -> None:
    calls = [
        tool_fragment(0, "call_a", "get_weather", '{"city": "Oslo"}'),
        tool_fragment(1, "call_b", "get_weather", '{"city": "Rome"}'),
    ]
    if stream:
        answer = sse([chunk({**tool_delta(*calls), "content": "Both:"}, finish_reason="tool_calls")])
    else:
        answer = httpx.Response(200, json=response("Both:", finish_reason="tool_calls", tool_calls=calls))
    respx.post(CHAT_URL).mock(return_value=answer)

    last = ask(stream=stream, tools=[WEATHER])[-1]

    shown = 'Both:get_weather{"city": "Oslo"}get_weather{"city": "Rome"}'
    assert last.delta.usage.completion_tokens == count_tokens(shown)
    assert last.delta.usage.prompt_tokens == count_prompt_tokens(PROMPT, [WEATHER])


@respx.mock
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "blocking"])
def test_usage_without_both_counts_is_estimated(stream: bool) -> None:
    partial = {"prompt_tokens": 7}
    if stream:
        answer = sse(text_chunks("Sunny.", usage=partial))
    else:
        answer = httpx.Response(200, json=response("Sunny.", usage=partial))
    respx.post(CHAT_URL).mock(return_value=answer)

    last = ask(stream=stream)[-1]

    assert (last.delta.usage.prompt_tokens, last.delta.usage.completion_tokens) == (
        count_prompt_tokens(PROMPT),
        count_tokens("Sunny."),
    )


@respx.mock
def test_a_later_usage_without_counts_does_not_replace_the_reported_one() -> None:
    events = [*text_chunks("Sunny.", usage=usage(12, 2)), {**chunk(None), "usage": {"total_tokens": 1}}]
    respx.post(CHAT_URL).mock(return_value=sse(events))

    last = ask()[-1]

    assert (last.delta.usage.prompt_tokens, last.delta.usage.completion_tokens) == (12, 2)


@respx.mock
def test_together_warnings_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    events = text_chunks("Sunny.")
    events[0]["warnings"] = [{"message": "max_tokens lowered to 512"}, "not a warning"]
    respx.post(CHAT_URL).mock(return_value=sse(events))

    with caplog.at_level(logging.INFO, logger="models.llm.stream"):
        assert text_of(ask()) == "Sunny."

    logged = [record.getMessage() for record in caplog.records]
    assert logged == ["Together AI warning: max_tokens lowered to 512"]


@respx.mock
def test_a_finished_stream_without_done_is_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    respx.post(CHAT_URL).mock(return_value=sse(text_chunks("Sunny."), done=False))

    with caplog.at_level(logging.WARNING, logger="models.llm.stream"):
        assert text_of(ask()) == "Sunny."

    assert [record.getMessage() for record in caplog.records] == [
        "Together AI closed a finished stream without [DONE]; keeping the answer"
    ]


@respx.mock
@pytest.mark.parametrize("on", ["choice", "chunk"])
def test_a_streamed_completion_reads_chat_like_content_and_the_finish_reason_on_choice_or_chunk(
    on: str,
) -> None:
    events = [
        {"choices": [{"index": 0, "delta": {"content": "Sun"}}]},
        {"choices": [{"index": 0, "text": "ny."}]},
        {"choices": [{"index": 0, **({"finish_reason": "length"} if on == "choice" else {})}]},
    ]
    if on == "chunk":
        events[-1]["finish_reason"] = "length"
    respx.post(COMPLETIONS_URL).mock(return_value=sse(events))

    chunks = ask(model=CUSTOM, credentials=COMPLETION)

    assert text_of(chunks) == "Sunny."
    assert chunks[-1].delta.finish_reason == "length"


@respx.mock
def test_a_blocking_completion_shows_its_text() -> None:
    respx.post(COMPLETIONS_URL).mock(
        return_value=httpx.Response(200, json=completion_response("Sunny.", usage=usage(4, 2)))
    )

    [result] = ask(stream=False, model=CUSTOM, credentials=COMPLETION)

    assert result.delta.message.content == "Sunny."
    assert (result.delta.usage.prompt_tokens, result.delta.usage.completion_tokens) == (4, 2)


@respx.mock
def test_a_finish_reason_that_is_not_a_string_is_a_server_error() -> None:
    event = choice_event(delta={"content": "x"}, finish_reason=["stop"])
    respx.post(CHAT_URL).mock(return_value=sse([event]))

    with pytest.raises(InvokeServerUnavailableError) as raised:
        ask()

    assert str(raised.value) == "Together AI sent a finish_reason that is not a string: ['stop']"


@respx.mock
def test_content_that_is_not_a_string_shows_nothing() -> None:
    events = [chunk({"content": 5}), chunk({"content": {"text": "x"}}), *text_chunks("Sunny.")]
    respx.post(CHAT_URL).mock(return_value=sse(events))

    assert text_of(ask()) == "Sunny."
