"""`hepmini view DIR`: a read-only server on 127.0.0.1, no way out of DIR, a live report, a clean Ctrl-C."""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.workdirs import ROOT_DIR
from test_metrics import FIXTURE, OPENAI, trial, write_campaign

from hepmini import cli
from hepmini.bench import view


@pytest.fixture
def served(tmp_path):
    """A hand-made campaign served by a view server in a thread: (campaign dir, port)."""
    d = write_campaign(tmp_path / "camp", files=True)
    (tmp_path / "secret.txt").write_text("outside the campaign")
    os.symlink(tmp_path / "secret.txt", d / "cells" / "out-link.txt")            # leads out: never served
    os.symlink(d / "campaign.json", d / "cells" / "in-link.json")                 # stays inside: served
    httpd = view.server(d)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield d, httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def get(port, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


def snapshot(d: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in d.rglob("*") if p.is_file() and not p.is_symlink()}


def test_the_report_and_every_trial_file_are_served_read_only(served):
    d, port = served
    before = snapshot(d)
    status, headers, body = get(port, "/")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html") and "id='live'" in page
    assert "script-src 'unsafe-inline'" in headers["Content-Security-Policy"]
    assert len(re.findall(r"<tr [^>]*data-g=", page)) == len(FIXTURE)
    code = re.search(r'<tr id="cell-0-step1"[^>]*>.*?<a href="([^"]+)">code</a>', page).group(1)
    status, headers, body = get(port, "/" + code)
    assert status == 200 and body == b"print('attempt 2 of trial-3')\n"
    assert headers["Content-Type"] == "text/plain; charset=utf-8" and headers["Content-Security-Policy"].startswith(
        "sandbox") and headers["X-Content-Type-Options"] == "nosniff"
    assert get(port, "/" + code, "HEAD")[2] == b""
    status, _, listing = get(port, "/cells/openai__gpt-x/step1/trial-3/")
    assert status == 200 and b'href="comprehensive.log"' in listing and b"generated_code/" in listing
    assert get(port, "/cells/openai__gpt-x")[1]["Location"] == "/cells/openai__gpt-x/"
    status, _, body = get(port, "/cells/in-link.json")
    assert status == 200 and json.loads(body)["models"]
    assert get(port, "/report.html", "POST")[0] == 501 and get(port, "/x", "PUT")[0] == 501
    assert snapshot(d) == before        # nothing written: no report, no classification.json


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/cells/../../secret.txt",
                                  "/cells/%2E%2E/%2e%2e/secret.txt", "/cells/out-link.txt", "/..%2fsecret.txt",
                                  "/cells/%00", "//etc/passwd", "/etc/passwd", "/cells\\..\\..\\secret.txt"])
def test_no_path_leads_out_of_the_campaign(served, path):
    _, port = served
    status, _, body = get(port, path)
    assert status == 404 and b"outside the campaign" not in body and b"root:" not in body


def test_the_listing_hides_links_that_lead_out(served):
    _, port = served
    _, _, listing = get(port, "/cells/")
    assert b"in-link.json" in listing and b"out-link.txt" not in listing


@pytest.mark.slow   # waits for a campaign's cells to land one after another
def test_the_live_report_follows_a_running_campaign(served):
    d, port = served
    first = json.loads(get(port, view.STATUS_PATH)[2])
    assert first["finished"] == 13 and first["cells"] == 20 and "no campaign is running" in first["line"]
    result, _ = trial("success", 100, 400, 3, 0.01, 5)
    new = d / "cells" / "openai__gpt-x" / "step1" / "trial-6"
    new.mkdir()
    (new / "result.json").write_text(json.dumps({**result, "step": "step1", "trial": 6}))
    spec = json.loads((d / "campaign.json").read_text())
    (d / "campaign.json").write_text(json.dumps({**spec, "trials": 6}))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = json.loads(get(port, view.STATUS_PATH)[2])
        if now["version"] != first["version"]:
            break
        time.sleep(0.3)
    assert now["version"] != first["version"] and now["finished"] == 14
    page = get(port, "/report.html")[2].decode()
    assert f"data-v='{now['version']}'" in page and len(re.findall(r"<tr [^>]*data-g=", page)) == 14
    assert f'{OPENAI}' in page and "14 finished trial(s)" in page


def test_view_of_a_directory_that_is_no_campaign_is_one_line(tmp_path, capsys):
    assert cli.main(["view", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a campaign directory" in err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_view_prints_its_url_and_stops_cleanly_on_ctrl_c(tmp_path, stop):
    d = write_campaign(tmp_path / "camp", files=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT_DIR)}
    # as a terminal's foreground job: a suite run as a shell's background job passes SIGINT on ignored
    proc = subprocess.Popen([sys.executable, "-m", "hepmini", "view", str(d)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT_DIR,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, line + proc.stderr.read() if proc.poll() is not None else line
        status, _, body = get(int(url.group(1)), "/")
        assert status == 200 and b"hepmini campaign report" in body
        proc.send_signal(stop)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "view: stopped" in out and "Traceback" not in err, err
