"""Stage 3: results.jsonl -> report.json, report.md and a PNG chart.

report.json holds pass@k for every k in {1, 10, 100} that n allows (unbiased
estimator, metrics.py) or the exact-match rate, the per-problem results, the
sampling configuration, the model id and weight hash, and the git commit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from codecommons.eval.samples import read_jsonl
from codecommons.metrics import mean_pass_at_k


def score(task, results_path: Path, out_dir: Path, meta: dict) -> dict:
    rows = read_jsonl(results_path, required=("task_id", "passed", "status"))
    per: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per[r["task_id"]].append(r)
    statuses = defaultdict(int)
    for r in rows:
        statuses[r["status"]] += 1
    metrics = _metrics(task, rows)
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        g = task.group(r["task_id"])
        if g is not None:
            groups[g].append(r)
    report = {
        "task": task.name, "metric": task.metric, "metrics": metrics,
        "n_problems": len(per), "n_samples": len(rows), "statuses": dict(statuses),
        **({"by_group": {g: {"n_problems": len({r["task_id"] for r in v}), **_metrics(task, v)}
                         for g, v in sorted(groups.items())}} if groups else {}),
        **meta,
        "per_problem": [{"task_id": tid, "n": len(v), "passed": sum(r["passed"] for r in v)}
                        for tid, v in per.items()],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.md").write_text(markdown(report))
    chart(report, out_dir / "report.png")
    return report


def _metrics(task, rows: list[dict]) -> dict[str, float]:
    """pass@k, or exact match and the mean of each further per-sample score."""
    per: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per[r["task_id"]].append(r)
    counts = [(len(v), sum(r["passed"] for r in v)) for v in per.values()]
    if task.metric != "exact_match":
        return mean_pass_at_k(counts)
    metrics = {"exact_match": sum(c for _, c in counts) / max(sum(n for n, _ in counts), 1)}
    sums: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for k, v in r.get("scores", {}).items():
            sums[k].append(v)
    metrics.update({k: sum(v) / len(v) for k, v in sums.items()})
    return metrics


def markdown(report: dict) -> str:
    m = report["metrics"]
    model = report.get("model", {})
    lines = [f"# {report['task']}", "",
             f"- model: `{model.get('id')}` (sha256 `{str(model.get('sha256'))[:16]}`)",
             f"- mode: {report.get('mode')}; sampling: {json.dumps(report.get('sampling', {}))}",
             f"- generated through: {json.dumps(report.get('path', {}))}",
             *([f"- task settings: {json.dumps(report['task_settings'])}"]
               if report.get("task_settings") else []),
             f"- problems: {report['n_problems']}; samples: {report['n_samples']}; "
             f"statuses: {report['statuses']}",
             f"- git commit: `{report.get('git_commit')}`", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in m.items()]
    if report.get("by_group"):
        names = list(m)
        lines += ["", "| group | problems | " + " | ".join(names) + " |",
                  "|---|---|" + "---|" * len(names)]
        for g, gm in report["by_group"].items():
            lines.append(f"| {g} | {gm['n_problems']} | "
                         + " | ".join(f"{gm.get(k, 0.0):.4f}" for k in names) + " |")
    return "\n".join(lines) + "\n"


def chart(report: dict, path: Path) -> None:
    """Bar chart of the metrics plus the share of each status."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("the report chart needs matplotlib: pip install 'codecommons[eval]'") from e
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.2))
    names, values = list(report["metrics"]), list(report["metrics"].values())
    a.bar(names, [100 * v for v in values], color="#4c72b0")
    a.set_ylim(0, 100)
    a.set_ylabel("%")
    a.set_title(f"{report['task']} ({report.get('mode')})")
    for i, v in enumerate(values):
        a.text(i, 100 * v + 2, f"{100 * v:.1f}", ha="center")
    st = report["statuses"]
    b.bar(list(st), list(st.values()), color="#dd8452")
    b.set_title("sample status")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
