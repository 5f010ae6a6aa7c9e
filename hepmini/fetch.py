"""Download the real 2020 ATLAS Open Data GamGam files: resumable, verified, retried.

Each file streams into `<name>.part` beside its final place, and an interrupted run resumes it with an
HTTP `Range: bytes=N-` request. A file gets its final name (one os.replace) only after three checks.
Its size must equal what the server announced (Content-Length, or the total in Content-Range). Its
SHA-256 must match where one is known. It must open as a ROOT file with tree `mini`. So a half or
wrong file never sits under a real name, and a wrong one is renamed to `<name>.rejected`.

About checksums: ATLAS publishes no SHA-256 for these files (reference/atlas_gamgam.md §2 found
none), and an ETag is not a checksum. So a SHA-256 is checked only when the user gives a manifest
(`--sha256 FILE`, in `sha256sum` format). The SHA-256 of every verified file is recorded in
DIR/GamGam.sha256; `cd DIR && sha256sum -c GamGam.sha256` then checks a copy carried elsewhere.

`requests` is imported only when a download starts. The LLM transport is not used: it sends JSON
POSTs, and this job needs streaming GETs with Range.
"""

import dataclasses
import errno
import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from hepmini.errors import BadRootFile, ConfigError, DataError, MissingData, WorkdirError

PUBLIC_BASE_URL = "https://atlas-opendata.web.cern.ch/atlas-opendata/samples/2020"   # atlas_gamgam.md §2.1
MIRROR_BASE_URL = "http://opendata.cern.ch/eos/opendata/atlas/OutreachDatasets/2020-01-22"
MANIFEST = "GamGam.sha256"        # DIR/GamGam.sha256: what was downloaded, in `sha256sum -c` format
PART, REJECTED = ".part", ".rejected"
CHUNK = 1 << 20
TIMEOUT = (10.0, 60.0)            # seconds to connect, and of silence while reading
RETRIES = 8                       # failed attempts in a row (no new bytes) before a file is given up
BACKOFF_START, BACKOFF_CAP = 1.0, 60.0
MAX_RETRY_AFTER = 300.0
NEEDED_BRANCHES = ("photon_n", "photon_pt", "photon_isTightID", "trigP")
# Entries of `mini` in the real data files (§2.2: A printed in the notebooks, B-D derived). A different
# count only triggers a note: it is how a synthetic or another release's file shows itself.
KNOWN_ENTRIES = {"GamGam/Data/data_A.GamGam.root": 430_344, "GamGam/Data/data_B.GamGam.root": 1_528_717,
                 "GamGam/Data/data_C.GamGam.root": 2_237_187, "GamGam/Data/data_D.GamGam.root": 3_602_176}


class FetchError(DataError):
    """A requested file could not be downloaded and verified."""


class Offline(FetchError):
    """The download host cannot be reached at all (DNS failure, connection refused or timed out)."""


class _Retry(Exception):
    """A failed attempt worth repeating: `wait` overrides the backoff, `progressed` = bytes arrived."""

    def __init__(self, reason, wait=None, progressed=False):
        super().__init__(reason)
        self.wait, self.progressed = wait, progressed


@dataclasses.dataclass
class Result:
    """What happened to one requested file."""

    rel: str                     # e.g. GamGam/Data/data_A.GamGam.root
    status: str                  # "downloaded", "present" (already complete) or "failed"
    size: int = 0
    entries: int = 0
    detail: str = ""
    sha256: str = ""


# ---- choosing files and reading manifests -----------------------------------------------------------


def select_files(spec: str = "data,mc") -> list:
    """Relative paths for a comma list of `data`, `mc` and sample names (data_A, mc_343981.ggH125_gamgam)."""
    import difflib

    from hepmini import stepdefs

    rules = stepdefs.rules()
    by_name = {rules.sample_name(rel): rel for rel in rules.ALL_FILES}
    groups = {"data": rules.DATA_FILES, "mc": rules.MC_FILES, "all": rules.ALL_FILES}
    chosen = []
    for token in (t.strip() for t in (spec or "data,mc").split(",")):
        if not token:
            continue
        if token in groups:
            chosen += groups[token]
        elif token in by_name or token.removesuffix(".GamGam.root") in by_name:
            chosen.append(by_name[token.removesuffix(".GamGam.root")])
        else:
            hint = difflib.get_close_matches(token, list(groups) + list(by_name), n=1)
            more = f" (did you mean {hint[0]}?)" if hint else ""
            raise ConfigError(f"--files: unknown file set '{token}'{more}; use data, mc or sample names "
                              f"such as {', '.join(list(by_name)[:2])}")
    if not chosen:
        raise ConfigError("--files names no file; use data, mc or both (data,mc)")
    return list(dict.fromkeys(chosen))


