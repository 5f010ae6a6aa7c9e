"""One llama-server for a command: started on a free loopback port, health-checked, and always stopped.

`serving(cfg, models, slots)` wraps a command: when any model is `local:`, it starts the server
(slots = trials at once, continuous batching shares it) or joins one that `hepmini serve` keeps up,
and stops what it started on the way out, Ctrl-C and errors included. The server also dies with
hepmini itself (PR_SET_PDEATHSIG), so a killed run leaves no stray server. stdlib only.
"""

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from hepmini.errors import LocalModelError
from hepmini.files import atomic_write_json
from hepmini.llm import local

PROVIDER = "local"
_RUNNING = {}                 # the server this process uses: {"server": LocalServer}
_LOCK = threading.Lock()
STARTUP = 600.0               # seconds a server may take to load its model and answer /health


class LocalServer:
    """A llama-server process serving one GGUF model on 127.0.0.1."""

    def __init__(self, binary: Path, model: Path, *, slots: int, context: int, threads: int, log: Path,
                 alias: str = local.DEFAULT_MODEL.name, startup: float = STARTUP, env=None):
        self.binary, self.model, self.slots, self.context = Path(binary), Path(model), max(1, slots), context
        self.threads, self.log, self.alias, self.startup = threads, Path(log), alias, startup
        self.env = dict(env or {})   # a clean environment: LLAMA_ARG_* variables would change the server
        self.proc, self.port, self.owned, self.kept_pid = None, None, True, None
        self.repack = True           # llama.cpp's repacked-weight kernels; off after they crash at start (below)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, port: int) -> list:
        return [str(self.binary), "-m", str(self.model), "--host", "127.0.0.1", "--port", str(port),
                "-c", str(self.context * self.slots), "-np", str(self.slots), "-t", str(self.threads),
                "--alias", self.alias, "--no-webui"] + ([] if self.repack else ["--no-repack"])

    def start(self, say=print) -> "LocalServer":
        """Start, and once more without weight repacking if a signal killed it while it loaded the model."""
        while True:
            try:
                return self._start()
            except _CrashedAtStart as crash:
                if not self.repack:
                    raise LocalModelError(f"{crash}, also with --no-repack; the llama-server build does not run "
                                          "on this CPU: reinstall it (`make local-model`) or set local_server") from None
                # Seen on a CPU that reports AMX inside a VM: the AMX repacked matmul of the warm-up decode dies
                # with SIGSEGV/SIGILL. Plain kernels work everywhere; the provenance records the choice.
                self.repack = False
                say(f"local model: {crash}; starting again with --no-repack (llama.cpp's plain CPU kernels)")

    def _start(self) -> "LocalServer":
        """Start on a free port (another one if it was taken meanwhile) and wait until /health says ok."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            self.port = free_port()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(self.command(self.port), stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True, env=self.env,
                                             preexec_fn=_die_with_parent)
            try:
                return self._wait_ready()
            except _PortTaken:
                continue
        raise LocalModelError(f"llama-server found no free port on 127.0.0.1 in 3 tries; see {self.log}")

    def _wait_ready(self) -> "LocalServer":
        start = time.monotonic()
        while time.monotonic() - start < self.startup:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                if "couldn't bind" in tail:
                    raise _PortTaken()
                if self.proc.returncode < 0:
                    raise _CrashedAtStart(f"llama-server was killed by {_signal_name(-self.proc.returncode)} while "
                                          f"loading the model (log: {self.log})")
                raise LocalModelError(f"llama-server exited ({self.proc.returncode}) while starting: {_last_error(tail)}; "
                                      f"log: {self.log}")
            if health(self.url) == "ok":
                return self
            time.sleep(0.2)
        self.stop()
        raise LocalModelError(f"llama-server did not become ready in {self.startup:.0f}s; log: {self.log}")

    def stop(self, patience: float = 3.0) -> None:
        """SIGTERM the server's process group, then SIGKILL what is left after `patience` seconds.

        A server with a request in flight may linger after SIGTERM (until its next keep-alive, or for ever
        with a non-streaming one), so it gets a few seconds, not more.
        """
        if self.proc is None or not self.owned:
            return
        for sig, wait in ((signal.SIGTERM, patience), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(wait)

    def stopped(self) -> str:
        """How the server ended ("exit 1", "killed by SIGKILL", "gone" for a kept one), or "" while it runs."""
        if self.proc is not None:
            code = self.proc.poll()
            if code is None:
                return ""
            return f"killed by {_signal_name(-code)}" if code < 0 else f"exit {code}"
        try:
            os.kill(self.kept_pid, 0)
            return ""
        except ProcessLookupError:
            return "gone"
        except (PermissionError, TypeError):
            return ""

    def log_tail(self, size: int = 4000) -> str:
        try:
            with open(self.log, "rb") as fh:
                fh.seek(max(0, fh.seek(0, 2) - size))
                return fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        """CPU seconds the server process has used so far (user + system), or 0 when unknown."""
        try:
            pid = self.proc.pid if self.proc else self.kept_pid      # joined: the pid `hepmini serve` recorded
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return 0.0

    def describe(self) -> dict:
        """What a trial's provenance keeps: server version, model file and hash, slots, context, sampling defaults."""
        props = get_json(self.url + "/props") or {}
        defaults = (props.get("default_generation_settings") or {}).get("params") or {}
        return {"server": "llama.cpp llama-server", "version": server_version(self.binary), "url": self.url,
                "model_file": str(self.model), "model_sha256": local.check_model(self.model),
                "slots": self.slots, "context_per_slot": self.context, "threads": self.threads,
                "weight_repacking": self.repack,
                "server_sampling_defaults": {k: defaults.get(k) for k in ("temperature", "top_k", "top_p", "min_p",
                                                                          "repeat_penalty", "seed") if k in defaults}}


