"""`make catalog`: drift between the model YAMLs and Together's GET /models, from a saved response or live.

tests/fixtures/together_models.json is a saved `GET /models` shaped as the spec's `ModelInfo` list,
with the models, contexts and prices of an earlier catalog, plus one record of each kind the tool
must leave out: dedicated-only, unpriced, `language` and `image`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from dify_plugin.entities.model.schema import AIModelEntity

jsonschema = pytest.importorskip("jsonschema")

from tests.conftest import API_KEY
from tests.support.fake_together import FakeTogether, Recorded, Reply
from tools import catalog

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "together_models.json"
SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "together-openapi" / "openapi.yaml"
REPO = Path(__file__).resolve().parents[2]

ONE_TOKEN = {
    "id": "x",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "p"}, "finish_reason": "length"}],
}
LLM_RULES = [
    {"name": "temperature", "use_template": "temperature"},
    {"name": "max_tokens", "use_template": "max_tokens"},
]
REASONING = {
    "name": "reasoning_effort",
    "type": "string",
    "options": ["low", "high"],
    "label": {"en_US": "Effort"},
}


def llm(
    model: str, context: int, price_in: str, price_out: str, extra_rules: list[dict[str, Any]] = ()
) -> dict:
    return {
        "model": model,
        "model_type": "llm",
        "features": ["tool-call"],
        "model_properties": {"mode": "chat", "context_size": context},
        "parameter_rules": [*LLM_RULES, *extra_rules],
        "pricing": {"input": price_in, "output": price_out, "unit": "0.000001", "currency": "USD"},
    }


CATALOG = {
    # Same as Together, so not reported.
    "llm/meta-llama-Llama-3.3-70B-Instruct-Turbo.yaml": llm(
        "meta-llama/Llama-3.3-70B-Instruct-Turbo", 131072, "0.88", "0.88", [REASONING]
    ),
    "llm/zai-org-GLM-5.yaml": llm("zai-org/GLM-5", 131072, "1.00", "3.20"),  # context changed
    "llm/openai-gpt-oss-20b.yaml": llm("openai/gpt-oss-20b", 131072, "0.10", "0.20"),  # price changed
    "llm/deepseek-ai-DeepSeek-R1.yaml": llm("deepseek-ai/DeepSeek-R1", 163840, "3.00", "7.00"),  # retired
    "llm/openai-whisper-large-v3.yaml": llm("openai/whisper-large-v3", 4096, "0.27", "0"),  # wrong type
    # The same price per 1M tokens written with another unit: not a change.
    "text_embedding/intfloat-multilingual-e5-large-instruct.yaml": {
        "model": "intfloat/multilingual-e5-large-instruct",
        "model_type": "text-embedding",
        "model_properties": {"context_size": 514, "max_chunks": 100},
        "pricing": {"input": "0.00002", "unit": "0.001", "currency": "USD"},
    },
    # Dedicated-only, no pricing on either side: not a change.
    "rerank/Salesforce-Llama-Rank-V1.yaml": {
        "model": "Salesforce/Llama-Rank-V1",
        "model_type": "rerank",
        "model_properties": {"context_size": 8192},
    },
    # Guard models are served as chat or moderation; priced per character audio is not compared.
    "moderation/meta-llama-Llama-Guard-4-12B.yaml": {
        "model": "meta-llama/Llama-Guard-4-12B",
        "model_type": "moderation",
        "model_properties": {},
        "pricing": {"input": "0.20", "output": "0.20", "unit": "0.000001", "currency": "USD"},
    },
    "tts/hexgrad-Kokoro-82M.yaml": {
        "model": "hexgrad/Kokoro-82M",
        "model_type": "tts",
        "model_properties": {
            "default_voice": "af_heart",
            "voices": [{"mode": "af_heart", "name": "Heart", "language": ["en-US"]}],
            "audio_type": "mp3",
        },
        "pricing": {"input": "0.004", "unit": "0.001", "currency": "USD"},
    },
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A plugin tree holding only the CATALOG's YAMLs and their `_position.yaml` files."""
    positions: dict[Path, list[str]] = {}
    for relative, data in CATALOG.items():
        path = tmp_path / "models" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        positions.setdefault(path.parent, []).append(data["model"])
    for folder, ids in positions.items():
        (folder / "_position.yaml").write_text(yaml.safe_dump(ids))
    return tmp_path


