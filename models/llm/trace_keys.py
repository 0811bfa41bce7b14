"""The key a chat model takes an earlier turn's reasoning back under: `reasoning` or `reasoning_content`.

Together sends a model's reasoning on one of the two and asks for it back, unmodified, under the
same key; which one is a fact of the model, so the request never depends on what an earlier reply
happened to use. A predefined model's YAML names it in a top-level `trace_key` (rendered from the
catalog snapshot by `tools/catalog.py`, with its source in the header). The SDK's model entity has
no field for it (it refuses unknown `model_properties` and drops unknown top-level keys), so the
YAMLs are read here once, at import. Any other model, such as a customizable fine-tune or a dedicated
endpoint, gets `reasoning`: the reasoning field Together's spec and reasoning guide document.
"""

from __future__ import annotations

from pathlib import Path

import yaml

TRACE_KEYS = ("reasoning", "reasoning_content")
DEFAULT_TRACE_KEY = "reasoning"


def catalog_trace_keys(folder: Path) -> dict[str, str]:
    """Model id → `trace_key` of each model YAML in `folder` (not `_position.yaml`) that names one."""
    keys = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if "trace_key" in data:
            keys[data["model"]] = data["trace_key"]
    return keys


CATALOG_TRACE_KEYS = catalog_trace_keys(Path(__file__).parent)


def trace_key(model: str) -> str:
    """The key `model`'s earlier reasoning goes back under: its YAML's, else `DEFAULT_TRACE_KEY`."""
    return CATALOG_TRACE_KEYS.get(model, DEFAULT_TRACE_KEY)
