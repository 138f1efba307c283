"""Serving benchmark for `commons serve` on one GGUF: decode speed, typing latency, memory.

    pip install 'llama-cpp-python[server]==0.3.36'   # the llama_cpp.server baseline needs it
    python bench/serve.py                            # full run, 0.5B (~8 min on 2 cores)
    python bench/serve.py --quick                    # smoke run (~4 min)
    python bench/serve.py --model qwen2.5-coder-1.5b --out bench/RESULTS.md

Measured in one run, on the same model file, one process at a time:
  1. decode tokens/s: raw llama-cpp-python vs our /v1/completions (stream), first token
     to last, so prompt evaluation is excluded;
  2. FIM latency on a typing trace (bench/typing_trace.py: 150 steps, 40 with --quick)
     against our server; then the first 16 steps (6) against our server with
     COMMONS_NO_PROMPT_CACHE=1 and llama-cpp-python's own server, which re-evaluate
     thousands of prompt tokens per step;
  3. peak RSS (VmHWM) of each server process (and its children).
The results replace this model's section of --out (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import typing_trace  # noqa: E402
from report import machine_info, write_section  # noqa: E402

DECODE_PROMPT = ('"""Small helpers for lists, strings and dictionaries."""\n\n'
                 'import itertools\n\n\ndef chunked(items, size):\n')
# Qwen2.5-Coder's FIM tokens, for llama_cpp.server given the PSM prompt as text
FIM_SENTINELS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(xs: list[float], q: float) -> float:
    """Percentile with linear interpolation (q in 0..100)."""
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (k - lo)


# -- other processes' CPU use (the machine may be shared) ---------------------------
TICK = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds spent busy on the whole machine (steal and idle left out)."""
    v = list(map(int, open("/proc/stat").readline().split()[1:8]))
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / TICK


def own_seconds(pids: tuple[int, ...]) -> float:
    t = os.times()
    total = t.user + t.system
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / TICK
        except (OSError, IndexError):
            pass
    return total


class CpuWatch:
    """Average number of cores that other processes kept busy since construction."""

    def __init__(self, *pids: int) -> None:
        self.pids, self.t0, self.b0, self.o0 = pids, time.time(), busy_seconds(), own_seconds(pids)

    def foreign(self) -> float:
        other = (busy_seconds() - self.b0) - (own_seconds(self.pids) - self.o0)
        return max(other, 0.0) / max(time.time() - self.t0, 1e-3)


def wait_quiet(limit_s: float = 120) -> None:
    """Wait (up to limit_s) until other processes use under 0.2 cores for 3 s."""
    deadline = time.time() + limit_s
    while True:
        w = CpuWatch()
        time.sleep(3)
        load = w.foreign()
        if load < 0.2 or time.time() > deadline:
            if load >= 0.2:
                log(f"WARNING: other processes keep {load:.1f} cores busy; measuring anyway")
            return
        log(f"other processes use {load:.1f} cores; waiting for a quiet machine")


