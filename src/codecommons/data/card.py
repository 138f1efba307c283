"""DIR/stats.json and the dataset card DIR/README.md, computed from the output files.

The card follows the Hugging Face dataset card layout (YAML front matter with
licence, language and configs; then counts and bytes per language and licence,
and what each stage removed), so `datasets.load_dataset("parquet", data_dir=DIR)`
users and the Hub viewer read it as any other dataset.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from codecommons import dataset


def collect(out: Path) -> dict:
    languages: dict[str, Counter] = defaultdict(Counter)
    licenses: dict[str, Counter] = defaultdict(Counter)
    redactions: Counter = Counter()
    for row in dataset.rows(out, columns=["language", "license", "size", "redactions"]):
        languages[row["language"]].update(files=1, bytes=row["size"])
        licenses[row["license"] or "none"].update(files=1, bytes=row["size"])
        redactions.update({k: v for k, v in (row["redactions"] or {}).items() if v})
    excluded: Counter = Counter()
    for part in sorted((out / "excluded").glob("*.jsonl")):
        for line in part.read_text().splitlines():
            excluded[json.loads(line)["reason"].split(":")[0]] += 1
    kept = sum(c["files"] for c in languages.values())
    return {
        "kept_files": kept, "kept_bytes": sum(c["bytes"] for c in languages.values()),
        "total_files": kept + sum(excluded.values()),
        "excluded": dict(sorted(excluded.items())),
        "redactions": dict(sorted(redactions.items())),
        "languages": _ranked(languages), "licenses": _ranked(licenses),
    }


def _ranked(table: dict[str, Counter]) -> dict[str, dict]:
    return {k: dict(v) for k, v in sorted(table.items(), key=lambda kv: (-kv[1]["bytes"], kv[0]))}


def write_card(out: Path, run_manifest: dict) -> dict:
    stats = collect(out)
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    (out / "README.md").write_text(card(stats, run_manifest))
    return stats


def card(stats: dict, run_manifest: dict) -> str:
    spdx = sorted(stats["licenses"])
    lines = [
        "---",
        "license: other",
        # JSON-quoted: a plain YAML scalar may not contain ": ".
        "license_details: " + json.dumps("per file, in the `license` column (SPDX): "
                                         + (", ".join(spdx) or "none (no files kept)")),
        "configs:",
        "- config_name: default",
        "  data_files: data/*.parquet",
        "tags: [code]",
        "---",
        "",
        "# Curated code dataset",
        "",
        f"Made by `commons curate` from: {', '.join(run_manifest['sources'])} "
        f"(git commit `{run_manifest['git_commit']}`).",
        f"{stats['kept_files']} files, {stats['kept_bytes'] / 1e6:.2f} MB kept of "
        f"{stats['total_files']} files read. Every row keeps its provenance: `repo`, `path`, "
        "`license` (SPDX) and `license_type`.",
        "",
        "## Languages", "", "| language | files | MB |", "|---|---:|---:|",
        *[f"| {k} | {v['files']} | {v['bytes'] / 1e6:.3f} |" for k, v in stats["languages"].items()],
        "", "## Licences", "", "| licence | files | MB |", "|---|---:|---:|",
        *[f"| {k} | {v['files']} | {v['bytes'] / 1e6:.3f} |" for k, v in stats["licenses"].items()],
        "", "## What each stage removed", "", "| reason | files |", "|---|---:|",
        *[f"| {k} | {v} |" for k, v in stats["excluded"].items()],
        "", "## Redactions (PII and secrets)", "", "| kind | replaced |", "|---|---:|",
        *[f"| {k} | {v} |" for k, v in stats["redactions"].items()],
        "", "## Settings", "", "```json", json.dumps(run_manifest, indent=2), "```", "",
    ]
    return "\n".join(lines)
