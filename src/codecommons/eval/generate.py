"""Stage 1 of an evaluation: model completions for a task -> samples.jsonl.

Works through the engines `commons serve` uses (a registry name, .gguf file or
model folder) or any OpenAI-compatible endpoint (vLLM, TGI, llama.cpp, Ollama, our
own server). Each line of samples.jsonl is one sample: task_id, sample index, the
cleaned completion, the raw model text and the prompting mode. A rerun appends only
the samples that are missing, so an interrupted run resumes where it stopped; what
decides a sample (task and its settings, model, mode, sampling) is kept beside it
(samples.settings.json), and a rerun with other settings is refused rather than
mixing two runs in one file.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from codecommons.engines.base import Engine, SamplingParams
from codecommons.engines.infill import InfillBuilder
from codecommons.engines.stopping import StopChecker
from codecommons.eval.tasks import Problem, RepoContext, Task
from codecommons.eval.tasks.base import closed_code_block
from codecommons.tokenizer.fim import Segment


@dataclass
class ModelChoice:
    """--model NAME|PATH, or --endpoint URL (with --model naming the served model)."""

    model: str = ""
    endpoint: str = ""
    api_key: str = ""


def load(choice: ModelChoice, n_ctx: int = 4096) -> Engine:
    from codecommons.engines.base import load_engine
    from codecommons.models.registry import ModelSpec, guess_family, resolve

    if choice.endpoint:
        spec = ModelSpec(id=choice.model or "default", family=guess_family(choice.model),
                         context_length=n_ctx, license="unknown", format="remote",
                         path=choice.endpoint)
        return load_engine(spec, "remote", base_url=choice.endpoint, api_key=choice.api_key)
    if not choice.model:
        raise ValueError("give --model NAME|PATH or --endpoint URL")
    return load_engine(resolve(choice.model), n_ctx=n_ctx)


def model_fingerprint(engine: Engine) -> dict:
    """Model id and, for local weights, the SHA-256 of the weight files."""
    path = Path(engine.spec.path) if engine.spec.path and not engine.remote else None
    files = [path] if path and path.is_file() else sorted(path.glob("*.safetensors")) if path else []
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return {"id": engine.spec.id, "family": engine.spec.family, "format": engine.spec.format,
            "sha256": h.hexdigest() if files else None, "path": engine.spec.path}


def generation_path(engine: Engine) -> dict:
    """How completions were produced, recorded in every report: the same task can score
    differently through different paths (a local engine, or a server's own prompt
    handling), so a report says which one it measured."""
    if not engine.remote:
        fim = "codecommons.engines.infill, here"
    elif engine.server_infill:
        fim = "codecommons.engines.infill, by the endpoint (a Code Commons server)"
    else:
        fim = "codecommons.engines.infill, here; sent to the endpoint as text"
    return {"engine": type(engine).__name__,
            "endpoint": engine.spec.path if engine.remote else None,
            "fim_prompts": fim,
            "chat_prompts": "the endpoint's chat template" if engine.remote else "the model's chat template, here"}


def choose_mode(task: Task, engine: Engine, mode: str) -> str:
    """"auto": FIM tasks infill; others use the chat template when the model has one
    (instruct models are evaluated as their authors do) and raw prompts otherwise."""
    if mode == "auto":
        if "fim" in task.modes:
            mode = "fim"
        else:
            has_chat = engine.remote or engine.chat_template() is not None
            mode = "instruct" if has_chat else "base"
    if mode not in task.modes:
        raise ValueError(f"task {task.name} supports modes {task.modes}, not {mode!r}")
    if mode == "fim" and engine.fim_template() is None:
        raise ValueError(f"model {engine.spec.id} has no fill-in-the-middle tokens; "
                         f"{task.name} needs them")
    return mode


class PromptTooLong(ValueError):
    """The problem's prompt leaves no room to generate in the model's context."""


def complete(engine: Engine, task: Task, p: Problem, mode: str, params: SamplingParams,
             repo: RepoContext | None = None) -> str:
    """One raw completion for a problem (`repo`: context from other files, FIM only)."""
    cancel = threading.Event()
    if mode == "instruct":
        messages = [{"role": "user", "content": task.instruction(p)}]
        if not engine.remote:
            params = _fit_max_tokens(engine, engine.render_chat(messages), params)
        tokens = engine.chat(messages, params, cancel)
        stops: tuple[str, ...] = ()
    elif mode == "fim":
        # The serving infill policy (fitting, healing, layout, stop rules), so a FIM score
        # measures what an editor gets: here, or by a Code Commons endpoint itself.
        # With repository context the prompt is built here (and sent as text) either way.
        if engine.remote and engine.server_infill and not (repo and repo.files):
            tokens = engine.infill(p.prompt, p.suffix, params, list(task.stop), cancel)
            return _collect(tokens, StopChecker(list(task.stop)), mode)
        builder = InfillBuilder(engine, context_tokens=task.window_tokens)
        prompt = builder.build(p.prompt, p.suffix, params.max_tokens, task.stop,
                               files=repo.files if repo else (), repo_name=repo.repo_name if repo else "",
                               path=repo.path if repo else "")
        tokens = engine.generate(prompt.segments, _with_stop_ids(params, prompt.stop_token_ids),
                                 cancel)
        return _collect(tokens, prompt.checker(), mode)
    else:
        prompt = [Segment(p.prompt)]
        if not engine.remote:
            params = _fit_max_tokens(engine, prompt, params)
        tokens = engine.generate(prompt, params, cancel)
        stops = tuple(p.meta.get("stop", ())) or task.stop
    return _collect(tokens, StopChecker(list(stops)), mode)


def _collect(tokens, checker: StopChecker, mode: str) -> str:
    out = []
    for tok in tokens:
        out.append(checker.feed(tok.text))
        # Instruct answers: only the first code block is used, so stop once it is
        # closed instead of generating the explanation that follows (~2x faster).
        if checker.stopped or (mode == "instruct" and "`" in tok.text
                               and closed_code_block("".join(out))):
            break
    tokens.close()
    out.append(checker.finish())
    return "".join(out)


def _fit_max_tokens(engine: Engine, prompt: list[Segment], params: SamplingParams) -> SamplingParams:
    """Generate at most what the context has room for; a prompt that fills the
    context is an error recorded with the sample, not a crash of the run."""
    from dataclasses import replace

    room = engine.n_ctx - len(engine.encode(prompt)) - 1
    if room < 1:
        raise PromptTooLong(f"prompt does not fit the {engine.n_ctx}-token context")
    return replace(params, max_tokens=min(params.max_tokens, room))


def _with_stop_ids(params: SamplingParams, ids: frozenset[int]) -> SamplingParams:
    from dataclasses import replace

    return replace(params, stop_token_ids=params.stop_token_ids | ids)


def done_keys(path: Path) -> set[tuple[str, int]]:
    """(task_id, sample) pairs already in a samples/results file; a torn last line
    from an interrupted run is ignored (it is rewritten)."""
    keys = set()
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            keys.add((row["task_id"], row["sample"]))
    return keys


def todo(problems: list[Problem], n_samples: int, done: set) -> Iterator[tuple[Problem, int]]:
    for p in problems:
        for i in range(n_samples):
            if (p.task_id, i) not in done:
                yield p, i


def generate(engine: Engine, task: Task, problems: list[Problem], out: Path, mode: str,
             n_samples: int, params: SamplingParams, progress: bool = True) -> Path:
    """Append the missing samples to `out` (samples.jsonl) and return its path."""
    from tqdm import tqdm

    _drop_torn_line(out)
    check_resume(out, run_settings(engine, task, mode, params))
    pending = list(todo(problems, n_samples, done_keys(out)))
    with open(out, "a") as f:
        for p, i in tqdm(pending, desc=f"generating {task.name}", disable=not progress,
                         unit="sample"):
            seed = None if params.seed is None else params.seed + i
            # the prompt too: the web UI shows it beside the completion and the verdict
            row = {"task_id": p.task_id, "sample": i, "mode": mode, "prompt": p.prompt}
            try:
                repo = task.repo_context(p, engine.count_tokens) if mode == "fim" else None
                if repo is not None:
                    row["context"] = repo.chunks
                raw = complete(engine, task, p, mode, _seeded(params, seed), repo)
                row.update(completion=task.postprocess(p, raw, mode), raw=raw)
            except PromptTooLong as e:  # recorded; the sample fails when executed
                row.update(completion="", raw="", error=str(e))
            f.write(json.dumps(row) + "\n")
            f.flush()
    return out


def run_settings(engine: Engine, task: Task, mode: str, params: SamplingParams) -> dict:
    """What decides a sample: a run may resume only with the same."""
    return {"task": task.name, "task_settings": task.settings(), "mode": mode,
            "model": {"id": engine.spec.id, "path": engine.spec.path},
            "sampling": {"max_tokens": params.max_tokens, "temperature": params.temperature,
                         "top_p": params.top_p, "seed": params.seed}}


def check_resume(out: Path, settings: dict) -> None:
    """Record `settings` beside `out`; if `out` already holds samples made with other
    settings, refuse (appending would mix two runs in one file)."""
    saved = out.with_name(out.stem + ".settings.json")
    settings = json.loads(json.dumps(settings))  # as JSON keeps it (tuples -> lists)
    if saved.exists() and out.exists() and out.stat().st_size:
        old = json.loads(saved.read_text())
        changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if changed:
            detail = "; ".join(f"{k}: {json.dumps(old.get(k))} -> {json.dumps(settings.get(k))}"
                               for k in changed)
            raise ValueError(f"{out} holds samples made with other settings ({detail}); "
                             f"resume with the same settings, or write to another --out "
                             f"(or delete {out} to start again)")
    saved.write_text(json.dumps(settings, indent=2) + "\n")


def _seeded(params: SamplingParams, seed: int | None) -> SamplingParams:
    from dataclasses import replace

    return replace(params, seed=seed)


def _drop_torn_line(path: Path) -> None:
    """A run killed mid-write leaves a partial last line; cut it before appending."""
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            path.write_bytes(data[: data.rfind(b"\n") + 1])
