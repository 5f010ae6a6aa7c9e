"""fetch-data against a loopback HTTP server serving small synthetic GamGam files.

The server misbehaves on request: drops the connection mid-file, ignores Range, lies about the size,
answers 5xx, serves a non-ROOT file. Waits go to a list instead of sleeping.
"""

import http.server
import io
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from support.workdirs import run_cli

from hepmini import cli
from hepmini.data import download
from hepmini.data import fetch
from hepmini.errors import ConfigError


class FileServer:
    """A ThreadingHTTPServer on 127.0.0.1 serving `content` (URL path -> bytes) with scripted faults.

    script(path, *actions): each GET of path takes the next action: None (serve normally), an int status
    (e.g. 503), ("drop", K) (send K bytes, then close), "ignore-range" (answer 200 with the whole file).
    length_delta[path] = N announces N more bytes than are sent. `log` records (method, path, Range).
    """

    def __init__(self, content):
        self.content = dict(content)
        self.actions, self.length_delta, self.log = {}, {}, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self):
                owner._serve(self, head=True)

            def do_GET(self):
                owner._serve(self, head=False)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()

    def script(self, path, *actions):
        self.actions.setdefault(path, []).extend(actions)

    def gets(self, path=None):
        return [rng for method, p, rng in self.log if method == "GET" and (path is None or p == path)]

    def _serve(self, h, head):
        self.log.append((h.command, h.path, h.headers.get("Range")))
        body = self.content.get(h.path)
        queue = self.actions.get(h.path) or []
        action = queue.pop(0) if queue and not head else None
        if body is None or isinstance(action, int):
            status = 404 if body is None else action
            h.send_response(status)
            if status == 429:
                h.send_header("Retry-After", "7")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        start, rng = 0, h.headers.get("Range")
        if rng and action != "ignore-range":
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(body)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            h.send_response(200)
        payload = body[start:]
        h.send_header("Content-Length", str(len(payload) + self.length_delta.get(h.path, 0)))
        h.end_headers()
        if head:
            return
        if isinstance(action, tuple) and action[0] == "drop":
            h.wfile.write(payload[:action[1]])
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        try:
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """{relative path: bytes} of the nine synthetic files at scale 0.005."""
    from hepmini.data import synth

    out = tmp_path_factory.mktemp("fetchsrc")
    written = synth.generate(out, scale=0.005, seed=1)
    return {rel: (out / rel).read_bytes() for rel in written}


@pytest.fixture
def server(synthetic):
    with FileServer({"/" + rel: data for rel, data in synthetic.items()}) as srv:
        yield srv


@pytest.fixture
def session():
    import requests

    with requests.Session() as s:
        s.trust_env = False  # the loopback server must be reached directly, whatever proxy is set
        yield s


DATA_A = "GamGam/Data/data_A.GamGam.root"
GGH = "GamGam/MC/mc_343981.ggH125_gamgam.GamGam.root"


def run(server, session, out, files=(DATA_A,), **kw):
    """fetch() with instant waits; returns (results by rel, waits, stderr text)."""
    waits, err = [], io.StringIO()
    kw.setdefault("chunk", 16384)
    results = fetch.fetch(out, list(files), server.url, session=session, sleep=waits.append, stream=err, **kw)
    return {r.rel: r for r in results}, waits, err.getvalue()


def leftovers(out, rel):
    return sorted(p.name for p in (out / rel).parent.iterdir())


# --- the normal path ------------------------------------------------------------------------------


def test_downloads_and_verifies_all_nine(server, session, synthetic, tmp_path):
    results, waits, err = run(server, session, tmp_path, files=fetch.select_files("data,mc"))
    assert len(results) == 9 and waits == []
    for rel, data in synthetic.items():
        assert results[rel].status == "downloaded", results[rel]
        assert (tmp_path / rel).read_bytes() == data
        assert results[rel].size == len(data) and results[rel].entries > 0
        assert "size verified" in results[rel].detail
    assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.rejected"))
    assert len(server.gets()) == 9 and all(rng is None for rng in server.gets())
    manifest = (tmp_path / fetch.MANIFEST).read_text().splitlines()
    assert len(manifest) == 9 and manifest[0].endswith("  GamGam/Data/data_A.GamGam.root")
    assert fetch.read_manifest(tmp_path / fetch.MANIFEST) == {r: results[r].sha256 for r in results}
    # not a terminal: one progress line per file with size, percentage and rate
    assert "data_A.GamGam.root  " in err and "100.0%" in err and "/s" in err and "\r" not in err


def test_complete_files_are_skipped(server, session, tmp_path):
    run(server, session, tmp_path, files=[DATA_A, GGH])
    before = len(server.gets())
    results, _, _ = run(server, session, tmp_path, files=[DATA_A, GGH])
    assert {r.status for r in results.values()} == {"present"}
    assert all(r.detail == "already complete" and r.entries > 0 for r in results.values())
    assert len(server.gets()) == before  # only HEAD requests for the size


