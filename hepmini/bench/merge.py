"""Campaigns side by side: the trials of several campaign directories as one report's records.

A model's cells from several campaigns count together only when the campaigns agree on every
setting that changes results (store.result_settings: max_iterations, inputs mode, the agent's
limits and sampling, the data and classifier settings). Where they do not, each group of agreeing
campaigns keeps its own row, labelled `model [campaign]`, and the report says which settings differ.
"""

import os
from pathlib import Path

from hepmini.bench import store
from hepmini.errors import CampaignError, ConfigError


def labels_of(dirs: list) -> list:
    """Short names of the campaign directories: their base names, or the paths as given when two share one."""
    names = [Path(d).name or str(d) for d in dirs]
    return names if len(set(names)) == len(names) else [str(d) for d in dirs]


def differing(specs: dict) -> dict:
    """{setting: {label: value}} of the result-changing settings that are not the same in every campaign."""
    table = {label: store.result_settings(spec) for label, spec in specs.items()}
    keys = sorted({k for values in table.values() for k in values})
    return {k: {label: values.get(k) for label, values in table.items()} for k in keys
            if len({repr(values.get(k)) for values in table.values()}) > 1}


def collect(dirs: list) -> tuple:
    """(records, problems, info) of one or more campaign directories; info says what was merged and how."""
    from hepmini.bench import report

    seen = {}
    for d in dirs:
        if not Path(d).is_dir():
            raise ConfigError(f"{d}: no such campaign directory (make one with `python -m hepmini bench ... "
                              f"--out {d}`)")
        real = os.path.realpath(d)
        if real in seen:
            raise ConfigError(f"{d} is given twice (as {seen[real]}); name each campaign once")
        seen[real] = d
    labels = labels_of(dirs)
    specs = {label: store.Spec.load(d) for label, d in zip(labels, dirs)}
    records, problems, counts = [], [], {}
    for i, (label, d) in enumerate(zip(labels, dirs)):
        rs, ps, _ = report.collect(d)
        for r in rs:
            r.update(campaign=i, campaign_label=label, model_name=r["model"])
        records += rs
        problems += [f"{label}: {p}" if len(dirs) > 1 else p for p in ps]
        counts[label] = len(rs)
    apart = _separate(records, specs, labels)
    models = []
    for label in labels:   # the campaigns' own model order, each model (or kept-apart label) once
        for m in specs[label].models:
            name = apart[m][label] if m in apart else m
            if name not in models:
                models.append(name)
    steps = []
    for label in labels:
        steps += [s for s in specs[label].steps if s not in steps]
    info = {"campaigns": [{"label": label, "dir": str(d), "n_trials": counts[label], "spec": specs[label].to_json()}
                          for label, d in zip(labels, dirs)],
            "differing": differing(specs) if len(dirs) > 1 else {},
            "apart": {m: sorted(set(by_label.values())) for m, by_label in apart.items()},
            "models": models, "steps": steps}
    return records, problems, info


def _groups(specs: dict) -> dict:
    """label -> the labels of every campaign whose result-changing settings equal its own (itself included)."""
    keys = {label: repr(sorted(store.result_settings(spec).items())) for label, spec in specs.items()}
    return {label: [other for other in specs if keys[other] == keys[label]] for label in specs}


def _separate(records: list, specs: dict, labels: list) -> dict:
    """Relabel the records of a model run under different settings; return {model: {campaign: its label}}."""
    groups = _groups(specs)
    apart = {}
    for model in {m for spec in specs.values() for m in spec.models}:
        having = [label for label in labels if model in specs[label].models]
        tags = {label: "+".join(g for g in groups[label] if model in specs[g].models) for label in having}
        if len(set(tags.values())) > 1:
            apart[model] = {label: f"{model} [{tag}]" for label, tag in tags.items()}
    for r in records:
        if r["model"] in apart:
            r["model"] = apart[r["model"]][r["campaign_label"]]
    return apart


def describe(info: dict) -> list:
    """Console lines: which campaigns were merged, which settings differ, which models are kept apart."""
    if len(info["campaigns"]) < 2:
        return []
    lines = ["merged " + ", ".join(f"{c['label']} ({c['n_trials']} trial(s))" for c in info["campaigns"])]
    for key, values in info["differing"].items():
        lines.append(f"settings differ: {key}: " + ", ".join(f"{label} {v!r}" for label, v in values.items()))
    for model, names in info["apart"].items():
        lines.append(f"kept apart (settings differ): {', '.join(names)}")
    if not info["differing"]:
        lines.append("the campaigns agree on every setting that changes results: their cells are pooled")
    return lines


def check_dirs(dirs: list, out) -> None:
    """Several campaigns need --out; CampaignError for none."""
    if not dirs:
        raise CampaignError("name at least one campaign directory")
    if len(dirs) > 1 and out is None:
        raise ConfigError(f"{len(dirs)} campaigns make one report only with --out DIR (where the merged report "
                          "goes)")
