"""Reference step 1: summarise every ROOT file's trees, entries and branches (name and type)."""

import sys
from pathlib import Path

try:
    import hepmini  # noqa: F401
except ImportError:  # run from a checkout without installing: the package sits beside reference/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hepmini.analysis import refscript
from hepmini.data import rootio
from hepmini import layout
from hepmini.files import atomic_write_json, atomic_write_text

rules = layout.rules()


def inspect_file(path: Path) -> dict:
    """Return {"trees": {name: {"entries", "branches": [[name, typename], ...]}}} for one file."""
    handle = rootio.open_file(path)
    trees = {}
    for name in rootio.tree_names(handle):
        # Refuse a file without `mini` (or the 2025 format) here already: later steps need it.
        tree = rootio.open_tree(path, rules.TREE) if name == rules.TREE else handle[name]
        trees[name] = {"entries": int(tree.num_entries),
                       "branches": [[b.name, b.typename] for b in tree.branches]}
    if rules.TREE not in trees:
        rootio.open_tree(path, rules.TREE)  # raises the one-line WrongTree error
    return {"trees": trees}


def summary_text(summary: dict) -> str:
    """A human-readable rendering of the summary."""
    lines = []
    for rel, info in summary["files"].items():
        lines.append(f"File: {rel}")
        for tree, t in info["trees"].items():
            lines.append(f"  Tree '{tree}': {t['entries']} entries, {len(t['branches'])} branches")
            for name, typename in t["branches"]:
                lines.append(f"    {name:<28} {typename}")
        lines.append("")
    total = sum(t["entries"] for i in summary["files"].values() for t in i["trees"].values())
    lines.append(f"Total: {len(summary['files'])} files, {total} entries")
    return "\n".join(lines) + "\n"


def run(data: Path, inputs: Path, out: Path, params: dict) -> None:
    summary = {"files": {rel: inspect_file(data / rel) for rel in rules.ALL_FILES}}
    atomic_write_json(out / rules.SUMMARY_JSON, summary)
    atomic_write_text(out / rules.SUMMARY_TXT, summary_text(summary))


if __name__ == "__main__":
    raise SystemExit(refscript.main(run, __doc__))
