"""Serving benchmark: `commons serve` against llama.cpp's own C++ server (llama-server,
`--cache-reuse 256`, 3 slots) under editor traffic, same model file, same requests.

    python bench/serve.py                                 # 0.5B, ~20 min on 2 cores
    python bench/serve.py --model qwen2.5-coder-1.5b      # ~50 min
    python bench/serve.py --model qwen2.5-coder-1.5b --steps 20   # ~35 min
    python bench/serve.py --quick                         # 12 requests a trace (smoke)
    LLAMA_SERVER=/path/to/llama-server python bench/serve.py   # an existing build

llama-server is built from the llama.cpp sources inside llama-cpp-python 0.3.36's
source distribution on PyPI (the version our engine binds): `pip download` of the
sdist into bench/out/ and a cmake build of the llama-server target (~8 min on 2 cores,
once). Measured, one server process at a time, on a quiet machine (the script waits):
  1. traces (bench/editor_traces.py), each request one non-streaming /infill (the body
     llama.vscode sends; both servers speak it) with n_predict 24 at temperature 0:
     deep (the whole file before the cursor, constant suffix), window (llama.vscode's
     256/64 lines: every newline slides it), three (three editors, three files,
     interleaved), suffix (edits below the cursor); latency p50/p95, prompt tokens
     evaluated and reused per request;
  2. cold open: the first completion in a 3,500-line file opened at line 2,000, while
     two other editors keep typing (a request, then 0.3 s of think time); its latency
     and the others' latencies while it runs;
  3. decode speed: 128 greedy tokens (`ignore_eos`) continuing real code, first token
     to last, and (ours) with each speculative-decoding mode: tokens/s and whether the
     text is identical to plain decoding;
  4. (ours) KV-shift reuse: the window trace with `--cache-reuse 0` (exact prefix reuse
     only): the share of identical completions;
  5. peak RSS of each server.
The results replace this model's section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import editor_traces as et  # noqa: E402
from report import machine_info, machine_table, write_section  # noqa: E402

OUT = Path(__file__).parent / "out"
LLAMA_CPP_PYTHON = "0.3.36"
N_PREDICT = 24
SLOTS = 3
THINK_S = 0.3


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(xs: list[float], q: float) -> float:
    """Percentile with linear interpolation (q in 0..100)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100
    lo = int(k)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (k - lo)


# -- the machine ----------------------------------------------------------------------


def busy_seconds() -> float:
    v = list(map(int, open("/proc/stat").readline().split()[1:8]))
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit_s: float = 180) -> float:
    """Wait (up to limit_s) until the machine is idle (< 0.2 cores busy for 3 s);
    returns the load seen last."""
    deadline = time.time() + limit_s
    while True:
        b0, t0 = busy_seconds(), time.time()
        time.sleep(3)
        load = (busy_seconds() - b0) / (time.time() - t0)
        if load < 0.2 or time.time() > deadline:
            if load >= 0.2:
                log(f"WARNING: the machine keeps {load:.1f} cores busy; measuring anyway")
            return load
        log(f"{load:.1f} cores busy; waiting for a quiet machine")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    try:
        return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())[1]) / 1024
    except (OSError, TypeError):
        return float("nan")


# -- the servers ------------------------------------------------------------------------