def read_manifest(path) -> dict:
    """Read a `sha256sum` file into {relative GamGam path: hex}; lines may name a path or a base name."""
    from hepmini import stepdefs

    rules = stepdefs.rules()
    by_base = {rel.rsplit("/", 1)[-1]: rel for rel in rules.ALL_FILES}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--sha256 {path}: cannot read it ({exc.strerror or exc})") from None
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 1)
        digest = parts[0].lower()
        if len(parts) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigError(f"{path}:{number}: expected '<64 hex digits>  <file name>' "
                              "(the output of sha256sum)")
        name = parts[1].strip().lstrip("*").removeprefix("./")
        rel = by_base.get(name.rsplit("/", 1)[-1])
        if rel is not None:  # other files in a shared manifest are ignored
            sums[rel] = digest
    return sums


# ---- the download ----------------------------------------------------------------------------------


def fetch(out_dir, files=None, base_url=PUBLIC_BASE_URL, *, checksums=None, retries=RETRIES,
          session=None, sleep=time.sleep, clock=time.monotonic, stream=None, chunk=CHUNK,
          timeout=TIMEOUT, interval=10.0) -> list:
    """Download `files` (default all nine) from `base_url` into `out_dir`; return one Result per file.

    Raises Offline when the host cannot be reached at all; any other failure is a "failed" Result.
    """
    from hepmini import stepdefs

    files = list(stepdefs.rules().ALL_FILES if files is None else files)
    own = session is None
    if own:
        session = _requests().Session()
    job = _Downloader(session, Path(out_dir), base_url.rstrip("/"), checksums or {}, retries, sleep, clock,
                      stream or sys.stderr, chunk, timeout, interval)
    try:
        results = [job.one(rel) for rel in files]
    finally:
        if own:
            session.close()
    _record_checksums(Path(out_dir), results)
    return results


