"""Training data: a curated dataset's documents packed into fixed-length token
contexts, FIM applied per document inside each context, streamed, exactly resumable.

Input is what `commons curate` writes: Parquet shards DIR/data/*.parquet with a
`content` column and provenance (`repo`, `path`, `license`, `sha256`, ...).
Documents are read one row group at a time, never the whole dataset.

Split: a document is held out when a hash of (seed, its sha256) falls below the
held-out fraction, so train and held-out never share a file and the split does
not depend on shard order or on how many processes read.

Repository metadata (`--metadata-rate`) uses the family's RepoFormat from
tokenizer/fim.py, the header serving puts before the file being completed.

Packing and FIM ("context-level" FIM, Bavarian et al. 2022, arXiv:2207.14255
§4.1, as BigCode's Megatron `gpt_dataset.py`): each document's tokens, then an
end-of-text token, are concatenated and cut into contexts of `seq_len + 1` tokens.
Inside each context, every document's piece is rearranged on its own with
probability `fim.rate` (tokenizer/fim.py: character split, PSM or SPM), which
changes its length, so the context is then truncated or padded back to
`seq_len + 1` (padding is excluded from the loss).

Slots: a training step consumes G = world_size x grad_accum micro-batches; slot g
(one packer) reads every G-th document of the split. Rank r owns slots
r*accum .. r*accum + accum - 1. The data of a step therefore depends on the
global batch only, not on how it is split across processes: 2 processes with
accumulation 1 see exactly what 1 process with accumulation 2 sees.

Resume: a packer's state is (epoch, next document, token offset in it, context
count); FIM randomness is seeded per (seed, slot, context, piece), so no random
state needs saving and a resumed stream is identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from codecommons.tokenizer.fim import FimConfig, FimTemplate, Segment, detect_template, fim_segments, fim_transform

IGNORE = -100  # label of padding: no loss (PyTorch cross_entropy's ignore_index)


@dataclass
class Doc:
    text: str
    repo: str
    path: str
    license: str


def shard_files(dataset: str | Path) -> list[Path]:
    """A curated dataset's Parquet shards, in name order."""
    root = Path(dataset)
    files = sorted((root / "data").glob("*.parquet")) if (root / "data").is_dir() else []
    if not files:
        raise FileNotFoundError(f"{root}: no data/*.parquet shards; pass a `commons curate --out` folder")
    return files


def is_heldout(sha256: str, fraction: float, seed: int) -> bool:
    h = hashlib.blake2b(f"{seed}:{sha256}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") < fraction * 2**64


def iter_docs(files: list[Path], split: str, heldout_fraction: float, seed: int,
              start: int = 0, step: int = 1, offset: int = 0) -> Iterator[tuple[int, Doc]]:
    """(index within the split, document) for split indices i >= start with
    i % step == offset. split: "train" | "heldout" | "all". Row groups holding no
    wanted document are skipped after reading only their sha256 column."""
    import pyarrow.parquet as pq

    assert split in ("train", "heldout", "all"), split
    i = 0
    for f in files:
        pf = pq.ParquetFile(f)
        for rg in range(pf.num_row_groups):
            shas = pf.read_row_group(rg, columns=["sha256"]).column(0).to_pylist()
            keep = [split == "all" or is_heldout(s, heldout_fraction, seed) == (split == "heldout")
                    for s in shas]
            idx, rows = [], []
            for row, k in enumerate(keep):
                if k:
                    if i >= start and i % step == offset:
                        idx.append(i)
                        rows.append(row)
                    i += 1
            if not rows:
                continue
            t = pf.read_row_group(rg, columns=["content", "repo", "path", "license"]).to_pydict()
            for j, row in zip(idx, rows):
                yield j, Doc(t["content"][row], t["repo"][row], t["path"][row], t["license"][row])


