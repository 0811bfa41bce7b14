"""The YAML catalog and the packaging metadata, checked as the SDK and the daemon read them."""

from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from dify_plugin.core.entities.plugin.setup import PluginConfiguration
from dify_plugin.entities.model import ModelType
from dify_plugin.entities.model.provider import ModelProviderConfiguration
from dify_plugin.entities.model.schema import AIModelEntity

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIRS = {
    "llm": ModelType.LLM,
    "text_embedding": ModelType.TEXT_EMBEDDING,
    "rerank": ModelType.RERANK,
    "tts": ModelType.TTS,
    "speech2text": ModelType.SPEECH2TEXT,
    "moderation": ModelType.MODERATION,
}
MODEL_YAMLS = sorted(
    path for folder in MODEL_DIRS for path in (ROOT / "models" / folder).glob("*.yaml") if not path.name.startswith("_")
)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def slug(model_id: str) -> str:
    return model_id.replace("/", "-")


@pytest.fixture
def in_plugin_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the SDK resolves model globs against the working directory


def test_manifest_loads_as_the_sdk_reads_it() -> None:
    manifest = PluginConfiguration(**load(ROOT / "manifest.yaml"))
    assert manifest.name == "togetherai"
    assert manifest.author == "langgenius"
    assert re.fullmatch(r"\d{1,4}(\.\d{1,4}){2}", manifest.version)
    assert (ROOT / "_assets" / manifest.icon).is_file()
    assert (ROOT / "PRIVACY.md").is_file() or pytest.fail("manifest names PRIVACY.md, which is missing")


# The provider's icon fields in the daemon's declaration, and the locales `dify plugin package` checks
# in `_assets/` for each of them (pkg/plugin_packager/decoder/helper.go, media_transport/assets.go).
PROVIDER_ICONS = ("icon_small", "icon_large", "icon_small_dark", "icon_large_dark")
ICON_LOCALES = ("en_US", "zh_Hans", "ja_JP", "pt_BR")
SVG = "{http://www.w3.org/2000/svg}"


def test_every_icon_locale_is_a_file_in_assets_and_every_asset_is_named() -> None:
    provider = load(ROOT / "provider" / "togetherai.yaml")
    named = {load(ROOT / "manifest.yaml")["icon"]}
    for field in PROVIDER_ICONS:
        assert field in provider, f"Dify's provider schema has {field}"
        assert set(provider[field]) <= set(ICON_LOCALES), (field, provider[field])
        for locale, name in provider[field].items():
            assert (ROOT / "_assets" / name).is_file(), f"{field} {locale}: _assets/{name} is missing"
            named.add(name)

    assert {path.name for path in (ROOT / "_assets").iterdir()} == named


@pytest.mark.parametrize("path", sorted((ROOT / "_assets").glob("*.svg")), ids=lambda path: path.name)
def test_icons_draw_their_letters_as_outlines_not_live_text(path: Path) -> None:
    svg = ElementTree.parse(path).getroot()

    assert svg.tag == f"{SVG}svg"
    assert [element.tag for element in svg.iter() if element.tag in (f"{SVG}text", f"{SVG}tspan")] == []
    assert "font-family" not in path.read_text(encoding="utf-8")


def luminance(color: str) -> float:
    """WCAG relative luminance of a #RRGGBB colour."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize(
    ("field", "background"), [("icon_large", "#FFFFFF"), ("icon_large_dark", "#1D1D20")]
)
def test_the_wordmark_stands_out_on_its_theme(field: str, background: str) -> None:
    name = load(ROOT / "provider" / "togetherai.yaml")[field]["en_US"]
    [wordmark] = ElementTree.parse(ROOT / "_assets" / name).getroot().iter(f"{SVG}path")
    lighter, darker = sorted((luminance(wordmark.get("fill")), luminance(background)), reverse=True)

    assert (lighter + 0.05) / (darker + 0.05) >= 7, "WCAG AAA contrast against the theme's background"


def test_the_providers_texts_have_a_chinese_version() -> None:
    provider = load(ROOT / "provider" / "togetherai.yaml")

    for text in (provider["label"], provider["description"], provider["help"]["title"]):
        assert set(text) == {"en_US", "zh_Hans"}, text


def test_provider_loads_with_every_model_type(in_plugin_root: None) -> None:
    provider = ModelProviderConfiguration(**load(ROOT / "provider" / "togetherai.yaml"))
    icons = (provider.icon_small, provider.icon_large, provider.icon_small_dark, provider.icon_large_dark)
    for icon in icons:
        assert icon is not None and (ROOT / "_assets" / icon.en_us).is_file()
    for source in [provider.extra.python.provider_source, *provider.extra.python.model_sources]:
        assert (ROOT / source).is_file(), source
    declared = {ModelType(t) for t in provider.supported_model_types}
    assert declared == set(MODEL_DIRS.values())
    assert len(provider.models) == len(MODEL_YAMLS)


@pytest.mark.parametrize("path", MODEL_YAMLS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_model_yaml_is_a_valid_sdk_entity(path: Path) -> None:
    data = load(path)
    entity = AIModelEntity(**data)
    assert path.stem == slug(entity.model), "file name must be the model id with / replaced by -"
    assert entity.model_type == MODEL_DIRS[path.parent.name], "YAML sits in the folder of its model type"
    names = [rule.name for rule in entity.parameter_rules]
    assert len(names) == len(set(names)), "duplicate parameter rule"
    pricing = data.get("pricing")
    if pricing is not None:
        for key in ("input", "output", "unit"):
            if key in pricing:
                assert isinstance(pricing[key], str), f"pricing.{key} must be a quoted decimal"
                assert Decimal(pricing[key]) >= 0
        assert pricing["currency"] == "USD"


@pytest.mark.parametrize("folder", sorted(MODEL_DIRS))
def test_position_lists_exactly_the_models_of_its_folder(folder: str) -> None:
    position = load(ROOT / "models" / folder / "_position.yaml") or []
    models = [load(path)["model"] for path in MODEL_YAMLS if path.parent.name == folder]
    assert len(position) == len(set(position)), "duplicate entry in _position.yaml"
    assert sorted(position) == sorted(models)


def test_runtime_dependencies_agree_between_requirements_and_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(requirements) == sorted(pyproject["project"]["dependencies"])
    assert "dify_plugin>=0.10.2,<0.11" in requirements


def test_versions_agree() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["version"] == load(ROOT / "manifest.yaml")["version"]


def test_difyignore_keeps_tests_and_drops_secrets_and_builds() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".difyignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", "venv", "dist/", "*.difypkg", "__pycache__/"} <= patterns
    assert not any(p.strip("/") == "tests" for p in patterns)


def test_env_example_names_what_remote_debugging_needs() -> None:
    keys = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert {"INSTALL_METHOD", "REMOTE_INSTALL_URL", "REMOTE_INSTALL_KEY"} <= keys
    assert not os.path.exists(ROOT / ".env") or ".env" in (ROOT / ".gitignore").read_text()
