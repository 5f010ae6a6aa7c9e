"""Fetch the real 2020 ATLAS Open Data GamGam files: choose, download, verify, record, report.

Each file is downloaded by hepmini.data.download into `<name>.part` beside its final place (resumed and
retried there). A file gets its final name (one os.replace) only after three checks. Its size must
equal what the server announced. Its SHA-256 must match where one is known. It must open as a ROOT
file with tree `mini`. So a half or wrong file never sits under a real name, and a wrong one is
renamed to `<name>.rejected`.

About checksums: ATLAS publishes no SHA-256 for these files (reference/atlas_gamgam.md §2 found
none), and an ETag is not a checksum. So a SHA-256 is checked only when the user gives a manifest
(`--sha256 FILE`, in `sha256sum` format). The SHA-256 of every verified file is recorded in
DIR/GamGam.sha256; `cd DIR && sha256sum -c GamGam.sha256` then checks a copy carried elsewhere.

The LLM transport is not used: it sends JSON POSTs, and this job needs streaming GETs with Range.
"""

import dataclasses
import os
from pathlib import Path

from hepmini.data.download import BACKOFF_CAP, BACKOFF_START, PART, Downloader
from hepmini.errors import BadRootFile, BadStatus, ConfigError, FetchError, Offline
from hepmini.files import atomic_write_text, sha256_file
from hepmini.files import did_you_mean

PUBLIC_BASE_URL = "https://atlas-opendata.web.cern.ch/atlas-opendata/samples/2020"   # atlas_gamgam.md §2.1
MIRROR_BASE_URL = "http://opendata.cern.ch/eos/opendata/atlas/OutreachDatasets/2020-01-22"
MANIFEST = "GamGam.sha256"        # DIR/GamGam.sha256: what was downloaded, in `sha256sum -c` format
REJECTED = ".rejected"
NEEDED_BRANCHES = ("photon_n", "photon_pt", "photon_isTightID", "trigP")
# Entries of `mini` in the real data files (§2.2: A printed in the notebooks, B-D derived). A different
# count only triggers a note: it is how a synthetic or another release's file shows itself.
KNOWN_ENTRIES = {"GamGam/Data/data_A.GamGam.root": 430_344, "GamGam/Data/data_B.GamGam.root": 1_528_717,
                 "GamGam/Data/data_C.GamGam.root": 2_237_187, "GamGam/Data/data_D.GamGam.root": 3_602_176}
# BACKOFF_* and the errors are hepmini.data.download's, named here for the callers of this module
__all__ = ["BACKOFF_CAP", "BACKOFF_START", "FetchError", "Offline", "MANIFEST", "PUBLIC_BASE_URL",
           "MIRROR_BASE_URL", "Result", "select_files", "read_manifest", "fetch", "verify_root"]


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
    
    from hepmini import layout

    rules = layout.rules()
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
            more = did_you_mean(token, list(groups) + list(by_name))
            raise ConfigError(f"--files: unknown file set '{token}'{more}; use data, mc or sample names "
                              f"such as {', '.join(list(by_name)[:2])}")
    if not chosen:
        raise ConfigError("--files names no file; use data, mc or both (data,mc)")
    return list(dict.fromkeys(chosen))


def read_manifest(path) -> dict:
    """Read a `sha256sum` file into {relative GamGam path: hex}; lines may name a path or a base name."""
    from hepmini import layout

    rules = layout.rules()
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