class _Downloader:
    def __init__(self, session, out, base_url, checksums, retries, sleep, clock, stream, chunk, timeout,
                 interval):
        self.session, self.out, self.base_url, self.checksums = session, out, base_url, checksums
        self.retries, self.sleep, self.clock, self.stream = retries, sleep, clock, stream
        self.chunk, self.timeout, self.interval = chunk, timeout, interval
        # identity: byte ranges and sizes must be of the file itself, not of a gzip of it
        self.headers = {"User-Agent": f"hepmini-fetch/{_version()}", "Accept-Encoding": "identity"}
        self.reached = False   # has the host answered anything yet? Until it has, a connect failure = offline
        self.unreachable = ""  # why a size check of a file already in place could not reach the host
        self.total = None      # size announced for the current file; must not change between attempts

    def one(self, rel: str) -> Result:
        final = self.out / rel
        part = final.with_name(final.name + PART)
        url = f"{self.base_url}/{rel}"
        want = self.checksums.get(rel, "")
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.is_file():
            why = self._check_present(url, final, want)
            if why is None:
                try:
                    entries = verify_root(final)
                except BadRootFile as exc:
                    why = str(exc)
                else:
                    detail = "already complete" if not self.unreachable else (
                        f"already present; sizes not compared, the host is unreachable ({self.unreachable})")
                    return Result(rel, "present", final.stat().st_size, entries, detail, want)
            self._note(f"{rel}: the existing file is set aside as {final.name}{REJECTED} ({why})")
            os.replace(final, final.with_name(final.name + REJECTED))
        try:
            self._download(url, part)
        except Offline:
            raise
        except FetchError as exc:
            return Result(rel, "failed", detail=str(exc))
        size = part.stat().st_size
        detail = "size verified" if self.total is not None else "server sent no size; ROOT check only"
        from hepmini.files import sha256_file

        digest = sha256_file(part)
        if want and digest != want:
            return self._reject(rel, part, f"SHA-256 {digest[:12]}... differs from the manifest's "
                                           f"{want[:12]}...; the download is corrupt or not this file")
        try:
            entries = verify_root(part)
        except BadRootFile as exc:
            return self._reject(rel, part, str(exc).replace(str(part), final.name))
        os.replace(part, final)
        if want:
            detail += ", SHA-256 verified"
        return Result(rel, "downloaded", size, entries, detail, digest)

    def _reject(self, rel, part, why) -> Result:
        aside = part.with_name(part.name.removesuffix(PART) + REJECTED)
        os.replace(part, aside)
        return Result(rel, "failed", detail=f"{why}; set aside as {aside}")

    def _check_present(self, url, final: Path, want: str):
        """None if the file already in place is complete, else the reason it is not."""
        if want:
            from hepmini.files import sha256_file

            return None if sha256_file(final) == want else "SHA-256 differs from the manifest"
        size, remote = final.stat().st_size, self._remote_size(url)
        if remote is None or remote == size:   # a server that will not say cannot contradict it
            return None
        return f"{size} bytes, the server has {remote}"

    def _remote_size(self, url):
        requests = _requests()
        try:
            with self.session.head(url, headers=self.headers, allow_redirects=True,
                                   timeout=self.timeout) as resp:
                self.reached = True
                length = resp.headers.get("Content-Length")
                return int(length) if resp.status_code == 200 and length and length.isdigit() else None
        except requests.exceptions.RequestException as exc:
            # Offline with the files already copied in by hand: the ROOT check alone has to do.
            why = _connect_failure(exc)
            if why and not self.reached:
                self.unreachable = why
            return None

    def _download(self, url: str, part: Path) -> None:
        """Bring `part` to the complete file, resuming and retrying; raise FetchError when giving up."""
        self.total, failures = None, 0
        while True:
            try:
                return self._attempt(url, part)
            except _Retry as exc:
                if exc.progressed:  # bytes arrived: the connection works, so start counting afresh
                    failures = 0
                if failures >= self.retries:
                    have = part.stat().st_size if part.exists() else 0
                    raise FetchError(f"gave up after {self.retries} retries ({exc}); run the same "
                                     f"command again to resume from byte {have}") from None
                wait = exc.wait if exc.wait is not None else min(BACKOFF_CAP, BACKOFF_START * 2 ** failures)
                failures += 1
                self._note(f"{part.name.removesuffix(PART)}: {exc}; retry {failures}/{self.retries}"
                           + (f" in {wait:.0f} s" if wait else ""))
                if wait:
                    self.sleep(wait)

    def _attempt(self, url: str, part: Path) -> None:
        requests = _requests()
        have = part.stat().st_size if part.exists() else 0
        headers = dict(self.headers, Range=f"bytes={have}-") if have else self.headers
        try:
            resp = self.session.get(url, headers=headers, stream=True, timeout=self.timeout)
        except requests.exceptions.RequestException as exc:
            self._offline_check(url, exc)
            raise _Retry(_short(exc)) from None
        with resp:
            self.reached = True
            status = resp.status_code
            if status == 429 or status >= 500:
                raise _Retry(f"HTTP {status} {resp.reason}", _retry_after(resp.headers.get("Retry-After")))
            if status == 416 and have:
                total = _content_range(resp.headers.get("Content-Range", ""))[2]
                self._announce(total, part)
                if total == have:
                    return  # the part was already complete
                part.unlink()
                raise _Retry(f"the partial file ({have} bytes) does not fit the server's "
                             f"({total} bytes); starting over", wait=0)
            if status == 404:
                raise FetchError(f"{url}: not found (HTTP 404); check --base-url (the public one is "
                                 f"{PUBLIC_BASE_URL})")
            if status not in (200, 206):
                raise FetchError(f"{url}: HTTP {status} {resp.reason}; check --base-url or try later")
            if status == 206:
                start, _, total = _content_range(resp.headers.get("Content-Range", ""))
                if start != have:
                    part.unlink()
                    raise _Retry(f"the server sent bytes {start}- for a request of bytes {have}-; "
                                 "starting over", wait=0)
                mode = "ab"
            else:
                if have:
                    self._note(f"{part.name.removesuffix(PART)}: the server ignored the byte range; "
                               f"restarting from 0 (the {have} bytes kept are discarded)")
                have, mode = 0, "wb"
                length = resp.headers.get("Content-Length", "")
                total = int(length) if length.isdigit() else None
            self._announce(total, part)
            self._stream(resp, part, mode, have)

    def _announce(self, total, part):
        if total is None:
            return
        if self.total is not None and total != self.total:
            part.unlink(missing_ok=True)
            raise FetchError(f"the server announced {self.total} bytes, then {total}: the file changed "
                             "or the server is faulty; the partial file was removed, run again")
        self.total = total

    def _stream(self, resp, part: Path, mode: str, have: int) -> None:
        import urllib3.exceptions

        try:
            fh = open(part, mode)
        except OSError as exc:
            raise WorkdirError(f"cannot write {part} ({exc.strerror or exc}); choose a writable --out") \
                from None
        name = part.name.removesuffix(PART)
        bar = _Progress(self.stream, name, have, self.total, self.clock, self.interval)
        done, too_long = have, False
        with fh:
            try:
                for block in resp.iter_content(self.chunk):
                    try:
                        fh.write(block)
                    except OSError as exc:
                        raise WorkdirError(f"cannot write {part} ({exc.strerror or exc}); free space or "
                                           "choose another --out") from None
                    done += len(block)
                    if self.total is not None and done > self.total:
                        too_long = True
                        break
                    bar.update(done)
            except (OSError, urllib3.exceptions.HTTPError) as exc:  # requests' own errors are OSErrors
                raise _Retry(f"connection dropped after {done} bytes ({_short(exc)})",
                             progressed=done > have) from None
            finally:
                bar.close(done)
        if too_long:
            part.unlink()
            raise FetchError(f"the server sent more than the {self.total} bytes it announced; the partial "
                             "file was removed")
        if self.total is not None and done < self.total:
            raise _Retry(f"the transfer stopped at {done} of {self.total} bytes", progressed=done > have)

    def _offline_check(self, url, exc):
        why = _connect_failure(exc)
        if why and not self.reached:
            host = urlsplit(url).hostname
            raise Offline(
                f"cannot reach {host} ({why}), so this machine looks offline. hepmini works offline on "
                f"synthetic data (`python -m hepmini all`, or `python -m hepmini data --out DIR`). For the "
                f"real files, download them elsewhere from {self.base_url}/GamGam/{{Data,MC}}/ (mirror "
                f"{MIRROR_BASE_URL}/GamGam/), copy them into {self.out}/GamGam/Data and "
                f"{self.out}/GamGam/MC, and run `python -m hepmini all --data-dir {self.out}`") from None

    def _note(self, text):
        print(text, file=self.stream, flush=True)


