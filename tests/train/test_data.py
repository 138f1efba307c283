"""train/data.py: split, packing, context-level FIM, slots and exact resume.

    python -m pytest tests/train/test_data.py -q
"""

from __future__ import annotations

import random

import pytest

from codecommons.tokenizer.fim import FimConfig, Segment, reassemble
from codecommons.train import data


@pytest.fixture(scope="module")
def codec(tiny_tokenizer):
    from transformers import AutoTokenizer

    return data.Codec(AutoTokenizer.from_pretrained(str(tiny_tokenizer)), "starcoder")


def cfg(**kw) -> data.StreamConfig:
    return data.StreamConfig(**{"seq_len": 64, "heldout_fraction": 0.2, **kw})


def test_split_is_by_file_and_disjoint(tiny_dataset):
    files = data.shard_files(tiny_dataset)
    train = {d.path for _, d in data.iter_docs(files, "train", 0.2, 0)}
    held = {d.path for _, d in data.iter_docs(files, "heldout", 0.2, 0)}
    every = [d.path for _, d in data.iter_docs(files, "all", 0.2, 0)]
    assert train and held and not train & held and train | held == set(every)
    # a slot's documents: every step-th of the split, from `start`
    idx = [i for i, _ in data.iter_docs(files, "train", 0.2, 0, start=3, step=3, offset=1)]
    assert idx == [i for i in range(3, len(train)) if i % 3 == 1]


def test_contexts_have_fixed_length_and_padding_is_not_learned(tiny_dataset, codec):
    p = data.Packer(data.shard_files(tiny_dataset), codec, cfg())
    rows = [p.next() for _ in range(30)]
    assert all(len(ids) == 65 and 0 < valid <= 65 for ids, valid in rows)
    x, y = data.to_batch(rows)
    assert x.shape == y.shape == (30, 64)
    for i, (_, valid) in enumerate(rows):
        assert (y[i, valid - 1:] == data.IGNORE).all() and (y[i, :valid - 1] != data.IGNORE).all()


def _decode_piece(codec, ids: list[int]) -> list[Segment]:
    """Token ids -> segments, sentinels as special segments."""
    sentinels = {codec.special.token_to_id(t): t for t in codec.template.tokens}
    segs, run = [], []
    for i in ids + [None]:
        if i in sentinels or i is None:
            if run:
                segs.append(Segment(codec.hf.decode(run)))
            run = []
            if i is not None:
                segs.append(Segment(sentinels[i], True))
        else:
            run.append(i)
    return segs


def test_every_piece_of_every_context_reassembles_to_its_document(tiny_dataset, codec):
    """Context-level FIM: the pieces of a document, each rearranged on its own in
    the context it falls in, give back the document's exact text, in order."""
    p = data.Packer(data.shard_files(tiny_dataset), codec, cfg(fim=FimConfig(rate=1.0)))
    texts: dict[str, list[str]] = {}
    n_fim = 0
    for ctx in range(120):
        for k, (tdoc, a, b) in enumerate(p._pieces()):  # what next() does, piece by piece
            rng = random.Random(f"{p.cfg.seed}/train/0/{ctx}/{k}")
            ids = p._transform(tdoc, a, b, rng)
            if ids and ids[-1] == codec.eot:
                ids = ids[:-1]
            segs = _decode_piece(codec, ids)
            if any(s.special for s in segs):
                n_fim += 1
                texts.setdefault(tdoc.text, []).append(reassemble(codec.template, segs))
            else:
                texts.setdefault(tdoc.text, []).append("".join(s.text for s in segs))
        p.state["context"] += 1
    assert n_fim > 50
    whole = [(doc, "".join(parts)) for doc, parts in texts.items()]
    assert sum(doc == got for doc, got in whole) >= len(whole) - 1  # the last one is cut off
    for doc, got in whole:
        assert doc.startswith(got)


