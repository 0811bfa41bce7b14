"""Reply assembly: think blocks, stop strings and tool-call buffers, whatever the chunking."""

from __future__ import annotations

import re

import pytest
from dify_plugin.errors.model import InvokeServerUnavailableError

pytest.importorskip("hypothesis")
from hypothesis import given
from hypothesis import strategies as st

from models.llm.reply import ReplyAssembler, ToolCallBuffers


def assemble(
    pieces: list[str], stop: list[str] | None = None, field: str = "content", think_opened: bool = False
) -> str:
    reply = ReplyAssembler(stop, think_opened=think_opened)
    return "".join(reply.add(**{field: piece}) for piece in pieces) + reply.finish()


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in zip(points, points[1:], strict=False)]


# Answers are built from whole tags, parts of tags, whitespace and words, so that nearly every
# example holds a tag and the cuts fall inside tags as often as between them.
PIECES = ["<think>", "</think>", "<thi", "nk>", "</", "<", ">", "\n", " ", "\n\n", "plan", "Answer", "STOP"]
ANSWERS = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
CUTS = st.lists(st.integers(min_value=0, max_value=120), max_size=12)
STOPS = st.lists(
    st.sampled_from(["STOP", "OP", "</th", "k>", "<", "an", "n\n", "think>"]),
    min_size=1,
    max_size=3,
)
TAGS = re.compile("(</?think>)")
BEGINNINGS = "|".join(re.escape(tag[:n]) for tag in ("<think>", "</think>") for n in range(1, len(tag)))
BROKEN_TAGS_AT_THE_END = re.compile(f"(?:{BEGINNINGS})+\\Z")


def reference(text: str, stop: list[str], think_opened: bool = False) -> str:
    """What the answer `text` should show, from the rules alone: it ends before the earliest stop
    string; think blocks do not nest (a `<think>` inside one is dropped) and the first `</think>`
    closes one (elsewhere it is dropped); beginnings of tags right before a tag are dropped; a
    block shows as `<think>\\n`, its text without leading whitespace, `</think>` (`\\n</think>`
    when the answer ends inside it); an empty block is dropped with the whitespace after it."""
    ends = [text.find(word) for word in stop if word in text]
    text = text[: min(ends)] if ends else text
    shown, block, inside, skip_space = [], "", think_opened, False
    parts = TAGS.split(text)
    for at in range(0, len(parts) - 1, 2):  # each text followed by a tag
        parts[at] = BROKEN_TAGS_AT_THE_END.sub("", parts[at])
    for part in parts:
        if part == "<think>" and not inside:
            inside, block, skip_space = True, "", False
        elif part == "</think>" and inside:
            inside, thought = False, block.lstrip()
            shown.append(f"<think>\n{thought}</think>" if thought else "")
            skip_space = not thought
        elif part in ("<think>", "</think>"):
            continue
        elif inside:
            block += part
        else:
            part = part.lstrip() if skip_space else part
            skip_space = skip_space and not part
            shown.append(part)
    if inside and block.strip():
        shown.append(f"<think>\n{block.lstrip()}\n</think>")
    return "".join(shown)


@given(ANSWERS, CUTS, STOPS, st.booleans())
def test_stop_strings_never_leak_whatever_the_chunking(
    text: str, cuts: list[int], stop: list[str], think_opened: bool
) -> None:
    reply = ReplyAssembler(stop, think_opened=think_opened)

    shown = "".join(reply.add(content=piece) for piece in split(text, cuts)) + reply.finish()

    assert shown == reference(text, stop, think_opened)
    assert reply.stopped == any(word in text for word in stop)


@given(ANSWERS, CUTS, st.booleans())
def test_chunking_never_changes_the_answer(text: str, cuts: list[int], think_opened: bool) -> None:
    whole = assemble([text], think_opened=think_opened)

    assert assemble(split(text, cuts), think_opened=think_opened) == whole


