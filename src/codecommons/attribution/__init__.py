"""Attribution: which training files does a piece of (generated) code come from?

normalise (Pygments tokens; identifiers -> V, no comments or whitespace) ->
winnow (MOSS fingerprints) -> embedded SQLite index -> attribute() matches with
source repo, path, licence and character spans.
"""
