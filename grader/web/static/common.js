// Shared by both pages: the signed-in session (a cookie; never a token in storage), fetch helpers, messages,
// times, and the pieces of a report both pages show.
"use strict";
const Grader = (() => {
  const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
  let me = null; // GET /api/v1/me, once signed in

  // JSON from the API, or an Error carrying the server's {"detail"} and status. The session cookie goes with
  // every call; a change also carries the session's CSRF token.
  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({}, opts.headers || {});
    const method = (opts.method || "GET").toUpperCase();
    if (MUTATING.has(method) && me && me.csrf_token) opts.headers["X-CSRF-Token"] = me.csrf_token;
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    const response = await fetch(path, opts);
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : response.statusText;
      const error = new Error(detail + " (HTTP " + response.status + ")");
      error.status = response.status;
      if (response.status === 401) showSignIn();
      throw error;
    }
    return body;
  }

  function say(text, isError) {
    const box = document.getElementById("message");
    box.textContent = text || "";
    box.classList.toggle("error", !!isError);
    box.hidden = !text;
  }

  // The polite live region: what a screen reader should hear once (a finished score).
  function announce(text) {
    const box = document.getElementById("announce");
    box.textContent = "";
    setTimeout(() => { box.textContent = text; }, 50);
  }

  // Build an element: el("td", {class: "num"}, "12"). Text is always set as text, never as HTML; a null or
  // undefined child is left out (never printed as "null").
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const fmt = (x) => (x === null || x === undefined ? "–" : (Math.round(x * 100) / 100).toString());
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
  const pct = (x) => fmt(x * 100) + "%";

  // A due date both ways: in the reader's own time, and as the course gave it (the ISO string keeps the
  // wall-clock time of its zone, docs/course-api.md), so "23:59 Europe/Zurich" reads as set.
  function dueText(iso, zone) {
    if (!iso) return "no due date";
    const local = new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    const offset = (iso.match(/([+-]\d\d:\d\d|Z)$/) || ["UTC"])[0];
    const given = iso.slice(0, 10) + " " + iso.slice(11, 16) + " " + (zone || (offset === "Z" ? "UTC" : offset));
    return local + " your time (" + given + ")";
  }

  // A late policy in words.
  function latePolicyText(policy) {
    const p = policy || {};
    const perDay = p.penalty_per_day || 0;
    const max = p.max_late_days;
    if (max === 0) return "No late work: after the due date a submission counts 0.";
    const cut = perDay ? "Late work loses " + fmt(perDay * 100) + "% per day late" : "Late work has no penalty";
    return cut + (max === null || max === undefined ? "." : ", up to " + max + (max === 1 ? " day" : " days") + "; after that it counts 0.");
  }

  const scorePolicyText = (policy) => (policy === "latest" ? "your latest submission counts" : "your best submission counts");

  // A late submission's standing (the report's "late" field): "2 days late, −20%: counts 72 of 90".
  function lateText(late, maxScore) {
    if (!late) return "";
    const days = late.days_late + (late.days_late === 1 ? " day late" : " days late");
    if (!late.counts) return days + ", past the " + late.max_late_days + "-day limit: counts 0 of " + fmt(maxScore);
    const cut = late.penalty ? "−" + fmt(late.penalty * 100) + "%" : "no penalty";
    const counts = late.adjusted_score === null || late.adjusted_score === undefined ? "" : ": counts " + fmt(late.adjusted_score) + " of " + fmt(maxScore);
    return days + ", " + cut + counts;
  }

  // The files of a package that do not compile (the report's and the 202's "compile_errors"), or null if none.
  function compileErrors(problems) {
    if (!problems || !problems.length) return null;
    const where = (p) => p.file + (p.line ? ", line " + p.line + (p.column ? ", column " + p.column : "") : "");
    return el("div", { class: "compile-errors", role: "status" },
      el("h3", {}, problems.length === 1 ? "A file does not compile" : problems.length + " files do not compile"),
      el("p", { class: "muted" }, "Graded anyway: tests that need these files fail, the other modules still earn their points."),
      el("ul", {}, problems.map((p) => el("li", {}, el("code", {}, where(p)), ": " + p.message,
        p.text ? el("pre", {}, p.text) : null))));
  }

  // A failed test's worked example (evidence.example, made by capstone_tests/checks/example.py).
  function show(v) {
    if (Array.isArray(v)) return "[" + v.map(show).join(", ") + "]";
    if (v && typeof v === "object") return "{" + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ": " + show(x)).join(", ") + "}";
    return JSON.stringify(v === undefined ? null : v);
  }

  function describe(name, value) {
    if (value && typeof value === "object" && !Array.isArray(value) && "shape" in value && "values" in value) {
      const dims = Array.isArray(value.shape) ? value.shape : [];
      return [name + (value.at || "") + " = " + show(value.values), "shape (" + dims.join(", ") + (dims.length === 1 ? ",)" : ")")];
    }
    return [name + " = " + show(value), ""];
  }

  function example(ex) {
    if (!ex || typeof ex !== "object") return null;
    const rows = [];
    const row = (label, [text, shape]) => rows.push(el("dt", {}, label), el("dd", {}, el("code", {}, text), shape ? el("span", { class: "muted" }, " " + shape) : null));
    const inputs = ex.input && typeof ex.input === "object" ? Object.entries(ex.input) : [];
    inputs.forEach(([name, value], i) => row(i ? "" : "input", describe(name, value)));
    row("expected", describe("expected", ex.expected));
    row("got", describe("got", ex.got));
    return el("div", { class: "example", role: "group", "aria-label": "Example: input, expected, got" },
      el("p", { class: "example-title" }, "Example"), el("dl", {}, rows));
  }

  function otherEvidence(evidence) {
    const rest = Object.assign({}, evidence || {});
    delete rest.example;
    return rest;
  }

  // A copy button for a text: the clipboard when the browser allows it, else the text selected for Ctrl+C.
  function copyButton(text, label, target) {
    return el("button", { type: "button", class: "secondary copy", "aria-label": label, onclick: async (event) => {
      const button = event.currentTarget;
      try { await navigator.clipboard.writeText(text); button.textContent = "Copied"; }
      catch { if (target) { target.focus(); target.select(); } button.textContent = "Press Ctrl+C"; }
      setTimeout(() => { button.textContent = "Copy"; }, 2500);
    } }, "Copy");
  }

  // --- a report's tests: by priority, failures first, each diagnostic split into where / what / hint --------
  const FAILED = new Set(["failed", "error", "timeout"]);
  const groupName = (t) => (t.priority === null || t.priority === undefined ? (t.suite || "tests") : "P" + t.priority);

  // The course's module first (what to go back to: "06_optimizers"), then the place in the student's own code.
  function whereText(where, module) {
    if (!where) return module ? "module " + module : null;
    const parts = [module ? "module " + module : null, where.file || null,
      where.function ? where.function + "()" : null, where.line ? "line " + where.line : null].filter(Boolean);
    return parts.length ? parts.join(" · ") : null;
  }

  function testItem(test) {
    const failed = FAILED.has(test.outcome);
    const where = whereText(test.where, test.module_label || test.module);
    const what = test.what || (test.diagnostic ? test.diagnostic : null);
    const parts = [el("h5", {}, el("span", { class: "test-name" }, test.name), " ",
      el("span", { class: "outcome outcome-" + test.outcome }, test.outcome), " ",
      el("span", { class: "muted" }, (test.points === null || test.points === undefined ? "" : fmt(test.points) + " / " + fmt(test.max_points) + " points") +
        (test.counts_toward_grade === false ? " (not counted toward the grade)" : "")))];
    if (failed || test.diagnostic) {
      const rows = [];
      if (where) rows.push(el("dt", {}, "Where"), el("dd", { class: "where" }, where));
      if (what) rows.push(el("dt", {}, "What"), el("dd", { class: "what" }, el("pre", { class: "diagnostic" }, what)));
      if (test.hint) rows.push(el("dt", {}, "Hint"), el("dd", { class: "hint" }, test.hint));
      if (rows.length) parts.push(el("dl", { class: "diag" }, rows));
      if (test.evidence && test.evidence.example) parts.push(example(test.evidence.example));
      const evidence = otherEvidence(test.evidence);
      if (Object.keys(evidence).length) parts.push(el("details", {}, el("summary", {}, "Evidence"), el("div", { class: "pre-box", tabindex: "0", role: "region", "aria-label": "Evidence of " + test.name }, el("pre", {}, JSON.stringify(evidence, null, 2)))));
      if (test.output) parts.push(el("details", {}, el("summary", {}, "Output"), el("div", { class: "pre-box", tabindex: "0", role: "region", "aria-label": "Output of " + test.name }, el("pre", {}, test.output.slice(-2000)))));
    }
    return el("li", { class: "test " + (failed ? "failure" : "test-" + test.outcome) }, parts);
  }

  // Every test of a report, grouped by priority (groups with failures first), failures first inside a group.
  function testGroups(tests) {
    const groups = new Map();
    for (const t of tests || []) {
      const key = groupName(t);
      if (!groups.has(key)) groups.set(key, { key, priority: t.priority, tests: [] });
      groups.get(key).tests.push(t);
    }
    const failing = (g) => g.tests.filter((t) => FAILED.has(t.outcome)).length;
    const order = [...groups.values()].sort((a, b) => (failing(b) > 0) - (failing(a) > 0) ||
      (a.priority ?? 99) - (b.priority ?? 99) || a.key.localeCompare(b.key));
    return el("div", { class: "test-groups" }, order.map((g) => {
      const tests = [...g.tests].sort((a, b) => FAILED.has(b.outcome) - FAILED.has(a.outcome));
      const n = failing(g);
      return el("section", { class: "test-group", "aria-label": g.key },
        el("h4", {}, g.key, " ", el("span", { class: "muted" }, n ? n + " of " + tests.length + " failed" : "all " + tests.length + " passed")),
        el("ul", { class: "tests" }, tests.map(testItem)));
    }));
  }

  // The line that reproduces the grade locally, with its copy button.
  function reproduceLine(command) {
    if (!command) return null;
    const field = el("input", { type: "text", readonly: true, value: command, class: "reproduce", "aria-label": "Command that reproduces this grade" });
    return el("div", { class: "reproduce-box" }, el("label", {}, "Reproduce locally"), el("div", { class: "copy-row" }, field, copyButton(command, "Copy the reproduce command", field)));
  }

  // What a report's outcome says in words; "every test passed" only when tests ran and all passed.
  function verdict(report) {
    const tests = report.tests || [];
    if (report.status === "failed") return { text: "Grading failed: " + (report.error || "our grader had a problem") + ". This is not your fault; resubmitting is safe.", bad: true };
    if (report.status !== "graded") return { text: report.delayed || (report.status === "running" ? "Being graded…" : "Waiting in the queue…"), bad: false };
    if (!tests.length) return { text: "No test ran for this submission.", bad: true };
    const failed = tests.filter((t) => FAILED.has(t.outcome)).length;
    if (failed) return { text: failed + " of " + tests.length + " tests did not pass.", bad: true };
    const ran = tests.filter((t) => t.outcome === "passed").length;
    if (ran === tests.length) return { text: "Every test passed.", bad: false };
    return { text: ran + " of " + tests.length + " tests passed; the others are not shown yet.", bad: false };
  }

  // --- who is signed in ----------------------------------------------------------------------------------
  function showSignIn() {
    document.getElementById("whoami").replaceChildren(el("a", { href: "/sign-in", class: "sign-in-link" }, "Sign in"));
    document.getElementById("signout").hidden = true;
    const gate = document.getElementById("signed-out");
    if (gate) gate.hidden = false;
    document.querySelectorAll("[data-needs-session]").forEach((n) => { n.hidden = true; });
  }

  async function start(fn) {
    try {
      me = await api("/api/v1/me");
    } catch (error) {
      if (error.status !== 401) say("Could not tell who you are: " + error.message, true);
      showSignIn();
      return;
    }
    document.getElementById("whoami").textContent = "Signed in as " + (me.name ? me.name + " (" + me.email + ")" : me.email);
    document.getElementById("signout").hidden = false;
    document.querySelectorAll("[data-needs-session]").forEach((n) => { n.hidden = false; });
    fn(me);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("signout").addEventListener("click", async () => {
      try { await api("/auth/sign-out", { method: "POST" }); } catch (error) { /* signed out either way */ }
      location.assign("/sign-in");
    });
  });

  return { api, say, announce, el, fmt, pct, when, dueText, latePolicyText, scorePolicyText, lateText, compileErrors,
    example, otherEvidence, copyButton, testGroups, reproduceLine, verdict, start, me: () => me, FAILED };
})();