class _PortTaken(Exception):
    """The port was taken between choosing it and the server binding it."""


class _CrashedAtStart(LocalModelError):
    """A signal ended the server before it was ready (a CPU kernel it cannot run)."""


def _signal_name(number: int) -> str:
    with contextlib.suppress(ValueError):
        return signal.Signals(number).name
    return f"signal {number}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(url: str) -> str:
    """"ok", "loading" or "down" for a llama-server at `url`."""
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:
            return "ok" if resp.status == 200 else "loading"
    except urllib.error.HTTPError as exc:
        return "loading" if exc.code == 503 else "down"
    except (OSError, ValueError):
        return "down"


def get_json(url: str, timeout: float = 5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8", errors="replace"))
    except (OSError, ValueError):
        return None


def busy_slots(url: str):
    """How many of the server's slots work on a request now (None: its /slots endpoint is off or did not answer)."""
    slots = get_json(url + "/slots", timeout=2)
    if not isinstance(slots, list):
        return None
    return sum(1 for slot in slots if isinstance(slot, dict) and slot.get("is_processing"))


def server_version(binary: Path) -> str:
    """The first line `llama-server --version` prints (e.g. "version: 7330 (...)")."""
    try:
        proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "version" in line.lower()]
    return (lines or ["unknown"])[0].strip()[:200]


def _last_error(log: str) -> str:
    errors = [line.split(" E ", 1)[-1].strip() for line in log.splitlines() if " E " in line]
    return "; ".join(errors[-2:])[:300] or (log.strip().splitlines() or ["no output"])[-1][:300]


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the server gets SIGKILL when hepmini dies, however it dies.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG


# ---- one server per command ------------------------------------------------------------------------------


def state_file(cfg) -> Path:
    """Where `hepmini serve` says which server it keeps up (so other commands can join it)."""
    return Path(cfg.cache_dir) / "local-server.json"


def server_for(cfg, slots: int) -> LocalServer:
    """A new (not yet started) server for the configured model."""
    model = local.model_path(cfg)
    local.check_model(model)
    return LocalServer(local.server_binary(cfg), model, slots=slots, context=cfg.local_context,
                       threads=cfg.local_threads or os.cpu_count() or 1, log=Path(cfg.workdir) / ".hepmini" /
                       "llama-server.log", env=cfg.passthrough_env)


