"""The `data` and `fetch-data` commands: synthetic files, and the real 2020 GamGam files."""

import os
import time
from pathlib import Path

from hepmini.errors import ConfigError, WorkdirError
from hepmini.options import add_set


def add_data(parser) -> None:
    parser.add_argument("--out", required=True, help="output directory (gets GamGam/Data, GamGam/MC)")
    parser.add_argument("--scale", type=float, help="size; 1 = realistic post-selection yields")
    parser.add_argument("--seed", type=int, help="random seed (same seed, identical files)")
    add_set(parser)


def add_fetch_data(parser) -> None:
    parser.add_argument("--out", required=True, help="directory to fill (gets GamGam/Data, GamGam/MC); "
                        "an interrupted download resumes here")
    parser.add_argument("--files", default="data,mc", help="data, mc, or sample names such as "
                        "data_A,mc_343981.ggH125_gamgam (default data,mc: all nine)")
    parser.add_argument("--base-url", help="where GamGam/{Data,MC}/ live (default the public ATLAS Open "
                        "Data URL, or setting fetch_base_url; a mirror is named below)")
    parser.add_argument("--sha256", metavar="FILE", help="verify against this sha256sum manifest "
                        "(ATLAS publishes none; e.g. the GamGam.sha256 a previous fetch wrote)")
    parser.add_argument("--retries", type=int, metavar="N", help="failed attempts in a row before a "
                        "file is given up (default 8)")
    add_set(parser)
    parser.epilog = ("Files go to OUT/GamGam/{Data,MC} via a .part file and are renamed only when "
                     "complete and verified; run the same command again to resume. A mirror to pass as the base "
                     "URL: http://opendata.cern.ch/eos/opendata/atlas/OutreachDatasets/2020-01-22")


def cmd_data(cfg, args) -> int:
    """`hepmini data --out DIR [--scale X] [--seed N]`: write the synthetic files and list them."""
    from hepmini.data.synth import generate

    out = Path(args.out)
    try:
        (out / "GamGam").mkdir(parents=True, exist_ok=True)
        probe = out / "GamGam" / f".probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WorkdirError(f"cannot write synthetic data into {out} ({exc.strerror or exc}); "
                           f"choose a writable --out directory") from None
    start = time.perf_counter()
    try:
        written = generate(out, scale=cfg.scale, seed=cfg.seed, progress=print)
    except OSError as exc:
        raise WorkdirError(f"writing synthetic data into {out} failed ({exc.strerror or exc}); "
                           f"free space or choose another --out directory") from None
    print(f"{len(written)} files, {sum(written.values())} entries, scale {cfg.scale}, seed {cfg.seed}, "
          f"{time.perf_counter() - start:.1f} s -> {out / 'GamGam'}")
    return 0


def cmd_fetch_data(cfg, args) -> int:
    """`hepmini fetch-data --out DIR [--files data,mc]`: download, verify and list the real files."""
    from hepmini.data.download import RETRIES, human_size
    from hepmini.errors import FetchError
    from hepmini.data.fetch import KNOWN_ENTRIES, MANIFEST, PUBLIC_BASE_URL, fetch, read_manifest, select_files

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
        print(f"  {res.status:<11} {res.rel}  {human_size(res.size)}, {res.entries} entries, {res.detail}{note}")
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise FetchError(f"{len(failed)} of {len(results)} files not fetched: "
                         + "; ".join(f"{r.rel.rsplit('/', 1)[-1]}: {r.detail}" for r in failed))
    print(f"{len(results)} files present and verified in {out} ({time.perf_counter() - start:.0f} s); "
          f"checksums in {out / MANIFEST}; run the analysis with --data-dir {out}")
    return 0
