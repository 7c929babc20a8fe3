// The code of one side of the similarity side-by-side view (instructor_similarity.js): a file cut into runs of
// lines at every fragment's first line and after its last (a run is highlighted when a fragment covers it), each
// run cut again into blocks of at most CHUNK lines. A block has its exact height from the start (a fixed line
// height times its lines) but holds its text only while it is near the visible part of its box: a 256 KiB file
// of 100,000 empty lines costs a few hundred placeholders, never 100,000 laid-out lines.
"use strict";
const SimCode = (() => {
  const { el } = Grader;
  const CHUNK = 400;
  const MARGIN = "1500px 0px"; // filled this far above and below what shows: scrolling never meets a blank

  function render(text, frags) {
    const lines = text.split(/\r\n|\r|\n/);
    if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop(); // a final newline ends the last line
    const n = lines.length;
    const ranges = frags.map((f) => ({ i: f.i, s: Math.min(Math.max(1, f.start), n), e: Math.min(Math.max(f.start, f.end), n) }))
      .filter((r) => r.s <= r.e);
    const cuts = new Set([1, n + 1]);
    for (const r of ranges) { cuts.add(r.s); cuts.add(r.e + 1); }
    const points = [...cuts].sort((x, y) => x - y);
    const node = el("div", { class: "sim-file" });
    const segs = new Map(); // fragment -> its runs
    const chunks = new Map(); // block -> [first line, last line, highlighted]
    const runs = [];
    for (let k = 0; k + 1 < points.length; k++) {
      const lo = points[k], hi = points[k + 1] - 1;
      const covers = ranges.filter((r) => r.s <= lo && hi <= r.e).map((r) => r.i);
      const seg = el("div", { class: covers.length ? "sim-seg sim-hit" : "sim-seg", "data-from": lo, "data-to": hi, "data-frags": covers.length ? covers.join(" ") : null });
      for (let from = lo; from <= hi; from += CHUNK) {
        const to = Math.min(hi, from + CHUNK - 1);
        const chunk = el("div", { class: "sim-chunk", style: "--n:" + (to - from + 1), "data-from": from, "data-to": to });
        chunks.set(chunk, [from, to, covers.length > 0]);
        seg.append(chunk);
      }
      covers.forEach((i) => { if (!segs.has(i)) segs.set(i, []); segs.get(i).push(seg); });
      runs.push(seg);
    }
    node.append(...runs);

    function fill(chunk) {
      if (chunk.firstChild) return;
      const [from, to, hit] = chunks.get(chunk);
      const numbers = [];
      for (let line = from; line <= to; line++) numbers.push(line);
      const code = lines.slice(from - 1, to).join("\n"); // as a text node: file text is never markup
      chunk.append(el("pre", { class: "sim-ln", "aria-hidden": "true" }, numbers.join("\n")),
        el("pre", { class: "sim-text" }, hit ? el("mark", {}, code) : code));
      chunk.classList.add("sim-filled");
    }

    function empty(chunk) {
      chunk.replaceChildren();
      chunk.classList.remove("sim-filled");
    }

    let watcher = null;
    // In its box: fill what comes near the visible part, empty what goes far from it.
    function attach(box) {
      detach();
      watcher = new IntersectionObserver((entries) => entries.forEach((e) => (e.isIntersecting ? fill : empty)(e.target)),
        { root: box, rootMargin: MARGIN });
      chunks.forEach((_range, chunk) => watcher.observe(chunk));
    }

    function detach() {
      if (watcher) watcher.disconnect();
      watcher = null;
    }

    return { node, segs, attach, detach };
  }

  return { render };
})();