def join_kept(cfg, say=None):
    """The server `hepmini serve` keeps up for this same model file, if there is one and it answers.

    A serve still loading the model is waited for (`say` tells why), never doubled by a second server.
    """
    state = _state(cfg)
    if state.get("model_file") != str(local.model_path(cfg)):
        return None
    if state.get("starting"):
        state = _await_serve(cfg, state, say)
    if health(state.get("url", "")) != "ok":
        return None
    server = LocalServer(Path(state["binary"]), Path(state["model_file"]), slots=state["slots"],
                         context=state["context_per_slot"], threads=state["threads"], log=Path(state["log"]))
    server.port, server.owned = int(state["url"].rsplit(":", 1)[1]), False
    server.repack, server.kept_pid = state.get("repack", True), state.get("pid")
    return server


def _await_serve(cfg, state: dict, say) -> dict:
    """The state a starting `hepmini serve` writes once its server answers ({} if it stopped first)."""
    if say:
        say(f"local model: `hepmini serve` (pid {state.get('serve_pid')}) is starting llama-server; waiting for it")
    deadline = time.monotonic() + STARTUP
    while state.get("starting") and _alive(state.get("serve_pid")) and time.monotonic() < deadline:
        time.sleep(0.25)
        state = _state(cfg)
    return {} if state.get("starting") else state


def serve_elsewhere(cfg) -> dict:
    """The state of another live `hepmini serve` for this model ({} if none): starting or serving."""
    state = _state(cfg)
    if state.get("model_file") != str(local.model_path(cfg)) or state.get("serve_pid") == os.getpid():
        return {}
    if state.get("starting"):
        return state if _alive(state.get("serve_pid")) else {}
    return state if health(state.get("url", "")) == "ok" else {}


def _state(cfg) -> dict:
    try:
        state = json.loads(state_file(cfg).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def serving(cfg, models, slots: int = 1, say=print):
    """Around a command: a server for its `local:` models (none needed: nothing happens)."""
    if not any(str(m).split(":", 1)[0] == PROVIDER for m in models):
        yield None
        return
    server = join_kept(cfg, say)
    if server is not None:
        say(f"local model: using the server `hepmini serve` keeps at {server.url} ({server.slots} slot(s))")
        if server.slots < slots:
            say(f"local model: its {server.slots} slot(s) serve {slots} trials at once: the calls beyond them wait "
                f"for a free slot, and the wait counts in their time and deadline (`hepmini serve --slots {slots}` fits)")
        busy = busy_slots(server.url)
        if busy:   # others' calls share its cores: this command's calls run slower, its wall times count that
            say(f"local model: {busy} of its {server.slots} slot(s) already busy with other commands' calls; "
                "this command's calls share the cores with them (slower; its trials' records say how busy)")
    else:
        server = server_for(cfg, slots)
        say(f"local model: starting llama-server ({server.model.name}, {server.slots} slot(s)) ...")
        server.start(say=say)
    with _LOCK:
        _RUNNING["server"] = server
    try:
        yield server
    finally:
        with _LOCK:
            _RUNNING.pop("server", None)
        server.stop()


def current():
    """The server this process's `local:` models talk to, or None."""
    with _LOCK:
        return _RUNNING.get("server")


def announce(cfg, model: Path) -> None:
    """Say that this process (`hepmini serve`) is starting a server for `model`: commands started meanwhile wait."""
    atomic_write_json(state_file(cfg), {"starting": True, "model_file": str(model), "serve_pid": os.getpid()})


def keep(cfg, server: LocalServer) -> None:
    """Record a server `hepmini serve` keeps up, so that other commands join it."""
    atomic_write_json(state_file(cfg), {"url": server.url, "binary": str(server.binary),
                                        "model_file": str(server.model), "slots": server.slots,
                                        "context_per_slot": server.context, "threads": server.threads,
                                        "log": str(server.log), "pid": server.proc.pid, "repack": server.repack,
                                        "serve_pid": os.getpid()})


def forget(cfg) -> None:
    """Remove the record `announce`/`keep` wrote, unless another `hepmini serve` has written its own since."""
    if _state(cfg).get("serve_pid") == os.getpid():
        state_file(cfg).unlink(missing_ok=True)
