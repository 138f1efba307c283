// Bar charts as tables: a row per category, a bar per measure (width set through the
// CSSOM, which the Content-Security-Policy allows; no inline style attributes), the
// exact figures beside each bar. Readable by screen readers as the table it is.
import { h } from "./dom";

export interface Measure {
  name: string;
  format: (v: number) => string;
  cls: string; // bar colour class
}

export interface Row {
  label: string;
  values: number[]; // one per measure
}

/** The first `top` rows, the rest summed into "other (N)". */
export function barChart(caption: string, measures: Measure[], rows: Row[], top = 10): HTMLElement {
  let shown = rows;
  if (rows.length > top) {
    const rest = rows.slice(top - 1);
    shown = [
      ...rows.slice(0, top - 1),
      { label: `other (${rest.length})`, values: measures.map((_, i) => rest.reduce((s, r) => s + r.values[i], 0)) },
    ];
  }
  const max = measures.map((_, i) => Math.max(1, ...shown.map((r) => r.values[i])));
  const legend = measures.length > 1
    ? h("div", { class: "legend" }, measures.map((m) => h("span", { class: "legend-item" }, h("i", { class: `swatch ${m.cls}` }), m.name)))
    : null;
  return h(
    "figure", { class: "chart" },
    h("figcaption", null, caption, legend),
    shown.length === 0
      ? h("p", { class: "muted" }, "nothing to show")
      : h("table", { class: "bars" },
        h("thead", { class: "visually-hidden" }, h("tr", null, h("th", null, "category"), measures.map((m) => h("th", null, m.name)))),
        h("tbody", null, shown.map((r) =>
          h("tr", null,
            h("th", { scope: "row", title: r.label }, r.label),
            measures.map((m, i) => {
              const bar = h("span", { class: `bar ${m.cls}` });
              bar.style.width = `${(100 * r.values[i]) / max[i]}%`;
              return h("td", null, h("span", { class: "track" }, bar), h("span", { class: "figure" }, m.format(r.values[i])));
            }),
          )),
        ),
      ),
  );
}