def llama_server() -> str:
    """llama-server built from llama-cpp-python's sdist (once; bench/out/)."""
    if os.environ.get("LLAMA_SERVER"):
        return os.environ["LLAMA_SERVER"]
    src = OUT / f"llama_cpp_python-{LLAMA_CPP_PYTHON}" / "vendor" / "llama.cpp"
    binary = src / "build" / "bin" / "llama-server"
    if binary.exists():
        return str(binary)
    OUT.mkdir(parents=True, exist_ok=True)
    log(f"building llama-server from llama-cpp-python {LLAMA_CPP_PYTHON}'s sdist (once, ~8 min)")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", str(OUT)], check=True)
    subprocess.run(["tar", "xzf", str(OUT / f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"), "-C", str(OUT)],
                   check=True)
    subprocess.run(["cmake", "-B", "build", "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
                    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=ON"],
                   cwd=src, check=True)
    subprocess.run(["cmake", "--build", "build", "--target", "llama-server", "-j", str(os.cpu_count())],
                   cwd=src, check=True)
    return str(binary)


def model_path(name: str) -> str:
    out = subprocess.run([sys.executable, "-m", "codecommons", "models", "--assemble", name],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def running(name: str, cmd: list[str], port: int):
    return server(name, cmd, "/health", port)


@contextmanager
def server(name: str, cmd: list[str], ready_path: str, port: int, env: dict | None = None):
    """Start a server, wait until ready_path answers 200, yield (base_url, proc), stop it
    (also used by bench/lsp.py and bench/attribution.py)."""
    logf = tempfile.NamedTemporaryFile("w+", prefix=f"bench-{re.sub(r'[^a-z0-9]+', '-', name)}-",
                                       suffix=".log", delete=False)
    log(f"starting {name}: {' '.join(cmd)}")
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while True:
            if proc.poll() is not None or time.time() > deadline:
                logf.seek(0)
                raise RuntimeError(f"{name} did not start; log {logf.name}:\n{logf.read()[-3000:]}")
            try:
                if httpx.get(base + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        log(f"{name} ready (log {logf.name})")
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ours_cmd(model: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codecommons", "serve", "--model", model, "--port", str(port),
            "--slots", str(SLOTS + 1), *extra]


def theirs_cmd(binary: str, path: str, port: int) -> list[str]:
    return [binary, "-m", path, "--host", "127.0.0.1", "--port", str(port), "-c", str(8192 * SLOTS),
            "-np", str(SLOTS), "--cache-reuse", "256", "-t", str(os.cpu_count()),
            "-tb", str(os.cpu_count()), "--no-webui"]


# -- requests ---------------------------------------------------------------------------


def infill(client: httpx.Client, base: str, req: dict) -> dict:
    body = {**req, "n_predict": N_PREDICT, "temperature": 0, "cache_prompt": True}
    t0 = time.perf_counter()
    r = client.post(base + "/infill", json=body, timeout=900)
    ms = (time.perf_counter() - t0) * 1000
    r.raise_for_status()
    d = r.json()
    d = d[0] if isinstance(d, list) else d
    return {"ms": ms, "content": d.get("content", ""), "predicted": d.get("tokens_predicted", 0),
            "evaluated": d.get("timings", {}).get("prompt_n", 0), "cached": d.get("tokens_cached", 0)}


def run_trace(base: str, editors: list[et.Editor], steps: int, label: str) -> list[dict]:
    out = []
    with httpx.Client() as c:
        infill(c, base, {"input_prefix": "def add(a, b):\n", "prompt": "    ", "input_suffix": "\n"})
        for k, (e, req) in enumerate(et.interleave(editors, steps)):
            rec = {**infill(c, base, req), "editor": e, "step": k}
            out.append(rec)
            if k % 10 == 0:
                log(f"  {label} {k + 1}/{steps}: {rec['ms']:.0f} ms, {rec['evaluated']} evaluated, "
                    f"{rec['cached']} reused, {rec['predicted']} predicted")
    return out


def cold_open(base: str) -> dict:
    """The first completion in a large file just opened, while two other editors type."""
    others = [et.Editor("tarfile.py", 1500, seed=3), et.Editor("difflib.py", 1200, seed=4)]
    with httpx.Client() as c:
        for e in others:  # the other editors are warm
            infill(c, base, e.request(0))
    stop, recs = threading.Event(), []

    def typing(e: et.Editor) -> None:
        with httpx.Client() as c:
            k = 1
            while not stop.is_set() and k < len(e):
                t = time.perf_counter()
                recs.append((t, infill(c, base, e.request(k))["ms"]))
                k += 1
                time.sleep(THINK_S)

    threads = [threading.Thread(target=typing, args=(e,)) for e in others]
    for t in threads:
        t.start()
    time.sleep(2.0)
    t0 = time.perf_counter()
    with httpx.Client() as c:
        cold = infill(c, base, et.COLD.request(0))
    t1 = time.perf_counter()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    during = [ms for t, ms in recs if t < t1 and t + ms / 1000 > t0]
    return {"cold": cold, "during": during, "all_others": [ms for _, ms in recs]}


DECODE_PROMPT_FILE, DECODE_LINE = "difflib.py", 900


def decode_prompt() -> str:
    lines = (et.STDLIB / DECODE_PROMPT_FILE).read_text().splitlines(keepends=True)
    return "".join(lines[DECODE_LINE - 120:DECODE_LINE])


def decode_speed(base: str, repeats: int = 3) -> tuple[float, str]:
    """Greedy tokens/s from the first token to the last (streamed /completion)."""
    body = {"prompt": decode_prompt(), "n_predict": 128, "temperature": 0, "ignore_eos": True,
            "stream": True, "cache_prompt": True}
    rates, text = [], ""
    for r in range(repeats + 1):
        t_first = t_last = None
        n, parts = 0, []
        # A fresh connection per run: llama-server closes a kept-alive connection after
        # a stream, and a pooled client would send the next request into it.
        with httpx.Client(timeout=600) as c:
            with c.stream("POST", base + "/completion", json=body) as resp:
                resp.raise_for_status()
                for line in resp.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    ev, now = json.loads(line[6:]), time.perf_counter()
                    if ev.get("content"):
                        parts.append(ev["content"])
                        t_first = t_first or now
                        t_last = now
                    if ev.get("stop"):
                        n = ev.get("tokens_predicted", n)
            if r:  # the first run warms the cache
                rates.append((n - 1) / (t_last - t_first))
            text = "".join(parts)
    return statistics.median(rates), text


# -- the run ---------------------------------------------------------------------------------


def summary(recs: list[dict]) -> dict:
    ms = [r["ms"] for r in recs]
    return {"n": len(ms), "p50": pct(ms, 50), "p95": pct(ms, 95), "first": ms[0] if ms else 0,
            "evaluated": statistics.mean(r["evaluated"] for r in recs),
            "cached": statistics.mean(r["cached"] for r in recs),
            "predicted": statistics.mean(r["predicted"] for r in recs)}


def measure_server(name: str, cmd_fn, steps: int, ours: bool, model: str) -> dict:
    res: dict = {"traces": {}}
    port = free_port()
    wait_quiet()
    with running(name, cmd_fn(port), port) as (base, proc):
        for tname, editors in et.traces().items():
            log(f"{name}: trace {tname}")
            res["traces"][tname] = run_trace(base, editors, steps, f"{name} {tname}")
        log(f"{name}: cold open")
        res["cold"] = cold_open(base)
        log(f"{name}: decode speed")
        res["decode"], res["decode_text"] = decode_speed(base)
        res["rss"] = peak_rss_mib(proc.pid)
        if ours:
            res["budget"] = httpx.get(base + "/info").json().get("fim_context_tokens")
    return res


def speculative_study(model: str, draft: str) -> list[dict]:
    out = []
    plain_text = None
    modes = ("off", "lookup") + (("draft", "both") if draft != model else ())
    for mode in modes:
        extra = ["--speculative", mode] + (["--draft-model", draft] if mode in ("draft", "both") else [])
        port = free_port()
        wait_quiet()
        with running(f"ours --speculative {mode}", ours_cmd(model, port, *extra), port) as (base, _):
            rate, text = decode_speed(base)
        plain_text = text if mode == "off" else plain_text
        out.append({"mode": mode, "rate": rate, "same": text == plain_text})
        log(f"  speculative {mode}: {rate:.1f} tokens/s, same text: {text == plain_text}")
    return out


def reuse_agreement(model: str, steps: int, default: list[dict]) -> dict:
    port = free_port()
    wait_quiet()
    with running("ours --cache-reuse 0", ours_cmd(model, port, "--cache-reuse", "0"), port) as (base, _):
        exact = run_trace(base, et.traces()["window"], steps, "ours exact window")
    same = sum(a["content"] == b["content"] for a, b in zip(default, exact))
    return {"same": same, "n": len(exact), "exact": summary(exact)}


def report(a, r: dict, info: dict, minutes: float) -> str:
    ours, theirs = r["ours"], r["theirs"]
    lines = [f"## `commons serve` under editor traffic — {a.model}", "",
             f"Command: `python bench/serve.py --model {a.model}{f' --steps {a.steps}' if a.steps != 40 else ''}` "
             f"(took {minutes:.0f} min). Anchor: llama.cpp's C++ `llama-server` built from "
             f"llama-cpp-python {LLAMA_CPP_PYTHON}'s sdist, `{' '.join(theirs_cmd('llama-server', 'MODEL', 0)[3:])}`"
             .replace(" --port 0", ""), "", *machine_table(info), "",
             f"### Traces ({a.steps} requests each; /infill, n_predict {N_PREDICT}, temperature 0)", "",
             "| trace | server | p50 ms | p95 ms | first ms | evaluated / request | reused / request | "
             "tokens out | ours p50 / theirs p50 |", "|---|---|---|---|---|---|---|---|---|"]
    for tname, editors in et.traces().items():
        so, st = summary(ours["traces"][tname]), summary(theirs["traces"][tname])
        for label, s in (("ours", so), ("llama-server", st)):
            ratio = f"{so['p50'] / st['p50']:.2f}" if label == "ours" else ""
            lines.append(f"| {tname} | {label} | {s['p50']:.0f} | {s['p95']:.0f} | {s['first']:.0f} | "
                         f"{s['evaluated']:.0f} | {s['cached']:.0f} | {s['predicted']:.1f} | {ratio} |")
    lines += ["", "Traces: " + "; ".join(f"**{n}**: " + " / ".join(e.describe() for e in eds)
                                         for n, eds in et.traces().items()), ""]
    lines += ["### Cold open while two other editors type", "",
              "| server | first completion ms | prompt tokens evaluated | others' requests during it | "
              "others' p50 / p95 / max ms during it |", "|---|---|---|---|---|"]
    for label, res in (("ours", ours), ("llama-server", theirs)):
        c, d = res["cold"], res["cold"]["during"]
        lines.append(f"| {label} | {c['cold']['ms']:.0f} | {c['cold']['evaluated']} | {len(d)} | "
                     f"{pct(d, 50):.0f} / {pct(d, 95):.0f} / {max(d) if d else float('nan'):.0f} |")
    lines += ["", f"The file: {et.COLD.describe()}. The others type in tarfile.py and difflib.py "
              f"(warm), {THINK_S:g} s between a response and their next request.", ""]
    lines += ["### Decode speed (128 greedy tokens continuing real code, first token to last, median of 3)",
              "", "| server | tokens/s |", "|---|---|",
              f"| ours (default settings) | {ours['decode']:.1f} |",
              f"| llama-server | {theirs['decode']:.1f} |"]
    if r.get("speculative"):
        lines += ["", "Speculative decoding (ours, greedy): same text as plain decoding?", "",
                  "| --speculative | tokens/s | same text |", "|---|---|---|"]
        lines += [f"| {s['mode']} | {s['rate']:.1f} | {'yes' if s['same'] else 'NO'} |"
                  for s in r["speculative"]]
    if r.get("agreement"):
        g = r["agreement"]
        lines += ["", f"KV-shift reuse (`--cache-reuse`, default 64 tokens) against exact prefix reuse only "
                  f"(`--cache-reuse 0`) on the window trace: {g['same']} of {g['n']} completions "
                  f"identical; with exact reuse only p50 {g['exact']['p50']:.0f} ms, p95 "
                  f"{g['exact']['p95']:.0f} ms, {g['exact']['evaluated']:.0f} tokens evaluated per request."]
    lines += ["", f"Measured: ours {r.get('ours_measured', '-')}; llama-server {r.get('theirs_measured', '-')} "
              "(its figures are kept while its binary, the model, the steps and the traces are unchanged)."]
    lines += ["", f"Peak RSS: ours {ours['rss']:.0f} MiB, llama-server {theirs['rss']:.0f} MiB. "
              f"Our FIM prompts were capped at {ours.get('budget')} tokens (measured prefill speed x "
              f"5 s, `--fim-context-tokens 0`); llama-server's /infill takes at most 3/4 of its batch "
              f"(1,536 tokens) of prefix and 1/4 of suffix.", ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--draft-model", default="qwen2.5-coder-0.5b",
                    help="draft for the speculative study (its draft modes are skipped when it is --model)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--steps", type=int, default=0,
                    help="requests per trace (default 40; --quick 12): the 1.5B's llama-server runs ~15 s each")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    ap.add_argument("--json", type=Path, default=OUT / "serve.json")
    a = ap.parse_args()
    a.steps = a.steps or (12 if a.quick else 40)
    t0 = time.time()
    binary = llama_server()
    path = model_path(a.model)
    import llama_cpp

    info = machine_info({"llama-cpp-python": llama_cpp.__version__, "model file": Path(path).name})
    # Each phase's result is kept in --json as soon as it is measured, so a run that dies
    # (or is stopped) resumes at the next phase with the same model, steps and commit.
    # llama-server's figures do not depend on our code: they are kept while the binary,
    # the model, the steps and the traces are the same.
    key = {"model": a.model, "steps": a.steps, "commit": info.get("git commit")}
    theirs_key = {"model": a.model, "steps": a.steps, "binary": binary,
                  "traces": hashlib.sha256(Path(et.__file__).read_bytes()).hexdigest()}
    old = json.loads(a.json.read_text()) if a.json.exists() else {}
    r = old if old.get("key") == key else {"key": key}
    if old.get("theirs_key") == theirs_key and "theirs" in old:
        r["theirs"], r["theirs_measured"] = old["theirs"], old.get("theirs_measured", "-")
    r["theirs_key"] = theirs_key
    phases = {
        "ours": lambda: measure_server("ours", lambda p: ours_cmd(a.model, p), a.steps, True, a.model),
        "theirs": lambda: measure_server("llama-server", lambda p: theirs_cmd(binary, path, p), a.steps,
                                         False, a.model),
        "speculative": lambda: speculative_study(a.model, a.draft_model),
        "agreement": lambda: reuse_agreement(a.model, a.steps, r["ours"]["traces"]["window"]),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for phase, measure in phases.items():
        if phase in r:
            log(f"{phase}: measured already ({a.json}), kept")
            continue
        r[phase] = measure()
        r[f"{phase}_measured"] = f"{time.strftime('%Y-%m-%d %H:%M')}, commit {info.get('git commit')}"
        a.json.write_text(json.dumps(r, indent=1, default=str))
    text = report(a, r, info, (time.time() - t0) / 60)
    write_section(a.out, f"<!-- bench/serve.py {a.model} -->", f"<!-- end bench/serve.py {a.model} -->", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
