"""One reply's visible text and tool calls, assembled from Together's deltas in arrival order.

Dify has no reasoning channel: reasoning travels inside the content as `<think>\\n…\\n</think>`
followed by the answer. The assembler guarantees, for streamed and blocking replies alike:
- reasoning (`reasoning` or `reasoning_content`) opens a think block, the first answer text or
  tool call closes it, and so does the end of the reply; leading whitespace never opens one, so
  no think block is empty;
- the model's own inline `<think>` blocks come out balanced, each as `<think>\\n` and its text
  without leading whitespace (an unclosed one is closed at the end); blocks do not nest (a
  `<think>` inside one is dropped); empty ones, like Qwen's `<think>\\n\\n</think>` when
  thinking is off, are dropped with the whitespace after them;
- what is shown never depends on how the text was split into deltas;
- with `think_opened` (the chat template wrote `<think>`) the answer text starts inside a block,
  streamed as it arrives, unless reasoning came in its own field first; otherwise a `</think>`
  that closes nothing is dropped, and logged;
- the answer ends before the first stop string, which never appears in the output: the last
  `max(len(stop)) - 1` characters are held back until they cannot start one;
- tool-call fragments are joined per `index` and returned whole, each with arguments that are a
  JSON object; a call the token limit cut off is an error, never a call or an empty answer;
- a character that JSON escaped as two UTF-16 halves split across deltas comes out whole, and a
  half without its partner as U+FFFD (Dify's JSON cannot carry it).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dify_plugin.entities.model.message import AssistantPromptMessage
from dify_plugin.errors.model import InvokeBadRequestError, InvokeServerUnavailableError

logger = logging.getLogger(__name__)

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_SURROGATE = re.compile("[\ud800-\udfff]")
_TAG = re.compile("</?think>")


class ReplyAssembler:
    """Turns deltas into the text to show now; `finish()` gives the rest."""

    def __init__(self, stop: Sequence[str] | None = None, think_opened: bool = False) -> None:
        self._stop = StopFilter(stop or [])
        self._inline = InlineThink()
        self._think_opened = think_opened  # the answer text, once it comes, starts inside a block
        self._reasoning = False  # inside a think block opened for reasoning
        self._content_halves = SurrogateHalves()
        self._reasoning_halves = SurrogateHalves()
        self.tool_calls = ToolCallBuffers()
        self._shown: list[str] = []  # everything shown so far; joined once, at the end

    @property
    def text(self) -> str:
        """Everything shown so far."""
        return "".join(self._shown)

    @property
    def stopped(self) -> bool:
        """True once a stop string ended the answer; later deltas are ignored."""
        return self._stop.hit

    def add(
        self,
        content: str | None = None,
        reasoning: str | None = None,
        tool_calls: Iterable[Mapping] | None = None,
    ) -> str:
        """Take one delta; return the text that may be shown now (possibly empty)."""
        if self.stopped:
            return ""
        if content:
            content = self._content_halves.push(content)
        if reasoning:
            reasoning = self._reasoning_halves.push(reasoning)
        out: list[str] = []
        if reasoning and (self._reasoning or reasoning.strip()):
            if not self._reasoning:
                # An answer resumed by reasoning: no more answer text can complete a held-back stop string.
                out.append(self._inline.push(self._stop.flush()))
                if self.stopped:
                    return self._show(out)
                out.append(THINK_OPEN + "\n")
                reasoning = reasoning.lstrip()
                self._reasoning, self._think_opened = True, False
            out.append(reasoning)
        if content or tool_calls:
            out.append(self._close_reasoning())
        if content:
            if self._think_opened:
                self._think_opened = False
                self._inline.open()
            out.append(self._inline.push(self._stop.push(content)))
        if tool_calls:
            self.tool_calls.add(tool_calls)
        return self._show(out)

    def finish(self) -> str:
        """The text still held back, with every open think block closed."""
        out = [self._close_reasoning()]
        if not self.stopped:
            out.append(self._inline.push(self._stop.push(self._content_halves.flush())))
        out += [self._inline.push(self._stop.flush()), self._inline.flush()]
        return self._show(out)

    def _close_reasoning(self) -> str:
        if not self._reasoning:
            return ""
        self._reasoning = False
        return self._reasoning_halves.flush() + "\n" + THINK_CLOSE

    def _show(self, pieces: list[str]) -> str:
        text = "".join(pieces)
        self._shown.append(text)
        return text


class SurrogateHalves:
    """Joins the two UTF-16 halves of a character that arrive in consecutive texts; a lone half
    becomes U+FFFD. A text ending in a first half holds it back until the next one."""

    def __init__(self) -> None:
        self._held = ""

    def push(self, text: str) -> str:
        if self._held:
            text, self._held = self._held + text, ""
        if not _SURROGATE.search(text):
            return text
        if "\ud800" <= text[-1] <= "\udbff":
            text, self._held = text[:-1], text[-1]
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def flush(self) -> str:  # U+FFFD for a first half whose second never came
        held, self._held = self._held, ""
        return "\ufffd" if held else ""


class StopFilter:
    """Cuts the text before the first stop string, holding back what could still become one."""

    def __init__(self, stop: Sequence[str]) -> None:
        self._stops = [word for word in stop if word]
        self._hold = max((len(word) for word in self._stops), default=1) - 1
        self._buffer = ""
        self.hit = False

    def push(self, text: str) -> str:
        """The part of the text seen so far that can be shown now."""
        if not self._stops:
            return text
        if self.hit:
            return ""
        self._buffer += text
        return self._release(final=False)

    def flush(self) -> str:
        """What is held back, up to a stop string it holds (no more text can complete a longer one)."""
        if self.hit:
            return ""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        buffer = self._buffer
        found = [at for at in (buffer.find(word) for word in self._stops) if at >= 0]
        earliest = min(found, default=len(buffer))
        # A longer stop string may begin before the earliest complete one and still be arriving:
        # until it can no longer complete, the match is not decided.
        pending = earliest if final else self._pending_start(buffer, earliest)
        if found and earliest <= pending:
            self.hit = True
            self._buffer = ""
            return buffer[:earliest]
        self._buffer = buffer[pending:]
        return buffer[:pending]

    def _pending_start(self, buffer: str, end: int) -> int:
        """The first position before `end` from which the buffer's rest could begin a stop string."""
        for start in range(max(0, len(buffer) - self._hold), end):
            tail = buffer[start:]
            if any(len(tail) < len(word) and word.startswith(tail) for word in self._stops):
                return start
        return end


