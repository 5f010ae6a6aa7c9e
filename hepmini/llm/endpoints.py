"""Where each provider lives: the Endpoint shape, the built-in providers, model names and key checks."""

import dataclasses

from hepmini.config import KEY_VARIABLES
from hepmini.errors import ConfigError
from hepmini.files import nearest


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where and how to reach one provider; `protocol` names the llm_<protocol> module."""

    name: str
    protocol: str
    base_url: str
    key_vars: tuple = ()
    needs_key: bool = False          # refuse to call without a key (first-party APIs)
    max_tokens_field: str = "max_tokens"
    openai_api: bool = False         # api.openai.com itself: no top_k
    resold: tuple = ()               # vendors whose list prices apply through this proxy
    note: str = ""
    stream: bool = True              # ask for server-sent events (a server that lacks them: stream = false)
    request_timeout: float = 0.0     # seconds of silence that end an attempt (0: the request_timeout setting)
    call_deadline: float = 0.0       # seconds one call may take with its retries (0: the call_deadline setting)
    free: bool = False               # no API cost (a local server): cost $0, source "local"
    headers: tuple = ()              # extra (name, value) headers, e.g. OpenAI-Organization
    extra: tuple = ()                # extra (field, value) pairs of the request body (server extensions)


PROVIDERS = {
    "openai": Endpoint("openai", "openai", "https://api.openai.com/v1", KEY_VARIABLES["openai"], True,
                       "max_completion_tokens", openai_api=True, note="OpenAI Chat Completions"),
    "anthropic": Endpoint("anthropic", "anthropic", "https://api.anthropic.com",
                          KEY_VARIABLES["anthropic"], True, note="Anthropic Messages"),
    "gemini": Endpoint("gemini", "gemini", "https://generativelanguage.googleapis.com",
                       KEY_VARIABLES["gemini"], True, note="Gemini generateContent"),
    "cborg": Endpoint("cborg", "openai", "https://api.cborg.lbl.gov/v1", KEY_VARIABLES["cborg"], True,
                      resold=("openai", "anthropic", "gemini"), note="LBNL CBorg (LiteLLM proxy)"),
    "ollama": Endpoint("ollama", "openai", "http://localhost:11434/v1", note="local Ollama /v1"),
    # The local model: llama.cpp's llama-server, started by hepmini on a free loopback port for the command.
    "local": Endpoint("local", "openai", "(started by hepmini)", free=True,
                      extra=(("return_progress", True), ("cache_prompt", True)),
                      note="local llama-server (python -m hepmini local-model install)"),
}


LOCAL = "local"


def _local_name(cfg) -> str:
    from pathlib import Path

    from hepmini.llm.local import DEFAULT_MODEL

    chosen = getattr(cfg, "local_model", "") or ""
    return Path(chosen).stem if chosen else DEFAULT_MODEL.name


def split_model(name: str, cfg=None) -> tuple:
    """Split 'provider:model' and check the provider exists (with a difflib hint when it does not).

    `local` alone is the local model (local:qwen2.5-coder-1.5b unless local_model names another file).

    >>> split_model("ollama:qwen3:8b"), split_model("local")
    (('ollama', 'qwen3:8b'), ('local', 'qwen2.5-coder-1.5b'))
    """
    known = sorted(set(PROVIDERS) | set(getattr(cfg, "endpoints", {}) or {}))
    if name == LOCAL:
        return LOCAL, _local_name(cfg)
    provider, sep, model = (name or "").partition(":")
    if not sep or not provider or not model:
        raise ConfigError(f"model {name!r} must be named provider:model, e.g. openai:gpt-5-mini "
                          f"(providers: {', '.join(known)})")
    if provider not in known:
        hint = nearest(provider, known)
        more = f"did you mean {hint[0]}:{model}?" if hint else f"known: {', '.join(known)}"
        raise ConfigError(f"unknown provider '{provider}' in {name!r} ({more}); define other "
                          f"endpoints with [endpoint:NAME] or HEPMINI_ENDPOINT_NAME=URL")
    return provider, model


def endpoint_for(name: str, cfg) -> Endpoint:
    """The built-in endpoint `name` with the config's base-URL override and [endpoint:NAME] fields."""
    fields = dict((getattr(cfg, "endpoints", {}) or {}).get(name, {}))
    base = PROVIDERS.get(name) or Endpoint(name, fields.get("protocol", "openai"), "")
    changes = {"base_url": (getattr(cfg, "base_urls", {}) or {}).get(name) or fields.get("base_url")
               or base.base_url}
    if fields.get("protocol"):
        changes["protocol"] = fields["protocol"]
    if fields.get("key_env"):
        changes["key_vars"] = (fields["key_env"],)
    if fields.get("max_tokens_field"):
        changes["max_tokens_field"] = fields["max_tokens_field"]
    if fields.get("stream"):
        changes["stream"] = fields["stream"].lower() not in ("0", "false", "no", "off")
    extra = (getattr(cfg, "provider_headers", {}) or {}).get(name)
    if extra:
        changes["headers"] = tuple(sorted(extra.items()))
    endpoint = dataclasses.replace(base, **changes)
    if name == "local":
        endpoint = _local(endpoint, cfg)
    if not endpoint.base_url:
        raise ConfigError(f"endpoint {name} has no base_url: set it in [endpoint:{name}] or "
                          f"HEPMINI_ENDPOINT_{name.upper()}")
    return endpoint


def check_key(model_name: str, cfg, what: str = "nothing was sent") -> Endpoint:
    """The endpoint of 'provider:model'; ConfigError (one line, the variable to set) when it needs a key and has none."""
    endpoint = endpoint_for(split_model(model_name, cfg)[0], cfg)
    if endpoint.needs_key and not (cfg.keys or {}).get(endpoint.name):
        raise ConfigError(f"{model_name}: no API key; set {' or '.join(endpoint.key_vars)} ({what})")
    return endpoint


def _local(endpoint: Endpoint, cfg) -> Endpoint:
    """The local endpoint at the server this command started (hepmini.llm.localserver.serving)."""
    from hepmini.llm import localserver

    server = localserver.current()
    url = f"{server.url}/v1" if server is not None else endpoint.base_url
    return dataclasses.replace(endpoint, base_url=url, request_timeout=cfg.local_request_timeout,
                               call_deadline=cfg.local_call_deadline)

