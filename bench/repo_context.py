"""Does repository context help? repo-completion in each condition, per project and overall.

    python bench/repo_context.py --model qwen2.5-coder-0.5b            # 7 projects x 30 problems
    python bench/repo_context.py --model qwen2.5-coder-1.5b --subset 60   # a fixed subset of 60
    python bench/repo_context.py --model qwen2.5-coder-0.5b --problems 2 --projects email,click \\
        --out /tmp/repo.md                                              # smoke run

For each condition (repo-completion-in-file, -ring-buffer, -retrieval; --conditions)
the problems of eval/tasks/repo_completion.py (the same problems in every condition,
fixed seed) go through `commons eval`'s own stages: generate (greedy, one line) ->
execute (exact match, edit similarity, identifier match) -> score, into
--runs/<model>/<task>/. Generation resumes: a rerun continues where a killed one
stopped. `--subset N` takes N problems spread evenly over the projects (the same N
whatever the model). The section `bench/repo_context.py MODEL` of --out gets the
table: per project and overall, EM / ES / identifier EM / identifier F1 per
condition, and how often the target's definition was in the prompt (`def in
prompt`: a context chunk of the definition's file covers its first line).
Targets (overall EM): retrieval >= in-file + 10 points and >= ring-buffer + 3 points.

Defaults are sized for a 2-core CPU: a window of 512 tokens around the cursor is what
`commons serve` gives a FIM prompt of the 0.5B there (5 s of cold prefill,
serve/cli.py), and a context budget of 512 keeps a prompt at ~1k tokens, so the 0.5B's
three conditions over ~210 problems take ~70 min (1,024 + 1,024, the task's own
defaults and a GPU's, take ~2.2 h). A rerun with other settings into the same --runs
is refused (eval/generate.py), not mixed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from report import machine_info, machine_table, write_section  # noqa: E402

from codecommons.engines.base import SamplingParams  # noqa: E402
from codecommons.eval import generate as gen  # noqa: E402
from codecommons.eval.execute import execute  # noqa: E402
from codecommons.eval.score import score  # noqa: E402
from codecommons.eval.tasks import get_task  # noqa: E402
from codecommons.eval.tasks.repo_completion import DEFAULT_PROJECTS  # noqa: E402

CONDITIONS = ("in-file", "ring-buffer", "retrieval")
METRICS = (("exact_match", "EM"), ("edit_similarity", "ES"), ("identifier_em", "ID-EM"),
           ("identifier_f1", "ID-F1"))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def subset(problems: list, n: int) -> list:
    """n problems spread evenly over the projects: round-robin in each project's order."""
    if not n:
        return problems
    by: dict[str, list] = defaultdict(list)
    for p in problems:
        by[p.meta["project"]].append(p)
    out, turn = [], 0
    while len(out) < min(n, len(problems)):
        for project in by:
            if turn < len(by[project]) and len(out) < n:
                out.append(by[project][turn])
        turn += 1
    keep = {p.task_id for p in out}
    return [p for p in problems if p.task_id in keep]


def definition_in_prompt(p, context: list[dict]) -> bool:
    path, lines = p.meta["definition"].rsplit(":", 1)
    first = int(lines.split("-")[0])
    return any(c["path"] == path and c["start_line"] <= first <= c["end_line"] for c in context)


def run_condition(engine, condition: str, data: str, n_subset: int, out: Path) -> dict:
    task = get_task(f"repo-completion-{condition}", data)
    problems = subset(task.problems(), n_subset)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    params = SamplingParams(max_tokens=48, temperature=0.0, top_p=1.0, seed=0)
    samples = gen.generate(engine, task, problems, out / "samples.jsonl", "fim", 1, params)
    took = time.perf_counter() - t0
    results = execute(task, problems, samples, out / "results.jsonl", allow_code_execution=False,
                      progress=False)
    meta = {"mode": "fim", "model": gen.model_fingerprint(engine), "path": gen.generation_path(engine),
            "task_settings": task.settings(), "sampling": {"max_tokens": 48, "temperature": 0}}
    report = score(task, results, out, meta)
    by_id = {p.task_id: p for p in problems}
    hits: dict[str, list[bool]] = defaultdict(list)
    for line in samples.read_text().splitlines():
        row = json.loads(line)
        p = by_id.get(row["task_id"])
        if p is not None:
            hit = definition_in_prompt(p, row.get("context", []))
            hits[p.meta["project"]].append(hit)
            hits["overall"].append(hit)
    log(f"{condition}: {report['n_problems']} problems, EM {100 * report['metrics']['exact_match']:.1f}, "
        f"generation {took:.0f} s (this run)")
    return {"report": report, "hits": {k: sum(v) / len(v) for k, v in hits.items()}}


