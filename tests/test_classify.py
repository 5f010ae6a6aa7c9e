"""Error classification: each rule on hand-made trials, the §V.3 LLM classifier, and accuracy on a real campaign."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from support.workdirs import run_cli
from support.bodies import llamacpp_400_context
from support.fakes import OpenAIFake, Resp, loopback_session, make_config, openai_completion

from hepmini import cli
from hepmini.llm.client import client_for
from hepmini.bench import agreement, diagnose
from hepmini.bench import metrics
from hepmini.errors import RateLimited
from hepmini.agent.standins import Replay
from hepmini.agent.prompts import ERROR_CATEGORIES

WEIGHTS, DUMMY, CALLING, BRANCH, MISSING, SEMANTIC, OTHER = ERROR_CATEGORIES
READS = "import numpy as np\nsignal = np.load('inputs/arrays/signal.npy')\n"


def make_trial(root: Path, name="t", *, status="failed", returncode=1, stderr="", stdout="", code=READS,
               validation=None, outputs=None, killed="", stop="max_iterations", runs=True, **extra) -> Path:
    """A trial directory in hepmini.agent.trial's layout with one run of `code`."""
    d = root / name
    (d / "logs").mkdir(parents=True)
    (d / "generated_code").mkdir()
    (d / "generated_code" / "s_attempt1.py").write_text(code)
    (d / "logs" / "s.stderr.txt").write_text(stderr)
    (d / "logs" / "s.stdout.txt").write_text(stdout)
    execution = {"attempt": 1, "script": "generated_code/s_attempt1.py", "returncode": returncode,
                 "killed_reason": killed, "timed_out": killed == "timeout", "stderr_log": "logs/s.stderr.txt",
                 "stdout_log": "logs/s.stdout.txt"}
    result = {"status": status, "step": "step3", "stop": stop, "reason": "", "executions": [execution] if runs else [],
              "format_errors": 0, **extra}
    (d / "result.json").write_text(json.dumps(result))
    for rel, array in (outputs or {}).items():
        (d / "outputs" / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(d / "outputs" / rel, array)
    if validation is not None:
        (d / "validation.json").write_text(json.dumps({"passed": False, "reference_dir": str(root / "nowhere"),
                                                       "files": validation}))
    return d


def tb(*frames, last):
    """A Python traceback text."""
    lines = ["Traceback (most recent call last):"]
    for file, func in frames:
        lines += [f'  File "{file}", line 12, in {func}', "    x = f(y)", "        ^^^^"]
    return "\n".join(lines + [last]) + "\n"


SCRIPT = "/t/generated_code/s_attempt1.py"
LIB = "/venv/lib/python3.11/site-packages/uproot/behaviors/TBranch.py"
TOOLS = "/work/main/hepmini/tools.py"

CRASHES = [
    (tb((SCRIPT, "<module>"), (LIB, "__getitem__"), last="uproot.exceptions.KeyInFileError: not found: 'photon_pT' "
        "(with any cycle number)\n\n    Available keys: 'photon_pt', 'photon_eta'"), BRANCH),
    (tb((SCRIPT, "<module>"), last="KeyError: \"None of [Index(['photon_pT'], dtype='object')] are in the [columns]\""),
     BRANCH),
    (tb((SCRIPT, "<module>"), last="KeyError: 'photon_isTightId'"), BRANCH),
    (tb((SCRIPT, "<module>"), last="KeyError: 'results'"), SEMANTIC),
    (tb((SCRIPT, "<module>"), last="FileNotFoundError: [Errno 2] No such file or directory: 'inputs/signal.npy'"),
     MISSING),
    (tb((SCRIPT, "<module>"), ("/venv/lib/python3.11/site-packages/numpy/lib/npyio.py", "load"),
        last="OSError: inputs/arrays/sig.npy not found."), MISSING),
    (tb((SCRIPT, "<module>"), (TOOLS, "load_datasets"), last="hepmini.errors.ToolInputError: signal_scores has 10 "
        "entries but signal has 767 events"), CALLING),
    (tb((SCRIPT, "<module>"), last="TypeError: load_datasets() missing 1 required positional argument: 'bkgd_scores'"),
     CALLING),
    (tb((SCRIPT, "<module>"), ("/venv/lib/python3.11/site-packages/numpy/core/fromnumeric.py", "clip"),
        last="TypeError: '<' not supported between instances of 'str' and 'float'"), CALLING),
    (tb((SCRIPT, "<module>"), last="ImportError: cannot import name 'categorize_events' from 'hepmini.tools' "
        "(/work/main/hepmini/tools.py)"), CALLING),
    (tb((SCRIPT, "<module>"), last="NameError: name 'sig' is not defined"), SEMANTIC),
    (tb((SCRIPT, "<module>"), last="IndexError: index 7 is out of bounds for axis 1 with size 7"), SEMANTIC),
    (f'  File "{SCRIPT}", line 3\n    def f(\n         ^\nSyntaxError: \'(\' was never closed\n', SEMANTIC),
    (tb((SCRIPT, "<module>"), last="ModuleNotFoundError: No module named 'ROOT'"), OTHER),
    (tb((SCRIPT, "<module>"), (LIB, "array"), ("/venv/lib/python3.11/site-packages/uproot/source/fsspec.py", "chunks"),
        last="OSError: file '/t/scratch/data/GamGam/Data/data_B.GamGam.root' is closed"), SEMANTIC),  # after `with`
    (tb((SCRIPT, "<module>"), last="OSError: [Errno 28] No space left on device"), OTHER),
    (tb((SCRIPT, "<module>"), ("/a.py", "f"), last="KeyError: 'photon_pt'") + "\nDuring handling of the above "
     "exception, another exception occurred:\n\n" + tb((SCRIPT, "<module>"), last="RuntimeError: reading failed"),
     BRANCH),
    ("Error: could not open inputs/arrays/bkgd.npy: No such file or directory\n", MISSING),
    ("something went badly\n", OTHER),
    ("Error processing data/GamGam/Data/data_A.GamGam.root: name 'photon1_pt' is not defined\n", SEMANTIC),
]


@pytest.mark.parametrize("stderr, expected", CRASHES, ids=[f"crash{i}-{c.split()[0]}" for i, (_, c) in
                                                          enumerate(CRASHES)])
def test_rules_on_crashed_runs(tmp_path, stderr, expected):
    verdict = diagnose.classify_rules(make_trial(tmp_path, stderr=stderr))
    assert verdict["category"] == expected, verdict
    assert verdict["evidence"] and verdict["rule"]


def test_rules_on_runs_that_ended_otherwise(tmp_path):
    def rule(name, **kw):
        return diagnose.classify_rules(make_trial(tmp_path, name, **kw))

    assert rule("timeout", returncode=-9, killed="timeout")["category"] == OTHER
    assert rule("format", status="format_error")["category"] == OTHER
    boss = rule("boss", status="format_error", reason="the supervisor gave no usable instructions in 3 replies",
                supervisor_format_errors=4)
    assert boss["evidence"] == ["the loop ended on a format error: the supervisor gave no usable instructions in 3 "
                                "replies (0 coder and 4 supervisor format error(s))"]
    assert rule("tamper", status="tampered", security={"tampered": ["inputs/arrays/bkgd.npy"]})["category"] == OTHER
    assert rule("norun", runs=False, stop="token_limit")["category"] == OTHER
    ok = rule("ok", status="success", returncode=0)
    assert ok["category"] is None and ok["rule"] == "not-a-failure"
    assert rule("infra", status="infrastructure")["category"] is None


def test_rules_on_runs_that_exited_0_but_were_wrong(tmp_path):
    signal = np.ones((5, 7))
    zero_bkgd = np.ones((4, 7))
    zero_bkgd[:, 6] = 0.0
    weight_column = {"index": 6, "name": "weight", "n_diff": 4}

    def rule(name, **kw):
        return diagnose.classify_rules(make_trial(tmp_path, name, returncode=0, **kw))

    missing = rule("missing", validation=[{"name": "arrays/bkgd.npy", "ok": False, "kind": "npy",
                                           "messages": ["arrays/bkgd.npy missing: no such file in /x/outputs"]}])
    assert missing["category"] == MISSING and "arrays/bkgd.npy" in missing["evidence"][1]
    zero = rule("zero", outputs={"arrays/bkgd.npy": zero_bkgd, "arrays/signal.npy": signal},
                validation=[{"name": "arrays/bkgd.npy", "ok": False, "kind": "npy", "gen_shape": [4, 7],
                             "ref_shape": [4, 7], "columns": [weight_column], "messages": ["differs"]}])
    assert zero["category"] == WEIGHTS and "'weight'" in zero["evidence"][1]
    # a weight column that is 0 in the reference too (data mcWeight) is no evidence
    same = rule("same", outputs={"arrays/bkgd.npy": zero_bkgd},
                validation=[{"name": "arrays/bkgd.npy", "ok": False, "kind": "npy", "gen_shape": [4, 7],
                             "columns": [{**weight_column, "n_diff": 0}], "messages": ["differs"]}])
    assert same["category"] == SEMANTIC
    empty = rule("empty", outputs={"arrays/signal.npy": np.zeros((0, 7))},
                 validation=[{"name": "arrays/signal.npy", "ok": False, "kind": "npy", "gen_shape": [0, 7],
                              "ref_shape": [767, 7], "messages": ["Shape mismatch"]}])
    assert empty["category"] == WEIGHTS
    infinite = rule("inf", outputs={"arrays/significances.npy": np.array([np.inf, np.inf])},
                    validation=[{"name": "arrays/significances.npy", "ok": False, "kind": "npy", "gen_shape": [2],
                                 "ref_shape": [2], "messages": ["differs"]}])
    assert infinite["category"] == WEIGHTS
    wrong = [{"name": "arrays/signal.npy", "ok": False, "kind": "npy", "messages": ["differs"]}]
    dummy = rule("dummy", code=READS + "rng = np.random.default_rng(1)\nscores = rng.uniform(0, 1, len(signal))\n",
                 validation=wrong)
    assert dummy["category"] == DUMMY and "rng.uniform" in dummy["evidence"][1]
    words = rule("words", code=READS + "result = {'entries': 1000}  # placeholder until the reading works\n",
                 validation=wrong)
    assert words["category"] == DUMMY
    reads_nothing = rule("nothing", code="import json\njson.dump({'a': 1}, open('outputs/x.json', 'w'))\n",
                         validation=wrong)
    assert reads_nothing["category"] == DUMMY and "reads no input" in reads_nothing["evidence"][1]
    # the prompts' own words echoed in a comment are not fabrication
    echo = rule("echo", code=READS + "# never create dummy or placeholder data: use the real inputs\n"
                "rng = np.random.default_rng(0)  # only the seed of the split\n", validation=wrong)
    assert echo["category"] == SEMANTIC, echo
    zeroed = rule("zeroed", code=READS + "bkgd[:, -1] = 0.0\n", validation=wrong)
    assert zeroed["category"] == WEIGHTS
    for name, stop, expected in (("never", "max_iterations", "never-accepted"), ("limit", "token_limit", "limit")):
        make_trial(tmp_path, name, returncode=0, stop=stop)
        (tmp_path / name / "validation.json").write_text(json.dumps({"passed": True, "files": []}))
        assert diagnose.classify_rules(tmp_path / name)["rule"] == expected


def test_parse_answer():
    assert diagnose.parse_answer("***incorrect branch name***") == (BRANCH, "")
    assert diagnose.parse_answer("Root cause...\n***  All Data Weights = 0 ***") == (WEIGHTS, "")
    assert diagnose.parse_answer("***Function-Calling Error.***")[0] == CALLING
    category, flag = diagnose.parse_answer("***semantic error*** or maybe ***other***")
    assert category == SEMANTIC and flag.startswith("ambiguous")
    for text in ("", "semantic error", "***a syntax error***", None):
        category, flag = diagnose.parse_answer(text)
        assert category == OTHER and flag.startswith("unparsable")


def test_a_trial_classified_while_it_ran_is_classified_again_when_it_has_ended(tmp_path):
    d = make_trial(tmp_path, status="running", stderr=tb((SCRIPT, "<module>"), last="KeyError: 'photon_pT'"))
    assert diagnose.classify_trial(d)["rule"]["category"] is None            # `classify` on a campaign in flight
    result = json.loads((d / "result.json").read_text())
    (d / "result.json").write_text(json.dumps({**result, "status": "failed"}))
    assert diagnose.cached(d)["rule"]["category"] == BRANCH
    assert json.loads((d / "classification.json").read_text())["status"] == "failed"


def test_a_stored_llm_answer_is_read_again_by_todays_parser_without_a_call(tmp_path):
    d = make_trial(tmp_path, stderr=tb((SCRIPT, "<module>"), last="KeyError: 'photon_pT'"))
    raw = "***all data weights = 0: the event weights of the selected data come out all zero***"
    old = {"format": diagnose.FORMAT, "rules_version": diagnose.RULES_VERSION - 1, "rule": {},
           "llm": {"model": "local:m", "category": OTHER, "flagged": "unparsable: ...", "raw": raw}}
    (d / "classification.json").write_text(json.dumps(old))
    out = diagnose.cached(d)
    assert out["llm"]["category"] == WEIGHTS and "definition" in out["llm"]["flagged"] and out["agree"] is False
    assert json.loads((d / "classification.json").read_text())["llm"]["category"] == WEIGHTS


def test_llm_classifier_writes_classification_and_pays_once(tmp_path):
    d = make_trial(tmp_path, stderr=tb((SCRIPT, "<module>"), last="KeyError: 'photon_pT'"))
    (d / "comprehensive.log").write_text("COMPREHENSIVE SUPERVISOR-CODER LOG\nKeyError: 'photon_pT'\n")
    (d / "validation.log").write_text("=== Step 3 Validation (preprocess) ===\n")
    bot = Replay(["***Incorrect Branch Name***"], model="judge:one")
    out = diagnose.classify_trial(d, client=bot)
    prompt = bot.calls[0]["messages"][0]["content"]
    assert "=== COMPREHENSIVE LOG ===\nCOMPREHENSIVE SUPERVISOR-CODER LOG" in prompt
    assert "=== VALIDATION LOG ===\n=== Step 3 Validation" in prompt and "$" not in prompt.split("LOG ===")[1][:5]
    assert bot.calls[0]["params"]["temperature"] == 0.0
    assert out["rule"]["category"] == BRANCH and out["llm"]["category"] == BRANCH and out["agree"] is True
    saved = json.loads((d / "classification.json").read_text())
    assert saved["llm"]["raw"] == "***Incorrect Branch Name***" and saved["rules_version"] == diagnose.RULES_VERSION
    again = diagnose.classify_trial(d, client=bot)           # the same model already answered: no call
    assert len(bot.calls) == 1 and again["llm"]["category"] == BRANCH
    unsure = Replay(["It is probably a problem with the weights."], model="judge:two")
    out = diagnose.classify_trial(d, client=unsure)
    assert out["llm"]["category"] == OTHER and out["llm"]["flagged"].startswith("unparsable") and out["agree"] is False
    storm = Replay([RateLimited("429 after 5 retries", provider="judge")], model="judge:three")
    out = diagnose.classify_trial(d, client=storm)       # an infrastructure failure is recorded, never a category
    assert out["llm"]["category"] is None and out["llm"]["flagged"].startswith("call failed: RateLimited")
    assert out["agree"] is None and out["rule"]["category"] == BRANCH
    ok = make_trial(tmp_path, "ok", status="success", returncode=0)
    assert diagnose.classify_trial(ok, client=Replay([]))["llm"] is None     # successes cost nothing


def test_classifying_again_with_nothing_changed_leaves_the_file_and_its_date_alone(tmp_path):
    d = make_trial(tmp_path, stderr=tb((SCRIPT, "<module>"), last="KeyError: 'photon_pT'"))
    first = diagnose.classify_trial(d, client=Replay(["***Incorrect Branch Name***"], model="judge:one"))
    path = d / "classification.json"
    text = path.read_text()
    stored = json.loads(text)
    path.write_text(json.dumps({**stored, "classified": "2000-01-01T00:00:00+00:00"}))   # an older run's date
    text = path.read_text()
    assert diagnose.classify_trial(d, client=Replay([], model="judge:one"))["llm"] == first["llm"]
    assert diagnose.classify_trial(d)["classified"] == "2000-01-01T00:00:00+00:00" and path.read_text() == text
    result = json.loads((d / "result.json").read_text())
    (d / "result.json").write_text(json.dumps({**result, "status": "format_error", "stop": "format_error"}))
    assert diagnose.classify_trial(d)["classified"] != "2000-01-01T00:00:00+00:00"   # a change is written, dated


def _listed(prompt: str) -> list:
    return [line[2:].split(":")[0] for line in prompt.splitlines() if line.startswith("- ") and ":" in line]


def test_the_position_control_asks_again_with_the_list_reversed_and_pays_once(tmp_path):
    d = make_trial(tmp_path, stderr=tb((SCRIPT, "<module>"), last="KeyError: 'photon_pT'"))
    (d / "comprehensive.log").write_text("log\n")
    # a model that answers whatever is listed first: the control exposes it
    bot = Replay(["***all data weights = 0***", "***other***"], model="judge:first")
    out = diagnose.classify_trial(d, client=bot, control="reversed")
    paper, reverse = (_listed(call["messages"][0]["content"]) for call in bot.calls)
    assert paper == list(ERROR_CATEGORIES) and reverse == list(reversed(ERROR_CATEGORIES))
    assert out["llm"]["category"] == WEIGHTS and "order" not in out["llm"]
    assert out["llm_control"]["category"] == OTHER and out["llm_control"]["order"] == "reversed"
    assert out["agree"] is False                  # agreement is the paper-order answer's, as before
    again = diagnose.classify_trial(d, client=bot, control="reversed")      # both answers cached: no call
    assert len(bot.calls) == 2 and again["llm_control"] == out["llm_control"]
    assert diagnose.classify_trial(d)["llm_control"]["category"] == OTHER    # kept when the rules run alone
    position = agreement.position_control([again])
    assert position == {"n": 1, "same": 0, "first": 1, "first_control": 1}
    assert "0/1 answers unchanged" in agreement.position_text(position)
    steady = Replay(["***incorrect branch name***"] * 2, model="judge:steady")
    out = diagnose.classify_trial(d, client=steady, control="reversed")
    assert agreement.position_control([out]) == {"n": 1, "same": 1, "first": 0, "first_control": 0}


def test_a_prompt_too_long_for_the_classifier_is_sent_again_with_shorter_logs(tmp_path):
    """A small window (llama.cpp's 400): the logs' middles are cut, halved until it fits; the answer says how far."""
    d = make_trial(tmp_path, stderr=tb((SCRIPT, "<module>"), last="KeyError: 'photon_pT'"))
    log = "head of the log\n" + "x" * 200_000 + "\nKeyError: 'photon_pT' at the end\n"
    (d / "comprehensive.log").write_text(log)
    window = 40_000                 # characters of prompt this server's slot holds

    def llama(seen):
        n = len(seen.body["messages"][0]["content"])
        return (Resp(400, llamacpp_400_context(n // 4, window // 4)) if n > window else
                Resp(200, openai_completion("***incorrect branch name***", "qwen")))

    with OpenAIFake(key=None, flavor="llamacpp") as fake:
        fake.always(llama)
        cfg = make_config(tmp_path, {"HEPMINI_ENDPOINT_LL": fake.url + "/v1"})
        with client_for("ll:qwen", cfg, session=loopback_session()) as client:
            answer = diagnose.classify_llm(d, client)
        sizes = [len(r.body["messages"][0]["content"]) for r in fake.requests]
    assert answer["category"] == BRANCH and answer["logs_cut_to_chars"] == diagnose.LLM_LOG_CHARS // 4
    assert len(sizes) == 3 and sizes == sorted(sizes, reverse=True) and sizes[-1] <= window < sizes[-2]
    prompt = fake.requests[-1].body["messages"][0]["content"]
    assert "head of the log" in prompt and "KeyError: 'photon_pT' at the end" in prompt and "cut by hepmini" in prompt
    with OpenAIFake(key=None, flavor="llamacpp") as fake:    # a window nothing fits: one answer, no category
        fake.always(Resp(400, llamacpp_400_context(9000, 10)))
        cfg = make_config(tmp_path, {"HEPMINI_ENDPOINT_LL": fake.url + "/v1"})
        with client_for("ll:qwen", cfg, session=loopback_session()) as client:
            answer = diagnose.classify_llm(d, client)
        assert len(fake.requests) == 5    # 120,000 characters per log halved down to 7,500
    assert answer["category"] is None and answer["flagged"].startswith("call failed: ContextOverflow")


def test_log_chars_cuts_the_classifier_prompt_from_the_first_call(tmp_path, monkeypatch, capsys):
    """`diagnose --model M --log-chars N`: one call, each log cut to N characters (head and tail), recorded."""
    d = make_trial(tmp_path, stderr=tb((SCRIPT, "<module>"), last="KeyError: 'photon_pT'"))
    (d / "comprehensive.log").write_text("head of the log\n" + "x" * 50_000 + "\nKeyError at the end\n")
    monkeypatch.chdir(tmp_path)
    with OpenAIFake(key=None, flavor="llamacpp") as fake:
        fake.always(Resp(200, openai_completion("***incorrect branch name***", "qwen")))
        monkeypatch.setenv("HEPMINI_ENDPOINT_LL", fake.url + "/v1")
        assert cli.main(["diagnose", str(d), "--model", "ll:qwen", "--log-chars", "4000"]) == 0
        prompt = fake.requests[0].body["messages"][0]["content"]
        assert len(fake.requests) == 1 and "cut by hepmini" in prompt
        assert "head of the log" in prompt and "KeyError at the end" in prompt and "x" * 2001 not in prompt
    stored = json.loads((d / "classification.json").read_text())["llm"]
    assert stored["category"] == BRANCH and stored["logs_cut_to_chars"] == 4000
    (d / "comprehensive.log").write_text("a short log\n")     # nothing to cut: nothing recorded as cut
    assert "logs_cut_to_chars" not in diagnose.classify_llm(d, Replay(["***other***"], model="judge:x"),
                                                            log_chars=4000)
    assert cli.main(["diagnose", str(d), "--log-chars", "4000"]) == 2
    assert "name its model with --model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["diagnose", str(d), "--model", "ll:qwen", "--log-chars", "12"])
    assert usage.value.code == 2 and "at least 1000" in capsys.readouterr().err


def test_classify_command_with_a_loopback_model(tmp_path, monkeypatch, capsys):
    d = make_trial(tmp_path, stderr=tb((SCRIPT, "<module>"), last="FileNotFoundError: [Errno 2] No such file"))
    (d / "comprehensive.log").write_text("log\n")
    monkeypatch.chdir(tmp_path)
    with OpenAIFake(key="sk-test-classify-0001") as fake:
        fake.script(Resp(200, openai_completion("***intermediate file not found***", "gpt-4o-2024-08-06")))
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-classify-0001")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        monkeypatch.setenv("HEPMINI_CALL_LOG", str(tmp_path / "calls.jsonl"))
        assert cli.main(["classify", str(tmp_path), "--model", "openai:gpt-4o"]) == 0
        assert len(fake.requests) == 1
    out, err = capsys.readouterr()
    assert re.search(r"\[classify 1/1\] classifier call 1: \d+ in / \d+ out tokens in", err), err   # live progress
    assert "-> intermediate file not found" in out and "llm openai:gpt-4o: intermediate file not found" in out
    assert "rules vs LLM agreement: 1/1 = 100.0 %" in out
    with OpenAIFake(key="sk-test-classify-0001") as fake:
        fake.script(Resp(200, openai_completion("***intermediate file not found***", "gpt-4o-2024-08-06")))
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        assert cli.main(["classify", str(tmp_path), "--model", "openai:gpt-4o", "--control", "reversed"]) == 0
        assert len(fake.requests) == 1         # the paper-order answer is cached: only the control is asked
    out, err = capsys.readouterr()
    assert "classifier (list reversed) call 2" in err and "| list reversed: intermediate file not found" in out
    assert "position control (the category list reversed): 1/1 answers unchanged" in out
    assert cli.main(["classify", str(tmp_path), "--control", "reversed"]) == 2   # a control needs a model
    assert cli.main(["classify", str(tmp_path), "--model", "scripted:oracle"]) == 2   # no stand-in classifies
    monkeypatch.delenv("OPENAI_API_KEY")
    assert cli.main(["classify", str(tmp_path), "--model", "openai:gpt-4o"]) == 2     # no key: nothing sent
    assert "OPENAI_API_KEY" in capsys.readouterr().err


# ---- accuracy on a real scripted:faults campaign ------------------------------------------------------------

def test_rule_classifier_accuracy_on_a_scripted_faults_campaign(faults_campaign):
    proc = run_cli("classify", faults_campaign)
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"accuracy against the injected faults .*: (\d+)/(\d+) = ([\d.]+) %", proc.stdout)
    assert match, proc.stdout
    correct, n = int(match.group(1)), int(match.group(2))
    assert n == 25 and correct / n >= 0.95, proc.stdout
    assert "injected \\ rules" in proc.stdout                       # the confusion matrix is printed
    records, problems = metrics.load_trials(faults_campaign)
    assert not problems and len(records) == 25
    truths = set()
    for r in records:
        saved = json.loads((Path(r["path"]) / "classification.json").read_text())
        assert saved["ground_truth"] == r["scripted"]["injected_fault"] and saved["rule"]["evidence"]
        truths.add(saved["ground_truth"])
    assert truths == set(ERROR_CATEGORIES) - {OTHER}                # every injectable category occurred