class Codec:
    """A transformers tokenizer seen as the packer needs it: content encoded with
    sentinel strings kept as text (a file that contains "<fim_prefix>" cannot
    inject one, exactly as serving encodes user text), character offsets, and the
    FIM template that serving detects for the same tokenizer."""

    def __init__(self, hf_tokenizer, family: str = "") -> None:
        from tokenizers import Tokenizer

        self.hf = hf_tokenizer
        self.raw = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        self.special = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        self.raw.encode_special_tokens = True  # special-token strings in text stay text
        specials = set(hf_tokenizer.all_special_tokens) | {
            t.content for t in hf_tokenizer.added_tokens_decoder.values() if t.special}
        self.template: FimTemplate | None = detect_template(family, specials.__contains__)
        # Documents end with <|endoftext|> in StarCoder's and Qwen's data alike (an
        # instruct model's eos, <|im_end|>, ends a chat turn instead).
        eot = "<|endoftext|>" if "<|endoftext|>" in specials else hf_tokenizer.eos_token
        assert eot is not None, "the tokenizer has no end-of-text (eos) token"
        self.eot = hf_tokenizer.convert_tokens_to_ids(eot)
        self.vocab_size = len(hf_tokenizer)
        # Repository metadata in the family's own format, the one serving writes
        # before a file's FIM prompt (tokenizer/fim.py RepoFormat); None when the
        # tokenizer lacks its tokens.
        self.meta = self.template.repo if self.template else None

    def encode(self, text: str) -> tuple[list[int], list[int]]:
        """Ids and the start character of each token (non-decreasing)."""
        enc = self.raw.encode(text, add_special_tokens=False)
        return enc.ids, [s for s, _ in enc.offsets]

    def encode_segments(self, segments: list[Segment]) -> list[int]:
        ids: list[int] = []
        for s in segments:
            if s.special:
                i = self.special.token_to_id(s.text)
                assert i is not None, f"{s.text!r} is not a token of this tokenizer"
                ids.append(i)
            else:
                ids += self.raw.encode(s.text, add_special_tokens=False).ids
        return ids

    def metadata(self, doc: Doc) -> list[int]:
        """`<repo_name>repo<file_sep>path\n` (StarCoder2; Qwen's has its own spelling),
        placed before the document, outside the FIM span."""
        return self.encode_segments(self.meta.segments(doc.repo, [], doc.path))


@dataclass
class StreamConfig:
    seq_len: int = 512
    fim: FimConfig = FimConfig()
    metadata_rate: float = 0.0  # share of documents with repository/file-name metadata in front
    heldout_fraction: float = 0.05
    seed: int = 0


class _Tokenized:
    """One document as the packer walks it: [metadata] content [eot]."""

    def __init__(self, codec: Codec, doc: Doc, with_meta: bool) -> None:
        self.text = doc.text
        self.meta = codec.metadata(doc) if with_meta else []
        self.content, self.offsets = codec.encode(doc.text)
        self.ids = self.meta + self.content + [codec.eot]


class Packer:
    """Contexts of seq_len + 1 tokens from one slot of one split; see the module doc."""

    def __init__(self, files: list[Path], codec: Codec, cfg: StreamConfig, split: str = "train",
                 slot: int = 0, n_slots: int = 1) -> None:
        assert 0 <= slot < n_slots, f"slot {slot} not in [0, {n_slots})"
        if cfg.fim.rate > 0 and codec.template is None:
            raise ValueError("this tokenizer has no FIM sentinel tokens; train with --fim-rate 0 "
                             "or use a tokenizer from `commons train tokenizer`")
        self.files, self.codec, self.cfg = files, codec, cfg
        self.split, self.slot, self.n_slots = split, slot, n_slots
        self.state = {"epoch": 0, "doc": 0, "offset": 0, "context": 0}
        self._docs: Iterator[tuple[int, Doc]] | None = None
        self._cur: tuple[int, _Tokenized] | None = None

    # -- documents ----------------------------------------------------------
    def _open(self, start: int) -> None:
        cfg = self.cfg
        self._docs = iter_docs(self.files, self.split, cfg.heldout_fraction, cfg.seed,
                               start=start, step=self.n_slots, offset=self.slot)

    def _doc(self) -> tuple[int, _Tokenized] | None:
        """The document the state points at, or None when the split ran out."""
        want = self.state["doc"]
        if self._cur is not None and self._cur[0] >= want:
            return self._cur
        if self._docs is None:
            self._open(want)
        for i, doc in self._docs:
            if i >= want:
                rng = random.Random(f"{self.cfg.seed}/meta/{self.state['epoch']}/{i}")
                meta = self.codec.meta is not None and rng.random() < self.cfg.metadata_rate
                self._cur = (i, _Tokenized(self.codec, doc, meta))
                self.state["doc"] = i
                return self._cur
        return None

    def _pieces(self) -> list[tuple[_Tokenized, int, int]]:
        """Take seq_len + 1 tokens from the stream: (document, start, end) pieces."""
        need, pieces, wrapped = self.cfg.seq_len + 1, [], False
        while need:
            cur = self._doc()
            if cur is None:  # end of the split: next epoch
                if wrapped or self.state["doc"] == 0 and self.state["offset"] == 0:
                    raise ValueError(f"slot {self.slot} of {self.n_slots} has no {self.split} documents; "
                                     f"use a larger dataset, fewer processes x --grad-accum, or "
                                     f"another --heldout-fraction")
                self.state.update(epoch=self.state["epoch"] + 1, doc=0, offset=0)
                self._docs, self._cur, wrapped = None, None, True
                continue
            i, tdoc = cur
            a = self.state["offset"]
            b = min(len(tdoc.ids), a + need)
            pieces.append((tdoc, a, b))
            need -= b - a
            if b == len(tdoc.ids):
                self.state.update(doc=i + 1, offset=0)
            else:
                self.state["offset"] = b
        return pieces

    # -- contexts -----------------------------------------------------------
    def _transform(self, tdoc: _Tokenized, a: int, b: int, rng: random.Random) -> list[int]:
        """A piece's tokens, its content part rearranged by the FIM transform
        (or kept as it is, left to right)."""
        m, n = len(tdoc.meta), len(tdoc.content)
        ca, cb = max(a - m, 0), min(b - m, n)  # content tokens inside the piece
        if self.cfg.fim.rate == 0 or cb <= ca:
            return tdoc.ids[a:b]
        # Character span of content tokens [ca, cb): from the start of token ca to the
        # start of token cb, so that consecutive pieces of a document partition its
        # text exactly (a character split across two tokens goes to the later piece).
        lo = tdoc.offsets[ca] if ca > 0 else 0
        hi = tdoc.offsets[cb] if cb < n else len(tdoc.text)
        ex = fim_transform(tdoc.text[lo:hi], rng, self.cfg.fim)
        if ex is None:
            return tdoc.ids[a:b]
        body = self.codec.encode_segments(fim_segments(self.codec.template, ex))
        return tdoc.ids[a:m + ca] + body + tdoc.ids[m + cb:b]

    def next(self) -> tuple[list[int], int]:
        """(ids of length seq_len + 1, number of real tokens; the rest is padding)."""
        ctx = self.state["context"]
        out: list[int] = []
        for k, (tdoc, a, b) in enumerate(self._pieces()):
            rng = random.Random(f"{self.cfg.seed}/{self.split}/{self.slot}/{ctx}/{k}")
            out += self._transform(tdoc, a, b, rng)
        self.state["context"] = ctx + 1
        n = self.cfg.seq_len + 1
        valid = min(len(out), n)
        return out[:n] + [self.codec.eot] * (n - valid), valid

    def load_state(self, state: dict) -> None:
        self.state = dict(state)
        self._docs, self._cur = None, None


