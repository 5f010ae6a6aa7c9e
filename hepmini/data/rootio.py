"""Open ATLAS GamGam ROOT files with uproot, refusing wrong trees, missing branches and corrupt files."""

from pathlib import Path

from hepmini.errors import BadRootFile, MissingBranch, MissingData, WrongTree
from hepmini import files

# The 2025 release (36 fb^-1, GeV, tree `analysis`) looks similar but is a different format.
RELEASE_2025_TREE = "analysis"
REMAKE = "re-create it with `python -m hepmini data` or download it again"


def _uproot():
    try:
        import uproot
    except ImportError:  # pragma: no cover - a broken environment
        raise MissingData("uproot is not installed; run `make venv` or `pip install uproot`") from None
    return uproot


def open_file(path):
    """Open a ROOT file, turning every low-level failure into a one-line BadRootFile."""
    path = Path(path)
    if not path.is_file():
        raise MissingData(f"{path}: no such file; check --data-dir (it must hold GamGam/Data and GamGam/MC)")
    try:
        handle = _uproot().open(path)
    except Exception as exc:  # uproot raises many types for truncated/garbage files
        raise BadRootFile(f"{path}: not a readable ROOT file ({_short(exc)}); {REMAKE}") from None
    # uproot reads only the header and directory on open, so a cut-off file opens fine: compare with fEND
    # (where the header says the file ends; ROOT's own TFile::Init calls a shorter file truncated).
    size, end = path.stat().st_size, getattr(handle.file, "fEND", None)
    if isinstance(end, int) and end > size:
        raise BadRootFile(f"{path}: truncated ROOT file ({size} bytes of the {end} its header announces); "
                          f"{REMAKE}")
    return handle


def tree_names(handle) -> list:
    """Names (without cycle) of the TTrees in an open file."""
    return [k for k, cls in handle.classnames(cycle=False).items() if cls.startswith("TTree")]


def open_tree(path, tree: str = "mini", needed=()):
    """Return the TTree `tree` of file `path`, checking that every branch in `needed` exists."""
    handle = open_file(path)
    try:
        names = tree_names(handle)
    except Exception as exc:
        raise BadRootFile(f"{path}: cannot read its directory ({_short(exc)}); the file is corrupt or "
                          "truncated, re-create or re-download it") from None
    if tree not in names:
        other = _classnames(handle).get(tree, "")
        if "RNTuple" in other:
            raise WrongTree(f"{path}: '{tree}' is an RNTuple ({other}), not the TTree of the 2020 release; write "
                            f"it as a TTree (uproot: f.mktree('{tree}', ...), not f['{tree}'] = ...) or {REMAKE}")
        if RELEASE_2025_TREE in names:
            raise WrongTree(f"{path}: tree '{RELEASE_2025_TREE}' is the 2025 ATLAS Open Data release "
                            f"(GeV, other branch names); hepmini needs the 2020 release with tree '{tree}'")
        found = ", ".join(repr(n) for n in names) or "no trees"
        raise WrongTree(f"{path}: no tree '{tree}' (found {found}); pass 2020 ATLAS GamGam files")
    try:
        ttree = handle[tree]
        keys = ttree.keys()
    except Exception as exc:
        raise BadRootFile(f"{path}: tree '{tree}' is unreadable ({_short(exc)}); re-create or "
                          "re-download the file") from None
    _check_baskets(path, ttree)
    missing = [b for b in needed if b not in keys]
    if missing:
        more = f" (and {len(missing) - 1} more needed branches)" if len(missing) > 1 else ""
        nearest = files.nearest(missing[0], keys, n=3, cutoff=0.5)
        hint = (f"nearest: {', '.join(nearest)}" if nearest else
                f"nearest: none; the tree has {len(keys)} branches, e.g. {', '.join(keys[:4])}")
        raise MissingBranch(f"{path}: tree '{tree}' has no branch '{missing[0]}'{more} ({hint}); "
                            "hepmini needs the 2020 GamGam branch set")
    return ttree


def _classnames(handle) -> dict:
    try:
        return handle.classnames(cycle=False)
    except Exception:  # an unreadable directory is reported by the caller
        return {}


def _check_baskets(path, ttree) -> None:
    """BadRootFile when a branch's baskets lie beyond the end of the file (a truncated copy)."""
    size = Path(path).stat().st_size
    for branch in ttree.branches:
        n = branch.num_baskets
        seeks, sizes = branch.member("fBasketSeek")[:n], branch.member("fBasketBytes")[:n]
        end = max((int(s) + int(b) for s, b in zip(seeks, sizes)), default=0)
        if end > size:
            raise BadRootFile(f"{path}: truncated ROOT file (branch '{branch.name}' has a basket ending at byte {end}, "
                              f"the file has {size}); {REMAKE}")


def read_arrays(path, ttree, branches):
    """Read `branches` as awkward arrays, turning decompression/format failures into BadRootFile."""
    try:
        return ttree.arrays(branches, library="ak")
    except Exception as exc:
        raise BadRootFile(f"{path}: reading branches failed ({_short(exc)}); the file is corrupt or "
                          "truncated, re-create or re-download it") from None


def _short(exc) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
