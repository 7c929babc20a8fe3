// Instructor page, part 2: one student's submissions, one submission's report (with a score override and a
// regrade), regrade batches, and what the class got wrong (by module, with per-priority means).
"use strict";
(() => {
  const G = Grader;
  const { api, say, el, fmt, when } = G;
  const $ = (id) => document.getElementById(id);
  const uploadUrl = (id) => "/api/v1/submissions/" + encodeURIComponent(id) + "/upload";

  // --- every submission of one student --------------------------------------------------------------------
  Dash.showStudent = async (row) => {
    let listing;
    try { listing = await api(Dash.base() + "/students/" + encodeURIComponent(row.user_id) + "/submissions"); } catch (error) { say(error.message, true); return; }
    const subs = listing.submissions || [];
    const head = ["Handed in", "Assignment", "File", "Status", "Score", "Counts for", ""].map((h) => el("th", { scope: "col" }, h));
    $("student-title").textContent = (row.name ? row.name + " (" + row.email + ")" : row.email) + ": " + subs.length + " submission(s)";
    $("student-body").replaceChildren(el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Submissions (scrolls sideways)" }, el("table", { class: "grid stack", id: "student-submissions" }, el("thead", {}, el("tr", {}, head)),
      el("tbody", {}, subs.map((s) => el("tr", {},
        el("td", { "data-label": "Handed in" }, when(s.created_at)),
        el("td", { "data-label": "Assignment" }, s.assignment, s.counts ? [" ", el("strong", { class: "counts-tag" }, "counts")] : null),
        el("td", { class: "filename", "data-label": "File" }, s.filename || "–"), el("td", { "data-label": "Status" }, s.status),
        el("td", { class: "num", "data-label": "Score" }, s.score === null || s.score === undefined ? "–" : fmt(s.score) + " / " + fmt(s.max_score)),
        el("td", { class: "num", "data-label": "Counts for" }, s.override_score !== null && s.override_score !== undefined ? fmt(s.override_score) + " (set)" : fmt(s.counted_score), s.late ? el("span", { class: "late-tag" }, " late") : null),
        el("td", { "data-label": "" }, el("button", { type: "button", class: "cell-button", onclick: () => Dash.showReport(s.id) }, "Report"), " ",
          el("a", { href: uploadUrl(s.id), download: s.filename || "upload" }, "Download"))))))));
    $("student").hidden = false;
    $("student").scrollIntoView({ block: "start" });
  };

  // --- one submission -------------------------------------------------------------------------------------
  Dash.showReport = async (id) => {
    let r;
    try { r = await api("/api/v1/instructor/submissions/" + encodeURIComponent(id)); } catch (error) { say(error.message, true); return; }
    const o = r.override;
    const verdict = G.verdict(r);
    // Through el(), which leaves an absent (null) part out: replaceChildren would print it as "null".
    $("report-body").replaceChildren(el("div", { class: "report" },
      el("p", {}, el("strong", {}, r.email || ""), " · ", (r.course || Dash.course()) + "/" + r.assignment, " · ", r.status, " · ",
        "automatic ", el("strong", { class: "auto-score" }, fmt(r.score) + " / " + fmt(r.max_score)),
        o ? [" · set by staff ", el("strong", { class: "override-score" }, fmt(o.score))] : null),
      el("p", { class: verdict.bad ? "verdict bad" : "verdict" }, verdict.text),
      r.late ? el("p", { class: "late" }, G.lateText(r.late, r.max_score)) : null,
      o ? el("p", { class: "override-note" }, "Override by " + (o.by || "staff") + " on " + when(o.at) + (o.comment ? ": " + o.comment : "")) : null,
      el("p", { class: "muted" }, "handed in " + when(r.created_at) + (r.filename ? " as " + r.filename : "") + ", graded " + when(r.graded_at) +
        " with suite " + (r.suite_version || "–") + " in " + (r.sandbox_image || "–")),
      G.compileErrors(r.compile_errors),
      G.reproduceLine(r.reproduce),
      el("div", { class: "toolbar" },
        el("button", { type: "button", onclick: () => regrade("/api/v1/instructor/submissions/" + encodeURIComponent(r.id) + "/regrade") }, "Regrade this submission"),
        el("a", { class: "button-link", href: uploadUrl(r.id), download: r.filename || "upload" }, "Download the upload")),
      overrideForm(r),
      el("h3", {}, "Tests"),
      (r.tests || []).length ? G.testGroups(r.tests) : el("p", { class: "muted" }, "No test results.")));
    $("report").hidden = false;
    $("report").scrollIntoView({ block: "start" });
  };

  function overrideForm(r) {
    const score = el("input", { id: "override-score", type: "number", step: "any", min: "0", required: true, value: r.override ? r.override.score : "" });
    const comment = el("input", { id: "override-comment", required: true, value: r.override ? r.override.comment || "" : "" });
    const url = "/api/v1/instructor/submissions/" + encodeURIComponent(r.id) + "/override";
    return el("form", { class: "form-grid override", "aria-labelledby": "override-title", onsubmit: async (e) => {
      e.preventDefault();
      try { await api(url, { method: "PUT", json: { score: Number(score.value), comment: comment.value } }); } catch (error) { say(error.message, true); return; }
      say("Score set to " + score.value + " (the automatic " + fmt(r.score) + " is kept).");
      G.announce("Score set to " + score.value + ".");
      await Dash.refresh();
      Dash.showReport(r.id);
    } },
    el("h3", { id: "override-title" }, "Override the score"),
    el("label", { for: "override-score" }, "Score (of " + fmt(r.max_score) + ")"), score,
    el("label", { for: "override-comment" }, "Comment (why)"), comment,
    el("div", { class: "form-actions" }, el("button", { type: "submit" }, "Set score"),
      r.override ? el("button", { type: "button", class: "secondary", onclick: async () => {
        try { await api(url, { method: "DELETE" }); } catch (error) { say(error.message, true); return; }
        say("Override removed: the automatic score counts again.");
        await Dash.refresh();
        Dash.showReport(r.id);
      } }, "Remove override") : null));
  }

  // --- regrades -------------------------------------------------------------------------------------------
  async function regrade(url) {
    let result;
    try { result = await api(url, { method: "POST" }); } catch (error) { say(error.message, true); return; }
    say("Regrade requested for " + result.regrades.length + " submission(s).");
    followBatch(result.batch);
  }
  Dash.regrade = regrade;
  $("regrade-all").addEventListener("click", () => {
    const slug = Dash.assignment();
    if (slug && confirm("Regrade every graded submission of " + slug + "?"))
      regrade(Dash.base() + "/assignments/" + encodeURIComponent(slug) + "/regrade");
  });

  async function followBatch(batch) {
    for (let i = 0; i < 600; i++) {
      let b;
      try { b = await api("/api/v1/instructor/regrades/" + encodeURIComponent(batch)); } catch (error) { say(error.message, true); return; }
      $("regrades").hidden = false;
      $("regrade-body").replaceChildren(el("p", {}, b.finished + " of " + b.total + " regraded; " + b.changed + " score(s) changed."),
        el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Regrades (scrolls sideways)" }, el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["Student", "Submission", "Before", "After", "Change", "Suite", "Sandbox image"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, b.regrades.map(regradeRow)))));
      if (b.finished === b.total) { G.announce("Regrade finished: " + b.finished + " regraded, " + b.changed + " score(s) changed."); Dash.refresh(); return; }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  function regradeRow(r) {
    const done = !!r.finished_at;
    const changed = done && r.new_score !== r.old_score;
    const delta = r.delta === null || r.delta === undefined ? "–" : (r.delta > 0 ? "+" : r.delta < 0 ? "−" : "") + fmt(Math.abs(r.delta));
    return el("tr", { class: changed ? "changed" : null },
      el("td", {}, r.name || r.email || "–", r.name && r.email ? el("span", { class: "muted small block" }, r.email) : null),
      el("td", {}, el("button", { type: "button", class: "cell-button", onclick: () => Dash.showReport(r.submission_id) }, String(r.submission_id).slice(0, 8))),
      el("td", { class: "num" }, fmt(r.old_score)), el("td", { class: "num" }, done ? fmt(r.new_score) : "pending"),
      el("td", { class: "num " + (r.delta > 0 ? "delta-up" : r.delta < 0 ? "delta-down" : "") }, delta),
      versionCell(r.old_suite_version, r.new_suite_version, done), versionCell(r.old_sandbox_image, r.new_sandbox_image, done));
  }

  function versionCell(before, after, done) {
    if (!done) return el("td", {}, before || "–", el("span", { class: "muted" }, " → pending"));
    if (before === after) return el("td", {}, before || "–");
    return el("td", { class: "version-changed" }, (before || "–") + " → " + (after || "–"));
  }

  // --- what the class got wrong ---------------------------------------------------------------------------
  // An HTML bar chart (each bar a labelled row, so it reflows at any width) with the same numbers as a table.
  async function drawModules() {
    const slug = Dash.assignment();
    if (!slug) { $("modules-chart").replaceChildren(el("p", { class: "muted" }, "No assignment yet.")); $("priority-means").replaceChildren(); return; }
    let m;
    try { m = await api(Dash.base() + "/assignments/" + encodeURIComponent(slug) + "/modules"); } catch (error) { $("modules-chart").replaceChildren(el("p", { class: "bad" }, error.message)); return; }
    const modules = [...(m.modules || [])].sort((a, b) => b.share - a.share);
    // "06 optimizers" when a diagnostic named it; a bare number otherwise; tests no diagnostic attributed: said so.
    const moduleName = (x) => x.label || (x.module === null || x.module === undefined ? "no module named" : "module " + x.module);
    const chart = modules.length ? el("figure", { class: "bars", "aria-labelledby": "modules-caption" },
      el("figcaption", { id: "modules-caption" }, "Share of " + m.students + " student(s) failing a test attributed to each module"),
      el("ul", { class: "bar-list", "aria-hidden": "true" }, modules.map((x) => el("li", { class: "bar-row" },
        el("span", { class: "bar-label" }, moduleName(x)),
        el("span", { class: "bar-track" }, el("span", { class: "bar", style: "width:" + Math.max(0, Math.min(100, x.share * 100)) + "%" })),
        el("span", { class: "bar-value" }, G.pct(x.share)))))) : el("p", { class: "muted" }, "No failing test in the counted submissions.");
    const table = el("details", { class: "table-alt" }, el("summary", {}, "The same as a table"),
      el("table", { class: "grid", id: "modules-table" }, el("caption", {}, "Failures by module"),
        el("thead", {}, el("tr", {}, ["Module", "Students failing", "Share", "Tests failing"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, modules.map((x) => el("tr", {}, el("th", { scope: "row" }, moduleName(x)), el("td", { class: "num" }, x.students_failing),
          el("td", { class: "num" }, G.pct(x.share)), el("td", { class: "wrap" }, (x.tests_failing || []).join(", ")))))));
    $("modules-chart").replaceChildren(chart, table);
    const priorities = m.priorities || [];
    $("priority-means").replaceChildren(priorities.length ? el("table", { class: "grid", id: "priority-table" }, el("caption", {}, "Class mean by priority"),
      el("thead", {}, el("tr", {}, ["Priority", "Part", "Mean", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, priorities.map((p) => el("tr", {}, el("th", { scope: "row" }, p.priority === null || p.priority === undefined ? "–" : "P" + p.priority),
        el("td", {}, p.name), el("td", { class: "num" }, fmt(p.mean_score) + " / " + fmt(p.max_score)),
        el("td", { class: "meter-cell" }, el("span", { class: "bar-track", "aria-hidden": "true" },
          el("span", { class: "bar ok", style: "width:" + (p.max_score ? Math.min(100, (p.mean_score / p.max_score) * 100) : 0) + "%" }))))))) : "");
  }

  Dash.onRefresh(drawModules);
})();
