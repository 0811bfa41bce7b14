"""Catalog upkeep: probe the predefined models, compare the YAMLs with `GET /models`, render chat YAMLs.

With TOGETHER_API_KEY it first sends each predefined chat model one `max_tokens=1` request and
reports the ones that fail: `GET /models` still lists retired models, so only a request can tell
that a model is served serverless. Then it compares the catalog with `GET /models` (or a saved
response, `--models-json`): models Together lists that the catalog lacks (serverless ones only: a
per-token price), catalog models it no longer lists, and ones whose context size, price or type
differ. With `--write` it drafts a YAML per new model and adds it to `_position.yaml`; a person
confirms the draft's features and parameters before it ships (the header comment says what).

`--render-chat SNAPSHOT` rewrites `models/llm/` from a dated snapshot of Together's serverless
chat catalog (`tests/fixtures/together_chat_catalog.json` is the current one): one YAML per model
with the parameter rules of `models/llm/schema.py` and the model's `trace_key` (read by
`models/llm/trace_keys.py`), `_position.yaml` in the snapshot's order, and the YAMLs of models
the snapshot no longer has removed.

`GET /models` is a bare array of the spec's `ModelInfo` (an object with `data` is accepted too);
`type` is an open string and `pricing` (USD per 1M tokens) may be missing.

Usage: python -m tools.catalog [--models-json FILE] [--endpoint-url URL] [--write] [--render-chat FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from dify_plugin.errors.model import InvokeError

from models.llm.schema import TOOL_FEATURES, chat_rules
from models.llm.trace_keys import DEFAULT_TRACE_KEY, TRACE_KEYS
from models.together.client import TogetherClient

ROOT = Path(__file__).resolve().parents[1]
PER_MILLION = Decimal(1_000_000)

# Together's `type` → the Dify model type a new model of it is drafted as.
DRAFT_TYPE = {
    "chat": "llm",
    "embedding": "text-embedding",
    "rerank": "rerank",
    "audio": "tts",
    "transcribe": "speech2text",
    "moderation": "moderation",
}
# Together's `type` → the Dify types a catalog entry of it may have: guard models are served as chat.
SERVES = {together: {dify} for together, dify in DRAFT_TYPE.items()} | {"chat": {"llm", "moderation"}}
# Types whose Together price is per token, as the YAML's; audio is priced per character or minute,
# which `pricing.input/output` do not describe, so those prices are not compared.
TOKEN_PRICED = {"llm", "text-embedding", "rerank", "moderation"}
HAS_CONTEXT = {"llm", "text-embedding", "rerank", "moderation"}
# Properties a draft starts from when its folder has no model to copy them from.
BASE_PROPERTIES: dict[str, dict[str, Any]] = {"llm": {"mode": "chat"}, "text-embedding": {"max_chunks": 1}}


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens."""

    input: Decimal
    output: Decimal

    def __str__(self) -> str:
        return f"{_plain(self.input)} / {_plain(self.output)}"


@dataclass(frozen=True)
class CatalogEntry:
    model: str
    model_type: str
    path: Path
    context_size: int | None
    price: Price  # zero when the YAML has no pricing
    data: dict[str, Any]


@dataclass(frozen=True)
class RemoteModel:
    id: str
    type: str
    display_name: str
    context_length: int | None
    price: Price | None  # None when the record has no pricing


@dataclass(frozen=True)
class Change:
    entry: CatalogEntry
    differences: list[str]


@dataclass(frozen=True)
class Drift:
    new: list[RemoteModel]
    retired: list[CatalogEntry]
    changed: list[Change]
    not_serverless: int  # models of served types without a per-token price: dedicated-only or unpriced

    @property
    def empty(self) -> bool:
        return not (self.new or self.retired or self.changed)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _decimal(value: Any) -> Decimal:
    # str() first: a JSON float such as 0.15 must compare equal to the YAML's "0.15".
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def folder_of(model_type: str) -> str:
    return model_type.replace("-", "_")


def load_catalog(root: Path) -> list[CatalogEntry]:
    """Every model YAML under `root/models/<type>/` (not `_position.yaml`), in path order."""
    entries = []
    for path in sorted((root / "models").glob("*/*.yaml")):
        if path.name.startswith("_"):
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        pricing = data.get("pricing") or {}
        unit = _decimal(pricing.get("unit", 0))
        context = (data.get("model_properties") or {}).get("context_size")
        entries.append(
            CatalogEntry(
                model=data["model"],
                model_type=data["model_type"],
                path=path,
                context_size=int(context) if context is not None else None,
                price=Price(
                    _decimal(pricing.get("input")) * unit * PER_MILLION,
                    _decimal(pricing.get("output")) * unit * PER_MILLION,
                ),
                data=data,
            )
        )
    return entries