def to_batch(rows: list[tuple[list[int], int]]):
    """Packer outputs -> (inputs, targets) LongTensors of shape (B, seq_len);
    targets of padding are IGNORE."""
    import torch

    ids = torch.tensor([r for r, _ in rows], dtype=torch.long)  # (B, T+1)
    x, y = ids[:, :-1].clone(), ids[:, 1:].clone()
    for i, (_, valid) in enumerate(rows):
        y[i, max(valid - 1, 0):] = IGNORE
    return x, y


class RankData:
    """The slots one rank owns: micro-batch k of a step comes from slot
    rank * accum + k (module doc)."""

    def __init__(self, files: list[Path], codec: Codec, cfg: StreamConfig, micro_batch: int,
                 grad_accum: int, rank: int = 0, world_size: int = 1) -> None:
        n_slots = grad_accum * world_size
        self.micro_batch = micro_batch
        self.packers = [Packer(files, codec, cfg, "train", rank * grad_accum + k, n_slots)
                        for k in range(grad_accum)]

    def micro(self, k: int):
        p = self.packers[k]
        return to_batch([p.next() for _ in range(self.micro_batch)])

    def state_dict(self) -> list[dict]:
        return [dict(p.state) for p in self.packers]

    def load_state_dict(self, states: list[dict]) -> None:
        assert len(states) == len(self.packers), (
            f"checkpoint has {len(states)} data slots on this rank, this run {len(self.packers)}: "
            "resume with the same number of processes and --grad-accum")
        for p, s in zip(self.packers, states):
            p.load_state(s)


def heldout_batches(files: list[Path], codec: Codec, cfg: StreamConfig, n_contexts: int,
                    micro_batch: int) -> list:
    """The first n_contexts of the held-out split (one epoch at most), fixed for a
    run so that validation losses are comparable across steps."""
    p = Packer(files, codec, cfg, "heldout")
    rows = []
    try:
        while len(rows) < n_contexts and p.state["epoch"] == 0:
            rows.append(p.next())
    except ValueError:
        return []  # no held-out documents at all
    if p.state["epoch"] > 0 and len(rows) > 1:
        rows.pop()  # the last one wrapped around into a second epoch
    return [to_batch(rows[i:i + micro_batch]) for i in range(0, len(rows), micro_batch)]
