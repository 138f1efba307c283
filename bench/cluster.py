"""`commons curate` on real cluster engines started on this machine, against the
local executor: a single-node Slurm cluster (munged, slurmctld, slurmd; Debian's
slurm packages) and a Ray cluster (`ray start --head`, one CPU per worker), both
from tests/data/clusters.py. Same SOURCE, same --workers; the output (data/,
excluded/, stats.json, README.md) is compared byte for byte with the local run.

    python bench/cluster.py                                       # python-env:pypi/idna,pypi/h11, 2 workers
    python bench/cluster.py --source python-env:pypi/click,pypi/h11,pypi/idna --workers 2

Times are wall clock of the `commons curate` process (the cluster already up), and
of starting the cluster. Results replace the section between
`<!-- bench/cluster.py -->` and `<!-- end bench/cluster.py -->` in --out.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from report import machine_info, machine_table, write_section  # noqa: E402

from tests.data.clusters import Unavailable, ray_cluster, slurm_cluster  # noqa: E402


def curate(source: str, out: Path, workers: int, *flags: str, env: dict | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "codecommons", "curate", source, "--out", str(out),
         "--workers", str(workers), "--no-progress", *flags],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})},
        capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"commons curate {' '.join(flags)} failed:\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0


def output(out: Path) -> dict[str, bytes]:
    files = [*sorted((out / "data").glob("*.parquet")), *sorted((out / "excluded").glob("*.jsonl")),
             out / "stats.json", out / "README.md"]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default="python-env:pypi/idna,pypi/h11")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    load = os.getloadavg()[0]
    rows = []
    t_local = curate(args.source, work / "local", args.workers)
    reference = output(work / "local")
    kept = json.loads((work / "local" / "stats.json").read_text())
    rows.append(("local (forked processes)", "-", t_local, "reference"))
    print(f"local: {t_local:.1f} s", file=sys.stderr)

    try:
        t0 = time.perf_counter()
        with slurm_cluster(work / "slurm", cpus=args.workers) as slurm:
            up = time.perf_counter() - t0
            version = subprocess.run(["sinfo", "--version"], capture_output=True, text=True,
                                     env={**os.environ, **slurm.env}).stdout.strip() or "Slurm"
            t = curate(args.source, work / "slurm-out", args.workers, "--executor", "slurm",
                       "--partition", slurm.partition, "--time-limit", "0:30:00",
                       "--mem-per-cpu-gb", "3", env=slurm.env)
        same = output(work / "slurm-out") == reference
        rows.append((f"{version} (slurmctld + slurmd, job arrays, sbatch --wait)", f"{up:.1f}", t,
                     "yes" if same else "**no**"))
        print(f"slurm: {t:.1f} s, identical={same}", file=sys.stderr)
    except Unavailable as e:
        rows.append(("Slurm", "-", None, f"not run: {e}"))

    try:
        t0 = time.perf_counter()
        with ray_cluster(cpus=args.workers) as ray:
            up = time.perf_counter() - t0
            t = curate(args.source, work / "ray-out", args.workers, "--executor", "ray",
                       "--ray-address", ray.address, "--mem-per-cpu-gb", "2")
        same = output(work / "ray-out") == reference
        rows.append((f"Ray {importlib.metadata.version('ray')} (ray start --head, {args.workers} CPUs)",
                     f"{up:.1f}", t, "yes" if same else "**no**"))
        print(f"ray: {t:.1f} s, identical={same}", file=sys.stderr)
    except (Unavailable, importlib.metadata.PackageNotFoundError) as e:
        rows.append(("Ray", "-", None, f"not run: {e}"))

    info = machine_info({"datatrove": importlib.metadata.version("datatrove"),
                         "load average at start": f"{load:.2f}"})
    body = [
        "## Curation on clusters — `commons curate --executor slurm|ray`", "",
        f"Command: `python bench/cluster.py --source {args.source} --workers {args.workers}`. "
        f"Input: `{args.source}`, {kept['total_files']} files read, {kept['kept_files']} kept; "
        f"`--workers {args.workers}` on every executor. Each cluster is started on this machine "
        "by tests/data/clusters.py (Slurm: munged, slurmctld and slurmd on localhost, one node, "
        "one partition; Ray: `ray start --head --block`), then `commons curate` runs against it; "
        "identical = DIR/data, DIR/excluded, stats.json and README.md equal byte for byte to the "
        "local run's.", "",
        *machine_table(info), "",
        "| executor | cluster start-up s | `commons curate` s | output identical to local |",
        "|---|---:|---:|---|",
        *[f"| {name} | {up} | {'-' if t is None else f'{t:.1f}'} | {same} |" for name, up, t, same in rows],
        "",
        "Slurm's time includes two `sbatch --wait` rounds (filter, final) and datatrove's "
        "stats-merging job after each; Ray's, joining the cluster and shipping the package "
        "(`py_modules`). Every rank on a cluster loads ScanCode's licence index itself (~6 s, "
        "~1.4 GB), where local workers fork from the driver that loaded it once.",
    ]
    write_section(Path(args.out), "<!-- bench/cluster.py -->", "<!-- end bench/cluster.py -->",
                  "\n".join(body))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
