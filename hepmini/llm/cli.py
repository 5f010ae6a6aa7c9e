"""The `models` and `ping` commands: what can be called, and one short call to see that it works."""

from hepmini.options import add_set


def add_models(parser) -> None:
    add_set(parser)


def add_ping(parser) -> None:
    parser.add_argument("model", help="provider:model, e.g. openai:gpt-5-mini")
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

    check_key(args.model, cfg)
    with client_for(args.model, cfg) as model:
        reply = model.complete([{"role": "user", "content": args.prompt}], {"max_tokens": args.max_tokens})
    u = reply.usage
    cost = "unknown" if reply.cost is None else f"${reply.cost:.6f} ({reply.cost_source})"
    print(f"model:    {model.name} -> {reply.model or '?'} at {model.endpoint.base_url}")
    print(f"reply:    {reply.text.strip()!r}")
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
