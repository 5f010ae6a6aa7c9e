"""`python -m hepmini view DIR`: a campaign directory served on 127.0.0.1, read-only, live while it runs.

    /  and /report.html    the report, made in memory from the trials on disk (nothing is written into
                           DIR, not even classification.json) and made again once a trial has finished;
                           its script polls /.view/status.json and reloads the page when it has changed
    /.view/status.json     the campaign's progress: finished trials, cells, whether a campaign runs now
    /<path>                any file under DIR (logs, code and JSON as plain text), a directory as a list

GET and HEAD only. A path is resolved inside DIR: `..`, NUL bytes and anything whose real path
(symlinks resolved) lies outside DIR are refused with 404, so no link leads out of the campaign.
Every file but the report is sent with a sandboxing Content-Security-Policy, so nothing a trial
wrote can run script on the page's origin. Ctrl-C stops the server.
"""

import html
import json
import mimetypes
import os
import shutil
import signal
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from hepmini.bench import store
from hepmini.errors import ConfigError

HOST = "127.0.0.1"
STATUS_PATH = "/.view/status.json"
REBUILD_SECONDS = 3.0        # the report is made again at most this often (and only when a trial changed)
TEXT = {".log", ".txt", ".py", ".json", ".jsonl", ".csv", ".md", ".cfg", ".lock", ".tmpl", ".sh", ".yaml", ".yml",
        ".toml", ".ini", ".out", ".err", ".sbatch", ""}
REPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
              "img-src 'self' data:")
FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def resolve(root: str, url_path: str):
    """The real path a request path names inside `root` (a real path), or None when it would leave it.

    >>> resolve("/srv/c", "/cells/a%20b/x.log"), resolve("/srv/c", "/../etc/passwd"), resolve("/srv/c", "/%2e%2e/x")
    ('/srv/c/cells/a b/x.log', None, None)
    """
    path = unquote(urlsplit(url_path).path)
    if "\0" in path or "\\" in path:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    real = os.path.realpath(os.path.join(root, *parts))
    return real if real == root or real.startswith(root + os.sep) else None


def fingerprint(directory: Path) -> str:
    """Changes whenever a trial's result.json or the campaign's spec changes (names, sizes, times)."""
    h, n = 0, 0
    for path in (directory / "campaign.json",):
        h ^= hash((str(path), _stamp(path)))
    cells = directory / "cells"
    for model in _dirs(cells):
        for step in _dirs(model):
            for trial in _dirs(step):
                if store.TRIAL_DIR.fullmatch(trial.name):
                    stamp = _stamp(trial / "result.json")
                    if stamp:
                        h ^= hash((trial.name, step.name, model.name, stamp))
                        n += 1
    return f"{n}-{h & 0xffffffffffff:x}"


