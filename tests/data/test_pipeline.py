"""`commons curate` end to end on folders built from real licence texts: the dataset
loads with `datasets`, keeps provenance, records exclusions, is byte-identical on a
rerun, and a run killed mid-way resumes to the same bytes.

    python -m pytest tests/data/test_pipeline.py -q
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from codecommons import dataset
from codecommons.data.pipeline import CurateConfig, _warm_license_index, main, make_executor, run

COMMON = Path("/usr/share/common-licenses")
# HumanEval/0's prompt and canonical solution, as a file in a repository.
HUMANEVAL_0 = '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    >>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)
    True
    """
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2:
                distance = abs(elem - elem2)
                if distance < threshold:
                    return True

    return False
'''
MIT = """MIT License

Copyright (c) 2024 Example Authors

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def make_repo(root: Path, licence: str | None, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    if licence:
        (root / "LICENSE").write_text((COMMON / licence).read_text())
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[str]:
    if not COMMON.exists():
        pytest.skip("needs Debian's /usr/share/common-licenses")
    base = tmp_path_factory.mktemp("corpus")
    code = "def add(a, b):\n    return a + b\n"
    long = "".join(f"def step_{i}(state, value):\n    state['total_{i}'] = value * {i} + len(state)\n"
                   f"    return state\n\n" for i in range(20))
    near = long.replace("step_3(", "stage_3(").replace("step_17(", "stage_17(")
    apache = make_repo(base / "apache-proj", "Apache-2.0", {
        "src/add.py": code,
        "src/utils/add.py": code,  # exact duplicate, longer path
        "src/long.py": long,  # near duplicate of mit-proj's, Apache-2.0
        "src/contact.py": 'MAINTAINER = "jane.doe@corp-mail.com"\n',
        "src/leak.py": HUMANEVAL_0,  # a benchmark solution in the training data
        "web/app.js": "export const x = 1;\n",
        "node_modules/lib/index.js": "module.exports = 1;\n",
        "data.bin": "\0\0binary",
        "min.py": "x = 1\n" + "y = [" + "1, " * 600 + "]\n",
    })
    (apache / "gpl-part").mkdir()
    (apache / "gpl-part" / "COPYING").write_text((COMMON / "GPL-3").read_text())
    (apache / "gpl-part" / "mod.py").write_text("def g():\n    return 2\n")
    make_repo(base / "mit-proj", None, {"LICENSE": MIT})
    (base / "mit-proj" / "long_variant.py").write_text(near)
    make_repo(base / "nolicense-proj", None, {"main.py": "print('hello')\n"})
    make_repo(base / "gpl-proj", "GPL-3", {"lib.c": "int f(void) { return 0; }\n"})
    return sorted(str(p) for p in base.iterdir())


@pytest.fixture(scope="module")
def curated(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("curated") / "out"
    run(corpus, CurateConfig(out=str(out), workers=2, progress=False))
    return out


def rows(out: Path) -> list[dict]:
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_dir=str(out / "data"), split="train")
    return sorted(ds.to_list(), key=lambda r: (r["repo"], r["path"]))


def test_dataset_loads_with_provenance(curated):
    got = {(r["repo"], r["path"]): r for r in rows(curated)}
    assert set(got) == {("apache-proj", "src/add.py"), ("apache-proj", "src/contact.py"),
                        ("apache-proj", "web/app.js"), ("mit-proj", "long_variant.py")}
    assert got[("mit-proj", "long_variant.py")]["license"] == "MIT"
    add = got[("apache-proj", "src/add.py")]
    assert add["license"] == "Apache-2.0" and add["license_type"] == "permissive"
    assert add["language"] == "Python" and add["size"] == len(add["content"])
    assert len(add["sha256"]) == 64


def excluded(out: Path) -> dict[tuple[str, str], str]:
    """(repo, path) -> reason, from DIR/excluded."""
    reasons = {}
    for part in (out / "excluded").glob("*.jsonl"):
        for line in part.read_text().splitlines():
            r = json.loads(line)
            reasons[(r["repo"], r["path"])] = r["reason"]
    return reasons


def front_matter(card: str) -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(card.split("---\n")[1])


def test_every_dropped_file_has_a_reason(curated):
    reasons = excluded(curated)
    assert reasons[("apache-proj", "node_modules/lib/index.js")] == "vendored"
    assert reasons[("apache-proj", "data.bin")] == "binary"
    assert reasons[("apache-proj", "min.py")].startswith("max_line_length")
    assert reasons[("apache-proj", "gpl-part/mod.py")] == "license_non_permissive"  # scoped
    assert reasons[("nolicense-proj", "main.py")] == "license_no_license"
    assert reasons[("gpl-proj", "lib.c")] == "license_non_permissive"
    # duplicates: the shorter path and the more permissive licence (MIT over Apache) win
    assert reasons[("apache-proj", "src/utils/add.py")] == "exact_duplicate"
    assert reasons[("apache-proj", "src/long.py")] == "near_duplicate"
    # HumanEval/0 is also in the SantaCoder FIM set (built from HumanEval)
    assert reasons[("apache-proj", "src/leak.py")] in ("contaminated:humaneval",
                                                       "contaminated:santacoder-fim-py")
    leak = next(json.loads(line) for part in (curated / "excluded").glob("decontam_*.jsonl")
                for line in part.read_text().splitlines() if '"src/leak.py"' in line)
    assert len(leak["detail"].split()) == 12  # the matched n-gram, for auditing the drop


def test_pii_is_redacted_and_counted(curated):
    contact = next(r for r in rows(curated) if r["path"] == "src/contact.py")
    assert "jane.doe@corp-mail.com" not in contact["content"]
    assert "<EMAIL>" in contact["content"] and contact["redactions"]["email"] == 1


def test_card_and_stats(curated):
    card = (curated / "README.md").read_text()
    assert card.startswith("---\n") and "data_files: data/*.parquet" in card
    meta = front_matter(card)
    assert meta["configs"] == [{"config_name": "default", "data_files": "data/*.parquet"}]
    assert meta["license_details"].endswith("(SPDX): Apache-2.0, MIT")
    assert "| Python |" in card and "| vendored |" in card and "| email | 1 |" in card
    stats = json.loads((curated / "stats.json").read_text())
    assert stats["kept_files"] == 4 and stats["excluded"]["vendored"] == 1


def test_same_input_gives_identical_bytes(corpus, curated, tmp_path):
    again = tmp_path / "again"
    run(corpus, CurateConfig(out=str(again), workers=2, progress=False))
    for rel in ("data", "excluded"):
        a = {p.name: p.read_bytes() for p in (curated / rel).iterdir()}
        b = {p.name: p.read_bytes() for p in (again / rel).iterdir()}
        assert a == b
    assert (curated / "README.md").read_text() == (again / "README.md").read_text()


class KillRunOnce:
    """A pipeline step that SIGKILLs the whole run (its process group) the first
    time rank 0 reaches its fourth file, after earlier files went through: the
    machine dying mid-run."""

    name = "kill the run once"

    def __init__(self, flag: str) -> None:
        self.flag = flag

    def __call__(self, data, rank: int = 0, world_size: int = 1):
        for i, doc in enumerate(data):
            if rank == 0 and i == 3 and not os.path.exists(self.flag):
                open(self.flag, "w").close()
                os.killpg(os.getpgid(0), signal.SIGKILL)
            yield doc


KILLED_RUN = """
import sys
from codecommons.data.dedup import DedupConfig
from codecommons.data.pipeline import CurateConfig, filter_stage, make_executor
from codecommons.data.quality import QualityConfig
from tests.data.test_pipeline import KillRunOnce
out, flag, *sources = sys.argv[1:]
cfg = CurateConfig(out=out, workers=2, progress=False)
pipeline = filter_stage(sources, cfg, QualityConfig(), DedupConfig())
pipeline.insert(1, KillRunOnce(flag))
make_executor(pipeline, cfg, "filter").run()
"""


def test_killed_run_resumes_to_identical_output(corpus, curated, tmp_path):
    out = tmp_path / "killed"
    out.mkdir()
    flag = tmp_path / "killed-once"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, str(out), str(flag), *corpus],
                          cwd=root, start_new_session=True, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL and flag.exists()
    assert not (out / "logs" / "filter" / "completions" / "00000").exists()
    run(corpus, CurateConfig(out=str(out), workers=2, progress=False, resume=True))
    for rel in ("data", "excluded"):
        a = {p.name: p.read_bytes() for p in (curated / rel).iterdir()}
        b = {p.name: p.read_bytes() for p in (out / rel).iterdir()}
        assert a == b


def test_refuses_to_mix_runs(corpus, curated):
    with pytest.raises(FileExistsError, match="--resume"):
        run(corpus, CurateConfig(out=str(curated), progress=False))
    with pytest.raises(ValueError, match="other sources"):
        run(corpus[:1], CurateConfig(out=str(curated), progress=False, resume=True))


def test_file_too_short_for_a_shingle_does_not_break_the_schema(tmp_path):
    """A shard whose first rows have empty MinHash signatures (files shorter than
    one 5-gram) still takes later rows with real signatures."""
    repo = make_repo(tmp_path / "tiny-proj", None, {
        "a.py": "x\n", "b.py": "def f(alpha, beta, gamma, delta):\n    return alpha + beta\n"})
    (repo / "LICENSE").write_text(MIT)
    out = tmp_path / "out"
    run([str(repo)], CurateConfig(out=str(out), progress=False))
    assert {r["path"] for r in rows(out)} == {"a.py", "b.py"}


def test_empty_files_are_excluded_with_a_reason(tmp_path):
    """datatrove's readers skip empty texts, so an empty file that passed stage 1
    would vanish from the final stage without a record."""
    repo = make_repo(tmp_path / "pkg-proj", None, {
        "LICENSE": MIT, "pkg/__init__.py": "", "pkg/blank.py": " \n\n\t\n",
        "pkg/mod.py": "def increment(value):\n    return value + 1\n"})
    out = tmp_path / "out"
    run([str(repo)], CurateConfig(out=str(out), progress=False))
    reasons = excluded(out)
    assert reasons[("pkg-proj", "pkg/__init__.py")] == "empty"
    assert reasons[("pkg-proj", "pkg/blank.py")] == "empty"  # whitespace only
    assert [r["path"] for r in rows(out)] == ["pkg/mod.py"]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["total_files"] == 4 == stats["kept_files"] + len(reasons)
    assert stats["excluded"]["empty"] == 2
    # the reader's datatrove stats: every file read, its characters and its time
    reader = json.loads((out / "logs" / "filter" / "stats.json").read_text())[0]
    assert reader["name"] == "📖 - READER: read repositories"
    assert reader["stats"]["files"] == 4 and reader["stats"]["doc_len"]["n"] == 4
    chars = sum(len((repo / p).read_text()) for p in ("LICENSE", "pkg/blank.py", "pkg/mod.py"))
    assert reader["stats"]["doc_len"]["total"] == chars
    assert reader["time_stats"]["total"] > 0


def test_nothing_kept_gives_an_empty_dataset(tmp_path, capsys):
    """No licence: nothing survives stage 1, and the run still completes, with a
    schema-only shard, a card and stats that say 0 kept, and the summary."""
    repo = make_repo(tmp_path / "nolicense-proj", None, {"main.py": "print('hello')\n",
                                                         "pkg/__init__.py": ""})
    out = tmp_path / "out"
    assert main([str(repo), "--out", str(out), "--no-progress"]) == 0
    assert "kept 0 files (0.0 MB) of 2; excluded by reason:" in capsys.readouterr().out
    shards = list((out / "data").iterdir())
    assert [p.name for p in shards] == ["00000.parquet"]
    import pyarrow.parquet as pq

    table = pq.read_table(shards[0])
    assert table.num_rows == 0 and table.schema == dataset.schema()
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("parquet", data_dir=str(out / "data"), split="train",
                               streaming=True)
    assert list(ds) == [] and list(ds.features) == dataset.schema().names
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["kept_files"], stats["total_files"]) == (0, 2)
    assert stats["excluded"] == {"empty": 1, "license_no_license": 1}
    card = (out / "README.md").read_text()
    assert "0 files, 0.00 MB kept of 2 files read" in card
    assert front_matter(card)["license_details"].endswith("none (no files kept)")
    assert main([str(repo), "--out", str(out), "--no-progress", "--resume"]) == 0
    assert [p.name for p in (out / "data").iterdir()] == ["00000.parquet"]


class RecordIndexLoaded:
    """A pipeline step that writes, per rank, its process id and whether ScanCode's
    licence index is already loaded there."""

    name = "record index_loaded"

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, data, rank: int = 0, world_size: int = 1):
        from codecommons.licenses import index_loaded

        Path(self.folder, f"{rank}.txt").write_text(f"{os.getpid()} {index_loaded()}")
        yield from data or []


def test_workers_inherit_the_licence_index(tmp_path):
    """--workers 2 forks its workers from the process that loaded the index, so
    no rank loads it again (datatrove's default, forkserver, would)."""
    _warm_license_index()
    cfg = CurateConfig(out=str(tmp_path), workers=2, progress=False)
    make_executor([RecordIndexLoaded(str(tmp_path))], cfg, "probe").run()
    seen = [(tmp_path / f"{rank}.txt").read_text().split() for rank in range(2)]
    assert [loaded for _, loaded in seen] == ["True", "True"]
    assert all(int(pid) != os.getpid() for pid, _ in seen)  # really other processes