def verify_root(path) -> int:
    """Open `path` as a 2020 GamGam ROOT file (tree `mini`, photon branches) and return its entries."""
    from hepmini import rootio

    path = Path(path)
    tree = rootio.open_tree(path, "mini", needed=NEEDED_BRANCHES)
    try:
        # The header's fEND is where the file ends; ROOT's own TFile::Init calls a shorter file truncated.
        end, size = int(tree.file.fEND), path.stat().st_size
        if end > size:
            raise BadRootFile(f"{path}: truncated ROOT file: its header says {end} bytes, it has {size}")
        return int(tree.num_entries)
    finally:
        tree.file.close()


def _record_checksums(out_dir: Path, results) -> None:
    """Add the SHA-256 of every verified file to DIR/GamGam.sha256 (hashing only files not yet listed)."""
    from hepmini.files import atomic_write_text, sha256_file

    path = out_dir / MANIFEST
    try:
        sums = read_manifest(path) if path.is_file() else {}
    except ConfigError:   # a damaged manifest of ours: write it afresh
        sums = {}
    changed = False
    for res in results:
        if res.status == "failed":
            continue
        digest = res.sha256 or sums.get(res.rel) or sha256_file(out_dir / res.rel)
        res.sha256 = digest
        changed |= sums.get(res.rel) != digest
        sums[res.rel] = digest
    if changed:
        atomic_write_text(path, "".join(f"{sums[rel]}  {rel}\n" for rel in sorted(sums)))


# ---- progress ---------------------------------------------------------------------------------------


class _Progress:
    """One line per file: bytes, %, rate, ETA; redrawn with \\r on a terminal, else every `interval` s."""

    def __init__(self, stream, name, start, total, clock, interval):
        self.stream, self.name, self.start, self.total, self.clock = stream, name, start, total, clock
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else interval
        self.t0 = self.last = clock()

    def line(self, done) -> str:
        elapsed = max(self.clock() - self.t0, 1e-9)
        rate = (done - self.start) / elapsed
        text = f"{self.name}  {_size(done)}"
        if self.total:
            text += f" of {_size(self.total)}  {100.0 * done / self.total:5.1f}%"
        text += f"  {_size(rate)}/s"
        if self.total and rate > 0 and done < self.total:
            text += f"  ETA {_duration((self.total - done) / rate)}"
        return text

    def update(self, done):
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._write(self.line(done))

    def close(self, done):
        self._write(self.line(done))
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, text):
        if self.tty:
            self.stream.write("\r" + text.ljust(78))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _size(n) -> str:
    """Human-readable byte count.

    >>> _size(999), _size(123456), _size(1.5e9)
    ('999 B', '123.5 kB', '1.50 GB')
    """
    for unit, scale, fmt in (("GB", 1e9, "{:.2f}"), ("MB", 1e6, "{:.1f}"), ("kB", 1e3, "{:.1f}")):
        if n >= scale:
            return fmt.format(n / scale) + " " + unit
    return f"{int(n)} B"


