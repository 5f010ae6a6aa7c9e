"""The attack range: every attack is the coder's reply of a real trial, served by a loopback OpenAI fake.

`range_` (conftest.py, one per session) holds a copied reference workdir, the fake with a planted API key (also in
the harness's own environment, so an attack that could read the harness would find it), and
`deliver(code, ...)`, which runs `run_trial` exactly as `hepmini agent` does (the real provider
client, the real loop, sandbox, copy-out and validation) with the supervisor answering "go" and
"VERDICT: ACCEPT". `evidence(attack)` checks what every attack must leave behind, whatever it did:
the code exactly as sent, the log, the trace with every event, the run's logs, result.json, no link
and nothing not the harness's in the trial directory, and the key nowhere (not in a file, not in a
request to the model).
"""

import base64
import dataclasses
import json
import os
import stat
import textwrap
import uuid
from pathlib import Path

from support.fakes import OpenAIFake, Resp, openai_completion
from support.workdirs import REF_SETTINGS, run_cli, work_config

from hepmini import layout
from hepmini.agent import loop
from hepmini.agent.trial import FINAL, chained_sources, new_trial_dir, run_trial

KEY = "sk-attack-PLANTED-" + "5e1f" * 8
MODEL = "openai:gpt-4.1"
RETURNED = "gpt-4.1-2025-04-14"
GO = "## Worker Prompt\nDo the task as described.\n## Call record:\nasked the coder\n"
ACCEPT = "VERDICT: ACCEPT\nThe run looks complete."
REVISE = "VERDICT: REVISE\n## Worker Prompt\nTry once more.\n## Call record:\nasked again\n"
SETS = [a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")]
ROOT = os.geteuid() == 0


@dataclasses.dataclass
class Attack:
    """One delivered attack: the trial's result, its directory, the code sent and the requests it caused."""

    r: dict
    dir: Path
    codes: list
    requests: list

    def out(self, n: int = 0) -> dict:
        """The JSON the n-th run printed last (attacks report what each attempt got)."""
        text = (self.dir / self.r["executions"][n]["stdout_log"]).read_text()
        return json.loads(text.strip().splitlines()[-1])

    def run(self, n: int = 0) -> dict:
        return self.r["executions"][n]


class Range:
    """A workdir, a fake model endpoint and the way to deliver code through the agent."""

    def __init__(self, work: Path, fake: OpenAIFake):
        self.work, self.fake = work, fake
        self.env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url + "/v1"}
        self.cfg = work_config(work, self.env)

    def replies(self, codes, reviews=None) -> list:
        reviews = reviews or [REVISE] * (len(codes) - 1) + [ACCEPT]
        fenced = [f"```python\n{c}```" for c in codes]
        return [GO] + [x for pair in zip(fenced, reviews) for x in pair]

    def deliver(self, *codes, step="step5", runs=None, sources=None, inputs_mode="reference", limits=None,
                reviews=None, **settings) -> Attack:
        """Run one trial whose coder answers `codes` (one per attempt) through the real agent path."""
        codes = [textwrap.dedent(c).lstrip("\n") for c in codes]
        step = layout.get(step)
        runs = runs or self.work / "agent" / f"attack-{uuid.uuid4().hex[:8]}"
        sources = sources or {rel: self.cfg.solution_dir for rel in step.INPUTS}
        first = len(self.fake.requests)
        with self.fake.lock:
            self.fake.scripted.clear()
        replies = self.replies(codes, reviews)
        self.fake.script(*[Resp(200, openai_completion(t, RETURNED, reasoning=0)) for t in replies])
        s = loop.Settings(supervisor=MODEL, coder=MODEL, max_iterations=len(codes), **settings)
        n, directory = new_trial_dir(runs, step)
        r = run_trial(self.cfg, step, s, directory, sources=sources, index=n, inputs_mode=inputs_mode,
                      hide=[runs], limits=limits)
        with self.fake.lock:
            self.fake.scripted.clear()
        return Attack(r, Path(r["trial_dir"]), codes, self.fake.requests[first:])

    def chained(self, runs: Path, step: str):
        return chained_sources(runs, layout.get(step))

    def cli(self, *args):
        return run_cli(*args, "--workdir", self.work, *SETS, env=self.env, timeout=300)


def unseen(path, a: Attack):
    """What the run may see of `path`: nothing, or, for a directory on the way to its own scratch, that way only."""
    path, trial = Path(path), a.dir
    if trial != path and str(trial).startswith(str(path).rstrip("/") + "/"):
        return [trial.relative_to(path).parts[0]]
    return "FileNotFoundError"


def untouched(victim: Path) -> bool:
    return victim.read_text() == "untouched\n" and sorted(p.name for p in victim.parent.iterdir()) == ["secret.txt"]


def evidence(a: Attack) -> None:
    """What every trial must leave, whatever its code did."""
    d, r = a.dir, a.r
    on_disk = json.loads((d / "result.json").read_text())
    assert on_disk["status"] == r["status"] in FINAL and on_disk["ended"], r["status"]
    step = layout.get(r["step"])
    for i, code in enumerate(a.codes[:len(r["executions"])], 1):
        script = d / "generated_code" / f"{step.NAME}_{step.TITLE}_attempt{i}.py"
        assert stat.S_ISREG(os.lstat(script).st_mode) and script.read_text() == code, f"attempt {i} altered"
    log = (d / "comprehensive.log").read_text()
    assert all(code.rstrip() in log for code in a.codes[:len(r["executions"])])
    assert "FINAL SUMMARY" in log and f"Final Status: {r['status'].upper()}" in log
    events = [json.loads(line)["event"] for line in (d / "trace.jsonl").read_text().splitlines()]
    assert events[0] == "start" and events[-1] == "end" and "stop" in events
    assert events.count("execution") == len(r["executions"]) == events.count("code")
    assert events.count("call") == r["api_calls"] == len(a.requests)
    for run in r["executions"]:
        for name in ("stdout_log", "stderr_log"):
            assert stat.S_ISREG(os.lstat(d / run[name]).st_mode)
    for path in [d, *d.rglob("*")]:  # the harness's territory: its own, regular files and directories only
        st = os.lstat(path)
        assert st.st_uid == os.geteuid() and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)), path
        assert not (stat.S_ISREG(st.st_mode) and KEY.encode() in path.read_bytes()), f"the key is in {path}"
    sent = b"".join(req.raw for req in a.requests)
    assert KEY.encode() not in sent and base64.b64encode(KEY.encode()) not in sent