def fetch(out_dir, files=None, base_url=PUBLIC_BASE_URL, *, checksums=None, session=None, **options) -> list:
    """Download `files` (default all nine) from `base_url` into `out_dir`; return one Result per file.

    `options` (retries, sleep, clock, stream, chunk, timeout, interval) go to download.Downloader.
    Raises Offline when the host cannot be reached at all; any other failure is a "failed" Result.
    """
    from hepmini import __version__
    from hepmini import layout

    files = list(layout.rules().ALL_FILES if files is None else files)
    out, base_url, checksums = Path(out_dir), base_url.rstrip("/"), checksums or {}
    with Downloader(session, user_agent=f"hepmini-fetch/{__version__}", **options) as dl:
        try:
            results = [_one(dl, out, f"{base_url}/{rel}", rel, checksums.get(rel, "")) for rel in files]
        except Offline as exc:
            raise Offline(
                f"{exc}, so this machine looks offline. hepmini works offline on synthetic data "
                f"(`python -m hepmini all`, or `python -m hepmini data --out DIR`). For the real files, "
                f"download them elsewhere from {base_url}/GamGam/{{Data,MC}}/ (mirror {MIRROR_BASE_URL}"
                f"/GamGam/), copy them into {out}/GamGam/Data and {out}/GamGam/MC, and run "
                f"`python -m hepmini all --data-dir {out}`") from None
    _record_checksums(out, results)
    return results


def _one(dl: Downloader, out: Path, url: str, rel: str, want: str) -> Result:
    """Make `out/rel` the complete, verified file (keeping one already there if it passes)."""
    final = out / rel
    part = final.with_name(final.name + PART)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_file():
        why = _check_present(dl, url, final, want)
        if why is None:
            try:
                entries = verify_root(final)
            except BadRootFile as exc:
                why = str(exc)
            else:
                detail = "already complete" if not dl.unreachable else (
                    f"already present; sizes not compared, the host is unreachable ({dl.unreachable})")
                return Result(rel, "present", final.stat().st_size, entries, detail, want)
        dl.note(f"{rel}: the existing file is set aside as {final.name}{REJECTED} ({why})")
        os.replace(final, final.with_name(final.name + REJECTED))
    try:
        total = dl.get(url, part)
    except BadStatus as exc:
        hint = (f"check --base-url (the public one is {PUBLIC_BASE_URL})" if exc.status == 404
                else "check --base-url or try later")
        return Result(rel, "failed", detail=f"{exc}; {hint}")
    except Offline:
        raise
    except FetchError as exc:
        return Result(rel, "failed", detail=str(exc))
    size = part.stat().st_size
    detail = "size verified" if total is not None else "server sent no size; ROOT check only"
    digest = sha256_file(part)
    if want and digest != want:
        return _reject(rel, part, f"SHA-256 {digest[:12]}... differs from the manifest's "
                                  f"{want[:12]}...; the download is corrupt or not this file")
    try:
        entries = verify_root(part)
    except BadRootFile as exc:
        return _reject(rel, part, str(exc).replace(str(part), final.name))
    os.replace(part, final)
    if want:
        detail += ", SHA-256 verified"
    return Result(rel, "downloaded", size, entries, detail, digest)


def _reject(rel, part, why) -> Result:
    """Rename a failed `part` to `<name>.rejected` and report it."""
    aside = part.with_name(part.name.removesuffix(PART) + REJECTED)
    os.replace(part, aside)
    return Result(rel, "failed", detail=f"{why}; set aside as {aside}")


def _check_present(dl, url, final: Path, want: str):
    """None if the file already in place is complete, else the reason it is not."""
    if want:
        return None if sha256_file(final) == want else "SHA-256 differs from the manifest"
    # Offline with the files already copied in by hand, remote_size is None: the ROOT check alone has to do.
    size, remote = final.stat().st_size, dl.remote_size(url)
    if remote is None or remote == size:   # a server that will not say cannot contradict it
        return None
    return f"{size} bytes, the server has {remote}"


def verify_root(path) -> int:
    """Open `path` as a 2020 GamGam ROOT file (tree `mini`, photon branches) and return its entries."""
    from hepmini.data import rootio

    path = Path(path)
    tree = rootio.open_tree(path, "mini", needed=NEEDED_BRANCHES)   # a truncated file is refused there
    try:
        return int(tree.num_entries)
    finally:
        tree.file.close()


def _record_checksums(out_dir: Path, results) -> None:
    """Add the SHA-256 of every verified file to DIR/GamGam.sha256 (hashing only files not yet listed)."""
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


# ---- command line -----------------------------------------------------------------------------------
