"""The code index that several stages share: which indexed files does a piece of
code copy, and under which licence?

normalize (Pygments tokens; identifiers -> V, no comments or whitespace) ->
winnow (MOSS fingerprints) -> store (one SQLite file: sources, fingerprints, and
the membership filter) -> search (CodeIndex.attribute: matches with source repo,
path, licence and character spans).

Built by the attribution stage (`commons index build`) from a curated dataset;
read by it (`commons attribute`) and by the server (`commons serve --index`).
"""
