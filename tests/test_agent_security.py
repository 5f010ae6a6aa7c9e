"""Hostile generated code, end to end through the agent: contained, and reported in result.json.

The sandbox's own tests cover fork bombs, 50 GB allocations, 1 GB of output and detached grandchildren
run by run_python, and tests/attacks/ holds the attack suite; these cases go through the whole trial.
"""

import json
import os
import shutil
import socket
import textwrap
from pathlib import Path

import pytest

from hepmini import config
from hepmini.agent import loop
from hepmini import layout
from hepmini.files import sha256_file
from hepmini.agent.standins import Replay
from hepmini.agent.trial import new_trial_dir, run_trial

REF_SETTINGS = {"scale": 0.02, "classifier": "hgb", "seed": 11}
KEY = "sk-test-security-PLANTED-4e1d"


@pytest.fixture(scope="module")
def work(reference_run, tmp_path_factory):
    dst = tmp_path_factory.mktemp("security") / "work"
    shutil.copytree(reference_run.parent, dst, symlinks=True)
    return dst


def hostile(work, runs, code, env=None, **settings):
    """A step-5 trial whose coder answers `code` and whose supervisor accepts whatever ran."""
    environ = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **(env or {})}
    cfg = config.resolve({"workdir": work, **REF_SETTINGS}, environ=environ, cwd=work)
    step = layout.get("step5")
    n, directory = new_trial_dir(runs, step)
    clients = (Replay(["## Worker Prompt\nDo it.\n## Call record:\nasked\n", "VERDICT: ACCEPT"]),
               Replay([f"```python\n{textwrap.dedent(code)}```"]))
    s = loop.Settings(supervisor="scripted:replay", coder="scripted:replay", **settings)
    r = run_trial(cfg, step, s, directory, sources={rel: cfg.solution_dir for rel in step.INPUTS},
                        index=n, clients=clients)
    return r, Path(r["trial_dir"])


def stdout(trial_dir, r):
    return (trial_dir / r["executions"][0]["stdout_log"]).read_text()


