"""One frozen Config, resolved once: defaults < setup.cfg/hepmini.cfg [hepmini] < HEPMINI_* env < flags.

This is the only module that reads os.environ (API keys included); everything else receives a Config.
"""

import configparser
import dataclasses
import os
from pathlib import Path
from typing import Mapping, Optional

from hepmini.errors import ConfigError
from hepmini.files import did_you_mean

# API keys per provider, in lookup order (first set wins).
KEY_VARIABLES = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),     # google-genai prefers GOOGLE_API_KEY when both are set
    "cborg": ("CBORG_API_KEY",),
}
# Base-URL overrides, in lookup order: those the official SDKs honour first (google-genai reads
# GOOGLE_GEMINI_BASE_URL), then hepmini's own names.
BASE_URL_VARIABLES = {
    "openai": ("OPENAI_BASE_URL",),
    "anthropic": ("ANTHROPIC_BASE_URL",),
    "gemini": ("GOOGLE_GEMINI_BASE_URL", "GEMINI_BASE_URL"),
    "cborg": ("CBORG_BASE_URL",),
}
# Headers the openai SDK sends from these variables (organization and project of the key).
HEADER_VARIABLES = {"openai": (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project"))}
# Named endpoints: an openai-compatible server (vLLM, Ollama, llama.cpp, a LiteLLM proxy) or a proxy's
# anthropic/gemini route, as a section `[endpoint:NAME]` in setup.cfg/hepmini.cfg with these fields, or as
# HEPMINI_ENDPOINT_<NAME>=<base url>. Models are then named NAME:model. A section may also override a
# built-in provider's fields. The key comes from key_env (default <NAME>_API_KEY) and is optional.
ENDPOINT_FIELDS = ("base_url", "protocol", "key_env", "max_tokens_field", "stream")
ENDPOINT_PROTOCOLS = ("openai", "anthropic", "gemini")
ENDPOINT_VARIABLE_PREFIX = "HEPMINI_ENDPOINT_"
# Variables generated code may see (the sandbox builds its environment from these, never from keys).
ENV_ALLOWLIST = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "OMP_NUM_THREADS",
                         "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
                         "OPENBLAS_L2_SIZE")


class Secrets(dict):
    """A dict of API keys whose repr and str never show a key."""

    def __repr__(self):
        return "Secrets(" + ", ".join(f"{k}=<set>" for k in sorted(self) if self[k]) + ")"

    __str__ = __repr__


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting hepmini uses, resolved once and passed down explicitly."""

    workdir: Path = Path("work")
    data_dir: Optional[Path] = None     # holds GamGam/Data and GamGam/MC; None = synthesize into workdir
    scale: float = 1.0                  # synthetic data size; 1.0 = realistic post-selection yields
    seed: int = 20200122                # synthetic data seed
    jobs: int = 1                       # independent steps run in parallel
    step_timeout: float = 7200.0        # seconds one reference step may run
    classifier: str = "auto"            # auto | tabpfn | hgb
    tabpfn_model: str = ""              # staged TabPFN checkpoint file, or a directory holding it
    tabpfn_estimators: int = 4
    classifier_max_train: int = 2000    # training events per class and fold (TabPFN is slow on CPU)
    classifier_folds: int = 2
    call_log: str = ""                  # JSONL log of LLM calls; "" = WORKDIR/calls.jsonl
    request_timeout: float = 300.0      # seconds without a new byte that end an HTTP attempt (idle)
    call_deadline: float = 900.0        # seconds for one LLM call, from connect to last byte, retries included
    max_retries: int = 6
    stream: bool = True                 # ask LLM servers for server-sent events (0: servers that lack them)
    cache_dir: str = ""                 # models and state of the local model; "" = $XDG_CACHE_HOME/hepmini or ~/.cache/hepmini
    local_model: str = ""               # the GGUF file of `local:` models; "" = the default model in cache_dir
    local_server: str = ""              # a llama-server binary; "" = the one `make local-model` installed
    local_context: int = 32768          # tokens of context per server slot (prompt + reply): the model's own
    local_threads: int = 0              # CPU threads of the local server; 0 = every core
    local_request_timeout: float = 900.0   # a local model's idle clock (a long prompt is read in silence)
    local_call_deadline: float = 3600.0    # a local model's deadline per call (slow but generating is fine)
    live: bool = False                  # HEPMINI_LIVE=1 enables tests against real endpoints
    keys: Secrets = dataclasses.field(default_factory=Secrets, repr=False)
    base_urls: Mapping[str, str] = dataclasses.field(default_factory=dict)
    provider_headers: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    endpoints: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    passthrough_env: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    # The whole environment as read once here, for the trusted subprocesses the user runs as themselves
    # (the reference steps, like make would); generated code gets passthrough_env only.
    user_env: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    tabpfn_cache_dir: str = ""          # TABPFN_MODEL_CACHE_DIR, where tabpfn itself would look
    fetch_base_url: str = ""            # where fetch-data downloads from; "" = the public ATLAS URL
    # bench: trials at once per provider, and the first pause (seconds, doubling) after a rate-limited trial
    provider_concurrency: int = 4
    provider_backoff: float = 60.0

    @property
    def solution_dir(self) -> Path:
        """Where the reference outputs live."""
        return self.workdir / "solution"

    @property
    def effective_data_dir(self) -> Path:
        """The data directory the steps read: the user's, or the synthetic one in the workdir."""
        return self.data_dir if self.data_dir is not None else self.workdir / "data"

    @property
    def call_log_path(self) -> Path:
        return Path(self.call_log) if self.call_log else self.workdir / "calls.jsonl"


# Keys a user may set from files, HEPMINI_* variables or --set.
SETTABLE = [f.name for f in dataclasses.fields(Config)
            if f.name not in ("keys", "base_urls", "provider_headers", "endpoints", "passthrough_env",
                              "user_env", "tabpfn_cache_dir")]


def _coerce(name: str, raw):
    """Convert a string (or value) to the type of Config field `name`."""
    field = {f.name: f for f in dataclasses.fields(Config)}[name]
    default = field.default
    if raw is None or (isinstance(raw, str) and raw == "" and name == "data_dir"):
        return None if name == "data_dir" else default
    try:
        if name in ("workdir", "data_dir"):
            return Path(os.path.expanduser(str(raw)))
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name}={raw!r} is not a valid {type(default).__name__}; fix it in "
                          f"hepmini.cfg, HEPMINI_{name.upper()} or --set") from None