def drift(root: Path) -> catalog.Drift:
    remote = catalog.parse_models(json.loads(FIXTURE.read_text()))
    return catalog.compare(catalog.load_catalog(root), remote)


def test_the_fixture_has_the_specs_model_info_shape() -> None:
    if not SPEC.is_file():
        pytest.skip(f"the OpenAPI spec is not at {SPEC}")
    schemas = yaml.safe_load(SPEC.read_text())["components"]["schemas"]
    model_info = json.loads(json.dumps(schemas["ModelInfo"]))
    model_info["properties"]["type"] = {"type": "string"}  # open: Together also sends `audio`, `transcribe`
    model_info["properties"]["pricing"] = schemas["Pricing"]
    records = json.loads(FIXTURE.read_text())
    assert isinstance(records, list), "GET /models is a bare array"
    for record in records:
        jsonschema.validate(record, model_info)
    assert {r["type"] for r in records} >= {
        "chat",
        "embedding",
        "rerank",
        "audio",
        "transcribe",
        "moderation",
    }
    assert any("pricing" not in r for r in records), "some records carry no pricing"


def test_new_models_are_the_serverless_ones_of_types_the_plugin_serves(root: Path) -> None:
    new = {model.id: catalog.DRAFT_TYPE[model.type] for model in drift(root).new}

    assert new["openai/gpt-oss-120b"] == "llm"
    assert new["canopylabs/orpheus-3b-0.1-ft"] == "tts"
    assert "meta-llama/Llama-3.3-70B-Instruct-Turbo" not in new  # already in the catalog
    for left_out in (
        "Qwen/Qwen3.5-397B-A17B",
        "mixedbread-ai/Mxbai-Rerank-Large-V2",  # dedicated-only
        "cartesia/sonic-3",
        "nvidia/parakeet-tdt-0.6b-v3",  # no pricing
        "meta-llama/Meta-Llama-3-8B",
        "black-forest-labs/FLUX.1-schnell",
    ):  # types not served
        assert left_out not in new
    assert drift(root).not_serverless == 4


def test_retired_and_changed_models_are_reported_with_what_changed(root: Path) -> None:
    result = drift(root)

    assert [entry.model for entry in result.retired] == ["deepseek-ai/DeepSeek-R1"]
    changes = {change.entry.model: change.differences for change in result.changed}
    assert changes == {
        "zai-org/GLM-5": ["context: 131072 → 202752"],
        "openai/gpt-oss-20b": ["price per 1M tokens (in / out): 0.1 / 0.2 → 0.05 / 0.2"],
        "openai/whisper-large-v3": ["type: llm here, transcribe at Together"],
    }


