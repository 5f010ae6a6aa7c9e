"""`models` and `ping`, model names, endpoints from config, prices, Replay, lazy imports."""

import json
import subprocess
import sys

import pytest
from support.workdirs import ROOT_DIR, run_cli
from support.fakes import OpenAIFake, Resp, make_config

from hepmini import cli, config
from hepmini.agent import standins
from hepmini.llm.client import client_for
from hepmini.llm.endpoints import endpoint_for, split_model
from hepmini.llm.client import complete as llm_complete
from hepmini.llm import prices
from hepmini.errors import AuthError, BadRequest, ConfigError, RateLimited

KEY = "sk-test-cli-PLANTED-0005"
ENV_NAMES = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "CBORG_API_KEY",
             "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GEMINI_BASE_URL", "CBORG_BASE_URL", "HEPMINI_LIVE",
             "http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment for in-process cli.main calls, working in tmp_path."""
    import os

    for name in list(os.environ):
        if name in ENV_NAMES or name.startswith("HEPMINI_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEPMINI_CALL_LOG", str(tmp_path / "calls.jsonl"))
    return monkeypatch


def test_help_and_importing_llm_do_not_import_requests():
    code = ("import sys\nfrom hepmini import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "a = 'requests' in sys.modules or 'hepmini.llm.client' in sys.modules\n"
            "import hepmini.llm.client, hepmini.llm.openai, hepmini.llm.anthropic, hepmini.llm.gemini\n"
            "print(a, 'requests' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True, text=True, timeout=60)
    assert out.stdout.split()[-2:] == ["False", "False"], out.stderr


def test_models_lists_models_endpoints_prices_and_key_state(env, capsys, tmp_path):
    env.setenv("OPENAI_API_KEY", KEY)
    (tmp_path / "hepmini.cfg").write_text("[endpoint:gpu]\nbase_url = http://gpu01:8000/v1\n")
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("openai:gpt-5-mini "))
    assert "https://api.openai.com/v1" in line and "in 0.25 out 2 cached 0.025" in line
    assert "key set (OPENAI_API_KEY)" in line
    assert "NO KEY: set ANTHROPIC_API_KEY" in next(x for x in out.splitlines() if x.startswith("anthropic:"))
    assert "GOOGLE_API_KEY or GEMINI_API_KEY" in out
    assert "gpu:<any model>" in out and "http://gpu01:8000/v1" in out and "optional GPU_API_KEY" in out
    assert "ollama:<any model>" in out and "no key needed" in out
    assert "cborg:gpt-oss-120b" in out and "x-litellm-response-cost" in out
    assert KEY not in out


def test_ping_prints_reply_tokens_cost_latency_attempts(env, capsys):
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(503, {"error": {"message": "busy", "type": "server_error"}}, headers={"retry-after": "0.01"}))
        env.setenv("OPENAI_API_KEY", KEY)
        env.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        assert cli.main(["ping", "openai:gpt-5-mini", "--max-tokens", "500"]) == 0
    out = capsys.readouterr().out
    assert "openai:gpt-5-mini -> gpt-5-mini-2025-08-07" in out and "reply:    'Paris.'" in out
    assert "tokens:   input 21 (cached 0), output 11 (reasoning 0), total 32" in out
    assert "cost:     $0.000027 (table)" in out and "latency:" in out
    assert "attempts: #1 503 then wait 0.0s, #2 200" in out
    assert KEY not in out


def test_ping_reasoning_exhaustion_explains_itself(env, capsys):
    with OpenAIFake(key=KEY) as fake:
        env.setenv("OPENAI_API_KEY", KEY)
        env.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        assert cli.main(["ping", "openai:gpt-5-mini"]) == 0         # --max-tokens 64 by default
        assert fake.requests[-1].body["max_completion_tokens"] == 64
    out = capsys.readouterr().out
    assert "finish:   length" in out and "raise --max-tokens" in out