def _duration(seconds) -> str:
    """h:mm:ss or m:ss.

    >>> _duration(75), _duration(3725.2)
    ('1:15', '1:02:05')
    """
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# ---- HTTP details -----------------------------------------------------------------------------------


def _content_range(value: str):
    """(start, end, total) of a Content-Range header; None where it says '*' or is absent.

    >>> _content_range("bytes 100-199/1000"), _content_range("bytes */1000"), _content_range("")
    ((100, 199, 1000), (None, None, 1000), (None, None, None))
    """
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes" or "/" not in spec:
        return None, None, None
    span, _, total = spec.partition("/")
    start = end = None
    if "-" in span:
        a, _, b = span.partition("-")
        if a.strip().isdigit() and b.strip().isdigit():
            start, end = int(a), int(b)
    return start, end, int(total) if total.strip().isdigit() else None


def _retry_after(value):
    """Seconds a Retry-After header asks for (capped), or None for the backoff.

    >>> _retry_after("7"), _retry_after("9999"), _retry_after(None), _retry_after("soon")
    (7.0, 300.0, None, None)
    """
    import email.utils

    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _connect_failure(exc):
    """Why a request never got a connection (DNS, refused, unreachable, timeout), or None."""
    requests = _requests()
    seen, todo = set(), [exc]
    kinds = []
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        kinds.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None)]
        todo += [a for a in e.args if isinstance(a, BaseException)]
    names = {type(e).__name__ for e in kinds}
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy cannot be reached"
    if any(isinstance(e, socket.gaierror) for e in kinds) or "NameResolutionError" in names:
        return "DNS lookup failed"
    if any(isinstance(e, ConnectionRefusedError) for e in kinds):
        return "connection refused"
    if any(isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) for e in kinds):
        return "network unreachable"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if "NewConnectionError" in names:
        return "cannot connect"
    return None


def _short(exc) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:157] + '...' if len(text) > 160 else text}"


def _requests():
    try:
        import requests
    except ImportError:  # pragma: no cover - a broken environment
        raise MissingData("requests is not installed; run `make venv` or `pip install requests`") from None
    return requests


def _version() -> str:
    from hepmini import __version__

    return __version__


# ---- command line -----------------------------------------------------------------------------------


def cli_fetch(cfg, args) -> int:
    """`hepmini fetch-data --out DIR [--files data,mc]`: download, verify and list the real files."""
    files = select_files(args.files)
    base = args.base_url or cfg.fetch_base_url or PUBLIC_BASE_URL
    checksums = read_manifest(args.sha256) if args.sha256 else {}
    if args.retries is not None and args.retries < 0:
        raise ConfigError(f"--retries must be 0 or more, not {args.retries}")
    out = Path(args.out)
    try:
        (out / "GamGam").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkdirError(f"cannot create {out / 'GamGam'} ({exc.strerror or exc}); choose a writable "
                           "--out directory") from None
    print(f"fetching {len(files)} files from {base} into {out}", flush=True)
    start = time.perf_counter()
    results = fetch(out, files, base, checksums=checksums,
                    retries=RETRIES if args.retries is None else args.retries)
    for res in results:
        if res.status == "failed":
            print(f"  failed      {res.rel}: {res.detail}")
            continue
        note = ""
        known = KNOWN_ENTRIES.get(res.rel)
        if known and res.entries != known:
            note = f"; note: the real file has {known} entries"
        print(f"  {res.status:<11} {res.rel}  {_size(res.size)}, {res.entries} entries, {res.detail}{note}")
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise FetchError(f"{len(failed)} of {len(results)} files not fetched: "
                         + "; ".join(f"{r.rel.rsplit('/', 1)[-1]}: {r.detail}" for r in failed))
    print(f"{len(results)} files present and verified in {out} ({time.perf_counter() - start:.0f} s); "
          f"checksums in {out / MANIFEST}; run the analysis with --data-dir {out}")
    return 0
