"""The local model's server lifecycle, against a fake llama-server (a real process on 127.0.0.1 that misbehaves).

The real binary is exercised by `make smoke-local`; here each failure a site can meet is made on purpose.
"""

import json
import sys
import textwrap
import time

import pytest
from support.procs import processes_with
from support.workdirs import run_cli

from hepmini import config
from hepmini.errors import LocalModelError
from hepmini.llm import localserver

# A llama-server stand-in: answers /health, /props and one chat completion, or fails the way MODE says.
FAKE = textwrap.dedent('''\
    import http.server, json, os, signal, sys, time
    MODE = {mode!r}
    args = sys.argv[1:]
    if "--version" in args:
        print("version: 0000 (fake)"); sys.exit(0)
    print("0.00.000.001 I srv  load_model: loading model", flush=True)
    if MODE == "crash" or (MODE == "crash-unless-no-repack" and "--no-repack" not in args):
        os.kill(os.getpid(), signal.SIGSEGV)
    if MODE == "error":
        print("0.00.000.002 E llama_model_load: error loading model: tensor data is not within the file bounds",
              flush=True)
        sys.exit(1)
    if MODE == "never-ready":
        time.sleep(3600)
    if MODE == "slow":
        time.sleep(3)

    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/slots":
                return self.slots()
            self.reply({{"status": "ok"}} if self.path == "/health" else
                       {{"default_generation_settings": {{"params": {{"temperature": 0.8, "seed": -1}}}}}})

        def slots(self):  # as many busy as the file `busy` beside this program says (another client's calls)
            if MODE == "no-slots":
                self.send_error(501, "This server does not support slots endpoint.")
                return
            busy = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "busy")
            n = int(open(busy).read()) if os.path.exists(busy) else 0
            self.reply([{{"id": i, "is_processing": i < n}} for i in range(int(args[args.index("-np") + 1]))])

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.reply({{"choices": [{{"index": 0, "finish_reason": "stop",
                                      "message": {{"role": "assistant", "content": "pong"}}}}],
                        "usage": {{"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}}})

        def log_message(self, *a):
            pass

    http.server.HTTPServer(("127.0.0.1", int(args[args.index("--port") + 1])), Handler).serve_forever()
''')


def fake_server(tmp_path, mode: str, **settings):
    """A config whose local model is a tiny GGUF file and whose llama-server is the fake in `mode`."""
    binary = tmp_path / "llama-server"
    binary.write_text(f"#!{sys.executable}\n" + FAKE.format(mode=mode))
    binary.chmod(0o755)
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    return config.resolve({"local_server": str(binary), "local_model": str(model), "cache_dir": str(tmp_path / "cache"),
                           "workdir": str(tmp_path / "work"), **settings}, cwd=tmp_path)


def gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie of ours counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_signal_while_loading_starts_the_server_again_without_repacking(tmp_path):
    cfg, said = fake_server(tmp_path, "crash-unless-no-repack"), []
    with localserver.serving(cfg, ["local"], say=said.append) as server:
        assert "--no-repack" in server.command(server.port) and server.describe()["weight_repacking"] is False
        pid = server.proc.pid
    assert len(said) == 2 and "killed by SIGSEGV while loading the model" in said[1] and "--no-repack" in said[1]
    assert gone(pid)


def test_a_healthy_server_keeps_repacking_and_is_stopped_after_the_command(tmp_path):
    cfg = fake_server(tmp_path, "ok")
    with localserver.serving(cfg, ["local"], say=lambda line: None) as server:
        assert "--no-repack" not in server.command(server.port) and server.describe()["weight_repacking"] is True
        pid = server.proc.pid
    assert gone(pid)


@pytest.mark.parametrize("mode, words", [("crash", "killed by SIGSEGV while loading the model"),
                                         ("error", "exited (1) while starting: llama_model_load: error loading")])