class InlineThink:
    """Passes answer text through, balancing the model's own `<think>` tags and dropping empty blocks.

    Think blocks do not nest: inside a block a `<think>` opens nothing more and is dropped, and the
    first `</think>` closes the block. A block's `<think>` is shown with its first text. Broken tags
    right before a tag are dropped (see `_broken_tags`), so no tag appears that the model did not
    write. A trailing fragment that may be the start of a tag is held until the next text decides
    it, so the output never depends on where the text was split.
    """

    def __init__(self) -> None:
        self._inside = False
        self._empty = False  # inside a block that has shown nothing yet
        self._tail = ""  # a possible partial tag at the end of the last text
        self._skip_space = False  # whitespace right after a dropped empty block is dropped too

    def open(self) -> None:
        """Continue inside a block whose `<think>` the chat template wrote."""
        self._inside, self._empty, self._skip_space = True, True, False

    def push(self, text: str) -> str:
        data, self._tail = self._tail + text, ""
        out: list[str] = []
        position = 0
        while tag := _TAG.search(data, position):
            self._text(data[position : tag.start() - _broken_tags(data, position, tag.start())], out)
            if tag.group() == THINK_CLOSE:
                self._close(out)
            elif not self._inside:
                self.open()
            position = tag.end()
        keep = _broken_tags(data, position, len(data))
        self._text(data[position : len(data) - keep], out)
        self._tail = data[len(data) - keep :]
        return "".join(out)

    def flush(self) -> str:
        out: list[str] = []
        tail, self._tail = self._tail, ""
        self._text(tail, out)
        if self._inside and not self._empty:
            out.append("\n" + THINK_CLOSE)
        return "".join(out)

    def _text(self, text: str, out: list[str]) -> None:
        if not text:
            return
        if self._inside and self._empty:
            text = text.lstrip()
            if not text:
                return
            text, self._empty = THINK_OPEN + "\n" + text, False
        elif self._skip_space:
            text = text.lstrip()
            if not text:
                return
            self._skip_space = False
        out.append(text)

    def _close(self, out: list[str]) -> None:
        if not self._inside:
            logger.warning("A think block closed that never opened: its reasoning shows as answer")
            return
        self._inside = False
        if self._empty:
            self._skip_space = True
        else:
            out.append(THINK_CLOSE)


