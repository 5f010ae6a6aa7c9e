"""Evaluation fidelity of the validator: mutated outputs must all FAIL, equivalent outputs must all PASS.

    python perf/perf_validate.py                      # on constructed outputs of every step
    python perf/perf_validate.py --reference DIR      # also on a real solution directory
    python perf/perf_validate.py --run                # build a tiny reference run first (~1 min)

For every file a step validates, each mutation (one element off by 1e-3 relative, one NaN moved, a
row dropped, columns swapped, a boundary added, the file missing, a value-changing dtype, and the
JSON/summary analogues) is applied to a copy of the reference and `validate_step` must say FAIL;
each equivalent (float32, -0.0 for 0.0, values changed only beyond the 4th significant digit, other
layouts and key orders) must say PASS. Prints "mutations caught X/Y" and "equivalents passed A/B".
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, Path(__file__).resolve().parent):      # hepmini, and the catalogue beside this file
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402

from hepmini.analysis import validate  # noqa: E402
from hepmini import layout
from hepmini.errors import UnknownStep  # noqa: E402
from validate_equivalents import EQUIVALENTS  # noqa: E402
from validate_mutations import MUTATIONS  # noqa: E402

# ---- constructed reference outputs (no pipeline needed) -----------------------------------------


def make_reference(out: Path, seed: int = 5, events: int = 60) -> Path:
    """Write outputs of every step, with plausible shapes, NaNs and zeros, into `out`."""
    r = layout.rules()
    rng = np.random.default_rng(seed)
    out = Path(out)

    def save(rel, array):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(out / rel, array, allow_pickle=False)

    branches = [["runNumber", "int32_t"], ["photon_n", "int32_t"], ["photon_pt", "float[]"],
                ["photon_isTightID", "bool[]"], ["trigP", "bool"], ["XSection", "float"]]
    summary = {"files": {rel: {"trees": {r.TREE: {"entries": int(rng.integers(100, 5000)),
                                                  "branches": branches}}} for rel in r.ALL_FILES}}
    (out / r.SUMMARY_JSON).parent.mkdir(parents=True, exist_ok=True)
    (out / r.SUMMARY_JSON).write_text(json.dumps(summary, indent=2))
    ncol = len(r.NTUPLE_COLUMNS)
    for rel in r.NTUPLES:
        nt = rng.lognormal(3.0, 1.0, size=(events, ncol)) * rng.choice([-1.0, 1.0], size=(events, ncol))
        nt[rng.random((events, ncol)) < 0.15] = np.nan
        nt[:, -2] = rng.integers(0, 2, events)           # a 1.0/0.0 column with exact zeros
        save(rel, nt)
    for rel in (r.SIGNAL_ARRAY, r.BKGD_ARRAY):
        a = rng.normal(size=(events, len(r.ARRAY_COLUMNS)))
        a[:, 0] = rng.uniform(105, 160, events)
        a[:, -1] = rng.lognormal(-3, 1, events)
        save(rel, a)
    (out / r.BKGD_ESTIMATE).write_text(json.dumps(
        {"TI_sideband_yield": 1265, "NTI_sideband_yield": 1953, "NTI_window_yield": 213,
         "SF1": 0.647721454173067, "SF2": 0.10906298003072197,
         "expected_background": 137.96466973886328, "signal_yield": 227.3577787793003}, indent=2))
    save(r.SIGNAL_SCORES, rng.uniform(0, 1, events))
    save(r.BKGD_SCORES, np.concatenate([[0.0, 1.0], rng.uniform(0, 1, events - 2)]))
    save(r.BOUNDARIES, np.array([0.0, 0.117, 0.864, 0.978, 1.0]))
    save(r.SIGNIFICANCES, np.array([0.6859528, 0.8596105777616457, 0.898676950456262, 0.9047]))
    return out


# ---- running the catalogue ----------------------------------------------------------------------


def _copy_step(step, reference: Path, dest: Path, changed: str) -> None:
    """Copy the file to change; symlink the step's other files (changes always replace, never write through)."""
    for rel in step.VALIDATE:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel == changed:
            shutil.copyfile(reference / rel, dest / rel)
        else:
            (dest / rel).symlink_to((reference / rel).resolve())


def fidelity(reference, scratch=None, files_per_step=None) -> dict:
    """Apply every mutation and equivalent to the outputs in `reference`; return counts and misses.

    `files_per_step` limits how many files of a step are mutated (first and last kept), for speed.
    """
    reference = Path(reference)
    scratch = Path(scratch or tempfile.mkdtemp(prefix="hepmini-fidelity-"))
    caught = mutations = passed = equivalents = 0
    missed, false_fails, cases = [], [], []
    for step in layout.steps():
        items = list(step.VALIDATE.items())
        if files_per_step and len(items) > files_per_step:
            items = items[: files_per_step - 1] + items[-1:]
        for rel, kind in items:
            for label, table in (("mutation", MUTATIONS[kind]), ("equivalent", EQUIVALENTS[kind])):
                for name, change in table.items():
                    work = scratch / f"case{len(cases)}"
                    _copy_step(step, reference, work, rel)
                    applied = change(work / rel)
                    if applied:
                        result = validate.validate_step(step.NAME, work, reference)
                        case = {"step": step.NAME, "file": rel, "kind": label, "change": name,
                                "passed": result.passed}
                        cases.append(case)
                        if label == "mutation":
                            mutations += 1
                            caught += not result.passed
                            if result.passed:
                                missed.append(case)
                        else:
                            equivalents += 1
                            passed += result.passed
                            if not result.passed:
                                case["log"] = result.log_text()
                                false_fails.append(case)
                    shutil.rmtree(work, ignore_errors=True)
    return {"mutations": mutations, "caught": caught, "equivalents": equivalents, "passed": passed,
            "missed": missed, "false_fails": false_fails, "cases": cases}