def test_a_present_file_of_the_wrong_size_is_set_aside_and_refetched(server, session, synthetic, tmp_path):
    (tmp_path / DATA_A).parent.mkdir(parents=True)
    (tmp_path / DATA_A).write_bytes(b"old")
    results, _, err = run(server, session, tmp_path)
    assert results[DATA_A].status == "downloaded"
    assert (tmp_path / DATA_A).read_bytes() == synthetic[DATA_A]
    assert (tmp_path / (DATA_A + ".rejected")).read_bytes() == b"old"
    assert "3 bytes, the server has" in err


# --- resume ---------------------------------------------------------------------------------------


def test_resumes_a_partial_file_with_a_range_request(server, session, synthetic, tmp_path):
    data = synthetic[DATA_A]
    part = tmp_path / (DATA_A + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:50000])
    results, waits, _ = run(server, session, tmp_path)
    assert results[DATA_A].status == "downloaded" and waits == []
    assert server.gets() == ["bytes=50000-"]
    assert (tmp_path / DATA_A).read_bytes() == data and not part.exists()


def test_a_complete_part_gets_416_and_is_finished(server, session, synthetic, tmp_path):
    part = tmp_path / (DATA_A + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(synthetic[DATA_A])
    results, _, _ = run(server, session, tmp_path)
    assert results[DATA_A].status == "downloaded"
    assert server.gets() == [f"bytes={len(synthetic[DATA_A])}-"]
    assert (tmp_path / DATA_A).read_bytes() == synthetic[DATA_A]


def test_a_part_longer_than_the_file_starts_over(server, session, synthetic, tmp_path):
    part = tmp_path / (DATA_A + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(synthetic[DATA_A] + b"junk")
    results, waits, _ = run(server, session, tmp_path)
    assert results[DATA_A].status == "downloaded" and waits == []
    assert server.gets() == [f"bytes={len(synthetic[DATA_A]) + 4}-", None]
    assert (tmp_path / DATA_A).read_bytes() == synthetic[DATA_A]


def test_a_dropped_connection_resumes_from_the_bytes_written(server, session, synthetic, tmp_path):
    server.script("/" + DATA_A, ("drop", 40000))
    results, waits, err = run(server, session, tmp_path)
    assert results[DATA_A].status == "downloaded"
    ranges = server.gets()
    assert len(ranges) == 2 and ranges[0] is None
    resumed_at = int(ranges[1].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 40000
    assert waits == [1.0] and "connection dropped after" in err and "retry 1/8" in err
    assert (tmp_path / DATA_A).read_bytes() == synthetic[DATA_A]


def test_repeated_drops_keep_going_while_bytes_arrive(server, session, synthetic, tmp_path):
    server.script("/" + GGH, *[("drop", 20000)] * 10)
    results, waits, _ = run(server, session, tmp_path, files=[GGH], retries=2)
    assert results[GGH].status == "downloaded"   # each attempt made progress, so 2 retries never ran out
    assert (tmp_path / GGH).read_bytes() == synthetic[GGH]
    assert set(waits) == {1.0}


def test_a_server_ignoring_range_means_restart(server, session, synthetic, tmp_path):
    part = tmp_path / (DATA_A + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"X" * 30000)   # wrong bytes: had they been kept, the file would be corrupt
    server.script("/" + DATA_A, "ignore-range")
    results, waits, err = run(server, session, tmp_path)
    assert results[DATA_A].status == "downloaded" and waits == []
    assert server.gets() == ["bytes=30000-"] and "ignored the byte range; restarting from 0" in err
    assert (tmp_path / DATA_A).read_bytes() == synthetic[DATA_A]


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize("delta", [1000, -1000])
def test_a_lying_content_length_fails_and_leaves_no_file(server, session, tmp_path, delta):
    server.length_delta["/" + DATA_A] = delta
    results, _, _ = run(server, session, tmp_path)
    res = results[DATA_A]
    assert res.status == "failed"
    if delta > 0:   # the transfer stops short; the resumed request then reveals another size
        size = len(server.content["/" + DATA_A])
        assert f"announced {size + 1000} bytes, then {size}:" in res.detail
        assert leftovers(tmp_path, DATA_A) == []
    else:           # a short file that matches its announced size is caught by the ROOT header's length
        assert "truncated ROOT file" in res.detail
        assert leftovers(tmp_path, DATA_A) == ["data_A.GamGam.root.rejected"]
    assert not (tmp_path / DATA_A).exists() and not (tmp_path / fetch.MANIFEST).exists()


@pytest.mark.parametrize("kind", ["truncated", "html", "wrong-tree"])
def test_a_file_that_is_not_a_2020_gamgam_file_is_refused(server, session, synthetic, tmp_path, kind):
    if kind == "truncated":   # the server's size is consistent, but the ROOT file is cut short
        body = synthetic[DATA_A][: len(synthetic[DATA_A]) // 2]
        needle = "truncated ROOT file"
    elif kind == "html":
        body = b"<html><body>Service moved</body></html>\n" * 100
        needle = "not a readable ROOT file"
    else:
        import uproot

        src = tmp_path / "other.root"
        with uproot.recreate(src) as f:
            f.mktree("analysis", {"photon_pt": "float32"}).extend({"photon_pt": [1.0, 2.0]})
        body = src.read_bytes()
        needle = "2025 ATLAS Open Data release"
    server.content["/" + DATA_A] = body
    results, _, _ = run(server, session, tmp_path / "out")
    res = results[DATA_A]
    assert res.status == "failed" and needle in res.detail and "set aside as" in res.detail
    assert leftovers(tmp_path / "out", DATA_A) == ["data_A.GamGam.root.rejected"]
    assert (tmp_path / "out" / (DATA_A + ".rejected")).read_bytes() == body


def test_5xx_and_429_are_retried_with_capped_backoff(server, session, synthetic, tmp_path):
    server.script("/" + DATA_A, 503, 500, 429, 502)
    results, waits, err = run(server, session, tmp_path)
    assert results[DATA_A].status == "downloaded"
    assert waits == [1.0, 2.0, 7.0, 8.0]   # 429 carries Retry-After: 7
    assert "HTTP 503" in err and "retry 4/8" in err
    assert (tmp_path / DATA_A).read_bytes() == synthetic[DATA_A]
    assert [min(fetch.BACKOFF_CAP, fetch.BACKOFF_START * 2 ** k) for k in range(8)][-1] == 60.0


def test_retries_run_out(server, session, tmp_path):
    server.script("/" + DATA_A, *[503] * 5)
    results, waits, _ = run(server, session, tmp_path, retries=3)
    res = results[DATA_A]
    assert res.status == "failed" and "gave up after 3 retries (HTTP 503" in res.detail
    assert waits == [1.0, 2.0, 4.0] and leftovers(tmp_path, DATA_A) == []


def test_not_found_is_not_retried(server, session, tmp_path):
    server.content.pop("/" + GGH)
    results, waits, _ = run(server, session, tmp_path, files=[GGH])
    assert results[GGH].status == "failed" and "HTTP 404" in results[GGH].detail and waits == []


def test_sha256_manifest_is_checked(server, session, synthetic, tmp_path):
    import hashlib

    good = hashlib.sha256(synthetic[DATA_A]).hexdigest()
    manifest = tmp_path / "sums"
    manifest.write_text(f"# from elsewhere\n{good}  data_A.GamGam.root\n{'0' * 64} *./GamGam/MC/{GGH[10:]}\n")
    sums = fetch.read_manifest(manifest)
    assert sums == {DATA_A: good, GGH: "0" * 64}
    results, _, _ = run(server, session, tmp_path / "out", files=[DATA_A, GGH], checksums=sums)
    assert results[DATA_A].status == "downloaded" and "SHA-256 verified" in results[DATA_A].detail
    assert results[GGH].status == "failed" and "SHA-256" in results[GGH].detail
    assert leftovers(tmp_path / "out", GGH) == [Path(GGH).name + ".rejected"]
    again, _, _ = run(server, session, tmp_path / "out", files=[DATA_A], checksums=sums)
    assert again[DATA_A].status == "present"
    (tmp_path / "bad").write_text("abc  data_A.GamGam.root\n")
    with pytest.raises(ConfigError, match="bad:1: expected"):
        fetch.read_manifest(tmp_path / "bad")


def test_offline_in_process_fails_fast(session, tmp_path):
    port = closed_port()
    waits = []
    with pytest.raises(fetch.Offline, match="cannot reach 127.0.0.1 \\(connection refused\\)"):
        fetch.fetch(tmp_path, [DATA_A], f"http://127.0.0.1:{port}", session=session, sleep=waits.append,
                    stream=io.StringIO())
    assert waits == [] and not list(tmp_path.rglob("*.root*"))


def _dns_failure():
    import requests
    from urllib3.exceptions import MaxRetryError, NameResolutionError

    reason = NameResolutionError("atlas-opendata.web.cern.ch", None,
                                 socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"))
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/atlas-opendata/x", reason))


class NoNetwork:
    """A session whose every request fails as `exc` (no socket is opened)."""

    def __init__(self, exc):
        self.exc, self.calls = exc, 0

    def get(self, *args, **kw):
        self.calls += 1
        raise self.exc

    head = get


def test_dns_failure_of_the_public_host_is_offline(tmp_path):
    session = NoNetwork(_dns_failure())
    with pytest.raises(fetch.Offline) as err:
        fetch.fetch(tmp_path, [DATA_A], session=session, sleep=pytest.fail, stream=io.StringIO())
    text = str(err.value)
    assert text.startswith("cannot reach atlas-opendata.web.cern.ch (DNS lookup failed)")
    assert f"{fetch.PUBLIC_BASE_URL}/GamGam/{{Data,MC}}/" in text and fetch.MIRROR_BASE_URL in text
    assert f"--data-dir {tmp_path}" in text and session.calls == 1


def test_files_copied_in_by_hand_pass_offline(server, session, tmp_path):
    run(server, session, tmp_path, files=[DATA_A, GGH])
    (tmp_path / GGH).unlink()
    offline = NoNetwork(_dns_failure())
    results = fetch.fetch(tmp_path, [DATA_A], session=offline, sleep=pytest.fail, stream=io.StringIO())
    assert results[0].status == "present" and "host is unreachable (DNS lookup failed)" in results[0].detail
    with pytest.raises(fetch.Offline):  # a file still missing needs the network
        fetch.fetch(tmp_path, [DATA_A, GGH], session=offline, sleep=pytest.fail, stream=io.StringIO())


def test_which_failures_mean_offline():
    import requests

    assert download._connect_failure(_dns_failure()) == "DNS lookup failed"
    assert download._connect_failure(requests.exceptions.ConnectTimeout("x")) == "connection timed out"
    assert download._connect_failure(requests.exceptions.ReadTimeout("x")) is None   # connected: retried
    assert download._connect_failure(requests.exceptions.ConnectionError(
        OSError(101, "Network is unreachable"))) == "network unreachable"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- progress and the command line ----------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_redraws_one_line():
    ticks = iter(range(100))
    bar = download._Progress(Terminal(), "data_A.GamGam.root", 0, 4_000_000, lambda: next(ticks), 10.0)
    bar.update(1_000_000)
    bar.update(2_000_000)
    bar.close(4_000_000)
    text = bar.stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    # the clock ticks 1 s per reading: at 1 MB after 2 s, 3 MB remain at 0.5 MB/s
    assert " 25.0%  500.0 kB/s  ETA 0:06" in text and "100.0%" in text


def test_select_files():
    assert len(fetch.select_files("data,mc")) == 9 and len(fetch.select_files("mc")) == 5
    assert fetch.select_files("data_A,data,mc_343981.ggH125_gamgam.GamGam.root") == \
        fetch.select_files("data") + [GGH]
    with pytest.raises(ConfigError, match="did you mean data_A"):
        fetch.select_files("dataA")


def test_cli_fetch_in_process(server, synthetic, tmp_path, monkeypatch, capsys):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "real"
    code = cli.main(["fetch-data", "--out", str(out), "--files", "data_A,mc_343981.ggH125_gamgam",
                     "--base-url", server.url + "/"])
    stdout = capsys.readouterr().out
    assert code == 0, stdout
    assert "2 files present and verified" in stdout and "note: the real file has 430344 entries" in stdout
    assert (out / DATA_A).read_bytes() == synthetic[DATA_A]
    # the recorded manifest verifies the set on the next run
    code = cli.main(["fetch-data", "--out", str(out), "--files", "data_A", "--base-url", server.url,
                     "--sha256", str(out / fetch.MANIFEST)])
    assert code == 0 and "present     GamGam/Data/data_A" in capsys.readouterr().out
    server.content.pop("/" + GGH)
    shutil.rmtree(out / "GamGam" / "MC")
    code = cli.main(["fetch-data", "--out", str(out), "--files", "mc_343981.ggH125_gamgam",
                     "--base-url", server.url, "--retries", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("hepmini: error: 1 of 1 files not fetched")


def test_base_url_setting(tmp_path):
    from hepmini import config

    cfg = config.resolve(environ={"HEPMINI_FETCH_BASE_URL": "http://127.0.0.1:1/x"}, cwd=tmp_path)
    assert cfg.fetch_base_url == "http://127.0.0.1:1/x" and config.Config().fetch_base_url == ""


def test_offline_through_the_real_cli(tmp_path):
    env = {var: "" for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                               "all_proxy")}
    proc = run_cli("fetch-data", "--out", tmp_path / "real", "--base-url",
                   f"http://127.0.0.1:{closed_port()}", env=env, timeout=60)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("hepmini: error: cannot reach 127.0.0.1 (connection refused)")
    assert "python -m hepmini data" in line and "--data-dir" in line and "offline" in line
    assert not list((tmp_path / "real").rglob("*.root*"))
    assert os.path.isdir(tmp_path / "real" / "GamGam")
