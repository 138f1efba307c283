// How a match against the code index is shown: a licence badge (coloured by licence
// type), the source repository and path, and which characters of the suggestion and of
// the source matched. Links open the file in the dataset explorer when a dataset is loaded.
import { h, route } from "./dom";
import type { Attribution } from "./types";

const TYPE_LABEL: Record<string, string> = {
  permissive: "permissive licence",
  no_license: "no licence",
  non_permissive: "non-permissive licence",
};

export function licenceBadge(license: string, licenseType: string): HTMLElement {
  return h("span", { class: `badge lic-${licenseType || "unknown"}`, title: TYPE_LABEL[licenseType] ?? licenseType }, license || "no licence");
}

export function matchCard(m: Attribution, linkToDataset: boolean): HTMLElement {
  const where = `${m.repo} · ${m.path}`;
  const source = linkToDataset && m.in_dataset !== false
    ? h("a", { href: route("dataset/file", { repo: m.repo, path: m.path, hl: `${m.source_start}-${m.source_end}` }) }, where)
    : h("span", null, where);
  return h(
    "div", { class: "match" },
    licenceBadge(m.license, m.license_type),
    h("span", { class: "match-source" }, source),
    h("span", { class: "match-detail" },
      `characters ${m.query_start}–${m.query_end} here, ${m.source_start}–${m.source_end} in the source · ` +
      `${m.length} normalised chars · ${Math.round(100 * m.similarity)}% similar`),
  );
}

export function matchList(matches: Attribution[], linkToDataset: boolean): HTMLElement {
  return h("div", { class: "matches" }, matches.map((m) => matchCard(m, linkToDataset)));
}

/** Why a suggestion was withheld (`finish_reason: "content_filter"`, `--public-code block`). */
export function blockedReason(matches: Attribution[]): string {
  if (!matches.length) return "The server withheld this suggestion (content filter).";
  const m = matches[0];
  const more = matches.length > 1 ? ` and ${matches.length - 1} more` : "";
  return `Withheld: it copies ${m.repo}/${m.path} (${m.license || "no licence"})${more}, ` +
    "and this server blocks suggestions that copy indexed code under that licence (--public-code block).";
}