class _Trap:
    """Unpickling this would create a file: proof that the validator never unpickles."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _bad_inputs(scratch: Path) -> dict:
    """{case: writer(path)} of inputs that must give a clear FAIL entry (never a crash or a pass)."""

    def raw(data):
        return lambda p: p.write_bytes(data)

    def npy(array, **kw):
        def write(p):
            with open(p, "wb") as fh:
                np.save(fh, array, **kw)
        return write

    def npz(p):
        np.savez(scratch / "x.npz", a=np.zeros(3))
        p.write_bytes((scratch / "x.npz").read_bytes())

    def truncated(p):
        npy(np.arange(1000.0))(p)
        p.write_bytes(p.read_bytes()[:200])

    def huge(p):
        with open(p, "wb") as fh:   # sparse: no disk used
            fh.write(b"\x93NUMPY")
            fh.truncate(16 << 30)

    return {
        "pickled object array (.npy)": npy(np.array([_Trap(str(scratch / "unpickled")), 1.0],
                                                    dtype=object), allow_pickle=True),
        ".npz renamed .npy": npz,
        "text in a .npy": raw(b"0 0.5 1\n"),
        "empty file": raw(b""),
        "truncated .npy": truncated,
        "garbled .npy header": raw(b"\x93NUMPY\x01\x00\x10\x00{'descr': nonsense}"),
        "16 GB sparse file": huge,
        "complex dtype": npy(np.array([1j, 2.0])),
        "string dtype": npy(np.array(["0", "1"])),
        "structured dtype": npy(np.zeros(2, dtype=[("a", "f8"), ("b", "f8")])),
        "directory instead of file": lambda p: p.mkdir(),
    }


def bad_input(reference, scratch=None) -> dict:
    """Feed the validator broken files (and a wrong step name); count the clear FAIL entries."""
    reference = Path(reference)
    scratch = Path(scratch or tempfile.mkdtemp(prefix="hepmini-badinput-"))
    rel = layout.rules().BOUNDARIES
    handled, total, problems = 0, 0, []
    for name, write in _bad_inputs(scratch).items():
        work = scratch / f"bad{total}"
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        total += 1
        try:
            write(work / rel)
            f = validate.validate_file("npy", rel, work, reference)
            good = not f.ok and "cannot be loaded" in f.messages[0]
        except Exception as exc:  # a crash is exactly what must not happen
            good, f = False, exc
        if (scratch / "unpickled").exists():
            good = False
        handled += good
        if not good:
            problems.append((name, f))
        shutil.rmtree(work, ignore_errors=True)
    total += 1
    try:
        validate.validate_step("step9", reference, reference)
        problems.append(("wrong step name", "no error"))
    except UnknownStep:
        handled += 1
    except Exception as exc:
        problems.append(("wrong step name", exc))
    return {"handled": handled, "total": total, "problems": problems}


def _report(title: str, figures: dict, seconds: float) -> None:
    print(f"{title}: mutations caught {figures['caught']}/{figures['mutations']}, "
          f"equivalents passed {figures['passed']}/{figures['equivalents']} ({seconds:.1f} s)")
    for case in figures["missed"]:
        print(f"  MISSED   {case['step']} {case['file']}: {case['change']}")
    for case in figures["false_fails"]:
        print(f"  FALSE FAIL {case['step']} {case['file']}: {case['change']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, help="a solution directory of a reference run")
    parser.add_argument("--run", action="store_true", help="build a tiny reference run (scale 0.02) first")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="hepmini-fidelity-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        figures = fidelity(make_reference(tmp / "constructed"), tmp / "scratch")
        _report("constructed outputs", figures, time.perf_counter() - t0)
        ok &= not figures["missed"] and not figures["false_fails"]
        bad = bad_input(tmp / "constructed", tmp / "scratch-bad")
        print(f"bad inputs: clear FAIL (or UnknownStep) {bad['handled']}/{bad['total']}")
        for name, what in bad["problems"]:
            print(f"  NOT HANDLED {name}: {what}")
        ok &= not bad["problems"]
        reference = args.reference
        if args.run and reference is None:
            work = tmp / "work"
            proc = subprocess.run([sys.executable, "-m", "hepmini", "all", "--workdir", str(work),
                                   "--set", "scale=0.02", "--set", "classifier=hgb"],
                                  cwd=ROOT, capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            reference = work / "solution"
        if reference is not None:
            t0 = time.perf_counter()
            figures = fidelity(reference, tmp / "scratch-ref")
            _report(f"reference outputs ({reference})", figures, time.perf_counter() - t0)
            ok &= not figures["missed"] and not figures["false_fails"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
