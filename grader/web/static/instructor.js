// Instructor dashboard: grade table, charts (inline SVG), one submission's report, regrades, CSV.
"use strict";
(() => {
  const { api, headers, say, el, fmt, when, lateText, compileErrors, signedIn } = Grader;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  let courses = [];

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  const course = () => $("course").value;
  const assignment = () => $("assignment").value;
  const base = () => "/api/v1/instructor/courses/" + encodeURIComponent(course());

  async function loadCourses() {
    try { courses = await api("/api/v1/instructor/courses"); } catch (error) { say(error.message, true); return; }
    if (!courses.length) { say("You teach no course yet.", true); return; }
    $("course").replaceChildren(...courses.map((c) => el("option", { value: c.slug }, c.name + " (" + c.slug + ")")));
    fillAssignments();
    refresh();
  }

  function fillAssignments() {
    const c = courses.find((x) => x.slug === course());
    $("assignment").replaceChildren(...(c ? c.assignments : []).map((a) => el("option", { value: a.slug }, a.title)));
  }

  async function refresh() {
    if (!course()) return;
    try {
      const [table, histogram, failures] = await Promise.all([
        api(base() + "/grades"),
        assignment() ? api(base() + "/assignments/" + encodeURIComponent(assignment()) + "/histogram") : null,
        assignment() ? api(base() + "/assignments/" + encodeURIComponent(assignment()) + "/failures") : null,
      ]);
      drawTable(table);
      if (histogram) drawHistogram(histogram);
      if (failures) drawFailures(failures);
    } catch (error) { say(error.message, true); }
  }

  // --- grade table ----------------------------------------------------------------------------------------
  function drawTable(table) {
    const grid = $("grades");
    grid.tHead.replaceChildren(el("tr", {}, el("th", { scope: "col" }, "Student"),
      table.assignments.map((a) => el("th", { scope: "col" }, a.title, el("br"), el("span", { class: "muted" }, a.score_policy)))));
    const body = grid.tBodies[0];
    body.replaceChildren(...table.rows.map((row) => el("tr", {}, el("th", { scope: "row" }, row.email),
      table.assignments.map((a) => cell(row.grades[a.slug], row.email, a)))));
    if (!table.rows.length) body.append(el("tr", {}, el("td", { colspan: table.assignments.length + 1 }, "No students yet.")));
  }

  function cell(grade, email, a) {
    if (!grade) return el("td", { class: "num muted" }, "–");
    // grade.score is what counts (late penalty applied); a late cell says so, with the raw score in its title.
    const label = grade.score === null ? grade.status : fmt(grade.score) + " / " + fmt(grade.max_score);
    const late = grade.late ? lateText(grade.late, grade.max_score) + (grade.raw_score === null ? "" : " (raw " + fmt(grade.raw_score) + ")") : "";
    return el("td", { class: "num" }, el("button", {
      type: "button", class: "cell-button", "aria-label": email + ", " + a.title + ": " + label + (late ? ", " + late : "") + ", open the report",
      onclick: () => showReport(grade.submission_id),
    }, label), grade.late ? el("span", { class: "late-tag", title: late }, " " + grade.late.days_late + "d late") : null,
    grade.submissions > 1 ? el("span", { class: "muted" }, " (" + grade.submissions + ")") : null);
  }

  // --- charts ---------------------------------------------------------------------------------------------
  function drawHistogram(h) {
    const W = 460, H = 220, left = 34, bottom = 30, top = 20;
    const max = Math.max(1, ...h.bins.map((b) => b.count));
    const bw = (W - left - 10) / h.bins.length;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img",
      "aria-label": "Histogram of counting scores: " + h.bins.map((b) => `${b.lo}-${b.hi}%: ${b.count}`).join(", ") });
    chart.append(svg("line", { x1: left, y1: H - bottom, x2: W - 10, y2: H - bottom, stroke: "#57606a" }));
    for (let t = 0; t <= max; t += Math.max(1, Math.ceil(max / 5))) {
      const y = H - bottom - (t / max) * (H - bottom - top);
      chart.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, t));
    }
    h.bins.forEach((b, i) => {
      const height = (b.count / max) * (H - bottom - top);
      const x = left + i * bw;
      chart.append(svg("rect", { x: x + 2, y: H - bottom - height, width: bw - 4, height, fill: "#0b5cad" },
        svg("title", {}, `${b.lo}–${b.hi}%: ${b.count} student(s)`)));
      if (b.count) chart.append(svg("text", { x: x + bw / 2, y: H - bottom - height - 3, "text-anchor": "middle" }, b.count));
      chart.append(svg("text", { x: x + bw / 2, y: H - bottom + 14, "text-anchor": "middle" }, Math.round(b.lo)));
    });
    chart.append(svg("text", { x: W - 10, y: H - 2, "text-anchor": "end" }, "score %"));
    const caption = el("figcaption", { class: "muted" }, h.graded + " graded; mean " + (h.mean_percent === null ? "–" : fmt(h.mean_percent) + "%"));
    $("histogram").replaceChildren(chart, caption);
  }

  function drawFailures(f) {
    const rows = f.tests;
    if (!rows.length) { $("failures-chart").replaceChildren(el("p", { class: "muted" }, "No graded submissions yet.")); return; }
    const W = 460, label = 200, rowH = 18, H = rows.length * rowH + 24;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img",
      "aria-label": "Failure rate per test: " + rows.map((t) => `${t.name} ${Math.round(t.rate * 100)}%`).join(", ") });
    rows.forEach((t, i) => {
      const y = i * rowH + 4;
      const width = t.rate * (W - label - 50);
      chart.append(svg("text", { x: label - 6, y: y + 12, "text-anchor": "end" }, t.name.length > 30 ? t.name.slice(0, 29) + "…" : t.name));
      chart.append(svg("rect", { x: label, y, width: Math.max(width, 1), height: rowH - 5, fill: t.rate ? "#b42318" : "#1a7f37" },
        svg("title", {}, `${t.name}: ${t.failed} of ${t.attempted} failed`)));
      chart.append(svg("text", { x: label + width + 4, y: y + 12 }, Math.round(t.rate * 100) + "%"));
    });
    $("failures-chart").replaceChildren(chart, el("figcaption", { class: "muted" }, "over " + f.students + " student(s)' counting submissions"));
  }

  // --- one submission -------------------------------------------------------------------------------------
  async function showReport(id) {
    let r;
    try { r = await api("/api/v1/instructor/submissions/" + id); } catch (error) { say(error.message, true); return; }
    const tests = el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["Test", "P", "Outcome", "Points", "Diagnostic"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, r.tests.map((t) => el("tr", {}, el("td", {}, t.name, t.counts_toward_grade ? null : el("span", { class: "muted" }, " (ungraded)")),
        el("td", {}, t.priority ?? "–"), el("td", { class: "outcome-" + t.outcome }, t.outcome),
        el("td", { class: "num" }, fmt(t.points) + " / " + fmt(t.max_points)),
        el("td", {}, t.diagnostic ? el("details", {}, el("summary", {}, t.diagnostic.split("\n")[0]),
          el("pre", {}, t.diagnostic + evidenceText(t.evidence)),
          t.evidence && t.evidence.example ? Grader.example(t.evidence.example) : null) : "")))));
    // replaceChildren, unlike el(), prints a null child as the text "null": absent parts are "".
    $("report-body").replaceChildren(
      el("p", {}, el("strong", {}, r.email), " · ", r.course + "/" + r.assignment, " · ", r.status, " · ",
        el("strong", {}, fmt(r.score) + " / " + fmt(r.max_score))),
      r.late ? el("p", { class: "late" }, lateText(r.late, r.max_score)) : "",
      el("p", { class: "muted" }, "handed in " + when(r.created_at) + ", graded " + when(r.graded_at) + " with suite " + (r.suite_version || "–") + " in " + (r.sandbox_image || "–")),
      compileErrors(r.compile_errors) || "",
      el("button", { type: "button", onclick: () => regrade("/api/v1/instructor/submissions/" + r.id + "/regrade") }, "Regrade this submission"),
      tests);
    $("report").hidden = false;
    $("report").scrollIntoView({ block: "start" });
  }

  // The evidence but its worked example, which shows as its own block under the diagnostic.
  function evidenceText(evidence) {
    const rest = Grader.otherEvidence(evidence);
    return Object.keys(rest).length ? "\n\nevidence: " + JSON.stringify(rest, null, 2) : "";
  }

  // --- regrades -------------------------------------------------------------------------------------------
  async function regrade(url) {
    let result;
    try { result = await api(url, { method: "POST" }); } catch (error) { say(error.message, true); return; }
    say("Regrade requested for " + result.regrades.length + " submission(s).");
    followBatch(result.batch);
  }

  async function followBatch(batch) {
    for (let i = 0; i < 600; i++) {
      let b;
      try { b = await api("/api/v1/instructor/regrades/" + batch); } catch (error) { say(error.message, true); return; }
      $("regrades").hidden = false;
      $("regrade-body").replaceChildren(el("p", {}, b.finished + " of " + b.total + " regraded; " + b.changed + " score(s) changed."),
        el("table", { class: "grid" }, el("thead", {}, el("tr", {}, ["Submission", "Before", "After", "Change", "Suite", "Sandbox image"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, b.regrades.map(regradeRow))));
      if (b.finished === b.total) { refresh(); return; }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }

  // A finished regrade whose score moved is highlighted, with the signed change; suite and image read old → new
  // so a changed score can be traced to a changed suite or sandbox.
  function regradeRow(r) {
    const done = !!r.finished_at;
    const changed = done && r.new_score !== r.old_score;
    const delta = r.delta === null || r.delta === undefined ? "–" : (r.delta > 0 ? "+" : r.delta < 0 ? "−" : "") + fmt(Math.abs(r.delta));
    return el("tr", { class: changed ? "changed" : null },
      el("td", {}, el("button", { type: "button", class: "cell-button", onclick: () => showReport(r.submission_id) }, r.submission_id.slice(0, 8))),
      el("td", { class: "num" }, fmt(r.old_score)), el("td", { class: "num" }, done ? fmt(r.new_score) : "pending"),
      el("td", { class: "num " + (r.delta > 0 ? "delta-up" : r.delta < 0 ? "delta-down" : "") }, delta),
      versionCell(r.old_suite_version, r.new_suite_version, done), versionCell(r.old_sandbox_image, r.new_sandbox_image, done));
  }

  function versionCell(before, after, done) {
    if (!done) return el("td", {}, before || "–", el("span", { class: "muted" }, " → pending"));
    if (before === after) return el("td", {}, before || "–");
    return el("td", { class: "version-changed" }, (before || "–") + " → " + (after || "–"));
  }

  // --- CSV ------------------------------------------------------------------------------------------------
  async function downloadCsv() {
    // fetch + a blob link rather than a plain link: the download needs the Authorization header.
    const response = await fetch(base() + "/grades.csv", { headers: headers() });
    if (!response.ok) {
      // The API's own sentence (e.g. a 503 saying the database is not answering), as every other call shows it.
      const body = (response.headers.get("content-type") || "").includes("json") ? await response.json() : {};
      say("CSV export failed: " + (body.detail || response.statusText) + " (HTTP " + response.status + ")", true);
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: course() + "-grades.csv" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  $("course").addEventListener("change", () => { fillAssignments(); refresh(); });
  $("assignment").addEventListener("change", refresh);
  $("refresh").addEventListener("click", refresh);
  $("csv").addEventListener("click", downloadCsv);
  $("regrade-all").addEventListener("click", () => {
    if (confirm("Regrade every graded submission of " + assignment() + "?"))
      regrade(base() + "/assignments/" + encodeURIComponent(assignment()) + "/regrade");
  });
  signedIn(loadCourses);
})();
