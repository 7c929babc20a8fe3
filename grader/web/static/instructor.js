// Instructor page, part 1: the course picker, the operational status and the grade table (sorted, searched
// and filtered here, in the page). Parts 2 and 3 (instructor_report.js, instructor_admin.js) hang on `Dash`.
"use strict";
const Dash = (() => {
  const { api, say, el, fmt, lateText } = Grader;
  const $ = (id) => document.getElementById(id);
  const state = { courses: [], grades: null, sort: { key: "student", dir: 1 }, hooks: [] };

  const course = () => $("course").value;
  const assignment = () => $("assignment").value;
  const base = () => "/api/v1/instructor/courses/" + encodeURIComponent(course());
  const courseInfo = () => state.courses.find((c) => c.slug === course()) || null;
  const assignments = () => (courseInfo() ? courseInfo().assignments || [] : []);
  const canAdminister = () => { const c = courseInfo(); return !!c && c.role !== "ta"; };

  async function loadCourses(keep) {
    try { state.courses = await api("/api/v1/instructor/courses"); } catch (error) { say(error.message, true); return; }
    const chosen = keep || course() || new URLSearchParams(location.search).get("course");
    $("course").replaceChildren(...state.courses.map((c) => el("option", { value: c.slug },
      c.name + " (" + c.slug + ")" + (c.archived ? " — archived" : ""))));
    const me = Grader.me() || {};
    $("new-course").hidden = !(me.role === "instructor" || me.role === "admin"); // a TA cannot make courses
    if (!state.courses.length) { say("You teach no course yet" + ($("new-course").hidden ? "." : ": create one below.")); $("new-course").open = true; }
    if (chosen && state.courses.some((c) => c.slug === chosen)) $("course").value = chosen;
    fillAssignments();
    refresh();
  }

  function fillAssignments(keep) {
    // An LMS launch opens the page on its link's course and assignment (?course=...&assignment=...).
    const chosen = keep || assignment() || new URLSearchParams(location.search).get("assignment");
    $("assignment").replaceChildren(...assignments().map((a) => el("option", { value: a.slug }, a.title)));
    if (chosen && assignments().some((a) => a.slug === chosen)) $("assignment").value = chosen;
    $("csv").href = course() ? base() + "/grades.csv" : "#";
    $("csv").setAttribute("download", (course() || "grades") + "-grades.csv");
  }

  async function loadOps() {
    try {
      const s = await api("/api/v1/instructor/status");
      const stuck = s.stuck_gradings || 0;
      $("ops").replaceChildren(el("span", { class: stuck ? "bad" : "" }, stuck + (stuck === 1 ? " grading stuck" : " gradings stuck")),
        " · grading " + s.grading + (s.oldest_queued_s ? " · oldest queued " + Math.round(s.oldest_queued_s) + " s" : "") + (s.detail ? " · " + s.detail : ""));
      const banner = $("status-banner");
      banner.textContent = s.grading === "ok" ? "" : "Grading is " + s.grading + (s.detail ? ": " + s.detail : ".");
      banner.hidden = s.grading === "ok";
    } catch (error) { $("ops").textContent = ""; }
  }

  async function refresh() {
    if (!course()) return;
    loadOps();
    try { state.grades = await api(base() + "/grades"); } catch (error) { say(error.message, true); return; }
    fillTestFilter();
    drawTable();
    state.hooks.forEach((fn) => fn());
  }

  // --- the grade table ------------------------------------------------------------------------------------
  const gradeOf = (row) => (row.grades || {})[assignment()] || null;
  const share = (g) => (g && g.score !== null && g.score !== undefined && g.max_score ? g.score / g.max_score : null);

  function fillTestFilter() {
    const names = new Set();
    for (const row of state.grades.rows) for (const g of Object.values(row.grades || {})) for (const t of (g && g.failed_tests) || []) names.add(t);
    const chosen = $("f-test").value;
    $("f-test").replaceChildren(el("option", { value: "" }, "any"), ...[...names].sort().map((n) => el("option", { value: n }, n)));
    if (names.has(chosen)) $("f-test").value = chosen;
  }

  function matches(row) {
    const text = $("f-text").value.trim().toLowerCase();
    if (text && ![row.email, row.name, row.section].some((v) => (v || "").toLowerCase().includes(text))) return false;
    const g = gradeOf(row);
    const s = share(g);
    const min = $("f-min").value, max = $("f-max").value;
    if (min !== "" && (s === null || s * 100 < Number(min))) return false;
    if (max !== "" && (s === null || s * 100 > Number(max))) return false;
    const late = $("f-late").value;
    if (late === "late" && !(g && g.late)) return false;
    if (late === "ontime" && (!g || g.late)) return false;
    const status = $("f-status").value;
    if (status === "none" && g) return false;
    if (status && status !== "none" && (!g || g.status !== status)) return false;
    const test = $("f-test").value;
    if (test && !(g && (g.failed_tests || []).includes(test))) return false;
    return true;
  }

  function sortValue(row, key) {
    if (key === "student") return (row.name || row.email || "").toLowerCase();
    if (key === "email") return row.email.toLowerCase();
    if (key === "section") return (row.section || "").toLowerCase();
    const g = (row.grades || {})[key];
    return g && g.score !== null && g.score !== undefined ? g.score : -Infinity;
  }

  function header(key, label, extra) {
    const active = state.sort.key === key;
    const sort = active ? (state.sort.dir > 0 ? "ascending" : "descending") : "none";
    return el("th", { scope: "col", "aria-sort": sort }, el("button", { type: "button", class: "sort", "data-key": key, onclick: () => {
      state.sort = { key, dir: active ? -state.sort.dir : 1 };
      drawTable();
      document.querySelector('#grades button.sort[data-key="' + CSS.escape(key) + '"]').focus();
    } }, label, el("span", { "aria-hidden": "true", class: "sort-mark" }, active ? (state.sort.dir > 0 ? " ▲" : " ▼") : "")), extra || null);
  }

  function drawTable() {
    const table = state.grades;
    if (!table) return;
    const grid = $("grades");
    grid.tHead.replaceChildren(el("tr", {}, header("student", "Student"), header("section", "Section"),
      table.assignments.map((a) => header(a.slug, a.title, el("span", { class: "muted small" }, " " + (a.score_policy || ""))))));
    const { key, dir } = state.sort;
    const rows = table.rows.filter(matches).sort((a, b) => {
      const x = sortValue(a, key), y = sortValue(b, key);
      return (x < y ? -1 : x > y ? 1 : 0) * dir || a.email.localeCompare(b.email);
    });
    grid.tBodies[0].replaceChildren(...rows.map((row) => el("tr", {},
      el("th", { scope: "row" }, el("button", { type: "button", class: "cell-button", "aria-label": "All submissions of " + row.email,
        onclick: () => Dash.showStudent(row) }, row.name || row.email), row.name ? el("span", { class: "muted small block" }, row.email) : null),
      el("td", {}, row.section || "–"),
      table.assignments.map((a) => cell(row.grades[a.slug], row.email, a)))));
    if (!rows.length) grid.tBodies[0].append(el("tr", {}, el("td", { colspan: table.assignments.length + 2 }, table.rows.length ? "No student matches the filters." : "No students yet.")));
    $("grade-count").textContent = rows.length + " of " + table.rows.length + " students shown";
  }

  function cell(grade, email, a) {
    if (!grade) return el("td", { class: "num muted" }, "–");
    const label = grade.score === null || grade.score === undefined ? grade.status : fmt(grade.score) + " / " + fmt(grade.max_score);
    const late = grade.late ? lateText(grade.late, grade.max_score) + (grade.raw_score === null || grade.raw_score === undefined ? "" : " (raw " + fmt(grade.raw_score) + ")") : "";
    const overridden = grade.override_score !== null && grade.override_score !== undefined;
    return el("td", { class: "num" }, el("button", {
      type: "button", class: "cell-button", "aria-label": email + ", " + a.title + ": " + label + (late ? ", " + late : "") + (overridden ? ", set by staff" : "") + ", open the report",
      onclick: () => Dash.showReport(grade.submission_id),
    }, label), overridden ? el("span", { class: "override-tag" }, " set by staff; automatic " + fmt(grade.raw_score)) : null,
    grade.late ? el("span", { class: "late-tag", title: late }, " " + grade.late.days_late + "d late") : null,
    grade.status === "failed" ? el("span", { class: "bad small" }, " grading failed") : null,
    grade.submissions > 1 ? el("span", { class: "muted" }, " (" + grade.submissions + ")") : null);
  }

  $("course").addEventListener("change", () => {
    fillAssignments();
    const url = new URL(location.href);
    url.searchParams.set("course", course());
    history.replaceState(null, "", url);
    refresh();
  });
  $("assignment").addEventListener("change", () => { drawTable(); state.hooks.forEach((fn) => fn()); });
  $("refresh").addEventListener("click", () => refresh());
  for (const id of ["f-text", "f-min", "f-max", "f-late", "f-status", "f-test"]) $(id).addEventListener("input", drawTable);
  $("filters").addEventListener("submit", (e) => e.preventDefault());

  document.addEventListener("DOMContentLoaded", () => Grader.start(() => loadCourses()));

  return { state, course, assignment, base, courseInfo, assignments, canAdminister, loadCourses, fillAssignments, refresh,
    onRefresh: (fn) => state.hooks.push(fn), showStudent: null, showReport: null };
})();