def _hint(name: str, known) -> str:
    """The nearest known name as ' (did you mean X?)', or the whole list when none is close."""
    return did_you_mean(name, known, f"; known: {', '.join(known)}")


def _check_name(name: str, origin: str) -> str:
    if name not in SETTABLE:
        raise ConfigError(f"unknown setting '{name}' in {origin}{_hint(name, SETTABLE)}")
    return name


def _config_files(cwd: Path):
    """Yield (path, parser) for setup.cfg then hepmini.cfg in `cwd` (a later file wins)."""
    for name in ("setup.cfg", "hepmini.cfg"):
        path = cwd / name
        if not path.is_file():
            continue
        # No interpolation: URLs and paths may hold '%'. Inline comments need a space before '#' or ';'.
        parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"{path}: cannot parse ({exc.__class__.__name__}); fix the file") from None
        yield path, parser


def _file_settings(cwd: Path) -> dict:
    settings = {}
    for path, parser in _config_files(cwd):
        if parser.has_section("hepmini"):
            for key, value in parser.items("hepmini"):
                settings[_check_name(key, str(path))] = value
    return settings


def _endpoint_settings(cwd: Path, environ: Mapping) -> dict:
    """Named LLM endpoints from `[endpoint:NAME]` sections and HEPMINI_ENDPOINT_<NAME> variables."""
    endpoints = {}
    for path, parser in _config_files(cwd):  # later file wins, field by field
        for section in parser.sections():
            if not section.startswith("endpoint:"):
                continue
            fields = endpoints.setdefault(_endpoint_name(section[len("endpoint:"):], str(path)), {})
            for key, value in parser.items(section):
                if key not in ENDPOINT_FIELDS:
                    raise ConfigError(f"unknown field '{key}' in [{section}] of {path}"
                                      f"{_hint(key, ENDPOINT_FIELDS)}")
                fields[key] = value.strip()
    for var, value in environ.items():
        if var.startswith(ENDPOINT_VARIABLE_PREFIX) and value:
            name = _endpoint_name(var[len(ENDPOINT_VARIABLE_PREFIX):], var)
            endpoints.setdefault(name, {})["base_url"] = value.strip()
    for name, fields in endpoints.items():
        protocol = fields.get("protocol", "openai")  # the default is applied by hepmini.llm
        if protocol not in ENDPOINT_PROTOCOLS:
            raise ConfigError(f"endpoint {name}: protocol must be one of {', '.join(ENDPOINT_PROTOCOLS)}, "
                              f"not {protocol!r}")
        if name not in KEY_VARIABLES or fields.get("key_env"):
            fields.setdefault("key_env", name.upper().replace("-", "_").replace(".", "_") + "_API_KEY")
    return endpoints