@given(ANSWERS, CUTS, st.booleans())
def test_think_tags_in_the_output_are_always_balanced(text: str, cuts: list[int], think_opened: bool) -> None:
    shown = assemble(split(text, cuts), think_opened=think_opened)

    depth = 0
    for tag in TAGS.findall(shown):
        depth += 1 if tag == "<think>" else -1
        assert depth in (0, 1)
    assert depth == 0
    assert not re.search(r"<think>\s*</think>", shown)


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["<think>\n\n</think>\n\nHello"], "Hello"),  # Qwen with thinking off
        (["<thi", "nk>", "\n", "</think>", "\n", "Hi"], "Hi"),
        (["<think>plan</think>Answer"], "<think>\nplan</think>Answer"),
        (["<think>plan, cut off"], "<think>\nplan, cut off\n</think>"),
        (["<think>", "  <think>\nplan</think>ok"], "<think>\nplan</think>ok"),
        (["<think>x<think>y</think>z"], "<think>\nxy</think>z"),  # blocks do not nest
        (["<think>x<", "think>y</think>z"], "<think>\nxy</think>z"),  # wherever the text is split
        (["<thi</think>nk> ok"], "nk> ok"),  # a dropped tag joins no new one
        (["a <th", "<think>\n</think>ink>"], "a ink>"),  # nor does a dropped empty block
        (["a < b and <b>bold</b>"], "a < b and <b>bold</b>"),
        (["ends with <thi"], "ends with <thi"),
    ],
)
def test_inline_think_blocks(pieces: list[str], expected: str) -> None:
    assert assemble(pieces) == expected


def test_reasoning_opens_once_and_closes_before_the_answer() -> None:
    reply = ReplyAssembler()
    shown = [
        reply.add(reasoning="\n\n"),
        reply.add(reasoning="First"),
        reply.add(reasoning=", second."),
        reply.add(content="Answer", reasoning=None),
        reply.finish(),
    ]
    assert shown == ["", "<think>\nFirst", ", second.", "\n</think>Answer", ""]


def test_reasoning_alone_is_closed_at_the_end_and_whitespace_alone_shows_nothing() -> None:
    assert assemble(["Only thinking"], field="reasoning") == "<think>\nOnly thinking\n</think>"
    assert assemble([" ", "\n"], field="reasoning") == ""


def test_a_stop_string_also_ends_the_reasoning_shown() -> None:
    reply = ReplyAssembler(["STOP"])
    shown = reply.add(reasoning="think") + reply.add(content="ok STOP more") + reply.add(reasoning="again")
    assert shown + reply.finish() == "<think>\nthink\n</think>ok "


def test_tool_call_buffers_keep_parallel_calls_apart() -> None:
    buffers = ToolCallBuffers()
    buffers.add([{"index": 1, "id": "b", "function": {"name": "g", "arguments": '{"x"'}}])
    buffers.add([{"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}])
    buffers.add(
        [{"index": 1, "function": {"arguments": ": 1}"}}, {"index": 0, "function": {"arguments": "{}"}}]
    )
    buffers.add([{"index": 0.0, "id": "ignored-later-id", "function": {"name": "ignored"}}])

    calls = buffers.calls()

    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("a", "f", "{}"),
        ("b", "g", '{"x": 1}'),
    ]
    assert [c.type for c in calls] == ["function", "function"]


def test_fragments_without_index_continue_the_latest_call() -> None:
    buffers = ToolCallBuffers()
    buffers.add([{"id": "a", "function": {"name": "f", "arguments": '{"q":'}}])
    buffers.add([{"function": {"arguments": ' "x"}'}}])
    buffers.add([{"id": "b", "function": {"name": "g", "arguments": {"decoded": True}}}])

    calls = buffers.calls()

    assert [(c.id, c.function.arguments) for c in calls] == [("a", '{"q": "x"}'), ("b", '{"decoded": true}')]


def test_a_longer_stop_string_starting_earlier_wins_over_a_shorter_one_already_complete() -> None:
    reply = ReplyAssembler(["<", "W<<"])

    shown = reply.add(content="W<") + reply.add(content="<<<") + reply.finish()

    assert shown == ""
    assert reply.stopped


def test_a_held_back_stop_string_ends_the_answer_when_reasoning_resumes() -> None:
    reply = ReplyAssembler(["ab", "xaby"])

    shown = reply.add(content="xab") + reply.add(reasoning="more thought") + reply.finish()

    assert shown == "x"
    assert reply.stopped


def test_a_closing_think_tag_without_an_opening_one_is_dropped_and_logged(caplog) -> None:
    assert assemble(["reasoning", "</think>", "\n\nAnswer"]) == "reasoning\n\nAnswer"
    # the operator learns the model needs `think_tags`
    logged = [record.getMessage() for record in caplog.records]
    assert logged == ["A think block closed that never opened: its reasoning shows as answer"]


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["\nreasoning", "</think>", "\n\nAnswer"], "<think>\nreasoning</think>\n\nAnswer"),
        (["<think>\nreasoning</think>Answer"], "<think>\nreasoning</think>Answer"),  # written anyway
        (["\n\n</think>\n\nAnswer"], "Answer"),  # nothing thought
        (["reasoning cut off"], "<think>\nreasoning cut off\n</think>"),
        (["</think>Answer", "</think> more"], "Answer more"),  # only the first closes the block
    ],
)
def test_an_answer_whose_template_opened_the_block_starts_inside_it(
    pieces: list[str], expected: str
) -> None:
    assert assemble(pieces, think_opened=True) == expected