def parse_models(payload: Any) -> list[RemoteModel]:
    """Together's `GET /models` body → models; raises `ValueError` when it is not a model list."""
    records = payload.get("data") if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise ValueError("GET /models did not return a list of models")
    models = []
    for record in records:
        pricing = record.get("pricing")
        context = record.get("context_length")
        models.append(
            RemoteModel(
                id=record["id"],
                type=str(record.get("type") or ""),
                display_name=record.get("display_name") or record["id"],
                context_length=int(context) if context else None,
                price=Price(_decimal(pricing.get("input")), _decimal(pricing.get("output")))
                if pricing
                else None,
            )
        )
    return models


def is_serverless(model: RemoteModel) -> bool:
    return model.price is not None and (model.price.input > 0 or model.price.output > 0)


def compare(catalog: list[CatalogEntry], remote: list[RemoteModel]) -> Drift:
    """What differs between the catalog and Together's list."""
    by_id = {model.id: model for model in remote}
    known = {entry.model for entry in catalog}
    retired = [entry for entry in catalog if entry.model not in by_id]
    changed = []
    for entry in catalog:
        model = by_id.get(entry.model)
        if model is None:
            continue
        differences = []
        if entry.model_type not in SERVES.get(model.type, set()):
            differences.append(f"type: {entry.model_type} here, {model.type or 'none'} at Together")
        if entry.model_type in HAS_CONTEXT and entry.context_size and model.context_length:
            if entry.context_size != model.context_length:
                differences.append(f"context: {entry.context_size} → {model.context_length}")
        if entry.model_type in TOKEN_PRICED and model.price is not None and entry.price != model.price:
            differences.append(f"price per 1M tokens (in / out): {entry.price} → {model.price}")
        if differences:
            changed.append(Change(entry, differences))
    candidates = [model for model in remote if model.type in DRAFT_TYPE and model.id not in known]
    new = [model for model in candidates if is_serverless(model)]
    return Drift(new, retired, changed, not_serverless=len(candidates) - len(new))


def render(drift: Drift, root: Path, source: str, catalog_size: int, remote_size: int) -> str:
    """The report a person reads."""
    lines = [f"Catalog: {catalog_size} models in models/*/. Together: {remote_size} models from {source}."]
    if drift.empty:
        lines.append("No drift: every catalog model is listed with the same type, context and price.")
    if drift.new:
        lines.append(
            f"\nNew serverless models ({len(drift.new)}); `make catalog WRITE=1` drafts their YAMLs:"
        )
        for model in drift.new:
            lines.append(f"  {DRAFT_TYPE[model.type]:<15} {model.id}  ({_facts(model)})")
    if drift.retired:
        lines.append(f"\nRetired ({len(drift.retired)}): in the catalog, absent from GET /models:")
        for entry in drift.retired:
            lines.append(f"  {entry.model_type:<15} {entry.model}  ({entry.path.relative_to(root)})")
    if drift.changed:
        lines.append(f"\nChanged ({len(drift.changed)}):")
        for change in drift.changed:
            lines.append(
                f"  {change.entry.model_type:<15} {change.entry.model}: " + "; ".join(change.differences)
            )
    if drift.not_serverless:
        lines.append(
            f"\n{drift.not_serverless} other models of these types have no per-token price "
            "(dedicated-only or unpriced) and are not listed as new."
        )
    return "\n".join(lines)


def _facts(model: RemoteModel) -> str:
    model_type = DRAFT_TYPE[model.type]
    facts = [f"context {model.context_length}"] if model_type in HAS_CONTEXT and model.context_length else []
    if model_type in TOKEN_PRICED:
        facts.append(f"USD {model.price} per 1M tokens in / out")
    else:
        facts.append(f"pricing {model.price} in / out, in Together's units for {model.type}")
    return "; ".join(facts)


