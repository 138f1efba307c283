"""What every benchmark script shares: the machine's details and the RESULTS.md
section a script owns (between `<!-- START -->` and `<!-- end START -->` markers,
replaced on each run; other sections are left alone)."""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git_commit(dirty_paths: tuple[str, ...] = ("src",)) -> str:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO).stdout.strip()
        except OSError:
            return "?"

    commit = run("git", "rev-parse", "--short", "HEAD") or "?"
    if run("git", "status", "--porcelain", "--", *dirty_paths):
        commit += f" + uncommitted changes in {', '.join(dirty_paths)}"
    return commit


def machine_info(versions: dict[str, str] | None = None,
                 dirty_paths: tuple[str, ...] = ("src",)) -> dict[str, str]:
    """CPU model, cores, RAM, OS, Python, the given package versions, commit, date."""
    cpuinfo = Path("/proc/cpuinfo")
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if cpuinfo.exists() \
        else platform.processor()
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    os_name = platform.platform()
    if Path("/etc/os-release").exists():
        os_name = re.search(r'PRETTY_NAME="(.*)"', Path("/etc/os-release").read_text())[1]
    return {"CPU": cpu, "cores": str(os.cpu_count()),
            "RAM": f"{int(mem[1]) / 2**20:.1f} GiB" if mem else "?",
            "OS": f"{os_name} ({platform.release()})", "Python": platform.python_version(),
            **(versions or {}), "git commit": git_commit(dirty_paths),
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M")}


def machine_table(info: dict[str, str]) -> list[str]:
    return ["| machine | |", "|---|---|", *[f"| {k} | {v} |" for k, v in info.items()]]


def write_section(out: Path, start: str, end: str, body: str) -> None:
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    section = f"{start}\n{body.rstrip()}\n{end}\n"
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) + 1:]
    else:
        text = text.rstrip() + "\n\n" + section
    out.write_text(text)
