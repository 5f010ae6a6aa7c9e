"""The supervisor-coder loop end to end: real sandbox runs, scripted and loopback models, the paper's log layouts."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.workdirs import REF_SETTINGS, ROOT_DIR, copy_workdir, run_cli, work_config
from support.fakes import OPENAI_500, FakeClock, OpenAIFake, Resp, loopback_session, openai_completion

from hepmini.agent import loop, replies
from hepmini.llm.client import client_for
from hepmini.agent import standins
from hepmini import layout
from hepmini.agent.standins import Replay
from hepmini.llm.base import Reply, Usage
from hepmini.agent.trial import new_trial_dir, run_trial

SETS = [a for k, v in REF_SETTINGS.items() for a in ("--set", f"{k}={v}")]
KEY = "sk-test-agent-PLANTED-7f3a9c"
# Paper App. B.1, in order, for a trial accepted after one iteration.
B1_BANNERS = [
    "==============================================", "COMPREHENSIVE SUPERVISOR-CODER LOG",
    "========= INITIALIZATION =========", "========= LOOP START =========", "========= SUPERVISOR CALL =========",
    "========= TOKEN STATS =========", "========= SUPERVISOR RESPONSE =========",
    "========================= CODER CALL #1 =========================",
    "====================== CODER RESPONSE #1 ======================",
    "=================== CODE EXECUTION #1 ====================",
    "===================== EXECUTION RESULT #1 =====================",
    "================= SUPERVISOR FEEDBACK CALL #1 =================",
    "================ SUPERVISOR FEEDBACK RESPONSE #1 ================",
    "========================= SUCCESS =========================",
    "=================== FINAL STATISTICS ===================", "================ PROCESS COMPLETED ================",
    "========================= END OF LOG =========================", "FINAL SUMMARY"]
SUMMARY_FIELDS = ["Task", "Supervisor", "Coder", "Total Iterations", "Start Time", "End Time", "Duration",
                  "Total API Calls", "Total Input Tokens", "Total Output Tokens", "User Prompt Tokens",
                  "Supervisor to Coder Tokens", "Coder Output Tokens", "Feedback to Supervisor Tokens", "Final Status"]


@pytest.fixture(scope="module")
def work(reference_run, tmp_path_factory):
    return copy_workdir(reference_run, tmp_path_factory, "agent")


make_cfg = work_config


def trial(cfg, step_name, runs, model="scripted:oracle", clients=None, **settings):
    """One trial of `step_name` on the reference inputs, in-process (the code still runs in the sandbox)."""
    step = layout.get(step_name)
    s = loop.Settings(supervisor=model, coder=model, **settings)
    n, directory = new_trial_dir(runs, step)
    return run_trial(cfg, step, s, directory, sources={rel: cfg.solution_dir for rel in step.INPUTS},
                           index=n, clients=clients)


def supervisor(*reviews):
    """A scripted supervisor: a worker prompt, then the given reviews."""
    return Replay(["## Worker Prompt\nWrite the step-5 script.\n## Call record:\nasked for it\n", *reviews])


def oracle_reply(step="step5"):
    return "Here it is.\n```python\n" + standins.oracle_code(standins.Task(step, {"inputs": "inputs",
                                                                                   "outputs": "outputs"})) + "```\n"


def read(result, name):
    return (Path(result["trial_dir"]) / name).read_text()


def events(result):
    return [json.loads(line) for line in read(result, "trace.jsonl").splitlines()]


# ---- the pure parts -----------------------------------------------------------------------------------


def reply(text, finish="stop"):
    return Reply(text=text, usage=Usage(), finish_reason=finish, model="m")


@pytest.mark.parametrize("text, finish, needle", [
    ("", "stop", "your reply was empty"),
    ("", "length", "cut at the output token limit"),
    ("Sorry, I cannot.", "stop", "no complete fenced code block"),
    ("```python\nprint(1)\n", "length", "no complete fenced code block (it was cut"),
    ("```python\nprint(1)\n```\nand\n```python\nprint(2)\n```", "stop", "has 2 code blocks"),
    ("```bash\nls\n```", "stop", "marked bash, not python"),
    ("```\nprint(1)\n```", "stop", "marked with no language"),
    ("```python\n\n```", "stop", "the python block is empty"),
])
def test_a_reply_must_be_exactly_one_python_block(text, finish, needle):
    with pytest.raises(replies.FormatError, match=re.escape(needle)) as exc:
        replies.extract_code(reply(text, finish))
    assert "exactly one fenced code block that starts with ```python" in str(exc.value)


def test_the_one_python_block_is_the_code():
    assert replies.extract_code(reply("Sure:\n```python\nprint('a')\n```\nDone.")) == "print('a')\n"
    assert replies.extract_code(reply("```py\nx = 1\n```")) == "x = 1\n"


def test_verdicts_and_worker_prompts():
    assert replies.verdict("**VERDICT: ACCEPT**\n") == "ACCEPT" and replies.verdict("no verdict here") == ""
    assert replies.worker_prompt("VERDICT: REVISE\n## Worker Prompt\nfix the path\n## Call record:\nwhy\n") == \
        "fix the path"
    for text, why in (("The path is wrong; read inputs/arrays instead.", "no '## Worker Prompt' section"),
                      ("## Worker Prompt\n\n## Call record:\nx", "section is empty"),
                      ("VERDICT: REVISE\n## Worker Prompt\n<the complete revised instructions for the coder: "
                       "everything from the original instructions that still applies>\n## Call record:\n<x>",
                       "repeats the placeholder")):
        with pytest.raises(replies.FormatError, match=re.escape(why)):
            replies.worker_prompt(text)


# What the real local model (Qwen2.5-Coder-1.5B) wrote in a campaign: its record, then code and prose naming the
# same paths again; the command once got four output files, the last `summary.txt`.` with its backtick.
REAL_RECORD = """## Call record:
Input files: data/GamGam/Data/data_A.GamGam.root data/GamGam/MC/mc_343981.ggH125_gamgam.GamGam.root
Output files: outputs/inspect/summary.json outputs/inspect/summary.txt