def _endpoint_name(raw: str, origin: str) -> str:
    name = raw.strip().lower()
    if not name or not all(c.isalnum() or c in "_-." for c in name):
        raise ConfigError(f"endpoint name {raw!r} in {origin} must be letters, digits, '_', '-' or '.'")
    return name


def parse_set(pairs) -> dict:
    """Parse `--set key=value` pairs into a dict of settings."""
    out = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r} needs the form key=value")
        key, value = pair.split("=", 1)
        out[_check_name(key.strip(), "--set")] = value.strip()
    return out


def resolve(overrides: Optional[Mapping] = None, *, environ: Optional[Mapping] = None,
            cwd: Optional[Path] = None) -> Config:
    """Build the Config from defaults, config files, HEPMINI_* variables and `overrides` (flags)."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else Path(cwd)
    raw = _file_settings(cwd)
    for name in SETTABLE:
        var = f"HEPMINI_{name.upper()}"
        if var in environ:
            raw[name] = environ[var]
    for name, value in (overrides or {}).items():
        if value is not None:
            raw[_check_name(name, "flags")] = value
    values = {name: _coerce(name, value) for name, value in raw.items()}
    keys = Secrets()
    for provider, variables in KEY_VARIABLES.items():
        for var in variables:
            if environ.get(var):
                keys[provider] = environ[var]
                break
    base_urls = {p: next(environ[v] for v in names if environ.get(v)) for p, names in BASE_URL_VARIABLES.items()
                 if any(environ.get(v) for v in names)}
    headers = {p: {h: environ[v] for v, h in pairs if environ.get(v)} for p, pairs in HEADER_VARIABLES.items()}
    endpoints = _endpoint_settings(cwd, environ)
    for name, fields in endpoints.items():
        if fields.get("key_env") and environ.get(fields["key_env"]):
            keys[name] = environ[fields["key_env"]]
    passthrough = {v: environ[v] for v in ENV_ALLOWLIST if v in environ}
    if not values.get("cache_dir"):
        home = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".cache")
        values["cache_dir"] = str(Path(home) / "hepmini")
    cfg = Config(**values, keys=keys, base_urls=base_urls, provider_headers=headers, endpoints=endpoints,
                 passthrough_env=passthrough, user_env=Secrets(environ),
                 tabpfn_cache_dir=environ.get("TABPFN_MODEL_CACHE_DIR", ""))
    if cfg.jobs < 1:
        raise ConfigError(f"jobs must be at least 1, not {cfg.jobs}")
    if cfg.scale <= 0:
        raise ConfigError(f"scale must be positive, not {cfg.scale}")
    if cfg.classifier not in ("auto", "tabpfn", "hgb"):
        raise ConfigError(f"classifier must be auto, tabpfn or hgb, not {cfg.classifier!r}")
    return cfg
