"""The llama.cpp server now lives in `tools/llama_server.py` (shared with `make try`); re-exported here."""

from tools.llama_server import MODEL_FILE, LlamaServer, free_port, model_path

__all__ = ["MODEL_FILE", "LlamaServer", "free_port", "model_path"]
