"""Models by name: `provider:model` clients and the offline stand-ins, behind one client_for and one check_model."""


STANDIN_PREFIX = "scripted:"


def is_standin(name: str) -> bool:
    """True for the offline scripted stand-ins (`scripted:oracle`, `scripted:faults...`)."""
    return str(name).startswith(STANDIN_PREFIX)


def label(name: str) -> str:
    """The name as logs and tables print it: a stand-in always says it is not a language model."""
    return f"{name} (SCRIPTED STAND-IN, not a language model)" if is_standin(name) else name


def canonical(name: str, cfg) -> str:
    """The full name a record keeps: `local` is local:<model>; other names stay as they are."""
    if is_standin(name):
        return name
    from hepmini.llm.endpoints import split_model

    return ":".join(split_model(name, cfg))


def check_name(name: str, cfg) -> None:
    """Fail on a model name that names no stand-in and no known provider (keys are not checked)."""
    if is_standin(name):
        from hepmini.agent import standins

        standins.check_name(name)
        return
    from hepmini.llm.endpoints import split_model

    split_model(name, cfg)


def check_model(name: str, cfg, *, what: str = "nothing was run") -> None:
    """Fail before anything runs on an unknown model name or a missing API key (one line, the fix)."""
    if is_standin(name):
        from hepmini.agent import standins

        standins.check_name(name)
        return
    from hepmini.llm.endpoints import LOCAL, check_key

    endpoint = check_key(name, cfg, what)
    if endpoint.name == LOCAL:   # installed? (one line naming `make local-model` when not)
        from hepmini.llm import local

        local.server_binary(cfg)
        local.check_model(local.model_path(cfg))


def client_for(name: str, cfg, seed: int = 0):
    """A client for `name`: a provider's Client, or a stand-in (whose fault choice follows `seed`)."""
    if is_standin(name):
        from hepmini.agent import standins

        return standins.ScriptedModel(name, seed)
    from hepmini.llm import client

    return client.client_for(name, cfg)


def clients_for(cfg, supervisor: str, coder: str, seed: int) -> list:
    """[supervisor, coder] clients; one instance when both roles name the same model."""
    made = {}
    for name in (supervisor, coder):
        if name not in made:
            made[name] = client_for(name, cfg, seed)
    return [made[supervisor], made[coder]]
