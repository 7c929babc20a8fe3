// Instructor page, part 4: similarity (docs/similarity.md). Per assignment, the pairs whose code is much alike
// (two students, or a student and a known solution), one pair side by side with the code in common highlighted,
// the staff's review of a pair; per course, the known solutions. Course staff only: every call goes to
// /api/v1/instructor/..., which answers a student 403, and each part stays hidden until its call has succeeded.
// All text from the API (names, labels, notes, paths, file text) goes in as text nodes, never as HTML.
"use strict";
(() => {
  const G = Grader;
  const { api, el, when } = G;
  const $ = (id) => document.getElementById(id);
  const STATUS_WORDS = { unreviewed: "not reviewed", cleared: "cleared", flagged: "flagged" };
  const NOTE_MAX = 2000;
  const LIMIT = 200;
  const state = { seq: 0, list: null, pair: null, view: null };

  const simBase = () => Dash.base() + "/assignments/" + encodeURIComponent(Dash.assignment()) + "/similarity";
  const knownBase = () => Dash.base() + "/similarity/known";
  const pct = (x) => (x === null || x === undefined ? "–" : G.pct(x));
  const plural = (n, one, many) => n + " " + (n === 1 ? one : many);
  // An error in words: the server's own reason and its status, or that it could not be reached at all.
  const words = (what, error) => what + ": " + (error.status ? error.message : "the server could not be reached (" + error.message + ")");

  function message(id, text, isError) {
    const box = $(id);
    box.textContent = text || "";
    box.classList.toggle("error", !!isError);
  }

  // --- who is on each side ----------------------------------------------------------------------------------
  function sideName(side) {
    if (side && side.known) return "known solution " + side.known.label;
    const s = (side && side.student) || {};
    return s.name ? s.name + " (" + s.email + ")" : s.email || "submission " + String((side || {}).submission_id || "?").slice(0, 8);
  }

  function sideLabel(side) {
    if (side && side.known) return el("span", { class: "sim-side-name" }, el("span", { class: "sim-known-tag" }, "known solution"), " ", side.known.label);
    const s = (side && side.student) || {};
    return el("span", { class: "sim-side-name" }, s.name || s.email || sideName(side), s.name ? el("span", { class: "muted small block" }, s.email) : null);
  }

  const statusTag = (status) => el("span", { class: "sim-status sim-status-" + status }, STATUS_WORDS[status] || status);
  const fileText = (f) => (f.a_path === f.b_path ? f.a_path : f.a_path + " ↔ " + f.b_path);

  // --- the list -----------------------------------------------------------------------------------------------
  async function loadList() {
    const slug = Dash.assignment();
    const seq = ++state.seq; // a slower, older answer never overwrites a newer one
    if (!slug) { $("similarity").hidden = true; return; }
    const query = new URLSearchParams({ limit: String(LIMIT) });
    const min = $("sim-min");
    if (!min.validity.valid) { message("sim-list-msg", "The minimum score is a percentage from 0 to 100.", true); return; }
    if (min.value !== "") query.set("min_score", String(Number(min.value) / 100));
    if ($("sim-status").value) query.set("status", $("sim-status").value);
    let list;
    try { list = await api(simBase() + "?" + query); } catch (error) {
      if (seq !== state.seq) return;
      if (error.status === 401 || error.status === 403) { $("similarity").hidden = true; return; } // not course staff
      $("similarity").hidden = false;
      state.list = null;
      $("sim-pairs").tBodies[0].replaceChildren();
      message("sim-list-msg", words("Could not load the similar pairs", error), true);
      return;
    }
    if (seq !== state.seq) return;
    state.list = list;
    $("similarity").hidden = false;
    drawList();
  }

  function drawList() {
    const list = state.list;
    const title = (Dash.assignments().find((a) => a.slug === list.assignment) || {}).title || list.assignment;
    $("sim-title").textContent = "Similarity: " + title;
    $("sim-counts").textContent = plural(list.compared, "counting submission", "counting submissions") + " compared, " +
      (list.pending ? list.pending + " waiting to be compared (the list fills in as they are)" : "none waiting") + ". Engine: " + (list.engine || "–") + ".";
    // Sorted here as well (score, then the newest comparison): the page never depends on the order it was sent in.
    const pairs = [...(list.pairs || [])].sort((x, y) => y.score - x.score || String(y.compared_at).localeCompare(String(x.compared_at)));
    $("sim-pairs").tBodies[0].replaceChildren(...pairs.map(pairRow));
    const filtered = $("sim-status").value || $("sim-min").value !== "";
    message("sim-list-msg", pairs.length ? plural(pairs.length, "pair", "pairs") + (filtered ? " match the filters" : "") +
      (pairs.length >= LIMIT ? " (the first " + LIMIT + ": raise the minimum score to see the rest)" : "") + "."
      : filtered ? "No pair matches the filters." : "No similar pair yet.");
  }

  // A cell's content in one box: on a phone each cell is a line of a card, its column's name beside the box.
  const cell = (label, cls, ...children) => el("td", { class: cls, "data-label": label }, el("div", { class: "sim-cell" }, children));

  function pairRow(p) {
    const files = p.files || [];
    const note = p.note ? (p.note.length > 160 ? p.note.slice(0, 160) + "…" : p.note) : null;
    return el("tr", { "data-pair": p.id },
      cell("Score", "num sim-score", pct(p.score)),
      cell("Side A", null, sideLabel(p.a)),
      cell("Side B", null, sideLabel(p.b)),
      cell("In common (A / B)", "num sim-shares", pct(p.share_a) + " / " + pct(p.share_b),
        p.shared_lines === null || p.shared_lines === undefined ? null : el("span", { class: "muted small block" }, plural(p.shared_lines, "line", "lines"))),
      cell("Top files", "sim-files", files.length ? el("ul", {}, files.slice(0, 3).map((f) =>
        el("li", {}, el("code", {}, fileText(f)), " ", el("span", { class: "muted" }, pct(f.score)))),
      files.length > 3 ? el("li", { class: "muted" }, "and " + (files.length - 3) + " more") : null) : "–"),
      cell("Review", null, statusTag(p.status), note ? el("span", { class: "sim-note small block" }, note) : null),
      cell("", "sim-open-cell", el("button", { type: "button", class: "secondary sim-open",
        "aria-label": "Side by side: " + sideName(p.a) + " and " + sideName(p.b), onclick: () => openPair(p.id) }, "Side by side")));
  }

  let typing = null;
  $("sim-min").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(loadList, 250); });
  $("sim-status").addEventListener("change", loadList);
  $("sim-filters").addEventListener("submit", (e) => { e.preventDefault(); loadList(); });

  // --- one pair, side by side ---------------------------------------------------------------------------------
  async function openPair(id) {
    let pair;
    try { pair = await api(simBase() + "/" + encodeURIComponent(id)); } catch (error) {
      message("sim-list-msg", words("Could not open the pair", error), true);
      return;
    }
    if (state.view) state.view.detach();
    state.pair = pair;
    drawPair(pair);
    $("sim-pair").hidden = false;
    $("sim-pair").scrollIntoView({ block: "start" });
    $("sim-pair-title").focus({ preventScroll: true });
  }

  // Closed by its button, the focus goes back to the pair's row (the list may have been drawn anew since).
  function closePair(backToList) {
    const id = state.pair ? state.pair.id : null;
    if (state.view) state.view.detach();
    $("sim-pair").hidden = true;
    $("sim-pair-body").replaceChildren(); // lets the files' text go
    state.pair = state.view = null;
    const row = backToList === true && id !== null ? document.querySelector('#sim-pairs tr[data-pair="' + CSS.escape(String(id)) + '"] .sim-open') : null;
    if (row) row.focus();
  }

  function drawPair(p) {
    $("sim-pair-title").textContent = "Side by side: " + sideName(p.a) + " and " + sideName(p.b);
    const facts = el("dl", { class: "facts" },
      el("dt", {}, "Score"), el("dd", {}, pct(p.score)),
      el("dt", {}, "In common"), el("dd", {}, pct(p.share_a) + " of side A's code is in side B; " + pct(p.share_b) + " of side B's is in side A" +
        (p.shared_lines === null || p.shared_lines === undefined ? "" : " (" + plural(p.shared_lines, "line", "lines") + ")")),
      el("dt", {}, "Compared"), el("dd", {}, when(p.compared_at)));
    const view = sideBySide(p);
    state.view = view;
    $("sim-pair-body").replaceChildren(facts, reviewForm(p), view.node,
      el("div", { class: "toolbar" }, el("button", { type: "button", class: "secondary", onclick: () => closePair(true) }, "Close the side-by-side view")));
    if (view.count) view.go(0);
  }

  // The fragments of code in common, in reading order of side A, each with its range on either side.
  function fragmentsOf(p) {
    const a = new Map(((p.sides || {}).a || []).map((f, i) => [f.path, i]));
    const b = new Map(((p.sides || {}).b || []).map((f, i) => [f.path, i]));
    const all = (p.fragments || []).filter((f) => Number.isInteger(f.a_start) && Number.isInteger(f.b_start));
    const shown = all.filter((f) => a.has(f.a_path) && b.has(f.b_path))
      .sort((x, y) => a.get(x.a_path) - a.get(y.a_path) || x.a_start - y.a_start || b.get(x.b_path) - b.get(y.b_path) || x.b_start - y.b_start);
    return { shown, missing: all.length - shown.length };
  }

  function sideBySide(p) {
    const { shown: frags, missing } = fragmentsOf(p);
    const sides = p.sides || {};
    const pick = (i, from) => go(i, from);
    const A = makeSide("a", "Side A: " + sideName(p.a), sides.a || [], frags.map((f, i) => ({ i, path: f.a_path, start: f.a_start, end: f.a_end })), pick);
    const B = makeSide("b", "Side B: " + sideName(p.b), sides.b || [], frags.map((f, i) => ({ i, path: f.b_path, start: f.b_start, end: f.b_end })), pick);
    const where = el("p", { class: "sim-where", "aria-live": "polite" });
    const prev = el("button", { type: "button", class: "secondary", onclick: () => go(current - 1) }, "◀ Previous match");
    const next = el("button", { type: "button", class: "secondary", onclick: () => go(current + 1) }, "Next match ▶");
    const range = (path, s, e) => path + ", " + (s === e ? "line " + s : "lines " + s + "–" + e);
    const list = el("details", { class: "sim-frag-list" }, el("summary", {}, "All " + plural(frags.length, "match", "matches")),
      el("ol", {}, frags.map((f, i) => el("li", {}, el("button", { type: "button", class: "link-button", onclick: () => go(i) },
        "A: " + range(f.a_path, f.a_start, f.a_end) + " ↔ B: " + range(f.b_path, f.b_start, f.b_end))))));
    let current = -1;

    // Show fragment i on both sides (the side it was clicked on, if any, stays where the reader is).
    function go(i, from) {
      if (i < 0 || i >= frags.length) return;
      current = i;
      A.show(frags[i].a_path);
      B.show(frags[i].b_path);
      for (const side of [A, B]) {
        side.mark(i);
        if (side.key !== from) side.scrollTo(i);
      }
      const f = frags[i];
      where.textContent = "Match " + (i + 1) + " of " + frags.length + ": A " + range(f.a_path, f.a_start, f.a_end) + "; B " + range(f.b_path, f.b_start, f.b_end) + ".";
      prev.disabled = i === 0;
      next.disabled = i === frags.length - 1;
    }

    if (A.files.length) A.show(0);
    if (B.files.length) B.show(0);
    const nav = frags.length ? el("div", { class: "sim-nav" }, el("div", { class: "toolbar" }, prev, next), where, list)
      : el("p", { class: "muted" }, "No fragment of code in common came with this pair.");
    const node = el("div", { class: "sim-compare" },
      el("h3", {}, "The code in common"),
      el("p", { class: "muted small" }, "Highlighted lines are in both sides. Click a highlighted line to see its counterpart on the other side."),
      nav, missing ? el("p", { class: "muted" }, plural(missing, "match is", "matches are") + " in files not sent with this pair.") : null,
      el("div", { class: "sim-sides" }, A.node, B.node));
    return { node, go, count: frags.length, current: () => current, detach: () => { A.detach(); B.detach(); } };
  }

  // One side: its files, one shown at a time in a box that scrolls by itself, each rendered when first shown and
  // kept (instructor_similarity_code.js: runs of lines, filled only near what shows).
  function makeSide(key, title, files, frags, pick) {
    const select = el("select", { id: "sim-file-" + key }, files.map((f, i) => el("option", { value: String(i) }, f.path)));
    const box = el("div", { class: "sim-box", tabindex: "0", role: "region", "aria-label": title + ", the code (scrolls)", "data-side": key });
    const index = new Map(files.map((f, i) => [f.path, i]));
    const rendered = new Map();
    let shown = -1;
    let marked = [];

    function show(which) {
      const i = typeof which === "number" ? which : index.get(which);
      if (i === undefined || i === shown) return;
      if (!rendered.has(i)) rendered.set(i, SimCode.render(String(files[i].text || ""), frags.filter((f) => f.path === files[i].path)));
      if (rendered.has(shown)) rendered.get(shown).detach();
      box.replaceChildren(rendered.get(i).node);
      rendered.get(i).attach(box);
      box.scrollTop = 0;
      select.value = String(i);
      shown = i;
    }

    function mark(i) {
      marked.forEach((seg) => seg.classList.remove("sim-current"));
      marked = (rendered.get(shown) || { segs: new Map() }).segs.get(i) || [];
      marked.forEach((seg) => seg.classList.add("sim-current"));
    }

    function scrollTo(i) {
      const segs = (rendered.get(shown) || { segs: new Map() }).segs.get(i);
      if (segs && segs.length) box.scrollTop = Math.max(0, segs[0].offsetTop - 24);
    }

    select.addEventListener("change", () => show(Number(select.value)));
    // A click on a highlighted block shows its counterpart; a block in several matches goes through them in turn.
    box.addEventListener("click", (event) => {
      const seg = event.target.closest(".sim-hit");
      if (!seg || !box.contains(seg) || !getSelection().isCollapsed) return;
      const covers = seg.dataset.frags.split(" ").map(Number);
      const now = state.view ? state.view.current() : -1;
      const at = covers.indexOf(now);
      pick(at >= 0 ? covers[(at + 1) % covers.length] : covers[0], key);
    });
    const node = el("section", { class: "sim-side", "aria-label": title },
      el("h4", {}, title), files.length ? el("div", { class: "sim-file-pick" }, el("label", { for: "sim-file-" + key }, "File"), select, el("span", { class: "muted small" }, plural(files.length, "file", "files"))) : el("p", { class: "muted" }, "No file text came with this side."),
      box);
    const detach = () => rendered.forEach((file) => file.detach());
    return { key, files, node, show, mark, scrollTo, detach };
  }

  // --- the review of a pair -----------------------------------------------------------------------------------
  function reviewForm(p) {
    const radios = Object.entries(STATUS_WORDS).map(([value, label]) => el("label", { class: "sim-radio" },
      el("input", { type: "radio", name: "sim-review-status", value, checked: p.status === value }), " " + label));
    const note = el("textarea", { id: "sim-note", rows: "3", "aria-describedby": "sim-note-help" });
    note.value = p.note || ""; // as the field's value: text, never markup
    const reviewed = el("p", { class: "muted small", id: "sim-reviewed" }, reviewedText(p));
    const form = el("form", { class: "sim-review", "aria-labelledby": "sim-review-title", onsubmit: async (e) => {
      e.preventDefault();
      const status = (form.querySelector("input[name=sim-review-status]:checked") || {}).value;
      const url = simBase() + "/" + encodeURIComponent(p.id) + "/review";
      message("sim-review-msg", "Saving…");
      let saved;
      try { saved = await api(url, { method: "PUT", json: { status, note: note.value.trim() } }); } catch (error) {
        message("sim-review-msg", words("The review was not saved", error), true);
        return;
      }
      Object.assign(state.pair, saved);
      reviewed.textContent = reviewedText(saved);
      message("sim-review-msg", "Review saved: " + (STATUS_WORDS[saved.status] || saved.status) + ".");
      loadList();
    } },
    el("h3", { id: "sim-review-title" }, "Review"),
    el("fieldset", { class: "sim-radios" }, el("legend", {}, "Status"), radios),
    el("label", { for: "sim-note" }, "Note for the course staff"), note,
    el("p", { id: "sim-note-help", class: "muted small" }, "At most " + NOTE_MAX.toLocaleString("en") + " characters. Students never see it."),
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Save the review")),
    el("p", { id: "sim-review-msg", class: "sim-msg", role: "status" }), reviewed);
    return form;
  }

  const reviewedText = (p) => (p.reviewed_by ? "Last reviewed by " + p.reviewed_by + " on " + when(p.reviewed_at) + "." : "Not reviewed yet.");

  // --- known solutions ------------------------------------------------------------------------------------------
  async function loadKnown() {
    let rows;
    try { rows = await api(knownBase()); } catch (error) {
      if (error.status === 401 || error.status === 403) { $("sim-known").hidden = true; return; }
      $("sim-known").hidden = false;
      message("sim-known-msg", words("Could not load the known solutions", error), true);
      return;
    }
    rows = Array.isArray(rows) ? rows : rows.known || [];
    const admin = Dash.canAdminister(); // adding and deleting is for instructors; a TA sees the list
    $("sim-known-form").hidden = !admin;
    $("sim-known-list").replaceChildren(rows.length ? el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Known solutions (scrolls sideways)" },
      el("table", { class: "grid", id: "sim-known-table" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Label"), el("th", { scope: "col", class: "num" }, "Files"), el("th", { scope: "col" }, "Added"),
          el("th", { scope: "col" }, el("span", { class: "visually-hidden" }, "Actions")))),
        el("tbody", {}, rows.map((k) => el("tr", {},
          el("th", { scope: "row" }, k.label, k.built_in ? [" ", el("span", { class: "sim-known-tag" }, "built in")] : null),
          el("td", { class: "num" }, k.files === null || k.files === undefined ? "–" : String(k.files)),
          el("td", {}, k.created_at ? when(k.created_at) : "–"),
          el("td", {}, admin && !k.built_in ? el("button", { type: "button", class: "secondary", "aria-label": "Delete the known solution " + k.label,
            onclick: () => deleteKnown(k) }, "Delete") : null))))))
      : el("p", { class: "muted" }, "No known solution."));
    $("sim-known").hidden = false;
  }

  async function deleteKnown(k) {
    if (!confirm("Delete the known solution “" + k.label + "”? Submissions compared from now on are not compared with it.")) return;
    try { await api(knownBase() + "/" + encodeURIComponent(k.id), { method: "DELETE" }); } catch (error) {
      message("sim-known-msg", words("The known solution was not deleted", error), true);
      return;
    }
    message("sim-known-msg", "Deleted the known solution “" + k.label + "”.");
    loadKnown();
  }

  $("sim-known-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("sim-known-file").files[0];
    const label = $("sim-known-label").value.trim();
    if (!file || !label) { message("sim-known-msg", "Give the known solution a label and choose its archive.", true); return; }
    const form = new FormData();
    form.append("file", file);
    form.append("label", label);
    message("sim-known-msg", "Uploading " + file.name + "…");
    let added;
    try { added = await api(knownBase(), { method: "POST", body: form }); } catch (error) {
      message("sim-known-msg", words("The known solution was not added", error), true);
      return;
    }
    message("sim-known-msg", "Added “" + added.label + "” (" + plural(added.files, "file", "files") + ").");
    $("sim-known-form").reset();
    loadKnown();
  });

  // After every refresh of the dashboard (a course or an assignment picked, the Refresh button).
  Dash.onRefresh(() => {
    if (state.pair && (!state.list || state.list.assignment !== Dash.assignment())) closePair();
    loadList();
    loadKnown();
  });
})();
