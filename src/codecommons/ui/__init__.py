"""The web UI's files: TypeScript sources (src/), their pinned npm toolchain
(package.json, package-lock.json, build.mjs) and the built files (static/) that
`commons serve` serves at /ui through importlib.resources. `make ui` rebuilds
static/ byte for byte; no Python code lives here."""
