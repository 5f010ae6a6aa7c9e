"""Live smoke tests against real endpoints: run only with HEPMINI_LIVE=1 and a key; never part of CI.

Each sends one short request (at most about a thousand tokens, well under a cent) to a cheap model of
every provider whose key is set, e.g.  HEPMINI_LIVE=1 OPENAI_API_KEY=... python -m pytest -q tests/test_llm_live.py
"""

import pytest

from hepmini import config
from hepmini.llm.client import client_for

CHEAP = {"openai": "gpt-5-mini", "anthropic": "claude-haiku-4-5", "gemini": "gemini-2.5-flash-lite",
         "cborg": "lbl/cborg-chat"}


def _cfg(tmp_path):
    cfg = config.resolve({"call_log": str(tmp_path / "calls.jsonl"), "max_retries": 2, "call_deadline": 120},
                         cwd=tmp_path)
    if not cfg.live:
        pytest.skip("live tests need HEPMINI_LIVE=1")
    return cfg


@pytest.mark.parametrize("provider", sorted(CHEAP))
def test_live_ping(tmp_path, provider):
    cfg = _cfg(tmp_path)
    if not cfg.keys.get(provider):
        pytest.skip(f"no key for {provider}")
    with client_for(f"{provider}:{CHEAP[provider]}", cfg) as client:
        reply = client.complete([{"role": "user", "content": "Reply with the single word: pong"}],
                                {"max_tokens": 1000})
    assert reply.finish_reason in ("stop", "length")
    assert reply.usage.reported and reply.usage.input > 0 and reply.model
    if reply.finish_reason == "stop":
        assert "pong" in reply.text.lower()
    assert (tmp_path / "calls.jsonl").read_text().count("\n") == 1
    assert cfg.keys[provider] not in (tmp_path / "calls.jsonl").read_text()