def test_a_server_that_cannot_start_is_one_line_with_its_log_and_no_process(tmp_path, mode, words):
    fake_server(tmp_path, mode)
    proc = run_cli("ping", "local", "--set", f"local_server={tmp_path / 'llama-server'}",
                   "--set", f"local_model={tmp_path / 'tiny.gguf'}", "--set", f"cache_dir={tmp_path / 'cache'}",
                   cwd=tmp_path, timeout=120)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("hepmini: error:")]
    assert proc.returncode != 0 and len(errors) == 1 and words in errors[0], proc.stderr
    assert "llama-server.log" in errors[0] and "Traceback" not in proc.stderr
    if mode == "crash":
        assert "also with --no-repack" in errors[0]
    assert processes_with(str(tmp_path / "llama-server")) == []


def test_a_server_that_never_becomes_ready_is_stopped_at_the_startup_limit(tmp_path):
    cfg = fake_server(tmp_path, "never-ready")
    server = localserver.server_for(cfg, 1)
    server.startup = 2.0
    start = time.monotonic()
    with pytest.raises(LocalModelError, match="did not become ready in 2s"):
        server.start(say=lambda line: None)
    assert time.monotonic() - start < 30 and gone(server.proc.pid)


def test_a_kept_server_is_joined_with_its_repacking_choice(tmp_path):
    cfg = fake_server(tmp_path, "crash-unless-no-repack")
    kept = localserver.server_for(cfg, 2).start(say=lambda line: None)
    try:
        localserver.keep(cfg, kept)
        assert json.loads(localserver.state_file(cfg).read_text())["repack"] is False
        with localserver.serving(cfg, ["local"], say=lambda line: None) as joined:
            assert joined.url == kept.url and joined.repack is False and not joined.owned
            assert joined.cpu_seconds() > 0          # a trial counts the server's CPU, also when joined
        assert not gone(kept.proc.pid)          # joining never stops the server `hepmini serve` keeps
    finally:
        kept.stop()



def test_serve_is_one_per_model_and_sigterm_leaves_no_server_and_no_state_file(tmp_path):
    import os
    import signal
    import subprocess

    fake_server(tmp_path, "ok")
    env = dict(os.environ, PYTHONPATH=str(localserver.Path(__file__).resolve().parents[1]))
    with subprocess.Popen([sys.executable, "-m", "hepmini", "serve", "--slots", "2",
                           "--set", f"local_server={tmp_path / 'llama-server'}",
                           "--set", f"local_model={tmp_path / 'tiny.gguf'}",
                           "--set", f"cache_dir={tmp_path / 'cache'}"],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            line = proc.stdout.readline()
            assert line.startswith("serving tiny.gguf"), line
            assert (tmp_path / "cache" / "local-server.json").exists()
            second = run_cli("serve", "--set", f"local_server={tmp_path / 'llama-server'}",
                             "--set", f"local_model={tmp_path / 'tiny.gguf'}", "--set", f"cache_dir={tmp_path / 'cache'}",
                             cwd=tmp_path, timeout=120)       # a second one for the same model would clobber the first
            assert second.returncode != 0 and "already keeps tiny.gguf at http" in second.stderr, second.stderr
            assert (tmp_path / "cache" / "local-server.json").exists()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            proc.kill()
    assert not (tmp_path / "cache" / "local-server.json").exists()
    assert processes_with(str(tmp_path / "llama-server")) == []


def test_a_command_started_while_serve_loads_the_model_waits_for_it_and_never_starts_a_second(tmp_path):
    import os
    import subprocess

    cfg = fake_server(tmp_path, "slow")
    env = dict(os.environ, PYTHONPATH=str(localserver.Path(__file__).resolve().parents[1]))
    with subprocess.Popen([sys.executable, "-m", "hepmini", "serve", "--set", f"local_server={tmp_path / 'llama-server'}",
                           "--set", f"local_model={tmp_path / 'tiny.gguf'}", "--set", f"cache_dir={tmp_path / 'cache'}"],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            deadline = time.monotonic() + 60
            while not localserver.state_file(cfg).exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert json.loads(localserver.state_file(cfg).read_text())["starting"] is True
            said = []
            with localserver.serving(cfg, ["local"], say=said.append) as joined:
                assert not joined.owned and "is starting llama-server; waiting for it" in said[0], said
                assert proc.stdout.readline().startswith(f"serving tiny.gguf at {joined.url}/v1")
                assert len(processes_with(f"{tmp_path / 'llama-server'}\x00-m\x00")) == 1   # servers, not the serve
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    assert not localserver.state_file(cfg).exists()


def test_a_serve_that_died_while_starting_is_not_waited_for(tmp_path):
    cfg = fake_server(tmp_path, "ok")
    localserver.state_file(cfg).parent.mkdir(parents=True)
    dead = __import__("subprocess").run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                        text=True).stdout.strip()
    localserver.state_file(cfg).write_text(json.dumps({"starting": True, "model_file": str(tmp_path / "tiny.gguf"),
                                                       "serve_pid": int(dead)}))
    start = time.monotonic()
    with localserver.serving(cfg, ["local"], say=lambda line: None) as server:
        assert server.owned
    assert time.monotonic() - start < 30


def test_a_server_that_dies_mid_trial_is_named_in_the_error_with_its_log(tmp_path):
    import os
    import signal

    from hepmini.agent import models
    from hepmini.errors import ServerError

    cfg = fake_server(tmp_path, "ok", max_retries=1)
    with localserver.serving(cfg, ["local"], say=lambda line: None) as server:
        client = models.client_for("local", cfg)
        assert client.complete([{"role": "user", "content": "hi"}], {"max_tokens": 5}).text == "pong"
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)
        with pytest.raises(ServerError) as caught:
            client.complete([{"role": "user", "content": "hi"}], {"max_tokens": 5})
    text = str(caught.value)
    assert "llama-server stopped during the call (killed by SIGKILL)" in text and "llama-server.log" in text