def table(results: dict, projects: list[str]) -> list[str]:
    conds = list(results)
    head = "| project | n | " + " | ".join(f"{lab} {c}" for _, lab in METRICS for c in conds) + \
        " | " + " | ".join(f"def in prompt {c}" for c in conds if c != "in-file") + " |"
    lines = [head, "|---" * (2 + len(METRICS) * len(conds) + len(conds) - ("in-file" in conds)) + "|"]
    for project in projects + ["overall"]:
        cells, n = [], 0
        for key, _ in METRICS:
            for c in conds:
                rep = results[c]["report"]
                m = rep["metrics"] if project == "overall" else rep.get("by_group", {}).get(project, {})
                n = rep["n_problems"] if project == "overall" else m.get("n_problems", 0)
                cells.append(f"{100 * m.get(key, 0.0):.1f}")
        cells += [f"{100 * results[c]['hits'].get(project, 0.0):.0f}%" for c in conds if c != "in-file"]
        name = f"**{project}**" if project == "overall" else project
        lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--projects", default=",".join(DEFAULT_PROJECTS))
    ap.add_argument("--problems", type=int, default=30, help="problems per project")
    ap.add_argument("--subset", type=int, default=0, help="only N problems, spread over the projects")
    ap.add_argument("--context-tokens", type=int, default=512)
    ap.add_argument("--window-tokens", type=int, default=512)
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-repo"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    a = ap.parse_args()
    t0 = time.time()
    projects = [x.strip() for x in a.projects.split(",") if x.strip()]
    settings = a.runs / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(f"projects = {json.dumps(projects)}\nproblems_per_project = {a.problems}\n"
                        f"context_tokens = {a.context_tokens}\nwindow_tokens = {a.window_tokens}\n")
    engine = gen.load(gen.ModelChoice(a.model), a.n_ctx)
    model_dir = a.runs / Path(a.model).name / (f"subset{a.subset}" if a.subset else "all")
    results = {}
    for condition in [c.strip() for c in a.conditions.split(",")]:
        results[condition] = run_condition(engine, condition, str(settings), a.subset,
                                           model_dir / f"repo-completion-{condition}")
    names = sorted({g for r in results.values() for g in r["report"].get("by_group", {})},
                   key=lambda g: [Path(p).name for p in projects].index(g)
                   if g in [Path(p).name for p in projects] else 99)
    em = {c: 100 * r["report"]["metrics"]["exact_match"] for c, r in results.items()}
    lines = [f"## Repository context: repo-completion, {a.model}", "",
             f"Command: `python bench/repo_context.py {' '.join(sys.argv[1:])}` "
             f"(took {(time.time() - t0) / 60:.1f} min, generation resumed where runs existed). "
             f"Problems: {a.problems} per project"
             + (f", a fixed subset of {a.subset}" if a.subset else "")
             + f"; window {a.window_tokens} tokens of the file around the cursor, context budget "
               f"{a.context_tokens} tokens; greedy, one line. Scores in %, CrossCodeEval's definitions.", ""]
    lines += table(results, names)
    if {"in-file", "ring-buffer", "retrieval"} <= set(em):
        d_in, d_ring = em["retrieval"] - em["in-file"], em["retrieval"] - em["ring-buffer"]
        lines += ["", f"- EM retrieval - in-file: **{d_in:+.1f}** points (target >= +10: "
                      f"{'yes' if d_in >= 10 else 'NO'}); retrieval - ring-buffer: **{d_ring:+.1f}** "
                      f"points (target >= +3: {'yes' if d_ring >= 3 else 'NO'})"]
    lines += ["", *machine_table(machine_info({"model": a.model}, dirty_paths=("src", "bench/repo_context.py")))]
    body = "\n".join(lines) + "\n"
    print(body)
    write_section(a.out, f"<!-- bench/repo_context.py {a.model} -->",
                  f"<!-- end bench/repo_context.py {a.model} -->", body)
    log(f"wrote the section of {a.out}")


if __name__ == "__main__":
    main()