# -- machine and model ------------------------------------------------------------
def model_path(name: str) -> str:
    out = subprocess.run(["commons", "models", "--assemble", name], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().splitlines()[-1]


# -- servers ------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    """VmHWM of pid and its descendants, summed."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d.name))
        except (ValueError, OSError, IndexError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            total += int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{p}/status").read_text())[1])
        except (OSError, TypeError):
            pass
    return total / 1024


@contextmanager
def server(name: str, cmd: list[str], ready_path: str, port: int, env: dict | None = None):
    """Start a server, wait until ready_path answers 200, yield (base_url, proc), kill it."""
    logf = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{re.sub(r'[^a-z_.]+', '-', name)}-",
                                       suffix=".log", delete=False)
    log(f"starting {name}: {' '.join(cmd)}" + (f"  (env {env})" if env else ""))
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None or time.time() > deadline:
                logf.seek(0)
                raise RuntimeError(f"{name} did not start (rc={proc.poll()}); log {logf.name}:\n"
                                   + logf.read()[-3000:])
            try:
                if httpx.get(base + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        log(f"{name} ready on {base} (log {logf.name})")
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logf.close()


# -- 1. decode speed ------------------------------------------------------------------
def decode_raw(path: str, n_tokens: int, repeats: int) -> tuple[list[float], list[int], str]:
    """Raw Llama.generate, the same sampler settings as our engine (greedy); the first
    run is a warm-up. Returns tokens/s and token counts per timed run, and the text."""
    from llama_cpp import Llama, llama_vocab_is_eog

    llm = Llama(model_path=path, n_ctx=8192, n_threads=os.cpu_count(), verbose=False)
    ids = llm.tokenize(DECODE_PROMPT.encode(), add_bos=True, special=True)
    rates, counts, out = [], [], []
    try:
        for r in range(repeats + 1):
            llm.reset()
            n, t_first, out = 0, 0.0, []
            for tok in llm.generate(ids, top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0, temp=0.0,
                                    repeat_penalty=1.0):
                if llama_vocab_is_eog(llm._model.vocab, tok):
                    break
                n += 1
                out.append(tok)
                if n == 1:
                    t_first = time.perf_counter()
                t_last = time.perf_counter()
                if n >= n_tokens:
                    break
            if r:
                rates.append((n - 1) / (t_last - t_first))
                counts.append(n)
        text = llm.detokenize(out).decode("utf-8", "replace")
    finally:
        llm.close()
    return rates, counts, text


def decode_http(base: str, n_tokens: int, repeats: int) -> tuple[list[float], list[int], str]:
    """Streamed /v1/completions: first chunk with text to the chunk with finish_reason;
    tokens from the usage chunk. The first run is a warm-up."""
    body = {"prompt": DECODE_PROMPT, "max_tokens": n_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    rates, counts = [], []
    with httpx.Client(timeout=300) as c:
        for r in range(repeats + 1):
            t_first = t_last = None
            n, text = 0, ""
            with c.stream("POST", base + "/v1/completions", json=body) as resp:
                resp.raise_for_status()
                for line in resp.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    ev, now = json.loads(line[6:]), time.perf_counter()
                    if ev.get("usage"):
                        n = ev["usage"]["completion_tokens"]
                    for ch in ev.get("choices", []):
                        text += ch.get("text") or ""
                        if ch.get("text") and t_first is None:
                            t_first = now
                        if ch.get("finish_reason"):
                            t_last = now
            if r:
                rates.append((n - 1) / (t_last - t_first))
                counts.append(n)
    return rates, counts, text


# -- 2. typing trace --------------------------------------------------------------------
def metric(base: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", httpx.get(base + "/metrics").text, re.M)
    return float(m[1]) if m else 0.0


def run_trace(base: str, trace: typing_trace.Trace, steps: int, max_tokens: int,
              label: str, template: bool = False, ours: bool = True) -> list[dict]:
    """One non-streaming FIM request per step. template=True sends the Qwen PSM prompt
    as plain text instead of using `suffix`. Returns per-step records."""
    def body(prefix: str, suffix: str) -> dict:
        if template:
            return {"prompt": f"{FIM_SENTINELS[0]}{prefix}{FIM_SENTINELS[1]}{suffix}"
                              f"{FIM_SENTINELS[2]}", "max_tokens": max_tokens, "temperature": 0}
        return {"prompt": prefix, "suffix": suffix, "max_tokens": max_tokens, "temperature": 0}

    out = []
    with httpx.Client(timeout=600) as c:
        # warm-up with an unrelated request, so the first step is a cold cursor position
        c.post(base + "/v1/completions", json=body("def add(a, b):\n    ", "\n")).raise_for_status()
        for k in range(steps):
            if ours:
                before = metric(base, "commons_prompt_tokens_cached_total")
            t0 = time.perf_counter()
            resp = c.post(base + "/v1/completions", json=body(*trace.step(k)))
            dt = time.perf_counter() - t0
            resp.raise_for_status()
            usage = resp.json()["usage"]
            rec = {"step": k, "ms": dt * 1000, "prompt": usage["prompt_tokens"],
                   "generated": usage["completion_tokens"], "text": resp.json()["choices"][0]["text"]}
            if ours:
                rec["cached"] = int(metric(base, "commons_prompt_tokens_cached_total") - before)
            out.append(rec)
            if k % 10 == 0 or k == steps - 1:
                log(f"  {label} step {k + 1}/{steps}: {rec['ms']:.0f} ms, {rec['generated']} tokens"
                    + (f", {rec['prompt'] - rec['cached']} of {rec['prompt']} prompt tokens evaluated"
                       if ours else ""))
    return out


def summary(recs: list[dict]) -> dict:
    ms = [r["ms"] for r in recs]
    return {"n": len(ms), "p50": pct(ms, 50), "p95": pct(ms, 95), "mean": statistics.mean(ms),
            "gen": statistics.mean(r["generated"] for r in recs),
            "prompt": statistics.mean(r["prompt"] for r in recs)}


# -- report -----------------------------------------------------------------------------
def measure(a: argparse.Namespace, path: str, trace: typing_trace.Trace) -> dict:
    """Every measurement, one process at a time. `noise` is the cores other processes
    kept busy during each phase (the machine may be shared)."""
    r: dict = {"noise": {}}
    threads, base_steps = os.cpu_count(), a.base_steps

    def phase(name: str, fn, *pids: int):
        wait_quiet()
        w = CpuWatch(*pids)
        out = fn()
        r["noise"][name] = w.foreign()
        return out

    log("decode: raw llama-cpp-python")
    r["raw"] = phase("decode, raw", lambda: decode_raw(path, a.decode_tokens, a.repeats))
    ours_cmd = [shutil.which("commons") or "commons", "serve", "--model", a.model,
                "--threads", str(threads), "--port"]
    port = free_port()
    with server("commons serve", ours_cmd + [str(port)], "/health", port) as (base, proc):
        log("decode: our /v1/completions (stream)")
        r["http"] = phase("decode, ours", lambda: decode_http(base, a.decode_tokens, a.repeats),
                          proc.pid)
        log("typing trace: our server (prompt cache on)")
        r["ours"] = phase("trace, ours", lambda: run_trace(base, trace, len(trace.cuts),
                                                           a.fim_tokens, "ours"), proc.pid)
        r["rss_ours"] = peak_rss_mib(proc.pid)
    port = free_port()
    with server("commons serve (no cache)", ours_cmd + [str(port)], "/health", port,
                env={"COMMONS_NO_PROMPT_CACHE": "1"}) as (base, proc):
        r["nocache"] = phase("trace, ours no cache", lambda: run_trace(
            base, trace, base_steps, a.fim_tokens, "ours-no-cache"), proc.pid)
        r["rss_nocache"] = peak_rss_mib(proc.pid)
    for key, extra in (("lcs", []), ("lcs_nl", ["--logits_all", "False"])):
        name = " ".join(["llama_cpp.server", *extra])
        port = free_port()
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", path, "--n_ctx", "8192",
               "--n_threads", str(threads), "--n_threads_batch", str(threads), *extra,
               "--host", "127.0.0.1", "--port", str(port)]
        with server(name, cmd, "/v1/models", port) as (base, proc):
            if not extra:  # the server as users run it: `suffix` (as documented), then PSM text
                r["lcs"] = phase(f"trace, {name} suffix", lambda: run_trace(
                    base, trace, base_steps, a.fim_tokens, f"{name} suffix", ours=False), proc.pid)
            r[key + "_psm"] = phase(f"trace, {name} PSM text", lambda: run_trace(
                base, trace, base_steps, a.fim_tokens, f"{name} PSM text", template=True,
                ours=False), proc.pid)
            r["rss_" + key] = peak_rss_mib(proc.pid)
    return r


def report(a: argparse.Namespace, r: dict, info: dict, path: str, trace: typing_trace.Trace,
           minutes: float) -> str:
    raw_rates, raw_n, raw_text = r["raw"]
    http_rates, http_n, http_text = r["http"]
    raw, http = statistics.median(raw_rates), statistics.median(http_rates)
    n, ours = a.base_steps, r["ours"]
    s_all, s_win = summary(ours), summary(ours[:n])
    s_nc, s_l, s_lp, s_nl = (summary(r[k]) for k in ("nocache", "lcs", "lcs_psm", "lcs_nl_psm"))
    hits = [x for x in ours if x["prompt"] - x["cached"] <= 32]
    misses = [f"step {x['step'] + 1}: {x['prompt'] - x['cached']} tokens, {x['ms']:.0f} ms"
              for x in ours if x["prompt"] - x["cached"] > 32]
    cmd = "python bench/serve.py" + (f" --model {a.model}" if a.model != "qwen2.5-coder-0.5b" else "") \
        + (" --quick" if a.quick else "")
    ok = lambda b: "yes" if b else "**no**"  # noqa: E731

    def row(name: str, s: dict) -> str:
        return (f"| {name} | {s['n']} | {s['p50']:.0f} | {s['p95']:.0f} | {s['mean']:.0f} "
                f"| {s['gen']:.1f} | {s['prompt']:.0f} |")

    threads = os.cpu_count()
    lines = [
        f"## `commons serve` — {a.model}" + (" (quick run)" if a.quick else ""), "",
        f"Command: `{cmd}` (took {minutes:.1f} min). Model file: `{Path(path).name}`.", "",
        "| machine | |", "|---|---|", *(f"| {k} | {v} |" for k, v in info.items()), "",
        f"### Decode speed ({a.decode_tokens} tokens, greedy, median of {a.repeats})", "",
        "| path | tokens/s | tokens per run |", "|---|---|---|",
        f"| raw llama-cpp-python `Llama.generate` | {raw:.1f} | {sorted(set(raw_n))} |",
        f"| our `/v1/completions`, streamed | {http:.1f} | {sorted(set(http_n))} |",
        f"| ours / raw | {http / raw:.1%} (target >= 95%: {ok(http / raw >= 0.95)}) | |", "",
        f"Same greedy text from both: {'yes' if raw_text == http_text else '**no**'}. "
        f"Runs: raw {', '.join(f'{x:.1f}' for x in raw_rates)}; "
        f"ours {', '.join(f'{x:.1f}' for x in http_rates)} tokens/s.", "",
        f"### FIM latency on a typing trace (max_tokens {a.fim_tokens}, temperature 0)", "",
        f"`{trace.source}` ({trace.n_lines} lines, sha256 `{trace.sha256[:12]}`), cursor at the "
        f"start of line {trace.cursor_line}: prompt = the {len(trace.prefix0)} chars before it + "
        f"the text typed so far (3-6 chars per step, seed {typing_trace.SEED}), suffix = the "
        f"{len(trace.suffix)} chars after the {typing_trace.TYPED_LINES} typed lines. The slower "
        f"servers run only the first {n} steps of the same trace.", "",
        "| server | steps | p50 ms | p95 ms | mean ms | mean tokens out | mean prompt tokens |",
        "|---|---|---|---|---|---|---|",
        row("ours (all steps)", s_all), row(f"ours (first {n} steps)", s_win),
        row("ours, `COMMONS_NO_PROMPT_CACHE=1`", s_nc),
        row("llama_cpp.server, `suffix`", s_l), row("llama_cpp.server, PSM prompt text", s_lp),
        row("llama_cpp.server `--logits_all False`, PSM text", s_nl), "",
        f"- ours p50 / llama_cpp.server p50 (first {n} steps, `suffix`): "
        f"{s_win['p50'] / s_l['p50']:.2f} (target <= 0.5: {ok(s_win['p50'] / s_l['p50'] <= 0.5)}); "
        f"against `--logits_all False`: {s_win['p50'] / s_nl['p50']:.2f}",
        f"- ours p50 over all {s_all['n']} steps: {s_all['p50']:.0f} ms "
        f"(target <= 400 ms: {ok(s_all['p50'] <= 400)})",
        f"- ours: {len(hits)} steps evaluated <= 32 new prompt tokens (p50 "
        f"{pct([x['ms'] for x in hits], 50) if hits else 0:.0f} ms); {len(misses)} evaluated "
        f"more ({'; '.join(misses[:5]) or 'none'})", "",
        "### Peak memory (VmHWM of the server process and its children)", "",
        "| server | peak RSS MiB |", "|---|---|",
        f"| ours | {r['rss_ours']:.0f} |", f"| ours, no prompt cache | {r['rss_nocache']:.0f} |",
        f"| llama_cpp.server (default, `logits_all` on) | {r['rss_lcs']:.0f} |",
        f"| llama_cpp.server `--logits_all False` | {r['rss_lcs_nl']:.0f} |", "",
        "Other processes' CPU use during each phase (cores): "
        + ", ".join(f"{k} {v:.2f}" for k, v in r["noise"].items()) + ".", "",
        "How measured: one process at a time on the same GGUF, n_ctx 8192, "
        f"{threads} threads everywhere. Decode: time from the first generated token to the last "
        "(prompt evaluation excluded), tokens/s = (tokens - 1) / that time; raw is "
        "`Llama.generate` with our engine's sampler settings, ours a streamed `/v1/completions` "
        "(first SSE chunk with text to the chunk with `finish_reason`, token count from "
        "`stream_options.include_usage`); one warm-up run each. Typing trace: one "
        "non-streaming `/v1/completions` per step, wall time from request to full response over "
        "HTTP on 127.0.0.1; each server first gets one unrelated warm-up request, so step 1 is a "
        "cold cursor position. llama_cpp.server: `python -m llama_cpp.server --model PATH "
        f"--n_ctx 8192 --n_threads {threads} --n_threads_batch {threads}` (its defaults include "
        "`logits_all=True`, which computes and stores logits for every prompt token; a second "
        "instance runs with `--logits_all False`). Its `suffix` mode in 0.3.36 uses token id 0 "
        "for the FIM sentinels (a TODO in `llama.py`), so the Qwen PSM prompt sent as plain "
        "text (same length, real FIM) is also shown. Our server ends FIM completions early at "
        "the end of the line or block (infill rules), hence fewer tokens out."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--quick", action="store_true", help="fewer repeats and steps")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    ap.add_argument("--steps-json", type=Path, help="also write every step's record here")
    a = ap.parse_args()
    try:
        import llama_cpp.server.app  # noqa: F401
    except ImportError as e:
        sys.exit(f"llama_cpp.server does not import ({e}); install it with\n"
                 f"    pip install 'llama-cpp-python[server]==0.3.36'")
    a.repeats, steps, a.base_steps = (3, 40, 6) if a.quick else (5, 150, 16)
    a.decode_tokens, a.fim_tokens = 128, 24
    t0 = time.time()
    import llama_cpp

    info = machine_info({"llama-cpp-python": llama_cpp.__version__})
    path = model_path(a.model)
    trace = typing_trace.build(steps)
    log(f"model {path}; trace: {len(trace.cuts)} steps; slower servers: the first {a.base_steps}")
    r = measure(a, path, trace)
    if any(x["cached"] for x in r["nocache"]):
        log("WARNING: with COMMONS_NO_PROMPT_CACHE=1 the server still reported cached tokens")
    if a.steps_json:
        a.steps_json.write_text(json.dumps({k: v for k, v in r.items() if isinstance(v, list)
                                            and v and isinstance(v[0], dict)}, indent=1))
    text = report(a, r, info, path, trace, (time.time() - t0) / 60)
    write_section(a.out, f"<!-- bench/serve.py {a.model} -->",
                  f"<!-- end bench/serve.py {a.model} -->", text)
    print(text)
    log(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
