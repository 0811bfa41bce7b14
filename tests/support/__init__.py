"""Helpers the test layers share. Two HTTP stand-ins for Together, chosen per layer:

- runtime, faults, contract and `make try` tests use `fake_together` (fake_together.py), a
  scripted HTTP server on loopback. There the plugin runs in another process, or what is checked
  is the real transport (bodies as they arrive, timeouts, resets, chunked streams), and only a
  socket can show that. It needs nothing beyond the standard library, so these tests also run
  where only requirements.txt is installed.
- unit tests may also use respx, which replaces httpx's transport inside the test process: for
  checking one exchange of the client or the chat model, with no socket, and failing on any
  request that was not mocked. New tests prefer `fake_together`: without the dev dependency group
  (the official check when no uv.lock is committed) respx tests skip.
"""