def _broken_tags(data: str, start: int, end: int) -> int:
    """The length of the longest end of `data[start:end]` made of beginnings of tags, like `<th<`.

    At the end of a text they are held, as the next text may complete a tag. Right before a tag
    they are dropped: once that tag or its empty block is dropped, they would join the text after
    it into a new tag (`<thi</think>nk>` shows `nk>`). Each beginning holds one `<`, so the end
    splits into them at each `<`, wherever the text was cut.
    """
    cut = end
    while (at := data.rfind("<", start, cut)) >= 0 and _is_tag_beginning(data[at:cut]):
        cut = at
    return end - cut


def _is_tag_beginning(text: str) -> bool:
    return any(len(text) < len(tag) and tag.startswith(text) for tag in (THINK_OPEN, THINK_CLOSE))


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: str = ""


class ToolCallBuffers:
    """Streamed tool-call fragments joined per call.

    Each call is keyed by its `index`: id and name come from the first fragment carrying them,
    arguments are concatenated. A fragment without an index starts a new call when it brings a
    new id, and otherwise continues the latest call. A fragment shaped otherwise than the spec's
    `ToolCall` (a function that is not an object, a name or id that is not a string, arguments that
    are neither a string nor an object) raises `InvokeServerUnavailableError`.
    """

    def __init__(self) -> None:
        self._calls: dict[int, _Call] = {}
        self._latest: int | None = None

    def add(self, fragments: Iterable[Mapping[str, Any]]) -> None:
        for fragment in fragments:
            call_id = _optional(fragment, "id", str, "a string")
            function = _optional(fragment, "function", Mapping, "an object") or {}
            name = _optional(function, "name", str, "a string")
            arguments = _optional(function, "arguments", (str, Mapping), "a string or an object")
            index = self._index(fragment)
            call = self._calls.setdefault(index, _Call())
            self._latest = index
            if call_id and not call.id:
                call.id = call_id
            if name and not call.name:
                call.name = name
            if isinstance(arguments, Mapping):  # some servers send the arguments decoded
                arguments = json.dumps(arguments, ensure_ascii=False)
            call.arguments += arguments or ""

    def calls(self, cut_off: bool = False) -> list[AssistantPromptMessage.ToolCall]:
        """The whole calls in index order; an id Together left out is made up so results can answer it.

        Each call's arguments must be a JSON object; none at all stand for `{}` unless `cut_off`
        (the reply stopped at its token limit), when they may be a call that never got written.
        Raises `InvokeBadRequestError` naming Max Tokens for a call the limit cut off, and
        `InvokeServerUnavailableError` for a call without a function name or with arguments that are
        not a JSON object.
        """
        result = []
        for index in sorted(self._calls):
            call = self._calls[index]
            if not call.name:
                raise InvokeServerUnavailableError(
                    f"Together AI sent tool call {index} without a function name"
                )
            result.append(
                AssistantPromptMessage.ToolCall(
                    id=call.id or f"call_{uuid.uuid4().hex}",
                    type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                        name=call.name, arguments=_whole_arguments(index, call, cut_off)
                    ),
                )
            )
        return result

    def _index(self, fragment: Mapping[str, Any]) -> int:
        index = fragment.get("index")
        if isinstance(index, float) and index.is_integer():
            index = int(index)
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        if index is not None:
            raise InvokeServerUnavailableError(f"Together AI sent a tool call whose index is {index!r}")
        known_ids = {call.id for call in self._calls.values()}
        if self._latest is None or (fragment.get("id") and fragment["id"] not in known_ids):
            return max(self._calls, default=-1) + 1
        return self._latest


def _optional(part: Mapping[str, Any], key: str, kind: type | tuple[type, ...], expected: str) -> Any:
    """`part[key]`, None when absent or null; `InvokeServerUnavailableError` when it is not of `kind`."""
    value = part.get(key)
    if value is None or isinstance(value, kind):
        return value
    raise InvokeServerUnavailableError(
        f"Together AI sent a tool call whose {key} is not {expected}: {json.dumps(value)[:200]}"
    )


def _whole_arguments(index: int, call: _Call, cut_off: bool) -> str:
    if not call.arguments and not cut_off:
        return "{}"
    not_an_object = InvokeServerUnavailableError(
        f"Together AI sent tool call {index} ({call.name}) with arguments that are not a JSON "
        f"object: {call.arguments[:200]}"
    )
    try:
        decoded = json.loads(call.arguments)
    except ValueError:
        if cut_off:
            raise InvokeBadRequestError(
                f"The answer reached Max Tokens in the middle of tool call {index} ({call.name}), so the "
                "call is incomplete: raise Max Tokens in the model's parameters"
            ) from None
        raise not_an_object from None
    if not isinstance(decoded, dict):
        raise not_an_object
    return call.arguments