def test_reasoning_inside_a_block_the_template_opened_shows_as_it_arrives() -> None:
    reply = ReplyAssembler(think_opened=True)

    assert [reply.add(content=piece) for piece in ["\n", "Sum", " it.\n</th", "ink>4."]] == [
        "",
        "<think>\nSum",
        " it.\n",
        "</think>4.",
    ]


def test_reasoning_in_its_own_field_means_the_template_opened_no_block() -> None:
    reply = ReplyAssembler(think_opened=True)

    shown = reply.add(reasoning="plan") + reply.add(content="Answer") + reply.finish()

    assert shown == "<think>\nplan\n</think>Answer"


def test_a_character_split_between_reasoning_deltas_is_joined_and_a_lone_half_closes_as_replacement() -> None:
    reply = ReplyAssembler()

    shown = reply.add(reasoning="think \ud83d") + reply.add(reasoning="\ude00 more \ud83d") + reply.add("answer")

    assert shown + reply.finish() == "<think>\nthink \U0001f600 more \ufffd\n</think>answer"


def test_a_first_half_is_held_back_only_until_the_next_text() -> None:
    reply = ReplyAssembler()

    assert reply.add("a\ud83d") == "a"
    assert reply.add("\ude00") == "\U0001f600"


@pytest.mark.parametrize(
    ("first", "second", "character"),
    [("\ud800", "\udc00", "\U00010000"), ("\udbff", "\udfff", "\U0010ffff")],
    ids=["first", "last"],
)
def test_the_first_and_last_characters_beyond_the_basic_plane_survive_a_split(
    first: str, second: str, character: str
) -> None:
    reply = ReplyAssembler()

    assert reply.add("a" + first) + reply.add(second + "b") + reply.finish() == f"a{character}b"


def test_a_lone_half_that_closed_the_reasoning_is_not_repeated_when_reasoning_resumes() -> None:
    reply = ReplyAssembler()

    shown = reply.add(reasoning="a\ud83d") + reply.add("b") + reply.add(reasoning="c") + reply.finish()

    assert shown == "<think>\na\ufffd\n</think>b<think>\nc\n</think>"


def test_text_that_cannot_begin_a_stop_string_is_shown_at_once() -> None:
    reply = ReplyAssembler(["STOP", "<end>"])

    shown = [reply.add(piece) for piece in ["Hello", " S", "ee", " <e", "nd"]]

    assert shown == ["Hello", " ", "See", " ", ""]


@pytest.mark.parametrize(
    ("fragments", "message"),
    [
        ([{"id": "a", "function": {"arguments": "{}"}}], "tool call 0 without a function name"),
        (
            [{"id": "a", "function": {"name": "f"}}, {"id": "b", "function": {"arguments": "{}"}}],
            "tool call 1 without a function name",
        ),
    ],
)
def test_a_call_without_a_name_is_named_by_its_position(fragments: list[dict], message: str) -> None:
    buffers = ToolCallBuffers()
    buffers.add(fragments)

    with pytest.raises(InvokeServerUnavailableError, match=f"^Together AI sent {message}$"):
        buffers.calls()


def test_arguments_sent_decoded_keep_their_characters() -> None:
    buffers = ToolCallBuffers()
    buffers.add([{"id": "a", "function": {"name": "f", "arguments": {"city": "Zürich"}}}])

    assert buffers.calls()[0].function.arguments == '{"city": "Zürich"}'


@pytest.mark.parametrize(
    ("function", "quoted"),
    [
        ({"name": "f", "arguments": "[" + "1," * 150}, "[" + "1," * 99 + "1"),
        ({"name": "f", "arguments": [1] * 150}, "[" + "1, " * 66 + "1"),  # as JSON
    ],
    ids=["arguments-text", "arguments-value"],
)
def test_a_malformed_value_is_quoted_up_to_200_characters(function: dict, quoted: str) -> None:
    buffers = ToolCallBuffers()

    with pytest.raises(InvokeServerUnavailableError) as raised:
        buffers.add([{"id": "a", "function": function}])
        buffers.calls()

    assert str(raised.value).endswith(": " + quoted)
