"""The stdio runtime driver lives in `tools/stdio_runtime.py` (shared with `make try`); re-exported here."""

from tools.stdio_runtime import PLUGIN_ROOT, PROVIDER, PluginProcess, SessionResult

__all__ = ["PLUGIN_ROOT", "PROVIDER", "PluginProcess", "SessionResult"]
