"""List prices of LLM APIs (USD per 1M tokens), dated and sourced, and the cost of one call.

Two sources, both kept as written:

* the paper's Appendix C ("most recent updates as of October 2025"): `PAPER_APP_C`, verbatim;
* ../shared/reference/providers.md §6 (late 2025, each row with its own source).

`PRICES` is keyed ``endpoint:model`` with the model id normalised by `normalise_model`. Where both
sources price a model, §6 wins (it is newer and gives cached-input rates) and the paper's value stays
in `PAPER_APP_C`. Prices drift (o3 fell 80 % in 2025-06): check the vendor page before quoting a cost.

Rules the sources state, applied in `cost`:

* reasoning/thinking tokens bill at the output rate (OpenAI, Anthropic, Gemini) - they are part of
  `output` in hepmini's normalised usage, so they need no separate term;
* cached input bills at the cached rate; when a source gives no cached rate the input rate is used
  (an upper bound, never an understatement);
* Anthropic cache writes bill at 1.25x input (5-minute cache; hepmini never asks for the 1-hour one);
* above 200K input tokens Gemini 2.5 Pro and Claude Sonnet 4.5 (1M-context beta) use their long-context
  rates for the whole call.

A model without a row has an unknown price: `cost` returns None, never 0.
"""

import dataclasses
import re
from typing import Optional

MILLION = 1_000_000


@dataclasses.dataclass(frozen=True)
class Price:
    """USD per 1M tokens for one model on one endpoint, with where the numbers come from."""

    input: float
    output: float
    cached_input: Optional[float] = None    # None: the source gives none (input rate is used)
    cache_write: Optional[float] = None     # Anthropic 5-minute cache write
    long_context: Optional[tuple] = None    # (input tokens above which, input, output, cached_input)
    source: str = ""
    as_of: str = ""
    note: str = ""

    def rates(self, input_tokens: int) -> tuple:
        """(input, output, cached_input) rates that apply to a call with `input_tokens` of input."""
        if self.long_context and input_tokens > self.long_context[0]:
            _, inp, out, cached = self.long_context
        else:
            inp, out, cached = self.input, self.output, self.cached_input
        return inp, out, inp if cached is None else cached


_S6 = "providers.md §6"
_LLMP = "simonw/llm-prices"
_PAPER = "paper App. C"


def _anthropic(inp, out, source, as_of, **kw):
    # docs.anthropic.com pricing: cache write (5 min) 1.25x input, cache read 0.1x input.
    return Price(inp, out, cached_input=round(inp * 0.1, 6), cache_write=round(inp * 1.25, 6),
                 source=source, as_of=as_of, **kw)


PRICES = {
    # --- OpenAI (api.openai.com) ---
    "openai:gpt-5": Price(1.25, 10.00, 0.125, source=f"{_S6}: {_LLMP} data/openai.json @b953cca",
                          as_of="2025-12-11"),
    "openai:gpt-5-mini": Price(0.25, 2.00, 0.025, source=f"{_S6}: {_LLMP} data/openai.json @b953cca",
                               as_of="2025-12-11"),
    "openai:gpt-5-codex": Price(1.25, 10.00, source=_PAPER, as_of="2025-10"),
    "openai:o3": Price(2.00, 8.00, 0.50, source=f"{_S6}: {_LLMP} commit 1d6ed97 (o3 price drops 80%)",
                       as_of="2025-06-10"),
    "openai:o3-mini": Price(1.10, 4.40, source=_PAPER, as_of="2025-10"),
    "openai:o4-mini": Price(1.10, 4.40, 0.275, source=f"{_S6}: {_LLMP} data/openai.json", as_of="2025-12",
                            note="paper App. C prints output 4.00"),
    # --- Anthropic ---
    "anthropic:claude-sonnet-4-5": _anthropic(
        3.00, 15.00, f"{_S6}: {_LLMP} data/anthropic.json; docs.anthropic.com pricing", "2025-12",
        long_context=(200_000, 6.00, 22.50, 0.60)),
    "anthropic:claude-haiku-4-5": _anthropic(1.00, 5.00, f"{_S6}: {_LLMP} data/anthropic.json", "2025-12"),
    "anthropic:claude-opus-4-1": Price(15.00, 75.00, cached_input=1.50, cache_write=18.75,
                                       source=f"{_S6}: docs.anthropic.com pricing (2025 copy)",
                                       as_of="2025"),
    "anthropic:claude-3-5-haiku": Price(0.80, 15.00, source=_PAPER, as_of="2025-10",
                                        note="output 15.00 as printed in App. C; looks like a typo, "
                                             "check the vendor page"),
    # --- Google Gemini Developer API ---
    "gemini:gemini-2.5-pro": Price(1.25, 10.00, 0.125, long_context=(200_000, 2.50, 15.00, 0.25),
                                   source=f"{_S6}: {_LLMP} data/google.json", as_of="2025-12"),
    "gemini:gemini-2.5-flash": Price(0.30, 2.50, 0.03, source=f"{_S6}: {_LLMP} data/google.json",
                                     as_of="2025-12"),
    "gemini:gemini-2.5-flash-lite": Price(0.10, 0.40, 0.01, source=f"{_S6}: {_LLMP} data/google.json",
                                          as_of="2025-12"),
    "gemini:gemini-2.0-flash-lite": Price(0.10, 0.40, source=_PAPER, as_of="2025-10"),
    # --- hosts reached as named openai-compatible endpoints (define [endpoint:NAME] to use them) ---
    "cborg:gpt-oss-120b": Price(0.0, 0.0, 0.0, source=f"{_PAPER} (run on LBNL CBorg: 'essentially zero')",
                                as_of="2025-10"),
    "deepseek:deepseek-chat": Price(0.28, 0.42, 0.028, source=f"{_S6}: benchlm.ai citing "
                                    "api-docs.deepseek.com/quick_start/pricing (V3.2)", as_of="2026-04"),
    "deepseek:deepseek-reasoner": Price(0.28, 0.42, 0.028, source=f"{_S6}: same as deepseek-chat (V3.2)",
                                        as_of="2026-04", note="paper App. C 'DeepSeek-R1' 0.28/0.42"),
    "groq:gpt-oss-120b": Price(0.15, 0.60, 0.075, source=f"{_S6}: tokenmix.ai citing groq.com pricing",
                               as_of="2026-06"),
    "xai:grok-3": Price(3.00, 15.00, source=_PAPER, as_of="2025-10"),
    "xai:grok-3-mini": Price(0.30, 0.50, source=_PAPER, as_of="2025-10", note="App. C 'Grok Mini'"),
    "xai:grok-code-fast-1": Price(0.20, 1.50, source=_PAPER, as_of="2025-10"),
}