def _dirs(path: Path) -> list:
    try:
        return [Path(e.path) for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _stamp(path: Path):
    try:
        st = os.stat(path)
        return st.st_mtime_ns, st.st_size
    except OSError:
        return None


class Live:
    """The report of one campaign directory, made again when its trials change; shared by the request threads."""

    def __init__(self, directory: Path, all_models: bool = False):
        self.dir, self.all_models = Path(directory), all_models
        self.spec = store.Spec.load(self.dir)
        self.lock, self.memo = threading.Lock(), {}
        self.version, self.html, self.counts, self.built = None, b"", {}, 0.0

    def refresh(self) -> None:
        """Make the report again when a trial changed (at most every REBUILD_SECONDS)."""
        with self.lock:
            if self.version is not None and time.monotonic() - self.built < REBUILD_SECONDS:
                return
            version = fingerprint(self.dir)
            self.built = time.monotonic()
            if version != self.version:
                self.html, self.counts = self._build(version)
                self.version = version

    def _build(self, version: str) -> tuple:
        from hepmini.bench import report, trials
        from hepmini.bench.render import page

        self.spec = store.Spec.load(self.dir)   # models, steps or trials may have been added meanwhile
        records, problems, spec = report.collect(self.dir, write=False, memo=self.memo)
        summary = report.summary_of(records, problems, spec, all_models=self.all_models)
        counts = {"finished": len(records), "problems": len(problems), "cells": len(store.cell_list(self.spec)),
                  "in_flight": sum("in flight" in p for p in problems),
                  "passed": summary["overall"]["n_success"], "counted": summary["overall"]["n_counted"]}
        rows = trials.rows_of(records, self.dir, summary["models"], summary["steps"])
        live = {"version": version, "line": self.line(counts)}
        return page(summary, rows, live).encode("utf-8"), counts

    def line(self, counts: dict) -> str:
        lock = store.Lock(self.dir / "campaign.lock")
        running = f"a campaign is running (pid {lock.holder()})" if lock.held_elsewhere() else "no campaign is running"
        flight = f", {counts['in_flight']} in flight" if counts.get("in_flight") else ""
        return (f"live: {counts['finished']}/{counts['cells']} cell(s) finished{flight}, passed {counts['passed']}/"
                f"{counts['counted']}; {running}; checked {time.strftime('%H:%M:%S')}")

    def status(self) -> dict:
        self.refresh()
        return {"version": self.version, "line": self.line(self.counts), **self.counts}


class Handler(BaseHTTPRequestHandler):
    """GET and HEAD of the live report, its status and the files under the campaign directory."""

    server_version = "hepmini-view"
    live: Live = None
    root: str = ""

    def do_GET(self):
        self.answer(body=True)

    def do_HEAD(self):
        self.answer(body=False)

    def answer(self, body: bool) -> None:
        path = urlsplit(self.path).path
        try:
            if path in ("/", "/report.html"):
                self.live.refresh()
                return self.send(HTTPStatus.OK, "text/html; charset=utf-8", self.live.html, body, REPORT_CSP)
            if path == STATUS_PATH:
                data = json.dumps(self.live.status()).encode("utf-8")
                return self.send(HTTPStatus.OK, "application/json", data, body, FILE_CSP)
            real = resolve(self.root, self.path)
            if real is None or not os.path.exists(real):
                return self.send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n", body, FILE_CSP)
            if os.path.isdir(real):
                if not path.endswith("/"):
                    return self.redirect("/" + os.path.relpath(real, self.root).replace(os.sep, "/"))
                return self.send(HTTPStatus.OK, "text/html; charset=utf-8", self.listing(real, path), body, FILE_CSP)
            self.send_file(real, body)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the browser went away mid-answer
        except Exception as exc:  # a bad moment on disk (a cell moved aside mid-read): this answer only
            message = f"hepmini view: {type(exc).__name__}: {exc}\n".encode("utf-8", "replace")
            self.send(HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", message, body, FILE_CSP)

    def send(self, status, kind: str, data: bytes, body: bool, csp: str) -> None:
        self.send_response(status)
        self.headers_for(kind, len(data), csp)
        if body:
            self.wfile.write(data)

    def headers_for(self, kind: str, length: int, csp: str) -> None:
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.send_header("Content-Security-Policy", csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def redirect(self, where: str) -> None:
        """To the directory's own URL with a slash, so its listing's relative links work."""
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", quote(where.rstrip("/").removesuffix("/.")) + "/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_file(self, real: str, body: bool) -> None:
        # opened without following a link: a path swapped for one after resolve() is refused, not served
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            self.send_response(HTTPStatus.OK)
            self.headers_for(content_type(real), size, FILE_CSP)
            if body:
                shutil.copyfileobj(fh, self.wfile)

    def listing(self, real: str, path: str) -> bytes:
        """A directory's entries as links (those whose real path stays inside the campaign)."""
        items = []
        for entry in sorted(os.scandir(real), key=lambda e: (not e.is_dir(), e.name)):
            if resolve(self.root, path + quote(entry.name)) is None:
                continue   # a link leading out of the campaign is neither listed nor served
            slash = "/" if entry.is_dir() else ""
            items.append(f'<li><a href="{html.escape(quote(entry.name) + slash)}">{html.escape(entry.name)}{slash}'
                         "</a></li>")
        up = '<li><a href="../">../</a></li>' if path != "/" else ""
        return (f"<!DOCTYPE html><meta charset='utf-8'><title>{html.escape(path)}</title><h1>{html.escape(path)}</h1>"
                f"<p><a href='/report.html'>the report</a></p><ul>{up}{''.join(items)}</ul>").encode("utf-8")

    def log_message(self, format, *args):   # noqa: A002 - the base class's name; quiet: the console is the user's
        pass


def content_type(path: str) -> str:
    """Text for the logs, code and JSON a trial leaves (shown in the browser, never run); else by extension."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix in TEXT:
        return "text/plain; charset=utf-8"
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def server(directory: Path, port: int = 0, all_models: bool = False) -> ThreadingHTTPServer:
    """A server of `directory` on 127.0.0.1:`port` (0: a free one), not yet serving."""
    live = Live(directory, all_models)   # CampaignError first when DIR holds no campaign
    handler = type("CampaignHandler", (Handler,), {"live": live, "root": os.path.realpath(directory)})
    try:
        httpd = ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {HOST}:{port} ({exc.strerror or exc}); leave --port out for a free "
                          "port") from None
    httpd.daemon_threads = True
    return httpd


def serve(directory: Path, port: int = 0, all_models: bool = False, stream=None) -> int:
    """Serve `directory` until Ctrl-C (or SIGTERM); print its URL first. Returns 0."""
    httpd = server(directory, port, all_models)
    url = f"http://{HOST}:{httpd.server_address[1]}/"
    print(f"view: serving {directory} at {url} (read-only; Ctrl-C stops)", file=stream, flush=True)
    # SIGTERM (kill, a closed session) stops it as Ctrl-C does; SIGINT is ignored in a shell's background jobs
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        httpd.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        print("view: stopped", file=stream, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        httpd.server_close()
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt
