"""Campaigns: kill and resume, rate-limit storms, the hard budget, broken cell dirs, locks, cells and specs."""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.workdirs import REF_SETTINGS, ROOT_DIR, copy_workdir, run_cli, work_config
from support.fakes import OPENAI_429_TPM, OPENAI_500, FakeClock, OpenAIFake, Resp, loopback_session, openai_completion

from hepmini.bench import campaign, specs
from hepmini.bench import store
from hepmini.llm.client import client_for
from hepmini.bench import pacing
from hepmini.agent import standins
from hepmini.errors import QuotaExceeded
from hepmini.agent.standins import Replay

SETS = [a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")]
KEY = "sk-test-bench-0000"


@pytest.fixture(scope="module")
def work(reference_run, tmp_path_factory):
    return copy_workdir(reference_run, tmp_path_factory, "bench")


make_cfg = work_config


def make_spec(cfg, out, models, steps="step5", trials=1, budget=None):
    args = SimpleNamespace(models=models, steps=steps, trials=trials, max_iterations=None, budget=budget, workdir=None)
    return specs.spec_from_args(cfg, args, Path(out))[1]


class Factory:
    """Scripted clients per cell: worker prompt, one script, ACCEPT; each reply costs `cost` (None: unknown)."""

    def __init__(self, cost=0.25, code="print('hello')"):
        self.cost, self.code, self.made = cost, code, []

    def __call__(self, model, step, k):
        cost = None if model.endswith("unpriced") else self.cost
        def reply(text):
            return {"text": text, "cost": cost, "usage": {"input": 100, "output": 20}}
        sup = Replay([reply("## Worker Prompt\ngo\n## Call record:\nasked\n"), reply("VERDICT: ACCEPT")], model)
        coder = Replay([reply(f"```python\n{self.code}\n```")], model)
        self.made.append((model, step, k))
        return sup, coder


def cells_on_disk(out):
    """{(model slug, step, k): result} of every final cell; and the names of the dirs moved aside."""
    final, aside = {}, []
    for path in sorted((Path(out) / "cells").glob("*/*/trial-*")):
        if "." in path.name:
            aside.append(path.name.split("-", 1)[1].split(".", 1)[1].split("-")[0])
            continue
        state, _, result = store.cell_state(path)
        if state == "final":
            final[(path.parent.parent.name, path.parent.name, int(path.name[6:]))] = result
    return final, aside


def outcome(out):
    """What must not depend on interruptions: per cell, status, validation, API calls, calls traced."""
    records, problems = store.load_trials(out)
    assert problems == []
    calls = {r["cell"]: sum(1 for line in (Path(r["path"]) / "trace.jsonl").read_text().splitlines()
                            if json.loads(line)["event"] == "call") for r in records}
    return {(r["cell"], r["model"], r["step"], r["trial"], r["status"], (r["validation"] or {}).get("passed"),
             r["api_calls"], calls[r["cell"]]) for r in records}


# ---- kill -9 and resume; a second campaign on the same DIR ------------------------------------------


def test_a_killed_campaign_resumes_to_the_same_result_without_running_a_cell_twice(work, tmp_path):
    args = ["bench", "--models", "scripted:oracle,scripted:faults", "--steps", "step1,step5", "--trials", "2",
            "-j", "2", "--workdir", work, *SETS]
    out, clean = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONPATH": str(ROOT_DIR)}
    proc = subprocess.Popen([sys.executable, "-m", "hepmini", *map(str, args), "--out", str(out)], cwd=ROOT_DIR,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while store.Lock(out / "campaign.lock").holder() != str(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        # A second campaign on the same DIR, while the first runs: refused in one line naming the holder.
        second = run_cli(*args, "--out", out)
        assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
        assert f"in use by another campaign (pid {proc.pid}" in second.stderr
        while len(cells_on_disk(out)[0]) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before, _ = cells_on_disk(out)
    assert 2 <= len(before) < 8, "the kill must land mid-campaign"
    snapshot = {key: (r["started"], r["ended"]) for key, r in before.items()}
    _, problems = store.load_trials(out)
    assert all("killed mid-run" in p or "no result.json" in p for p in problems), problems

    resumed = run_cli(*args, "--out", out)
    assert resumed.returncode == 0, resumed.stderr
    after, aside = cells_on_disk(out)
    assert len(after) == 8 and {k: (r["started"], r["ended"]) for k, r in after.items() if k in before} == snapshot
    assert len(aside) <= 2 and set(aside) <= {"killed", "partial"}   # at most the cells in flight (-j 2)
    assert f"({8 - len(before)} run now)" in resumed.stdout
    resume = re.search(r"resume: (\d+) cell\(s\) finished before \(skipped\), (\d+) cleared and re-run.*, (\d+) new",
                       resumed.stdout)
    assert resume and int(resume[1]) == len(before) and int(resume[2]) == len(aside), resumed.stdout
    assert int(resume[2]) + int(resume[3]) == 8 - len(before)

    assert run_cli(*args, "--out", clean).returncode == 0
    assert outcome(out) == outcome(clean)
    again = run_cli(*args, "--out", out)  # finished: nothing runs, nothing is paid twice
    assert again.returncode == 0 and "(0 run now)" in again.stdout and cells_on_disk(out)[0] == after
    assert "resume: 8 cell(s) finished before (skipped), 0 cleared and re-run, 0 new" in again.stdout


def test_a_held_campaign_lock_refuses_a_second_campaign_in_one_line(work, tmp_path):
    out = tmp_path / "c"
    out.mkdir()
    with store.Lock(out / "campaign.lock") as lock:
        assert lock.acquire()
        proc = run_cli("bench", "--models", "scripted:oracle", "--steps", "step5", "--out", out, "--workdir", work,
                       *SETS)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"hepmini: error: {out} is in use by another campaign (pid {os.getpid()}")
    assert not (out / "campaign.json").exists()


# ---- providers: rate-limit storms and 5xx, quota -------------------------------------------------------


class OracleFake(OpenAIFake):
    """An OpenAI-compatible loopback server that answers as scripted:oracle, unless a storm is scripted."""

    def default(self, seen):
        text = standins.ScriptedModel("scripted:oracle").complete(seen.body["messages"]).text
        return Resp(200, openai_completion(text, "gpt-4.1-2025-04-14", reasoning=0))


def test_429_storms_and_5xx_end_infrastructure_or_succeed_never_failed(work, tmp_path):
    out = tmp_path / "storm"
    with OracleFake(key=KEY) as fake:
        ok = fake.default
        # 7 429s in a row: more than two callers with max_retries=2 can absorb; then 5xx blips they can.
        storm = [Resp(429, OPENAI_429_TPM, headers={"retry-after-ms": "5"})] * 7
        fake.script(ok, ok, ok, *storm, ok, ok, ok, Resp(500, OPENAI_500), ok, ok, ok,
                    Resp(502, "<html>Bad Gateway</html>", content_type="text/html"))
        cfg = make_cfg(work, {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url + "/v1"}, max_retries=2,
                       provider_backoff=0.05)
        clock, clients = FakeClock(), []

        def factory(model, step, k):
            clients.append(client_for(model, cfg, session=loopback_session(), sleep=clock.sleep))
            return clients[-1], clients[-1]

        spec = make_spec(cfg, out, "openai:gpt-4.1", "step5", trials=6)
        stream = io.StringIO()
        summary = campaign.run_campaign(cfg, spec, out, jobs=2, clients_factory=factory, stream=stream)
        records = store.load_trials(out)[0]
        assert {r["status"] for r in records} == {"success", "infrastructure"} and len(records) == 6
        infra = [r for r in records if r["status"] == "infrastructure"]
        assert infra[0]["reason"].startswith("RateLimited: openai: HTTP 429")
        assert all(r["reason"].startswith(("RateLimited:", "ServerError:")) for r in infra)
        assert summary["counted"] == 6 - len(infra) == summary["passed"]      # infrastructure is not a failure
        for r in infra:   # every infrastructure trial says why, as it ends and in the summary
            said = [ln for ln in stream.getvalue().splitlines() if f"step5 trial {r['trial']}: infrastructure" in ln]
            assert len(said) == 1 and f"infrastructure - {r['reason'][:300]} | " in said[0], said
            assert f"openai:gpt-4.1 step5 trial {r['trial']}: infrastructure - {r['reason'][:300]}" in \
                summary["not_the_model"]
        assert len(summary["not_the_model"]) == len(infra)
        assert clock.sleeps and "openai: backing off: RateLimited" in stream.getvalue()
        events = [json.loads(line) for line in (out / "campaign.jsonl").read_text().splitlines()]
        assert any(e["event"] == "provider" and e["change"].startswith("backing off") for e in events)
        # gpt-4.1 has no price: every trial that got an answer spent an unknown amount
        assert summary["unknown_priced_trials"] == sum(r["api_calls"] > 0 for r in records) >= 6 - len(infra)
        assert "+unknown" in stream.getvalue()

        # the storm is over: what the first run left of the script (how much depends on the interleaving) goes
        with fake.lock:
            fake.scripted.clear()
        again = campaign.run_campaign(cfg, spec, out, jobs=2, clients_factory=factory, retry_infrastructure=True,
                                   stream=io.StringIO())
        for client in clients:
            client.close()
    assert again["ran"] == len(infra) and again["statuses"] == {"success": 6}
    assert sorted(cells_on_disk(out)[1]) == ["infrastructure"] * len(infra)


def test_an_exhausted_quota_stops_the_provider_and_leaves_its_cells_for_later(work, tmp_path):
    out, cfg = tmp_path / "quota", make_cfg(work)
    made = []

    def factory(model, step, k):
        made.append(k)
        error = QuotaExceeded("fake: HTTP 429 insufficient_quota - add credit", provider="fake", status=429)
        return Replay([error], model), Replay([], model)

    summary = campaign.run_campaign(cfg, make_spec(cfg, out, "fake:m", trials=4), out, jobs=1, clients_factory=factory,
                                 stream=io.StringIO())
    assert made == [1] and summary["statuses"] == {"infrastructure": 1} and summary["not_started_provider"] == 3
    assert summary["providers_stopped"]["fake"].startswith("QuotaExceeded")


def test_a_harness_error_is_counted_apart_and_the_cell_rerun(work, tmp_path):
    out, cfg = tmp_path / "harness", make_cfg(work)

    def broken(model, step, k):  # the coder stand-in has no reply: a RuntimeError inside the harness
        return Replay(["## Worker Prompt\ngo\n## Call record:\nasked\n"], model), Replay([], model)

    spec = make_spec(cfg, out, "fake:m", trials=1)
    s = campaign.run_campaign(cfg, spec, out, clients_factory=broken, stream=io.StringIO())
    assert (s["harness_errors"], s["finished"], s["statuses"]) == (1, 0, {})
    assert "harness error: RuntimeError" in store.load_trials(out)[1][0]
    s = campaign.run_campaign(cfg, spec, out, clients_factory=Factory(), stream=io.StringIO())
    assert (s["ran"], s["finished"], s["harness_errors"]) == (1, 1, 0) and cells_on_disk(out)[1] == ["error"]


def test_provider_caps_halve_on_rate_limits_and_recover_one_at_a_time():
    p = pacing.Provider(cap=4, max_cap=4, base_pause=10)
    def infrastructure(kind, retryable):
        return {"status": "infrastructure", "reason": f"{kind}: x", "error": {"kind": kind, "retryable": retryable}}

    assert "at most 2 at once, paused 10 s" in p.outcome(infrastructure("RateLimited", True), 0)
    assert not p.ready(5) and p.ready(10)
    p.outcome(infrastructure("ServerError", True), 10)
    assert (p.cap, p.paused_until) == (1, 30)
    p.outcome({"status": "success"}, 31)
    p.outcome(infrastructure("SandboxError", False), 31)  # not the provider's doing
    assert "stopped" in p.outcome({"status": "infrastructure", "reason": "RateLimited: it says so",
                                   "error": {"kind": "QuotaExceeded"}}, 32)   # the field decides, not the text
    assert (p.cap, p.pause) == (3, 0)


# ---- the budget ----------------------------------------------------------------------------------------


def test_no_trial_starts_once_the_budget_would_pass_and_unknown_spend_is_reported(work, tmp_path):
    out, cfg, factory = tmp_path / "budget", make_cfg(work), Factory(cost=0.25)   # 3 calls: $0.75 a trial
    stream = io.StringIO()
    s = campaign.run_campaign(cfg, make_spec(cfg, out, "fake:priced", trials=4, budget=2.0), out, jobs=2,
                           clients_factory=factory, stream=stream)
    # Two start at once with no estimate yet; once one ends, the one in flight counts $0.75: a third would pass $2.
    assert (s["ran"], s["not_started_budget"], s["spend_known"]) == (2, 2, 1.5)
    assert sorted(k for _, _, k in factory.made) == [1, 2] and "spend $1.5000 of $2" in stream.getvalue()
    s = campaign.run_campaign(cfg, make_spec(cfg, out, "fake:priced", trials=4, budget=2.0), out, jobs=1,
                           clients_factory=factory, stream=io.StringIO())
    assert (s["ran"], s["not_started_budget"], len(factory.made)) == (0, 2, 2)       # nothing paid twice
    s = campaign.run_campaign(cfg, make_spec(cfg, out, "fake:priced", trials=4, budget=3.0), out, jobs=1,
                           clients_factory=factory, stream=io.StringIO())
    assert (s["ran"], s["not_started_budget"], s["spend_known"], s["finished"]) == (2, 0, 3.0, 4)

    out = tmp_path / "unknown"
    s = campaign.run_campaign(cfg, make_spec(cfg, out, "fake:priced,fake:unpriced", trials=2, budget=10), out, jobs=2,
                           clients_factory=Factory(cost=0.25), stream=io.StringIO())
    assert (s["spend_known"], s["unknown_priced_trials"], s["unknown_priced_calls"]) == (1.5, 2, 6), (s, [
        (r["model"], r["status"], r.get("reason", "")[:200]) for r in store.load_trials(out)[0]])


@pytest.fixture
def small_disk(tmp_path):
    """A real 1,200 MiB filesystem (tmpfs) under tmp_path; needs root to mount."""
    disk = tmp_path / "small"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200m", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small filesystem needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def test_no_cell_starts_on_a_disk_too_full_for_it_and_the_campaign_resumes_once_there_is_room(work, small_disk):
    """A trial that finds the disk full has paid for its calls and ends `infrastructure`: it is never started."""
    out, cfg, ballast = small_disk / "camp", make_cfg(work), small_disk / "ballast"

    class Filling(Factory):
        def __call__(self, model, step, k):
            with open(ballast, "wb") as f:      # trial 1 leaves less than a cell needs (1 GiB of 1,200 MiB)
                os.posix_fallocate(f.fileno(), 0, 400 * 2**20)
            return super().__call__(model, step, k)

    stream = io.StringIO()
    s = campaign.run_campaign(cfg, make_spec(cfg, out, "fake:priced", trials=3), out, jobs=1,
                              clients_factory=Filling(), stream=stream)
    assert (s["ran"], s["finished"], s["not_started_disk"], s["not_started_budget"]) == (1, 1, 2, 0)
    assert "GiB free on the disk of" in s["disk"] and "run the same command again to resume" in stream.getvalue()
    assert [e["event"] for e in map(json.loads, (out / "campaign.jsonl").read_text().splitlines())
            if e["event"] == "disk_short"] == ["disk_short"]
    ballast.unlink()
    s = campaign.run_campaign(cfg, make_spec(cfg, out, "fake:priced", trials=3), out, jobs=1,
                              clients_factory=Factory(), stream=io.StringIO())
    assert (s["ran"], s["finished"], s["not_started_disk"], s["disk"]) == (2, 3, 0, None)


def test_the_budget_counts_trials_in_flight_and_money_spent_by_cleared_cells():
    b = pacing.Budget(cap=1.0)
    b.add("m", {"cost": {"total": 0.4, "known_part": 0.4, "unknown_calls": 0}})
    assert b.allows("m")
    b.reserved[7] = "m"                                    # one in flight: 0.8 once it ends
    assert not b.allows("m") and b.allows("other")        # no estimate for a model without finished trials
    b.add_spend(0.3, 1)                                    # a killed trial's calls, from its trace
    assert not b.allows("other") and b.unknown_calls == 1


# ---- broken cell dirs ----------------------------------------------------------------------------------


def test_corrupt_partial_and_running_cells_are_reported_skipped_and_rerun(work, tmp_path):
    out, cfg, factory = tmp_path / "broken", make_cfg(work), Factory()
    spec = make_spec(cfg, out, "fake:m", trials=5)
    campaign.run_campaign(cfg, spec, out, jobs=2, clients_factory=factory, stream=io.StringIO())
    cell = {k: store.cell_path(out, "fake:m", "step5", k) for k in range(1, 6)}
    (cell[1] / "result.json").write_text("{garbage")
    (cell[2] / "result.json").unlink()
    running = json.loads((cell[3] / "result.json").read_text())
    (cell[3] / "result.json").write_text(json.dumps({**running, "status": "running"}))
    (cell[5] / "result.json").write_text(json.dumps({"status": "success", "step": "step3"}))
    (out / "cells" / "other__model").mkdir()
    (cell[1].parent / "trial-9").mkdir()

    records, problems = store.load_trials(out)
    assert [(r["trial"], r["cell"], r["model"], r["step"]) for r in records] == [(4, 3, "fake:m", "step5")]
    assert Path(records[0]["path"]) == cell[4] and records[0]["status"] == "failed"
    text = "\n".join(problems)
    assert len(problems) == 6 and "unreadable result.json" in text and "no result.json" in text
    assert "killed mid-run" in text and "not a trial result of step5" in text
    assert "other__model: not a model of this campaign" in text and "outside the matrix (trials = 5)" in text

    with store.Lock(store.lock_path(cell[3])) as held:   # as if another process (a Slurm task) ran it
        held.acquire()
        assert any("trial-3: status running: in flight" in p for p in store.load_trials(out)[1])
        s = campaign.run_campaign(cfg, spec, out, jobs=2, clients_factory=factory, stream=io.StringIO())
    assert (s["ran"], s["busy_elsewhere"], s["finished"]) == (3, 1, 4)
    s = campaign.run_campaign(cfg, spec, out, jobs=2, clients_factory=factory, stream=io.StringIO())
    assert (s["ran"], s["finished"]) == (1, 5) and len(factory.made) == 5 + 4
    records, problems = store.load_trials(out)
    assert [r["trial"] for r in records] == [1, 2, 3, 4, 5] and len(problems) == 2
    assert sorted(cells_on_disk(out)[1]) == ["corrupt", "corrupt", "killed", "partial"]


# ---- cells, Slurm-style, and specs ---------------------------------------------------------------------


def test_list_cells_and_cell_runs_are_idempotent_and_a_different_spec_is_refused(work, tmp_path):
    out = tmp_path / "cells"
    base = ["bench", "--models", "scripted:oracle,scripted:faults", "--steps", "step5,step1", "--trials", "2",
            "--workdir", work, *SETS, "--out", out]
    listed = run_cli(*base, "--list-cells")
    assert listed.returncode == 0 and not out.exists()
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert rows[:3] == [["0", "scripted:oracle", "step5", "1"], ["1", "scripted:oracle", "step5", "2"],
                        ["2", "scripted:oracle", "step1", "1"]] and rows[-1] == ["7", "scripted:faults", "step1", "2"]
    first = run_cli(*base, "--cell", "5")
    assert first.returncode == 0, first.stderr
    done, _ = cells_on_disk(out)
    assert list(done) == [("scripted__faults", "step5", 2)]
    again = run_cli(*base, "--cell", "5")
    assert again.returncode == 0 and "(0 run now)" in again.stdout and cells_on_disk(out)[0] == done
    stored = run_cli("bench", "--out", out, "--list-cells")          # the stored campaign, from DIR alone
    assert stored.stdout == listed.stdout
    assert store.Spec.load(out).settings["scale"] == 0.02

    for change, needle in ((["--steps", "step5"], "steps step5,step1 here, step5 asked"),
                           (["--trials", "1"], "trials 2 here, 1 asked"),
                           (["--set", "seed=12"], "seed 11 here, 12 asked")):
        proc = run_cli(*base, *change, "--cell", "0")
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and needle in proc.stderr, proc.stderr
    proc = run_cli(*base, "--cell", "8")
    assert proc.returncode == 2 and "cells are 0..7" in proc.stderr
    assert cells_on_disk(out)[0] == done


def test_more_trials_may_be_asked_and_campaign_json_follows(work, tmp_path):
    out, cfg, factory = tmp_path / "grow", make_cfg(work), Factory()
    campaign.run_campaign(cfg, make_spec(cfg, out, "fake:m", trials=1), out, clients_factory=factory, stream=io.StringIO())
    created = store.Spec.load(out).created
    s = campaign.run_campaign(cfg, make_spec(cfg, out, "fake:m", trials=3, budget=5), out, clients_factory=factory,
                           stream=io.StringIO())
    stored = store.Spec.load(out)
    assert (s["ran"], stored.trials, stored.budget, stored.created) == (2, 3, 5, created)
    assert [e["event"] for e in map(json.loads, (out / "campaign.jsonl").read_text().splitlines())] == \
        ["start", "end", "start", "end"]


def test_the_progress_line_rewrites_itself_on_a_terminal_and_prints_lines_otherwise():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    budget = pacing.Budget(cap=None, known=0.5)
    budget.unknown_trials = 1
    for stream in (Tty(), io.StringIO()):
        p = pacing.Progress(total=10, todo=4, stream=stream)
        p.ran = 2
        p.show(p.line(done=8, passed=5, counted=7, budget=budget, running=2), "m step5 trial 1: success")
        p.close()
        assert "8/10 done, passed 5/7, spend $0.5000+unknown, 2 running, ETA" in stream.getvalue()
    assert stream.getvalue().startswith("bench: m step5 trial 1: success | ") and "\r" not in stream.getvalue()


# ---- errors up front, in one line, before anything is written --------------------------------------------


def run_readonly(readonly, *args):
    """`python -m hepmini ARGS` with the `readonly` directories read-only: a read-only bind mount in a mount
    namespace when run as root (root writes through permission bits), chmod 555 otherwise."""
    if os.geteuid() != 0:
        for d in readonly:
            d.chmod(0o555)
        try:
            return run_cli(*args)
        finally:
            for d in readonly:
                d.chmod(0o755)
    binds = " && ".join(f"mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}'" for d in readonly)
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"{binds} && ! touch '{readonly[0]}/.probe'"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no read-only bind mount here: {probe.stderr.strip()[:200]}")
    env = {**os.environ, "PYTHONPATH": str(ROOT_DIR)}
    return subprocess.run(["unshare", "-m", "sh", "-c", f'{binds} && exec "$@"', "sh", sys.executable, "-m",
                           "hepmini", *map(str, args)], cwd=ROOT_DIR, env=env, capture_output=True, text=True,
                          timeout=600)


def one_error_line(proc, *needles, code=2):
    """The command failed with `code` and said so in exactly one line holding every needle, no traceback."""
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("hepmini: error: ")]
    assert proc.returncode == code and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert all(n in errors[0] for n in needles), errors[0]
    return errors[0]


def listing(root):
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns, p.stat().st_size) for p in Path(root).rglob("*"))