# Endpoint -> model-name prefixes it serves free of charge.
FREE_PREFIXES = {"cborg": ("lbl/",)}   # providers.md §1.4: CBorg lbl/* on-prem models are free

# Appendix C of the paper, verbatim: (model as printed, input, output) USD per 1M tokens, October 2025.
# Llama-4 and Qwen-3 are host-dependent (providers.md §6), so they have no PRICES row.
PAPER_APP_C = [
    ("Claude 3.5 Haiku (2024-10-22)", 0.80, 15.00),
    ("Claude Haiku 4.5 (2025-10-01)", 1.00, 5.00),
    ("Claude Opus 4.1 (2025-08-05)", 15.00, 75.00),
    ("Claude Sonnet 4.5 (2025-09-29)", 3.00, 15.00),
    ("DeepSeek-R1", 0.28, 0.42),
    ("GPT-5 (2025-08-07)", 1.25, 10.00),
    ("GPT-5 Codex", 1.25, 10.00),
    ("GPT-5 Mini (2025-08-07)", 0.25, 2.00),
    ("GPT-OSS-120B", 0.00, 0.00),
    ("Gemini 2.0 Flash Lite", 0.10, 0.40),
    ("Gemini 2.5 Flash", 0.30, 2.50),
    ("Gemini 2.5 Pro", 1.25, 10.00),
    ("Grok Code Fast 1", 0.20, 1.50),
    ("Grok Mini", 0.30, 0.50),
    ("Grok-3", 3.00, 15.00),
    ("Llama-4 Maverick (17B)", 0.50, 2.00),
    ("Llama-4 Scout (17B)", 0.30, 1.00),
    ("O3 (2025-04-16)", 2.00, 8.00),
    ("O3 Mini (2025-01-31)", 1.10, 4.40),
    ("O4 Mini (2025-04-16)", 1.10, 4.00),
    ("Qwen-3 (235B)", 0.50, 2.00),
]

_DATE_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def normalise_model(name: str) -> str:
    """Reduce a model id to its price-table form: no vendor path, tag, `models/` or date suffix.

    >>> normalise_model("gpt-5-mini-2025-08-07"), normalise_model("anthropic/claude-haiku-4-5:latest")
    ('gpt-5-mini', 'claude-haiku-4-5')
    >>> normalise_model("models/gemini-2.5-flash"), normalise_model("claude-sonnet-4-5-20250929")
    ('gemini-2.5-flash', 'claude-sonnet-4-5')
    """
    name = (name or "").strip().lower().rsplit("/", 1)[-1]
    name = name.split(":", 1)[0]
    return _DATE_SUFFIX.sub("", name)


def lookup(endpoint: str, models, resold=()) -> Optional[Price]:
    """The Price of the first of `models` known for `endpoint`, else for an endpoint in `resold`.

    `models` are the requested and the returned model id; `resold` names the vendors a proxy such as
    CBorg passes through at their list price.

    >>> lookup("openai", ["gpt-5-mini-2025-08-07"]).output
    2.0
    >>> lookup("cborg", ["lbl/cborg-chat"]).input, lookup("ollama", ["gpt-5"]) is None
    (0.0, True)
    >>> lookup("cborg", ["anthropic/claude-sonnet", "claude-sonnet-4-5-20250929"],
    ...        resold=("openai", "anthropic", "gemini")).input
    3.0
    """
    for model in models:
        if not model:
            continue
        if any(model.lower().startswith(p) for p in FREE_PREFIXES.get(endpoint, ())):
            return Price(0.0, 0.0, 0.0, source=f"{_S6}: {endpoint} {model} on-prem, free", as_of="2025-12")
    names = [normalise_model(m) for m in models if m]
    for where in (endpoint, *resold):
        for name in names:
            if f"{where}:{name}" in PRICES:
                return PRICES[f"{where}:{name}"]
    return None


def cost(price: Optional[Price], usage) -> Optional[float]:
    """USD for one call from normalised usage (see hepmini.llm.Usage); None when the price is unknown.

    >>> from types import SimpleNamespace as U
    >>> round(cost(PRICES["openai:gpt-5-mini"],
    ...            U(input=1000, cached_input=200, cache_write=0, output=500, reported=True)), 8)
    0.001205
    >>> cost(None, U(input=10, cached_input=0, cache_write=0, output=5, reported=True)) is None
    True
    """
    if price is None or not getattr(usage, "reported", True):
        return None
    inp, out, cached = price.rates(usage.input)
    write = inp if price.cache_write is None else price.cache_write
    if price.long_context and usage.input > price.long_context[0] and price.cache_write is not None:
        write = inp * 1.25
    uncached = max(usage.input - usage.cached_input - usage.cache_write, 0)
    return (uncached * inp + usage.cached_input * cached + usage.cache_write * write
            + usage.output * out) / MILLION