@pytest.mark.parametrize("mode", ["ok", "no-slots"])
def test_the_load_of_a_server_is_sampled_and_a_server_without_slots_says_nothing(tmp_path, mode):
    from hepmini.llm import serverload

    cfg = fake_server(tmp_path, mode)
    (tmp_path / "busy").write_text("1")
    with localserver.serving(cfg, ["local"], slots=2, say=lambda line: None) as server:
        sampler = serverload.LoadSampler(server.url, server.slots, every=0.05).start()
        time.sleep(0.4)
        (tmp_path / "busy").write_text("2")
        time.sleep(0.4)
        load = sampler.stop()
        assert sampler.stop() == load            # stopping twice is harmless
    if mode == "no-slots":
        assert load["samples"] == 0 and load["mean_busy_slots"] is None and load["max_busy_slots"] is None
    else:
        assert load["samples"] >= 4 and 1 < load["mean_busy_slots"] < 2 and load["max_busy_slots"] == 2
        assert load["slots"] == 2


def test_joining_a_busy_kept_server_says_so_and_a_trial_records_the_load(tmp_path, reference_run, tmp_path_factory):
    from support.workdirs import REF_SETTINGS, copy_workdir

    cfg = fake_server(tmp_path, "ok")
    kept = localserver.server_for(cfg, 2).start(say=lambda line: None)
    try:
        localserver.keep(cfg, kept)
        (tmp_path / "busy").write_text("1")
        said = []
        with localserver.serving(cfg, ["local"], say=said.append):
            pass
        assert "1 of its 2 slot(s) already busy with other commands' calls" in said[-1] and len(said) == 2
        with localserver.serving(cfg, ["local"], slots=3, say=said.append):
            pass
        assert "its 2 slot(s) serve 3 trials at once" in said[-2] and "hepmini serve --slots 3" in said[-2]
        work = copy_workdir(reference_run, tmp_path_factory, "busy-server")
        sets = [a for k, v in {**REF_SETTINGS, "local_server": cfg.local_server, "local_model": cfg.local_model,
                                "cache_dir": cfg.cache_dir}.items() for a in ("--set", f"{k}={v}")]
        proc = run_cli("agent", "step1", "--model", "local", "--workdir", work, "--out", tmp_path / "t", *sets)
        (result,) = [json.loads(p.read_text()) for p in (tmp_path / "t").rglob("result.json")]
        assert result["status"] == "format_error", proc.stderr[-2000:]      # the fake only ever says "pong"
        compute = result["compute"]
        assert compute["local_server_load"]["mean_busy_slots"] == 1.0 and compute["local_server_load"]["slots"] == 2
        assert compute["local_server_cpu_seconds"] >= 0 and compute["wall_seconds"] > 0
    finally:
        kept.stop()
