"""Measurement 3: start-up, from launching `python -m main` (INSTALL_METHOD=local) to its first heartbeat,
as a ratio to a bare `dify_plugin` plugin launched the same way in the same round.

The first heartbeat is what tells Dify's daemon the plugin is ready. Most of it is the interpreter
and the SDK's imports, which no plugin avoids and whose cost depends on the machine; the bare plugin
(one provider, one customizable chat model class that does nothing) pays exactly that, so the ratio
is what this plugin adds: its YAMLs (read with libyaml, see `main.py`), its model modules and their
imports. Rounds launch the two in turns, each going first in every other round.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.report import Row, median, ms
from bench.stdio import StdioPlugin

TARGET_RATIO = 1.5

BARE_PLUGIN = {
    "manifest.yaml": """\
version: 0.0.1
type: plugin
author: bench
name: bare
label: {en_US: Bare}
description: {en_US: The least a dify_plugin model plugin loads.}
icon: icon.svg
created_at: "2026-01-01T00:00:00.000000000Z"
resource: {memory: 268435456}
plugins: {models: [provider/bare.yaml]}
meta:
  version: 0.0.1
  arch: [amd64]
  runner: {language: python, version: "3.12", entrypoint: main}
""",
    "_assets/icon.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n',
    "provider/bare.yaml": """\
provider: bare
label: {en_US: Bare}
icon_small: {en_US: icon.svg}
supported_model_types: [llm]
configurate_methods: [customizable-model]
provider_credential_schema: {credential_form_schemas: []}
extra:
  python:
    provider_source: provider/bare.py
    model_sources: [models/llm/llm.py]
""",
    "provider/bare.py": """\
from dify_plugin import ModelProvider


class BareProvider(ModelProvider):
    def validate_provider_credentials(self, credentials):
        pass
""",
    "models/llm/llm.py": """\
from dify_plugin import LargeLanguageModel


class BareLargeLanguageModel(LargeLanguageModel):
    def _invoke(self, *args, **kwargs):
        raise NotImplementedError

    def get_num_tokens(self, *args, **kwargs):
        return 0

    def validate_credentials(self, model, credentials):
        pass

    @property
    def _invoke_error_mapping(self):
        return {}
""",
    "main.py": """\
from dify_plugin import DifyPluginEnv, Plugin

if __name__ == "__main__":
    Plugin(DifyPluginEnv()).run()
""",
}


def write_bare_plugin(root: Path) -> Path:
    for name, text in BARE_PLUGIN.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def seconds_to_heartbeat(root: Path | None = None) -> float:
    with StdioPlugin(*([root] if root else [])) as plugin:
        return plugin.seconds_to_heartbeat


def measure(runs: int) -> tuple[list[Row], list[str]]:
    with tempfile.TemporaryDirectory(prefix="bench-bare-plugin-") as folder:
        bare_root = write_bare_plugin(Path(folder))
        seconds_to_heartbeat(), seconds_to_heartbeat(bare_root)  # fill the file cache, write bytecode
        plugin, bare = [], []
        for round_number in range(runs):
            if round_number % 2:
                bare.append(seconds_to_heartbeat(bare_root))
                plugin.append(seconds_to_heartbeat())
            else:
                plugin.append(seconds_to_heartbeat())
                bare.append(seconds_to_heartbeat(bare_root))
    ratio = median([p / b for p, b in zip(plugin, bare, strict=True)])
    return [
        Row(
            f"3. Start-up to first heartbeat, bare `dify_plugin` plugin (floor), median of {runs}",
            f"{ms(median(bare))} (range {ms(min(bare))}–{ms(max(bare))})",
        ),
        Row(
            f"3. Start-up to first heartbeat, this plugin, median of {runs}",
            f"{ms(median(plugin))} = **{ratio:.2f}× floor** (range {ms(min(plugin))}–{ms(max(plugin))})",
            f"≤ {TARGET_RATIO}× floor",
            ratio <= TARGET_RATIO,
        ),
    ], []
