"""A campaign's spec from the command line: a new one, or the stored one resumed or grown by new models and steps."""

import dataclasses
import time
from pathlib import Path

from hepmini import layout
from hepmini.bench import store
from hepmini.bench.store import Spec
from hepmini.errors import ConfigError


def reference_targets(spec: Spec) -> list:
    """The reference steps a campaign needs: its steps, a composite task's steps in its place."""
    protocol = (spec.settings or {}).get("protocol", "paper")
    return list(dict.fromkeys(s for name in spec.steps for s in getattr(layout.get(name, protocol), "STEPS", [name])))


def spec_from_args(cfg, args, out: Path) -> tuple:
    """(cfg, spec) from the flags; on a DIR holding a campaign, that campaign grown by the models and steps asked."""
    # A setting or option left out keeps its stored value (data and classifier settings, workdir, steps,
    # trials, budget, iterations, the agent's limits); new models and steps go after the stored ones when
    # nothing that changes results differs, else the spec goes back as asked, for check_spec to refuse.
    from hepmini.agent import loop

    stored = Spec.load(out) if (Path(out) / "campaign.json").exists() or not args.models else None
    if stored is not None:
        cfg = _stored_config(cfg, args, stored)
    if not args.models:
        asked = dataclasses.replace(stored, steps=tuple(_names(args.steps, "steps", stored.settings.get("protocol",
                                                                                                      "paper")))
                                    if args.steps else stored.steps,
                                    trials=_given(args, "trials", stored.trials),
                                    budget=_given(args, "budget", stored.budget))
        return cfg, _widen(stored, asked)
    defaults = loop.Settings(supervisor="-", coder="-")
    kept = stored.settings if stored else {}
    settings = {f: _given(args, f, kept.get(f, getattr(defaults, f))) for f in store.AGENT_FIELDS}
    settings.update({k: getattr(cfg, k) for k in store.CONFIG_FIELDS})
    settings["data_dir"] = str(cfg.data_dir.absolute()) if cfg.data_dir else None
    trials = _given(args, "trials", stored.trials if stored else 1)
    protocol = settings.get("protocol") or "paper"
    iterations = _given(args, "max_iterations", stored.max_iterations if stored else
                        layout.protocols().MAX_ITERATIONS[protocol])
    if trials < 1 or iterations < 1:
        raise ConfigError("--trials and --max-iterations must be at least 1")
    steps = tuple(_names(args.steps, "steps", protocol)) if args.steps or not stored else stored.steps
    spec = Spec(models=tuple(_names(args.models, "models")), steps=steps, trials=trials,
                max_iterations=iterations, budget=_given(args, "budget", stored.budget if stored else None),
                settings=settings, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), workdir=str(cfg.workdir.absolute()))
    return cfg, _widen(stored, spec)


def _stored_config(cfg, args, stored: Spec):
    """The config with the campaign's own data and classifier settings and workdir, but for those the flags name."""
    named = {s.split("=", 1)[0].strip() for s in getattr(args, "set", None) or []}
    named |= {k for k in ("data_dir", "scale", "seed") if getattr(args, k, None) is not None}
    cfg = dataclasses.replace(cfg, **{k: (Path(v) if k == "data_dir" and v else v) for k, v in stored.settings.items()
                                      if k in store.CONFIG_FIELDS and k not in named})
    if getattr(args, "workdir", None) is None and stored.workdir:
        cfg = dataclasses.replace(cfg, workdir=Path(stored.workdir))
    return cfg


def _given(args, name: str, fallback):
    value = getattr(args, name, None)
    return fallback if value is None else value


def _names(text, what: str, protocol: str = "paper") -> list:
    """--models or --steps as a list (steps by their canonical names; all five when --steps is not given)."""
    if what == "steps":
        tasks = layout.tasks(protocol)
        names = [layout.get(s.strip(), protocol).NAME for s in (text or ",".join(s.NAME for s in tasks)).split(",")]
    else:
        names = [m.strip() for m in text.split(",") if m.strip()]
    if len(set(names)) != len(names) or not names:
        raise ConfigError(f"--{what} must name each one once: {','.join(names) or '(none)'}")
    return names


def _widen(stored, asked: Spec) -> Spec:
    """`asked` grown onto the stored campaign (new models and steps after its own), when it may be."""
    spec = asked if stored is None or stored.mismatch(asked) else stored.widened(asked)
    if len({store.slug(m) for m in spec.models}) != len(spec.models):
        raise ConfigError(f"models {','.join(spec.models)}: two names give the same directory name; rename one")
    return spec