def test_the_report_names_each_finding(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert catalog.main(["--models-json", str(FIXTURE)], root=root) == 0

    report = capsys.readouterr().out
    assert "Catalog: 9 models in models/*/. Together: 30 models" in report
    assert "openai/gpt-oss-120b  (context 131072; USD 0.15 / 0.6 per 1M tokens in / out)" in report
    assert "deepseek-ai/DeepSeek-R1  (models/llm/deepseek-ai-DeepSeek-R1.yaml)" in report
    assert "zai-org/GLM-5: context: 131072 → 202752" in report


def test_write_drafts_valid_yamls_that_leave_features_to_a_person(root: Path) -> None:
    assert catalog.main(["--models-json", str(FIXTURE), "--write"], root=root) == 0

    path = root / "models" / "llm" / "openai-gpt-oss-120b.yaml"
    text = path.read_text()
    assert text.startswith("# Drafted by `make catalog WRITE=1`")
    assert "a person confirms" in text
    data = yaml.safe_load(text)
    entity = AIModelEntity(**data)
    assert entity.model == "openai/gpt-oss-120b" and entity.features == []
    assert data["model_properties"] == {"mode": "chat", "context_size": 131072}
    assert [rule.name for rule in entity.parameter_rules] == [
        "temperature",
        "max_tokens",
    ]  # shared by every llm
    assert data["pricing"] == {"input": "0.15", "output": "0.6", "unit": "0.000001", "currency": "USD"}
    assert data["trace_key"] == "reasoning" and "trace_key" in text.split("\nmodel:")[0]
    kokoro = yaml.safe_load((root / "models" / "tts" / "hexgrad-Kokoro-82M.yaml").read_text())
    assert "trace_key" not in kokoro, "only chat models send reasoning back"
    positions = yaml.safe_load((root / "models" / "llm" / "_position.yaml").read_text())
    assert positions[0] == "meta-llama/Llama-3.3-70B-Instruct-Turbo" and "openai/gpt-oss-120b" in positions
    orpheus = yaml.safe_load((root / "models" / "tts" / "canopylabs-orpheus-3b-0.1-ft.yaml").read_text())
    assert "pricing" not in orpheus, "audio prices are not per token; a person writes them"
    for draft in root.glob("models/*/*.yaml"):
        if not draft.name.startswith("_"):
            AIModelEntity(**yaml.safe_load(draft.read_text()))

    again = drift(root)
    assert again.new == [], "a second run finds nothing new"
    assert "openai/gpt-oss-120b" not in {change.entry.model for change in again.changed}


def test_live_mode_asks_together_with_the_key(
    root: Path,
    fake_together: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_together.route("GET", "/models", Reply.json(json.loads(FIXTURE.read_text())))
    fake_together.route("POST", "/chat/completions", Reply.json(ONE_TOKEN))
    monkeypatch.setenv("TOGETHER_API_KEY", API_KEY)

    assert catalog.main(["--endpoint-url", fake_together.base_url], root=root) == 0

    assert {r.headers["authorization"] for r in fake_together.requests} == {f"Bearer {API_KEY}"}
    out = capsys.readouterr().out
    assert "Probe: all 5 chat models answered a max_tokens=1 request." in out
    assert "Together: 30 models from GET /models" in out


def test_live_mode_probes_each_chat_model_with_one_token_and_reports_the_refusals(
    root: Path,
    fake_together: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GET /models still lists a retired model; only a request shows it is not served serverless.
    retired = {
        "error": {"message": "Unable to access non-serverless model deepseek-ai/DeepSeek-R1", "type": "x"}
    }

    def chat(request: Recorded) -> Reply:
        body = request.json()
        assert body["max_tokens"] == 1 and len(body["messages"]) == 1
        return (
            Reply.json(retired, 400) if body["model"] == "deepseek-ai/DeepSeek-R1" else Reply.json(ONE_TOKEN)
        )

    fake_together.route("GET", "/models", Reply.json(json.loads(FIXTURE.read_text())))
    fake_together.route("POST", "/chat/completions", chat)
    monkeypatch.setenv("TOGETHER_API_KEY", API_KEY)

    assert catalog.main(["--endpoint-url", fake_together.base_url], root=root) == 1

    out = capsys.readouterr().out
    assert "Probe: 1 of 5 chat models failed a max_tokens=1 request:" in out
    assert "deepseek-ai/DeepSeek-R1: " in out and "non-serverless" in out
    probed = [r.json()["model"] for r in fake_together.requests if r.method == "POST"]
    assert sorted(probed) == sorted(d["model"] for d in CATALOG.values() if d["model_type"] == "llm")


def test_live_mode_reports_togethers_error_without_the_key(
    root: Path,
    fake_together: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_together.route(
        "GET", "/models", Reply.json({"error": {"message": "Invalid API key provided", "type": "x"}}, 401)
    )
    monkeypatch.setenv("TOGETHER_API_KEY", API_KEY)

    assert catalog.main(["--endpoint-url", fake_together.base_url], root=root) == 1

    err = capsys.readouterr().err
    assert "Invalid API key provided" in err and API_KEY not in err


def test_without_a_key_or_a_file_it_says_what_to_give(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    assert catalog.main([], root=root) == 2
    assert "TOGETHER_API_KEY" in capsys.readouterr().err


def test_a_data_object_is_read_and_anything_else_is_refused(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"data": json.loads(FIXTURE.read_text())}))
    assert catalog.main(["--models-json", str(wrapped)], root=root) == 0

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"status": "ok"}))
    assert catalog.main(["--models-json", str(wrong)], root=root) == 1
    assert "is not a Together model list" in capsys.readouterr().err


def test_the_repositorys_own_catalog_reads(capsys: pytest.CaptureFixture[str]) -> None:
    assert catalog.main(["--models-json", str(FIXTURE)], root=REPO) == 0
    assert "Together: 30 models" in capsys.readouterr().out
