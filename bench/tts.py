"""Measurement 5: the plugin process's peak memory growth while it relays 50 MB of speech to Dify.

Through stdio, as the daemon runs it: the local server sends 50 MB of MP3 frames, the plugin
relays them as hex lines, and this process reads and checks them without keeping them. Growth is
the peak resident memory during the call (VmHWM, reset before it) minus the resident memory
just before, after one short call has loaded what the first call loads and one token count has
loaded the tokenizer. The plugin loads the tokenizer in the background a second after start-up;
that load grows the resident memory once by tens of MiB (tiktoken builds its rank table in Python
and the freed memory stays with the process), and when it fell inside a relay it was that relay's
growth. Its own row shows it.
"""

from __future__ import annotations

from bench.report import Row, median
from bench.stdio import StdioPlugin

MODEL = "hexgrad/Kokoro-82M"
COUNT_TOKENS = {
    "model_type": "llm",
    "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "credentials": {"api_key": "bench-key"},
    "prompt_messages": [{"role": "user", "content": "Hello", "name": ""}],
    "tools": [],
}
AUDIO_BYTES = 50 * 1024 * 1024
TARGET_MIB = 20


def _relay(plugin: StdioPlugin, base_url: str, size: int) -> int:
    """Ask for `size` bytes of speech; the number of audio bytes that came back."""
    data = {
        "model_type": "tts",
        "model": MODEL,
        "tenant_id": "bench",
        "voice": "af_heart",
        "credentials": {"api_key": "bench-key", "endpoint_url": base_url},
        # The local server reads the size to send from the text.
        "content_text": f"Read this aloud, bytes={size}.",
    }
    received = 0
    for payload in plugin.request("invoke_tts", data):
        received += len(payload["result"]) // 2
    return received


def measure(base_url: str, runs: int) -> tuple[list[Row], list[str]]:
    growth_mib = []
    with StdioPlugin() as plugin:
        _relay(plugin, base_url, 1024 * 1024)
        without_tokenizer, _ = plugin.memory_kib()
        list(plugin.request("get_llm_num_tokens", COUNT_TOKENS))
        idle, _ = plugin.memory_kib()
        for _ in range(runs):
            before, _ = plugin.memory_kib()
            plugin.reset_peak()
            received = _relay(plugin, base_url, AUDIO_BYTES)
            if received != AUDIO_BYTES:
                raise AssertionError(f"relayed {received} bytes of {AUDIO_BYTES}")
            _, peak = plugin.memory_kib()
            growth_mib.append((peak - before) / 1024)
    grew = median(growth_mib)
    return [
        Row(
            "5. Resident memory the tokenizer adds once, loaded (in the background) before the relays",
            f"{(idle - without_tokenizer) / 1024:.1f} MiB"
            f" ({without_tokenizer / 1024:.0f} → {idle / 1024:.0f} MiB)",
        ),
        Row(
            f"5. TTS: peak RSS growth relaying {AUDIO_BYTES // 2**20} MB (stdio), median of {runs}",
            f"**{grew:.1f} MiB** over {idle / 1024:.0f} MiB idle (runs: {', '.join(f'{g:.1f}' for g in growth_mib)})",
            f"< {TARGET_MIB} MiB",
            grew < TARGET_MIB,
        )
    ], []
