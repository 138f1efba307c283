// The web UI's reproducible build: src/ -> static/ (or the folder given as the first
// argument): index.html, icon.svg, one minified JS bundle (app.js), one CSS file (app.css) and
// third-party-licenses.txt (the licence of every npm package inside the bundle).
//
//   npm ci && node build.mjs            # what `make ui` runs (after `npm run check`)
//
// Every option that changes the output is fixed here and every package version is
// pinned by package-lock.json, so the same sources give byte-identical files
// (tests/ui/test_build.py rebuilds into a temporary folder and compares).
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = process.argv[2] ?? join(here, "static");
mkdirSync(outdir, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: "src/main.ts" },
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  charset: "utf8",
  legalComments: "none", // collected whole into third-party-licenses.txt below
  sourcemap: false,
  metafile: true,
  logLevel: "warning",
});
for (const f of ["index.html", "icon.svg"]) copyFileSync(join(here, "src", f), join(outdir, f));
writeFileSync(join(outdir, "third-party-licenses.txt"), licences(result.metafile));

function licences(metafile) {
  // node_modules/<name> or node_modules/@scope/<name> of every bundled input file
  const roots = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
    if (m) roots.add(m[1]);
  }
  const parts = ["Third-party packages bundled into app.js and app.css, with their licences.\n"];
  for (const root of [...roots].sort()) {
    const dir = join(here, root);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const file = readdirSync(dir).sort().find((f) => /^(licen[cs]e|copying)/i.test(f));
    const text = file ? readFileSync(join(dir, file), "utf8").trim() : "(no licence file in the package)";
    parts.push(`${"=".repeat(78)}\n${pkg.name} ${pkg.version} (${pkg.license})\n${relative(here, dir)}\n\n${text}\n`);
  }
  return parts.join("\n");
}