## Generated Code:
```python
with open("outputs/inspect/summary.json", "w") as f:
    pass
```

The script then writes the summary to two files: `outputs/inspect/summary.json` and `outputs/inspect/summary.txt`.
"""


@pytest.mark.parametrize("text, inputs, outputs", [
    (REAL_RECORD, ["data/GamGam/Data/data_A.GamGam.root", "data/GamGam/MC/mc_343981.ggH125_gamgam.GamGam.root"],
     ["outputs/inspect/summary.json", "outputs/inspect/summary.txt"]),
    ("## Call record:\nOutput files:\n1. `outputs/a.npy`,\n2. outputs/b.npy.\nInput files:\n- inputs/x.npy\n"
     "- inputs/x.npy\nThese are read by the script.", ["inputs/x.npy"], ["outputs/a.npy", "outputs/b.npy"]),
    ("## Call record:\nInput files: none (the task reads data/ directly)\nOutput files: scores.npy", [], []),
    ("no record at all", [], []),
])
def test_the_call_record_lists_end_where_the_paths_end(text, inputs, outputs):
    assert replies.call_record_files(text) == (inputs, outputs)


ECHO = ("VERDICT: REVISE\n## Worker Prompt\n<the complete revised instructions for the coder: everything from the "
        "original instructions that still applies, with the mistake named and the fix stated precisely. Return "
        "complete, executable Python code.>\n## Call record:\n<the root cause>")


def test_a_supervisor_reply_without_instructions_goes_back_to_the_supervisor_never_to_the_coder(work, tmp_path):
    boss = Replay([ECHO, "## Worker Prompt\nWrite the step-5 script.\n## Call record:\nasked\n", "VERDICT: ACCEPT"])
    coder = Replay([oracle_reply()])
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay", clients=(boss, coder))
    assert r["status"] == "success" and r["supervisor_format_errors"] == 1 and r["api_calls"] == 4
    sent_to_coder = coder.calls[0]["messages"][1]["content"]
    assert sent_to_coder == "Write the step-5 script." and "<the complete" not in sent_to_coder
    assert "repeats the placeholder" in boss.calls[1]["messages"][-1]["content"]


# what a real 1.5B supervisor sent back once (docs/bench-local/baseline): the review prompt's own format, echoed
ECHOED_REVIEW = ("## Worker Prompt\nWrite the step-5 script.\nIf everything is correct, reply with exactly this one line "
                 "and nothing else:\nVERDICT: ACCEPT\n\nOtherwise find the root cause and reply in exactly this format:\n"
                 "VERDICT: REVISE\n## Worker Prompt\n<the complete revised instructions for the coder: ...>\n")


def test_a_review_that_echoes_accept_then_revise_goes_back_to_the_supervisor_and_is_never_an_acceptance(work, tmp_path):
    boss = Replay(["## Worker Prompt\nWrite the step-5 script.\n## Call record:\nasked\n", ECHOED_REVIEW,
                   "VERDICT: ACCEPT"])
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay", clients=(boss, Replay([oracle_reply()])))
    assert r["status"] == "success" and r["supervisor_format_errors"] == 1 and r["api_calls"] == 4
    assert "a 'VERDICT: ACCEPT' and then a 'VERDICT: REVISE' line" in boss.calls[2]["messages"][-1]["content"]


def test_a_supervisor_that_never_gives_instructions_ends_the_trial_as_a_format_error(work, tmp_path):
    boss, coder = Replay([ECHO] * 3), Replay([])
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay", clients=(boss, coder))
    assert r["status"] == "format_error" and r["stop"] == "format_error" and "supervisor" in r["reason"]
    assert r["api_calls"] == 3 and coder.calls == [] and r["supervisor_format_errors"] == 3


def test_a_refusal_is_kept_and_fails_the_trial_apart_from_format_errors(work, tmp_path):
    refusal = Reply("", Usage(input=5, output=7, reported=True), "refusal", "m", refusal="I can't help with that.")
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay", clients=(supervisor(), Replay([refusal])))
    assert r["status"] == "failed" and r["stop"] == "refusal" and "I can't help with that." in r["reason"]
    assert "I can't help with that." in (Path(r["trial_dir"]) / "comprehensive.log").read_text()


def test_importing_the_agent_is_light():
    code = ("import sys, hepmini.agent, hepmini.agent.trial, hepmini.agent.standins\n"
            "print(sorted(m for m in ('numpy', 'requests', 'uproot', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


# ---- oracle trials and the logs -------------------------------------------------------------------------


def test_agent_command_runs_an_oracle_trial_with_the_paper_logs(work, tmp_path):
    proc = run_cli("agent", "step5", "--model", "scripted:oracle", "--workdir", work, *SETS, "--out", tmp_path / "runs")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SCRIPTED STAND-IN, not a language model" in proc.stdout and "1/1 trial(s) succeeded" in proc.stdout
    directory = tmp_path / "runs" / "step5_categorize" / "trial-001"
    r = json.loads((directory / "result.json").read_text())
    assert (r["status"], r["stop"], r["iterations"], r["api_calls"], r["format_errors"]) == \
        ("success", "accepted", 1, 3, 0)
    assert r["validation"]["passed"] and r["supervisor_verdict"] == "accept"
    tok = r["tokens"]  # the paper's breakdown adds up to the totals
    assert tok["user_prompt"] + tok["supervisor_to_coder"] + tok["feedback_to_supervisor"] == tok["input"] > 0
    assert tok["coder_output"] + tok["supervisor_output"] == tok["output"] > 0
    assert r["cost"]["total"] == 0.0 and r["cost"]["sources"] == ["scripted"]
    assert r["scripted"]["stand_in"] == "scripted:oracle" and r["scripted"]["injected_fault"] is None
    prov = r["provenance"]
    assert prov["hepmini_version"] and set(prov["prompts"]) == {"step5_categorize", "run_command", "supervisor_system",
                                                                 "coder_system", "supervisor_review"}
    assert prov["params_sent"]["coder"] == [{"temperature": 0.0, "max_tokens": 16384}]
    assert prov["cpus"] == os.cpu_count() and prov["cpu"] and prov["cpu"] != "unknown"   # a local model's speed
    assert prov["models"]["coder"] == {"requested": "scripted:oracle", "returned": ["scripted:oracle"]}
    ref = work / "solution"
    assert set(prov["inputs"]) == set(layout.get("step5").INPUTS)
    for rel in prov["inputs"]:  # inputs are copies of the reference outputs of the earlier steps
        assert (directory / "inputs" / rel).read_bytes() == (ref / rel).read_bytes()
    assert r["durations"]["code_runs"] > 0 and r["durations"]["except_code_runs"] < r["durations"]["total"]
    iso = r["executions"][0]["isolation"]
    assert str(ref) in iso["hidden"] and str(ROOT_DIR / "reference") in iso["hidden"]
    assert (directory / "generated_code" / "step5_categorize_attempt1.py").is_file()

    log = (directory / "comprehensive.log").read_text()
    positions = [log.index(b) for b in B1_BANNERS]
    assert positions == sorted(positions), "App. B.1 sections out of order"
    assert "Supervisor: scripted:oracle (SCRIPTED STAND-IN, not a language model)" in log
    assert "Calling coder scripted:oracle (attempt 1/3)" in log and "SUCCESS: Supervisor satisfied after 1" in log
    summary = dict(line.split(": ", 1) for line in log.split("FINAL SUMMARY\n", 1)[1].splitlines()
                   if ": " in line)
    assert all(field in summary for field in SUMMARY_FIELDS)
    assert int(summary["User Prompt Tokens"]) == tok["user_prompt"]
    assert int(summary["Feedback to Supervisor Tokens"]) == tok["feedback_to_supervisor"]
    assert summary["Final Status"] == "SUCCESS" and summary["Total API Calls"] == "3"

    vlog = (directory / "validation.log").read_text().splitlines()  # App. B.2
    assert vlog[0] == "=== Step 5 Validation (categorize) ===" and "=== VALIDATION SUMMARY ===" in vlog
    assert "Step 5 (categorize): PASS" in vlog and vlog[-1] == "Result: 1/1 step passed"
    assert json.loads((directory / "validation.json").read_text())["passed"] is True
    kinds = [e["event"] for e in events(r)]
    assert kinds == ["start", "call", "call", "code", "execution", "call", "verdict", "stop", "end"]


@pytest.mark.parametrize("step", ["step1", "step2", "step3", "step4"])
def test_oracle_passes_validation_on_reference_inputs(work, tmp_path, step):
    r = trial(make_cfg(work), step, tmp_path)
    assert (r["status"], r["api_calls"], r["validation"]["passed"]) == ("success", 3, True), r["reason"]
    if layout.get(step).READS_DATA:  # the raw data reach the code read-only, and are fingerprinted
        assert len(r["provenance"]["data"]) == len(layout.rules().ALL_FILES)
        assert any(p.endswith("/data") for p in r["executions"][0]["isolation"]["readonly"])


def test_all_with_a_model_chains_the_agents_own_outputs(work):
    proc = run_cli("all", "--model", "scripted:oracle", "--workdir", work, *SETS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("step ") and "status" in ln)
    rows = [ln.split() for ln in lines[header + 1:header + 6]]
    assert [r[0] for r in rows] == ["step1", "step2", "step3", "step4", "step5"]
    assert all(r[2] == "success" and r[3] == "PASS" for r in rows), proc.stdout
    assert "5/5 steps succeeded" in proc.stdout
    found = [ln for ln in lines if ln.startswith("agent's ")]   # what the agent's own chain found
    assert found[0].startswith("agent's classifier (step4): HistGradientBoostingClassifier"), proc.stdout
    assert re.match(r"agent's categories \(step5\): boundaries .*final Z = \d", found[1]), proc.stdout
    run = next((work / "agent").glob("*-chained-scripted_oracle"))
    step3 = json.loads((run / "step3_preprocess" / "trial-001" / "result.json").read_text())
    assert step3["inputs_mode"] == "chained"
    assert step3["provenance"]["inputs_from"] == [str(run / "step2_ntuples" / "trial-001" / "outputs")]


# ---- format errors, verdicts, failures, limits ----------------------------------------------------------


def test_format_errors_are_fed_back_counted_and_end_the_trial(work, tmp_path):
    coder = Replay(["I would use numpy.", "```python\nprint(1)\n```\n```python\nprint(2)\n```",
                         "```bash\necho hi\n```"])
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay", clients=(supervisor(), coder))
    assert (r["status"], r["stop"], r["format_errors"], r["api_calls"], r["iterations"]) == \
        ("format_error", "format_error", 3, 4, 3)
    assert r["executions"] == [] and not r["validation"]["passed"]
    second, third = coder.calls[1]["messages"], coder.calls[2]["messages"]
    assert second[-2] == {"role": "assistant", "content": "I would use numpy."}
    assert "no complete fenced code block" in second[-1]["content"] and "has 2 code blocks" in third[-1]["content"]
    assert [e["error"][:40] for e in events(r) if e["event"] == "format_error"][2].startswith(
        "Format error: the code block is marked b")
    assert "WARNING: Format error (attempt 1)" in read(r, "comprehensive.log")
    assert "Final Status: FORMAT_ERROR" in read(r, "comprehensive.log")


def test_an_empty_reply_is_a_format_error_and_the_coder_may_recover(work, tmp_path):
    coder = Replay(["", oracle_reply()])
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay",
              clients=(supervisor("VERDICT: ACCEPT"), coder))
    assert (r["status"], r["format_errors"], r["iterations"], r["api_calls"]) == ("success", 1, 2, 4)
    assert coder.calls[1]["messages"][-2]["content"] == "(empty reply)"


def test_revisions_use_every_iteration_then_the_supervisor_gives_up(work, tmp_path):
    revise = "VERDICT: REVISE\n## Worker Prompt\nTry again, print more.\n## Call record:\nnot yet\n"
    coder = Replay(["```python\nprint('attempt')\n```"] * 3)
    sup = supervisor(revise, revise, revise)
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay", clients=(sup, coder))
    assert (r["status"], r["stop"], r["iterations"], r["api_calls"]) == ("failed", "max_iterations", 3, 7)
    assert coder.calls[1]["messages"][1]["content"] == "Try again, print more."  # the revised instructions
    review = sup.calls[1]["messages"][-1]["content"]
    assert "attempt 1 of 3" in review and "Exit code: 0" in review and "- outputs/arrays/boundaries.npy: MISSING" \
        in review and "--- stdout ---\nattempt" in review
    assert "MAX ITERATIONS REACHED" in read(r, "comprehensive.log")


def test_accepted_but_wrong_outputs_fail_validation(work, tmp_path):
    code = ("```python\nimport numpy as np, os\nos.makedirs('outputs/arrays')\n"
            "np.save('outputs/arrays/boundaries.npy', np.array([0.0, 0.5, 1.0]))\n"
            "np.save('outputs/arrays/significances.npy', np.array([1.0, 2.0]))\n```")
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay",
              clients=(supervisor("VERDICT: ACCEPT"), Replay([code])))
    assert (r["status"], r["stop"], r["supervisor_verdict"]) == ("failed", "accepted", "accept")
    assert "Step 5 (categorize): FAIL" in read(r, "validation.log")


def test_provider_failure_after_retries_is_infrastructure(work, tmp_path):
    with OpenAIFake(key=KEY) as fake:
        fake.script(*[Resp(500, OPENAI_500, headers={"retry-after-ms": "5"})] * 4)
        cfg = make_cfg(work, {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url + "/v1"}, max_retries=1)
        client = client_for("openai:gpt-4.1", cfg, session=loopback_session(), sleep=FakeClock().sleep)
        r = trial(cfg, "step5", tmp_path, model="openai:gpt-4.1", clients=(client, client))
        assert len(fake.requests) == 2  # one try and one retry, then the trial stops
    assert (r["status"], r["stop"], r["api_calls"]) == ("infrastructure", "infrastructure", 0)
    assert "ServerError" in r["reason"] and "HTTP 500" in r["reason"]
    failed = [e for e in events(r) if e["event"] == "call_error"]
    assert failed[0]["error"] == "ServerError" and len(failed[0]["http_attempts"]) == 2
    assert "INFRASTRUCTURE ERROR" in read(r, "comprehensive.log")


def test_a_real_provider_trial_records_models_and_params_and_never_the_key(work, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # also in the harness's own environment
    code = ("```python\nimport json, os\nprint(json.dumps(dict(os.environ)))\n"
            "try:\n    print(open('/proc/%d/environ' % os.getppid(), 'rb').read())\n"
            "except OSError as exc:\n    print(type(exc).__name__)\n```")
    answers = ["## Worker Prompt\nPrint the environment.\n## Call record:\nasked\n", code, "VERDICT: ACCEPT"]
    with OpenAIFake(key=KEY, returned_model="gpt-4.1-2025-04-14") as fake:
        fake.script(*[Resp(200, openai_completion(a, "gpt-4.1-2025-04-14", reasoning=0)) for a in answers])
        cfg = make_cfg(work, {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url + "/v1"})
        client = client_for("openai:gpt-4.1", cfg, session=loopback_session())
        r = trial(cfg, "step5", tmp_path, model="openai:gpt-4.1", clients=(client, client))
        assert all(req.headers["authorization"] == f"Bearer {KEY}" for req in fake.requests)
        assert fake.requests[0].body["temperature"] == 0
    assert r["api_calls"] == 3 and r["status"] == "failed" and r["executions"][0]["returncode"] == 0
    assert r["provenance"]["models"]["coder"] == {"requested": "openai:gpt-4.1", "returned": ["gpt-4.1-2025-04-14"]}
    assert r["provenance"]["params_sent"]["coder"][0]["temperature"] == 0
    assert "OPENAI_API_KEY" not in r["executions"][0]["env_keys"]
    logged = [json.loads(line) for line in cfg.call_log_path.read_text().splitlines()]
    assert sum(1 for x in logged if x.get("trial") == r["trial_dir"]) == 3     # the call log names each call's trial
    leaked = [p for p in Path(r["trial_dir"]).rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert leaked == []


def test_token_cost_and_time_limits_end_the_trial(work, tmp_path):
    cfg = make_cfg(work)
    big = {"text": "## Worker Prompt\ngo\n## Call record:\nx\n", "usage": {"input": 900, "output": 200}}
    r = trial(cfg, "step5", tmp_path, model="scripted:replay", clients=(Replay([big]), Replay([])),
              token_limit=1000)
    assert (r["status"], r["stop"], r["api_calls"]) == ("failed", "token_limit", 1)
    assert "1100 tokens used, limit 1000" in r["reason"] and "TOKEN LIMIT REACHED" in read(r, "comprehensive.log")
    priced = {**big, "cost": 0.75}
    r = trial(cfg, "step5", tmp_path, model="scripted:replay", clients=(Replay([priced]), Replay([])),
              cost_limit=0.5)
    assert (r["stop"], r["api_calls"], r["cost"]["total"]) == ("cost_limit", 1, 0.75)
    sleeper = Replay(["```python\nimport time\nprint('working', flush=True)\ntime.sleep(600)\n```"])
    r = trial(cfg, "step5", tmp_path, model="scripted:replay", clients=(supervisor(), sleeper), time_limit=2.5)
    assert (r["status"], r["stop"]) == ("failed", "time_limit")
    assert r["executions"][0]["killed_reason"] == "wall-clock timeout" and r["durations"]["total"] < 10


def test_unknown_cost_is_none_never_zero(work, tmp_path):
    unpriced = {"text": "## Worker Prompt\ngo\n## Call record:\nx\n", "cost": None}
    r = trial(make_cfg(work), "step5", tmp_path, model="scripted:replay",
              clients=(Replay([unpriced]), Replay([{"text": "no code", "cost": 0.01}])),
              max_iterations=1)
    assert r["cost"]["total"] is None and r["cost"]["unknown_calls"] == 1 and r["cost"]["known_part"] == 0.01
    assert r["cost"]["by_role"]["coder"]["total"] == 0.01 and r["cost"]["by_role"]["supervisor"]["total"] is None
    assert "Cost: unknown" in read(r, "comprehensive.log")


def test_cli_refuses_bad_requests_with_one_line(work, tmp_path):
    # No model named: the local model, checked before anything runs (here a model file that is not there).
    proc = run_cli("agent", "step5", "--workdir", work, *SETS, "--set", f"local_model={tmp_path / 'none.gguf'}")
    assert proc.returncode == 1 and "make local-model" in proc.stderr and proc.stderr.count("\n") == 1
    proc = run_cli("agent", "step5", "--model", "scripted:genius", "--workdir", work, *SETS)
    assert proc.returncode == 2 and "unknown stand-in 'scripted:genius'" in proc.stderr
    proc = run_cli("agent", "step5", "--model", "scripted:oracle", "--inputs", "chained", "--out", tmp_path,
                   "--workdir", work, *SETS)
    assert proc.returncode == 2 and "no agent trial of step3" in proc.stderr


def test_sigterm_ends_a_running_trial_with_its_record(work, tmp_path):
    """`kill` (a batch system's end of job) stops the command as Ctrl-C does: the trial says how it ended."""
    out = tmp_path / "run"
    with OpenAIFake(key=KEY) as fake:
        fake.always(Resp(200, openai_completion("## Worker Prompt\nx\n## Call record:\ny\n", "gpt-4.1"), delay=60))
        env = {**os.environ, "PYTHONPATH": str(ROOT_DIR), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url + "/v1"}
        proc = subprocess.Popen([sys.executable, "-m", "hepmini", "agent", "step5", "--model", "openai:gpt-4.1",
                                 "--out", out, "--workdir", work, *SETS], cwd=ROOT_DIR, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not fake.requests and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)   # the trial is waiting on its first call
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "terminated by SIGTERM" in stderr, stdout + stderr
    result = json.loads(next(out.rglob("result.json")).read_text())
    assert (result["status"], result["error"]["kind"]) == ("harness_error", "Terminated"), result
    assert "stopped by SIGTERM" in result["reason"]


def _live_and_replayed(cfg, tmp_path, clients):
    """A step-5 trial with these clients, then the same trial replayed from its cassette."""
    live = trial(cfg, "step5", tmp_path / "live", model="scripted:replay", clients=clients)
    recorded = Path(live["trial_dir"]) / "cassette.jsonl"
    step, s = layout.get("step5"), loop.Settings(supervisor="scripted:replay", coder="scripted:replay")
    n, directory = new_trial_dir(tmp_path / "again", step)
    again = run_trial(cfg, step, s, directory, sources={rel: cfg.solution_dir for rel in step.INPUTS}, index=n,
                      replay=recorded)
    for key in ("status", "stop", "api_calls", "tokens", "iterations"):
        assert again[key] == live[key], key
    assert again["error"]["message"] == live["error"]["message"]
    return live, recorded


def test_a_trial_the_server_ended_replays_to_the_same_end(work, tmp_path):
    """A failed call is in the cassette as its error: the replay ends where the live trial ended."""
    from hepmini.errors import BadRequest, CassetteError
    from hepmini.llm import cassette

    gone = BadRequest("local: HTTP 404 model 'x' not found", provider="local", status=404,
                      provider_message="model 'x' not found")
    live, recorded = _live_and_replayed(make_cfg(work), tmp_path, (supervisor(), Replay([gone])))
    assert live["status"] == "infrastructure" and live["error"]["kind"] == "BadRequest"
    assert '"kind": "BadRequest"' in recorded.read_text()
    with pytest.raises(CassetteError, match="kind 'OSError'"):
        cassette.reply_from({"error": {"kind": "OSError", "message": "x"}})


OVERFLOW = ("request (36503 tokens) exceeds the available context size (32768 tokens), try increasing it")


def test_a_conversation_that_outgrows_the_model_is_a_limit_the_agent_reached(work, tmp_path):
    """Once the model has spoken, a context overflow ends the trial `failed` (context_limit), never infrastructure."""
    from hepmini.errors import BadRequest, ContextOverflow
    from hepmini.llm import cassette

    cfg = make_cfg(work)
    overflow = ContextOverflow(f"local: HTTP 400 '{OVERFLOW}'", provider="local", status=400, provider_message=OVERFLOW)
    live, recorded = _live_and_replayed(cfg, tmp_path, (supervisor(), Replay([overflow])))
    assert (live["status"], live["stop"], live["error"]["kind"]) == ("failed", "context_limit", "ContextOverflow")
    assert "outgrew the model's context window" in live["reason"] and live["api_calls"] == 1
    assert "CONTEXT WINDOW FULL" in read(live, "comprehensive.log")
    # the harness's own first prompt that does not fit is the setting's fault: infrastructure, as before
    first = trial(cfg, "step5", tmp_path / "first", model="scripted:replay", clients=(Replay([overflow]), Replay([])))
    assert (first["status"], first["stop"], first["api_calls"]) == ("infrastructure", "infrastructure", 0)
    # a cassette recorded before the class existed (kind BadRequest, the server's words) replays as one
    legacy = {"error": {"kind": "BadRequest", "message": "x", "provider": "local", "status": 400,
                        "provider_message": OVERFLOW}}
    with pytest.raises(ContextOverflow):
        cassette.reply_from(legacy)
    with pytest.raises(BadRequest) as other:
        cassette.reply_from({"error": {**legacy["error"], "provider_message": "unknown parameter 'top_k'"}})
    assert type(other.value) is BadRequest