def draft(model: RemoteModel, catalog: list[CatalogEntry], root: Path) -> str:
    """A YAML for a new model, built from Together's record and the models already in its folder."""
    model_type = DRAFT_TYPE[model.type]
    siblings = _in_position_order(catalog, model_type, root)
    template = siblings[0].data if siblings else {}
    properties = dict(template.get("model_properties") or BASE_PROPERTIES.get(model_type, {}))
    if model_type in HAS_CONTEXT and model.context_length:
        properties["context_size"] = model.context_length
    # Only rules every sibling has: those are about the plugin, not about one model.
    rule_names = [{rule["name"] for rule in s.data.get("parameter_rules") or []} for s in siblings]
    shared = set.intersection(*rule_names) if rule_names else set()
    rules = [rule for rule in template.get("parameter_rules") or [] if rule["name"] in shared]
    data: dict[str, Any] = {
        "model": model.id,
        "label": {"en_US": model.display_name},
        "model_type": model_type,
        "features": [],
        "fetch_from": "predefined-model",
        "model_properties": properties,
    }
    if model_type == "llm":
        data["trace_key"] = DEFAULT_TRACE_KEY
    if rules:
        data["parameter_rules"] = rules
    if model_type in TOKEN_PRICED and model.price is not None:
        pricing = {"input": _plain(model.price.input)}
        if model.price.output:
            pricing["output"] = _plain(model.price.output)
        data["pricing"] = {**pricing, "unit": "0.000001", "currency": "USD"}
    source = (
        f"the rules every {model_type} here shares, as in {siblings[0].model}" if siblings else "none copied"
    )
    header = (
        "# Drafted by `make catalog WRITE=1` from Together's GET /models.\n"
        "# Before shipping, a person confirms: features (tool-call, multi-tool-call,\n"
        "# stream-tool-call, agent-thought, vision, structured-output),\n"
        f"# parameter_rules ({source}),\n"
        "# model_properties and pricing"
        + (", and trace_key (which key Together's reasoning reference names)" if "trace_key" in data else "")
        + ".\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _in_position_order(catalog: list[CatalogEntry], model_type: str, root: Path) -> list[CatalogEntry]:
    order = _position(root, model_type)
    entries = [entry for entry in catalog if entry.model_type == model_type]
    return sorted(entries, key=lambda e: order.index(e.model) if e.model in order else len(order))


def _position(root: Path, model_type: str) -> list[str]:
    path = root / "models" / folder_of(model_type) / "_position.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or []) if path.is_file() else []


def write_drafts(drift: Drift, catalog: list[CatalogEntry], root: Path) -> list[Path]:
    """Write a draft YAML for each new model and list it last in its `_position.yaml`; returns the files."""
    written = []
    for model in drift.new:
        model_type = DRAFT_TYPE[model.type]
        folder = root / "models" / folder_of(model_type)
        target = folder / f"{model.id.replace('/', '-')}.yaml"
        if target.exists():
            continue  # a file of that name exists under another id: a person must sort that out
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(draft(model, catalog, root), encoding="utf-8")
        position = folder / "_position.yaml"
        ids = [*_position(root, model_type), model.id]
        position.write_text(yaml.safe_dump(ids, sort_keys=False, allow_unicode=True), encoding="utf-8")
        written.append(target)
    return written


def chat_yaml(facts: dict[str, Any], snapshot: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The header comment and the data of the YAML of one chat model of `snapshot`."""
    features = [feature.value for feature in TOOL_FEATURES] if facts["tools"] else []
    features += ["vision"] * facts["vision"] + ["structured-output"] * facts["json"]
    if facts["trace_key"] not in TRACE_KEYS:
        raise ValueError(f"{facts['id']}: trace_key must be one of {TRACE_KEYS}, not {facts['trace_key']!r}")
    reasoning = facts["reasoning"]
    rules = chat_rules(
        facts["context"],
        structured_output=facts["json"],
        reasoning=reasoning,
        preserved_thinking=facts["preserved_thinking"],
        reasoning_default={"switch": True, "effort": "medium"}.get(reasoning),
    )
    data = {
        "model": facts["id"],
        "label": {"en_US": facts["label"]},
        "model_type": "llm",
        "features": features,
        "model_properties": {"mode": "chat", "context_size": facts["context"]},
        "trace_key": facts["trace_key"],
        "parameter_rules": rules,
        "pricing": {
            "input": facts["price_in"],
            "output": facts["price_out"],
            "unit": "0.000001",
            "currency": "USD",
        },
    }
    sources = snapshot["sources"]
    trace_source = sources[facts["trace_key_source"]]
    lines = [
        f"Source ({snapshot['as_of']}): {sources['catalog']} (context, USD per 1M tokens, tools, JSON, vision)",
        f"and {sources['reasoning']} (reasoning control).",
        f"trace_key {facts['trace_key']}: earlier reasoning goes back under "
        + (
            f"the key Together observed this model answer on ({trace_source})."
            if facts["trace_key_source"] == "trace_key_observed"
            else f"Together's documented reasoning field ({trace_source}); "
            f"its reference of {snapshot['as_of']} names no key for this model."
        ),
        "The SDK ignores trace_key; models/llm/trace_keys.py reads it.",
        "max_tokens may reach the context: Together refuses input + max_tokens above it.",
        "Rendered by `python -m tools.catalog --render-chat`; rules from models/llm/schema.py.",
    ]
    if facts["third_party_data_sharing"]:
        lines.insert(
            2, f"Needs third-party data sharing enabled for the organisation ({sources['data_sharing']})."
        )
    if facts.get("note"):
        lines.insert(2, facts["note"] + ".")
    return "".join(f"# {line}\n" for line in lines), data


def render_chat(snapshot_path: Path, root: Path) -> list[Path]:
    """Rewrite `models/llm/` from the snapshot; returns the YAMLs written."""
    snapshot = json.loads(snapshot_path.read_text(encoding="utf-8"))
    folder = root / "models" / "llm"
    keep = {f"{facts['id'].replace('/', '-')}.yaml" for facts in snapshot["models"]}
    for path in folder.glob("*.yaml"):
        if not path.name.startswith("_") and path.name not in keep:
            path.unlink()
    written = []
    for facts in snapshot["models"]:
        header, data = chat_yaml(facts, snapshot)
        target = folder / f"{facts['id'].replace('/', '-')}.yaml"
        target.write_text(
            header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        written.append(target)
    ids = [facts["id"] for facts in snapshot["models"]]
    (folder / "_position.yaml").write_text(yaml.safe_dump(ids, sort_keys=False), encoding="utf-8")
    return written


def probe(client: TogetherClient, catalog: list[CatalogEntry]) -> list[tuple[str, str]]:
    """(model, Together's error) for each predefined chat model that refuses a one-token request."""
    failures = []
    for entry in catalog:
        if entry.model_type != "llm":
            continue
        body = {"model": entry.model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}
        try:
            client.post_json("/chat/completions", body)
        except InvokeError as error:
            failures.append((entry.model, str(error)))
    return failures


def render_probe(failures: list[tuple[str, str]], probed: int) -> str:
    if not failures:
        return f"Probe: all {probed} chat models answered a max_tokens=1 request."
    lines = [f"Probe: {len(failures)} of {probed} chat models failed a max_tokens=1 request:"]
    lines += [f"  {model}: {error}" for model, error in failures]
    return "\n".join(lines)


def live_client(api_key: str, endpoint_url: str | None) -> TogetherClient:
    """The plugin's own client: same URL handling, errors and key redaction."""
    return TogetherClient({"api_key": api_key, "endpoint_url": endpoint_url})


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(prog="make catalog", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models-json", type=Path, help="a saved GET /models response instead of a live call"
    )
    parser.add_argument("--endpoint-url", help="the API base for the live call (default Together's)")
    parser.add_argument("--write", action="store_true", help="draft YAMLs for new serverless models")
    parser.add_argument("--render-chat", type=Path, help="rewrite models/llm/ from a chat catalog snapshot")
    args = parser.parse_args(argv)

    if args.render_chat:
        written = render_chat(args.render_chat, root)
        print(f"wrote {len(written)} chat YAMLs and models/llm/_position.yaml from {args.render_chat}")
        return 0
    exit_code = 0
    if args.models_json:
        source = str(args.models_json)
        payload = json.loads(args.models_json.read_text(encoding="utf-8"))
    else:
        api_key = os.environ.get("TOGETHER_API_KEY")
        if not api_key:
            print(
                "make catalog: set TOGETHER_API_KEY to compare with Together's live list, "
                "or pass MODELS_JSON=<file> holding a saved GET /models response.",
                file=sys.stderr,
            )
            return 2
        source = "GET /models"
        client = live_client(api_key, args.endpoint_url)
        predefined = load_catalog(root)
        failures = probe(client, predefined)
        print(render_probe(failures, sum(entry.model_type == "llm" for entry in predefined)))
        exit_code = 1 if failures else 0
        try:
            payload = client.get_json("/models")
        except InvokeError as error:
            print(f"make catalog: {error}", file=sys.stderr)
            return 1
    try:
        remote = parse_models(payload)
    except (ValueError, KeyError, AttributeError) as error:
        print(f"make catalog: {source} is not a Together model list: {error!r}", file=sys.stderr)
        return 1
    catalog = load_catalog(root)
    drift = compare(catalog, remote)
    print(render(drift, root, source, len(catalog), len(remote)))
    if args.write:
        for path in write_drafts(drift, catalog, root):
            print(f"wrote {path.relative_to(root)}: confirm its features and parameters before shipping")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