def test_read_only_out_workdir_and_campaign_are_one_line_errors(work, faults_campaign, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    args = ["bench", "--models", "scripted:oracle", "--steps", "step5", *SETS]
    proc = run_readonly([ro], *args, "--out", ro / "c", "--workdir", work)
    one_error_line(proc, f"{ro / 'c'} is not writable", "pass --out with a directory you can write")
    proc = run_readonly([ro], *args, "--out", tmp_path / "c", "--workdir", ro / "w")
    one_error_line(proc, f"{ro / 'w'} is not writable", "--workdir")
    assert list(ro.iterdir()) == [] and not (tmp_path / "c").exists()    # nothing written anywhere

    camp = tmp_path / "campaign"
    shutil.copytree(faults_campaign, camp)
    for p in [*camp.glob("report.html"), *camp.rglob("classification.json")]:
        p.unlink()                                     # the report would classify and write into the trials
    before = listing(camp)
    proc = run_readonly([camp], "report", camp)
    one_error_line(proc, f"cannot write the report into {camp}", "--out")
    proc = run_readonly([camp], "report", camp, "--out", tmp_path / "report")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report" / "report.html").is_file() and listing(camp) == before


def test_a_failed_reference_build_leaves_no_campaign_and_the_fixed_rerun_runs(small_data, tmp_path):
    data, out = tmp_path / "data", tmp_path / "c"
    shutil.copytree(small_data, data)
    victim = data / "GamGam/Data/data_B.GamGam.root"
    raw = victim.read_bytes()
    victim.write_bytes(raw[: len(raw) - 100])
    args = ["bench", "--models", "scripted:oracle", "--steps", "step1", "--out", out, "--workdir", tmp_path / "w",
            "--set", "classifier=hgb"]
    one_error_line(run_cli(*args, "--data-dir", tmp_path / "nowhere"), "nowhere does not exist")
    proc = run_cli(*args, "--data-dir", data)
    one_error_line(proc, "data_B.GamGam.root: truncated", code=1)
    assert not (out / "campaign.json").exists() and not list(out.glob("cells"))
    victim.write_bytes(raw)                           # fixed: the same command now runs, nothing refuses it
    proc = run_cli(*args, "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    assert store.Spec.load(out).settings["data_dir"] == str(data) and "1/1 cell(s) finished" in proc.stdout


def test_stand_in_faults_are_refused_before_anything_is_built(tmp_path):
    for model, steps, needle in (("scripted:faults:nonsense", "step1", "unknown fault 'nonsense'"),
                                 ("scripted:faults:wrong_branch", "step1,step5",
                                  "fault wrong_branch cannot be injected into step1, step5 (only into step2)")):
        proc = run_cli("bench", "--models", f"scripted:oracle,{model}", "--steps", steps, "--out", tmp_path / "c",
                       "--workdir", tmp_path / "w")
        one_error_line(proc, needle)
        assert not (tmp_path / "c").exists() and not (tmp_path / "w").exists()


def test_report_of_a_campaign_whose_every_result_is_corrupt_fails_in_one_line(work, tmp_path):
    out, cfg = tmp_path / "corrupt", make_cfg(work)
    campaign.run_campaign(cfg, make_spec(cfg, out, "fake:m", trials=2), out, clients_factory=Factory(),
                          stream=io.StringIO())
    for k in (1, 2):
        (store.cell_path(out, "fake:m", "step5", k) / "result.json").write_text("{garbage")
    proc = run_cli("report", out)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "no finished trial" in proc.stderr and proc.stdout.count("unreadable result.json") == 2


# ---- what the console says: resume counts, reasons, --dry-run ------------------------------------------


def test_dry_run_lists_the_cells_and_estimates_their_cost_writing_nothing(work, tmp_path):
    from hepmini.llm import prices

    out, cfg = tmp_path / "dry", make_cfg(work)
    campaign.run_campaign(cfg, make_spec(cfg, out, "openai:gpt-4.1", trials=2), out, clients_factory=Factory(0.25),
                          stream=io.StringIO())             # gpt-4.1 has no price in the table, its trials do
    campaign.run_campaign(cfg, make_spec(cfg, out, "openai:gpt-4.1,openai:gpt-5-mini", trials=2), out,
                          clients_factory=Factory(None), stream=io.StringIO())    # priced model, unpriced trials
    (store.cell_path(out, "openai:gpt-5-mini", "step5", 2) / "result.json").write_text("{garbage")
    before = listing(out)
    proc = run_cli("bench", "--out", out, "--models", "openai:gpt-4.1,openai:gpt-5-mini,ollama:qwen3:8b,scripted:oracle",
                   "--trials", "3", "--dry-run", env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 0, proc.stderr
    assert listing(out) == before                          # nothing written, nothing run
    text = proc.stdout
    assert "resume: 3 cell(s) finished before (skipped), 1 to clear and re-run (1 corrupt), 8 never run" in text
    assert "would run 9 cell(s):" in text
    assert "\topenai:gpt-5-mini\tstep5\ttrial 2\t(to clear (corrupt) and re-run)" in text
    assert "\tollama:qwen3:8b\tstep5\ttrial 3\t(never run)" in text
    tokens = json.loads((store.cell_path(out, "openai:gpt-5-mini", "step5", 1) / "result.json").read_text())["tokens"]
    usage = SimpleNamespace(input=tokens["input"], output=tokens["output"], cached_input=0, cache_write=0, reported=True)
    per_trial = prices.cost(prices.PRICES["openai:gpt-5-mini"], usage)
    assert "  openai:gpt-4.1: 1 cell(s), ~$0.7500 (mean cost of 2 finished step5 trials)" in text
    assert f"  openai:gpt-5-mini: 2 cell(s), ~${2 * per_trial:.4f} (price x mean tokens of 1 finished step5" in text
    assert "  ollama:qwen3:8b: 3 cell(s), unknown (no known price and no priced trial)" in text
    assert "  scripted:oracle: 3 cell(s), $0 (scripted stand-in, no cost)" in text
    assert f"estimated cost: ~${0.75 + 2 * per_trial:.4f} + unknown for 3 cell(s)" in text