def test_ping_unknown_provider_is_one_line_with_a_suggestion():
    out = run_cli("ping", "opnai:gpt-5-mini", timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert "unknown provider 'opnai'" in out.stderr and "did you mean openai:gpt-5-mini?" in out.stderr


@pytest.mark.parametrize("argv, match", [
    (["ping", "gpt-5-mini"], "must be named provider:model"),
    (["ping", "openai:gpt-5-mini"], "no API key; set OPENAI_API_KEY"),
    (["ping", "--model", "openai:gpt-5-mini"], "no API key; set OPENAI_API_KEY"),     # as `agent --model`
    (["ping", "openai:gpt-5-mini", "--model", "openai:gpt-4.1"], "two models named"),
])
def test_ping_user_errors(env, capsys, argv, match):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


def test_ping_names_the_local_model_by_default(env, capsys):
    assert cli.main(["ping", "--set", "local_model=/nowhere/x.gguf"]) == 1
    err = capsys.readouterr().err
    assert "no model file at /nowhere/x.gguf; run `make local-model`" in err and len(err.strip().splitlines()) == 1


def test_ping_auth_failure_is_one_line_naming_the_variable(env, capsys):
    with OpenAIFake(key="sk-the-right-one") as fake:
        env.setenv("OPENAI_API_KEY", KEY)
        env.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        assert cli.main(["ping", "openai:gpt-4.1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hepmini: error: openai: HTTP 401 [invalid_request_error invalid_api_key]")
    assert "check the API key (OPENAI_API_KEY)" in err and len(err.strip().splitlines()) == 1
    assert KEY not in err


def test_named_endpoint_from_environment_and_ping(env, capsys):
    with OpenAIFake(key="tok", flavor="vllm") as fake:
        env.setenv("HEPMINI_ENDPOINT_LAB_GPU", fake.url + "/v1")
        env.setenv("LAB_GPU_API_KEY", "tok")
        assert cli.main(["ping", "lab_gpu:Qwen/Qwen3-8B", "--max-tokens", "20"]) == 0
        assert fake.requests[-1].body["max_tokens"] == 20
    assert "cost:     unknown" in capsys.readouterr().out


# --- config for endpoints --------------------------------------------------------------------------


def test_endpoint_config_fields_and_overrides(tmp_path):
    (tmp_path / "hepmini.cfg").write_text("[endpoint:cborg]\nbase_url = https://api-local.cborg.lbl.gov/v1\n"
                                          "[endpoint:llama]\nbase_url = http://h:8080/v1\nprotocol = openai\n"
                                          "key_env = LLAMA_TOKEN\nmax_tokens_field = max_completion_tokens\n"
                                          "[endpoint:claude-proxy]\nbase_url = https://p\nprotocol = anthropic\n")
    cfg = make_config(tmp_path, {"LLAMA_TOKEN": "t1", "CBORG_API_KEY": "t2", "HEPMINI_ENDPOINT_OLLAMA": "http://o/v1"})
    assert cfg.keys == {"llama": "t1", "cborg": "t2"} and "t1" not in repr(cfg)
    cborg = endpoint_for("cborg", cfg)
    assert cborg.base_url == "https://api-local.cborg.lbl.gov/v1" and cborg.key_vars == ("CBORG_API_KEY",)
    llama = endpoint_for("llama", cfg)
    assert (llama.key_vars, llama.max_tokens_field, llama.needs_key) == (("LLAMA_TOKEN",), "max_completion_tokens",
                                                                         False)
    assert endpoint_for("claude-proxy", cfg).protocol == "anthropic"
    assert endpoint_for("ollama", cfg).base_url == "http://o/v1"
    assert split_model("claude-proxy:claude-haiku-4-5", cfg) == ("claude-proxy", "claude-haiku-4-5")


@pytest.mark.parametrize("text, match", [
    ("[endpoint:x]\nbase_ur = http://h\n", r"unknown field 'base_ur' .*\(did you mean base_url\?\)"),
    ("[endpoint:x]\nbase_url = http://h\nprotocol = grpc\n", "protocol must be one of openai, anthropic, gemini"),
    ("[endpoint:a b]\nbase_url = http://h\n", "endpoint name 'a b'"),
])
def test_endpoint_config_errors(tmp_path, text, match):
    (tmp_path / "hepmini.cfg").write_text(text)
    with pytest.raises(ConfigError, match=match):
        make_config(tmp_path)


def test_endpoint_without_base_url(tmp_path):
    (tmp_path / "hepmini.cfg").write_text("[endpoint:x]\nkey_env = X\n")
    with pytest.raises(ConfigError, match=r"endpoint x has no base_url.*HEPMINI_ENDPOINT_X"):
        client_for("x:m", make_config(tmp_path))


def test_config_stays_the_only_reader_of_the_environment():
    for path in (ROOT_DIR / "hepmini").rglob("*.py"):
        text = path.read_text()
        if path.name != "config.py":
            assert "os.environ" not in text and "getenv" not in text, path


# --- parameters, prices, the scripted stand-in ---------------------------------------------------


def test_bad_messages_and_unknown_params_are_refused_before_sending(tmp_path):
    client = client_for("openai:gpt-4.1", make_config(tmp_path, {"OPENAI_API_KEY": KEY}))
    with pytest.raises(BadRequest, match="did you mean max_tokens"):
        client.complete([{"role": "user", "content": "x"}], {"max_token": 5})
    with pytest.raises(BadRequest, match="message 0 must be"):
        client.complete([{"role": "tool", "content": "x"}])
    with pytest.raises(BadRequest, match="non-empty list"):
        client.complete([])
    assert not (tmp_path / "calls.jsonl").exists()


def test_price_table_is_dated_sourced_and_consistent_with_the_paper():
    for key, price in prices.PRICES.items():
        assert price.source and price.as_of, key
        assert price.output >= price.input >= 0 and ":" in key
    paper = {name: (i, o) for name, i, o in prices.PAPER_APP_C}
    assert len(paper) == 21
    assert paper["GPT-5 Mini (2025-08-07)"] == (prices.PRICES["openai:gpt-5-mini"].input,
                                                prices.PRICES["openai:gpt-5-mini"].output)
    assert paper["GPT-OSS-120B"] == (0.0, 0.0) == (prices.PRICES["cborg:gpt-oss-120b"].input,
                                                   prices.PRICES["cborg:gpt-oss-120b"].output)


def test_long_context_and_unknown_cost():
    from hepmini.llm.base import Usage

    long = Usage(input=300_000, output=1000, reported=True)
    assert prices.cost(prices.PRICES["gemini:gemini-2.5-pro"], long) == pytest.approx((300_000 * 2.5 + 15_000) / 1e6)
    assert prices.cost(prices.lookup("openai", ["gpt-4.1"]), long) is None
    assert prices.cost(prices.PRICES["openai:o3"], Usage(input=5, output=5)) is None   # usage not reported


def test_scripted_llm_replays_and_is_labelled():
    boom = RateLimited("scripted failure")
    bot = standins.Replay(["first", {"text": "second", "usage": {"input": 10, "output": 2}, "cost": 0.5}, boom])
    assert bot.complete([{"role": "user", "content": "a"}], {"temperature": 0}).text == "first"
    second = bot.complete([{"role": "user", "content": "b"}])
    assert (second.usage.input, second.usage.reported, second.cost, second.provider) == (10, True, 0.5, "scripted")
    with pytest.raises(RateLimited):
        bot.complete([{"role": "user", "content": "c"}])
    with pytest.raises(RuntimeError, match="no scripted reply left for call 4"):
        bot.complete([{"role": "user", "content": "d"}])
    assert [c["messages"][0]["content"] for c in bot.calls] == ["a", "b", "c", "d"]
    assert bot.calls[0]["params"] == {"temperature": 0} and "SCRIPTED" in standins.Replay.__doc__


def test_module_complete_and_call_log_for_a_user_endpoint(env, tmp_path):
    with OpenAIFake(key=None, flavor="ollama") as fake:
        cfg = make_config(tmp_path, {"HEPMINI_ENDPOINT_OLLAMA": fake.url + "/v1"})
        reply = llm_complete(cfg, "ollama:qwen3:8b", [{"role": "user", "content": "x"}], {"max_tokens": 9})
    record = json.loads((tmp_path / "calls.jsonl").read_text())
    assert reply.text == "Paris." and record["model_requested"] == "qwen3:8b"
    assert record["cost"] is None and record["params_sent"] == {"max_tokens": 9}


def test_key_from_config_resolve_and_auth_error_class(tmp_path):
    cfg = config.resolve({"call_log": str(tmp_path / "c.jsonl")}, environ={"GOOGLE_API_KEY": "g"}, cwd=tmp_path)
    assert cfg.keys == {"gemini": "g"}
    with pytest.raises(AuthError, match="CBORG_API_KEY"):
        client_for("cborg:lbl/cborg-chat", cfg).complete([{"role": "user", "content": "x"}])