def test_training_sentinels_are_the_ones_serving_builds(tiny_hf_model):
    """The same tokenizer seen by the packer and by the transformers engine that
    `commons serve` runs: the PSM example's tokens start with the serving prompt."""
    from transformers import AutoTokenizer

    from codecommons.engines.base import load_engine
    from codecommons.models.registry import resolve
    from codecommons.tokenizer.fim import FimExample, fim_segments

    spec = resolve(str(tiny_hf_model))
    engine = load_engine(spec, device="cpu")
    try:
        c = data.Codec(AutoTokenizer.from_pretrained(str(tiny_hf_model)), spec.family)
        assert c.template == engine.fim_template() and c.template.name == "qwen"
        prefix, suffix = "def add(a, b):\n    '<|fim_middle|>'\n", "\nprint(add(1, 2))\n"
        train_ids = c.encode_segments(fim_segments(c.template, FimExample(prefix, "    return a + b", suffix, False)))
        serve_ids = engine.encode(engine.fim_template().segments(prefix, suffix))
        assert train_ids[:len(serve_ids)] == serve_ids
        assert c.eot == engine.special_token_id("<|endoftext|>")
    finally:
        engine.close()


def test_resume_gives_the_same_stream(tmp_path, codec):
    from tests.train.conftest import stdlib_rows, write_dataset

    files = data.shard_files(write_dataset(tmp_path, stdlib_rows()[:6], shard_size=2))
    a = data.Packer(files, codec, cfg(metadata_rate=0.5, seq_len=256))
    first = [a.next() for _ in range(7)]
    state = dict(a.state)
    rest = [a.next() for _ in range(60)]  # crosses into the next epoch
    assert a.state["epoch"] >= 1
    b = data.Packer(files, codec, cfg(metadata_rate=0.5, seq_len=256))
    b.load_state(state)
    assert [b.next() for _ in range(60)] == rest
    assert first != rest[:7]


def test_metadata_is_the_repo_header_serving_writes(tiny_dataset, codec):
    p = data.Packer(data.shard_files(tiny_dataset), codec, cfg(metadata_rate=1.0, fim=FimConfig(rate=0.0)))
    ids, _ = p.next()
    assert codec.hf.decode(ids).startswith("<repo_name>python/cpython<file_sep>colorsys.py\n")  # StarCoder2's
    header = codec.encode_segments(codec.template.repo_segments("python/cpython", [], "colorsys.py"))
    assert ids[:len(header)] == header


def test_data_depends_on_the_global_batch_only(tiny_dataset, codec):
    """Rank r of 2 with accumulation 1 reads what micro-step r of 1 process with
    accumulation 2 reads."""
    files = data.shard_files(tiny_dataset)
    one = data.RankData(files, codec, cfg(), micro_batch=2, grad_accum=2)
    ranks = [data.RankData(files, codec, cfg(), micro_batch=2, grad_accum=1, rank=r, world_size=2)
             for r in range(2)]
    for _ in range(3):
        for k in range(2):
            x1, y1 = one.micro(k)
            x2, y2 = ranks[k].micro(0)
            assert (x1 == x2).all() and (y1 == y2).all()


def test_heldout_batches_are_fixed(tiny_dataset, codec):
    files = data.shard_files(tiny_dataset)
    a = data.heldout_batches(files, codec, cfg(), 6, 4)
    b = data.heldout_batches(files, codec, cfg(), 6, 4)
    assert [x.shape[0] for x, _ in a] == [4, 2]
    assert all((x1 == x2).all() for (x1, _), (x2, _) in zip(a, b))


def test_missing_shards_and_missing_sentinels_are_user_errors(tiny_dataset, tiny_hf_model):
    from transformers import AutoTokenizer

    with pytest.raises(FileNotFoundError, match="no data/\\*.parquet"):
        data.shard_files(tiny_dataset / "nowhere")
    codec = data.Codec(AutoTokenizer.from_pretrained(str(tiny_hf_model)), "llama")
    codec.template = None  # as for a tokenizer without FIM tokens
    with pytest.raises(ValueError, match="--fim-rate 0"):
        data.Packer(data.shard_files(tiny_dataset), codec, cfg())