def test_keys_in_the_environment_never_reach_the_code_or_any_record(work, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:{KEY}@proxy.invalid:3128")
    r, trial_dir = hostile(work, tmp_path, """
        import json, os
        print(json.dumps(dict(os.environ)))
        for path in (f"/proc/{os.getppid()}/environ", "/proc/1/environ", os.path.expanduser("~/.netrc")):
            try:
                print(path, open(path, "rb").read()[:200])
            except OSError as exc:
                print(path, type(exc).__name__)
        """, env={"OPENAI_API_KEY": KEY, "HTTPS_PROXY": f"http://user:{KEY}@proxy.invalid:3128"})
    env = json.loads(stdout(trial_dir, r).splitlines()[0])
    assert "OPENAI_API_KEY" not in env and "HTTPS_PROXY" not in env
    assert env["HOME"].startswith(str(trial_dir)) and r["executions"][0]["returncode"] == 0
    assert "OPENAI_API_KEY" not in r["executions"][0]["env_keys"]
    leaked = [p for p in trial_dir.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaked == []


def test_writing_outside_the_trial_fails_and_nothing_outside_changes(work, tmp_path):
    other = tmp_path / "step5_categorize" / "trial-999"  # a sibling trial
    other.mkdir(parents=True)
    (other / "result.json").write_text("{}")
    targets = [work / "solution" / "arrays" / "boundaries.npy", work / "data" / layout.rules().DATA_FILES[0],
               Path(layout.PACKAGE_DIR) / "__init__.py", other / "result.json"]
    before = {p: sha256_file(p) for p in targets}
    r, trial_dir = hostile(work, tmp_path, f"""
        import json, os
        out = {{}}
        for path in {[str(p) for p in targets]!r} + ["/tmp/hepmini-escape.txt"]:
            try:
                with open(path, "ab") as fh:
                    fh.write(b"x")
                out[path] = "written"
            except OSError as exc:
                out[path] = type(exc).__name__
        for path in ({str(work / "solution")!r}, {str(layout.tree_dir("reference"))!r}):
            out["list " + path] = os.listdir(path) if os.path.isdir(path) else "absent"
        print(json.dumps(out))
        os.remove("inputs/arrays/signal.npy")  # crashes: the inputs are read-only
        """)
    if not r["executions"][0]["isolation"]["mountns"]:
        pytest.skip(f"no mount namespace here: {r['executions'][0]['isolation'].get('namespaces_reason')}")
    out = json.loads(stdout(trial_dir, r))
    assert "written" not in out.values(), out
    assert all(v in ([], "absent") for k, v in out.items() if k.startswith("list ")), out
    assert {p: sha256_file(p) for p in targets} == before and not Path("/tmp/hepmini-escape.txt").exists()
    run = r["executions"][0]
    assert run["returncode"] == 1 and run["tampered"] == [] and r["status"] == "failed"
    assert "Read-only file system" in (trial_dir / run["stderr_log"]).read_text()
    assert str(work / "solution") in run["isolation"]["hidden"]
    assert any(p.endswith("/inputs") for p in run["isolation"]["readonly"])


def test_an_output_linking_to_the_reference_answer_is_tampering(work, tmp_path):
    answer = work / "solution" / "arrays"
    r, trial_dir = hostile(work, tmp_path, f"""
        import os
        os.makedirs("outputs/arrays")
        for name in ("boundaries.npy", "significances.npy"):
            os.symlink("{answer}/" + name, "outputs/arrays/" + name)  # dangling inside, the answer outside
        """)
    # a link among the outputs ends the loop at once; the harness's copy holds no link, so nothing validates
    assert r["status"] == "tampered" and r["stop"] == "tampered" and r["api_calls"] == 2
    assert r["security"]["tampered"] == [f"outputs/arrays/{n} (symbolic link -> {answer}/{n})"
                                         for n in ("boundaries.npy", "significances.npy")]
    assert not r["validation"]["passed"]
    assert list((trial_dir / "outputs").rglob("*")) == [trial_dir / "outputs" / "arrays"]
    assert "Final Status: TAMPERED" in (trial_dir / "comprehensive.log").read_text()


def test_sleeping_forever_is_killed_at_the_execution_timeout(work, tmp_path):
    r, trial_dir = hostile(work, tmp_path, """
        import time
        print("sleeping", flush=True)
        time.sleep(10**6)
        """, exec_timeout=1.5)
    run = r["executions"][0]
    assert (run["killed_reason"], run["timed_out"], run["signal"]) == ("wall-clock timeout", True, "SIGKILL")
    assert run["isolation"]["leftover_pids"] == [] and 1.2 <= run["seconds"] < 5
    assert r["status"] == "failed" and "killed: wall-clock timeout" in (trial_dir / "comprehensive.log").read_text()


def test_a_socket_reaches_nothing(work, tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        r, trial_dir = hostile(work, tmp_path, f"""
            import socket
            for host, port in (("127.0.0.1", {port}), ("203.0.113.1", 80)):
                try:
                    socket.create_connection((host, port), timeout=2).close()
                    print(host, "connected")
                except OSError as exc:
                    print(host, type(exc).__name__)
            """)
    run = r["executions"][0]
    if not run["isolation"]["netns"]:
        pytest.skip("no network namespace on this machine")
    assert "connected" not in stdout(trial_dir, r) and run["returncode"] == 0


def test_a_harness_bug_ends_its_trial_with_the_traceback_and_the_next_trial_runs(work, tmp_path):
    cfg = config.resolve({"workdir": work, **REF_SETTINGS}, environ={"PATH": os.environ["PATH"]}, cwd=work)
    step, s = layout.get("step5"), loop.Settings(supervisor="scripted:replay", coder="scripted:replay")
    go = "## Worker Prompt\nDo it.\n## Call record:\nasked\n"
    results = []
    for coder in (Replay([]), Replay(["```python\nprint('fine')\n```"])):  # the first has no reply: a bug
        n, directory = new_trial_dir(tmp_path, step)
        results.append(run_trial(cfg, step, s, directory, sources={rel: cfg.solution_dir for rel in step.INPUTS},
                                 index=n, clients=(Replay([go, "VERDICT: ACCEPT"]), coder)))
    bug, after = results
    assert (bug["status"], bug["stop"], bug["error"]["kind"]) == ("harness_error", "harness_error", "RuntimeError")
    assert "Traceback (most recent call last)" in bug["error"]["traceback"]
    trial_dir = Path(bug["trial_dir"])
    log = (trial_dir / "comprehensive.log").read_text()
    assert "RuntimeError: Replay: no scripted reply left" in log and "Final Status: HARNESS_ERROR" in log
    events = [json.loads(line)["event"] for line in (trial_dir / "trace.jsonl").read_text().splitlines()]
    assert events[-3:] == ["stop", "harness_error", "end"]
    assert json.loads((trial_dir / "result.json").read_text())["status"] == "harness_error"
    assert after["status"] == "failed" and after["executions"][0]["returncode"] == 0   # the next trial ran


def test_ctrl_c_passes_on_but_the_trial_says_how_it_ended(work, tmp_path):
    cfg = config.resolve({"workdir": work, **REF_SETTINGS}, environ={"PATH": os.environ["PATH"]}, cwd=work)
    step, s = layout.get("step5"), loop.Settings(supervisor="scripted:replay", coder="scripted:replay")
    n, directory = new_trial_dir(tmp_path, step)
    with pytest.raises(KeyboardInterrupt):
        run_trial(cfg, step, s, directory, sources={rel: cfg.solution_dir for rel in step.INPUTS}, index=n,
                  clients=(Replay([KeyboardInterrupt()]), Replay([])))
    r = json.loads((directory / "result.json").read_text())
    assert (r["status"], r["error"]["kind"]) == ("harness_error", "KeyboardInterrupt") and r["ended"]


def test_an_input_that_is_a_link_or_missing_skips_the_trial(work, tmp_path):
    cfg = config.resolve({"workdir": work, **REF_SETTINGS}, environ={"PATH": os.environ["PATH"]}, cwd=work)
    step, s = layout.get("step5"), loop.Settings(supervisor="scripted:replay", coder="scripted:replay")
    previous = tmp_path / "previous" / "outputs"   # a chained source whose outputs hold a link, not a file
    (previous / "arrays").mkdir(parents=True)
    for rel in step.INPUTS:
        os.symlink(cfg.solution_dir / rel, previous / rel)
    n, directory = new_trial_dir(tmp_path / "runs", step)
    r = run_trial(cfg, step, s, directory, sources={rel: previous for rel in step.INPUTS}, index=n,
                  inputs_mode="chained", clients=(Replay([]), Replay([])))
    assert r["status"] == "skipped" and "missing from the agent's earlier steps" in r["reason"]
    assert sorted(p.name for p in directory.iterdir()) == ["result.json"]


def test_data_files_linked_from_elsewhere_reach_the_run_read_only(work, tmp_path):
    linked = tmp_path / "linked-data"   # a data directory of links into a shared store, as on a cluster
    for rel in layout.rules().ALL_FILES:
        (linked / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(work / "data" / rel, linked / rel)
    cfg = config.resolve({"workdir": work, "data_dir": linked, **REF_SETTINGS}, environ={"PATH": os.environ["PATH"]},
                         cwd=work)
    step, s = layout.get("step1"), loop.Settings(supervisor="scripted:oracle", coder="scripted:oracle")
    n, directory = new_trial_dir(tmp_path / "runs", step)
    r = run_trial(cfg, step, s, directory, sources={}, index=n)
    assert (r["status"], r["validation"]["passed"]) == ("success", True), r["reason"]
    assert str(work / "data" / layout.rules().ALL_FILES[0]) in r["executions"][0]["isolation"]["readonly"]


def test_packages_the_harness_imports_from_pythonpath_are_importable_in_the_run(work, tmp_path, monkeypatch):
    """A site's packages on PYTHONPATH (an LCG view on /cvmfs): the run imports them too, read-only."""
    site_dir = tmp_path / "site-view" / "lib"
    (site_dir / "sitepkg_probe").mkdir(parents=True)
    (site_dir / "sitepkg_probe" / "__init__.py").write_text("VALUE = 'from the site view'\n")
    monkeypatch.syspath_prepend(str(site_dir))
    monkeypatch.syspath_prepend(str(tmp_path / "runs"))          # holds the trial: never exposed to the run
    r, trial_dir = hostile(work, tmp_path / "runs", """
        import os, sys, sitepkg_probe
        print(sitepkg_probe.VALUE)
        print("PYTHONPATH=" + os.environ["PYTHONPATH"])
        try:
            open(sitepkg_probe.__file__, "a").write("x = 1\\n")
            print("site view writable")
        except OSError as exc:
            print("site view read-only:", type(exc).__name__)
        """)
    out = stdout(trial_dir, r)
    assert "from the site view" in out, out + (trial_dir / r["executions"][0]["stderr_log"]).read_text()
    assert "site view writable" not in out and "site view read-only" in out
    run_path = out.split("PYTHONPATH=")[1].split()[0].split(os.pathsep)
    assert str(site_dir) in run_path and not any(p.startswith(str(tmp_path / "runs")) for p in run_path), run_path
