// Shared by both pages: the token (kept in localStorage, sent as a Bearer header), fetch helpers, messages.
"use strict";
const Grader = (() => {
  const KEY = "grader.token";
  const listeners = [];
  const token = () => localStorage.getItem(KEY) || "";

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (token()) h.Authorization = "Bearer " + token();
    return h;
  }

  // JSON from the API, or an Error carrying the server's {"detail"} and status.
  async function api(path, options) {
    const opts = Object.assign({}, options || {});
    opts.headers = headers(opts.headers);
    const response = await fetch(path, opts);
    const type = response.headers.get("content-type") || "";
    const body = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : response.statusText;
      const error = new Error(detail + " (HTTP " + response.status + ")");
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function say(text, isError) {
    const box = document.getElementById("message");
    box.textContent = text;
    box.classList.toggle("error", !!isError);
    box.hidden = !text;
  }

  // Build an element: el("td", {class: "num"}, "12"). Text is always set as text, never as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const fmt = (x) => (x === null || x === undefined ? "–" : (Math.round(x * 100) / 100).toString());
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");

  // A late submission's standing (the report's "late" field): "2 days late, −20%: counts 72 of 90".
  function lateText(late, maxScore) {
    if (!late) return "";
    const days = late.days_late + (late.days_late === 1 ? " day late" : " days late");
    if (!late.counts) return days + ", past the " + late.max_late_days + "-day limit: counts 0 of " + fmt(maxScore);
    const cut = late.penalty ? "−" + fmt(late.penalty * 100) + "%" : "no penalty";
    const counts = late.adjusted_score === null || late.adjusted_score === undefined ? "" : ": counts " + fmt(late.adjusted_score) + " of " + fmt(maxScore);
    return days + ", " + cut + counts;
  }

  // The files of a package that do not compile (the report's and the 202's "compile_errors"), or null if none:
  // known from the upload on, so both pages show them whatever the grading's state.
  function compileErrors(problems) {
    if (!problems || !problems.length) return null;
    const where = (p) => p.file + (p.line ? ", line " + p.line + (p.column ? ", column " + p.column : "") : "");
    return el("div", { class: "compile-errors", role: "status" },
      el("h3", {}, problems.length === 1 ? "A file does not compile" : problems.length + " files do not compile"),
      el("p", { class: "muted" }, "Graded anyway: tests that need these files fail, the other modules still earn their points."),
      el("ul", {}, problems.map((p) => el("li", {}, el("code", {}, where(p)), ": " + p.message,
        p.text ? el("pre", {}, p.text) : null))));
  }

  // A failed test's worked example (evidence.example, made by capstone_tests/checks/example.py): one line per input,
  // then what was expected and what came back. An array is {shape, at, values}: "x[2, :] = [...]  shape (4, 3)".
  // Long lines wrap (CSS), so the block stays as narrow as its column.
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

  // Evidence without the example, which has its own block.
  function otherEvidence(evidence) {
    const rest = Object.assign({}, evidence || {});
    delete rest.example;
    return rest;
  }

  function signedIn(fn) { listeners.push(fn); if (token()) fn(); }

  function refreshSignin() {
    document.getElementById("signout").hidden = !token();
    document.getElementById("whoami").textContent = token() ? "signed in (" + token().slice(0, 11) + "…)" : "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("signin");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = document.getElementById("token").value.trim();
      if (!value) return;
      localStorage.setItem(KEY, value);
      document.getElementById("token").value = "";
      refreshSignin();
      say("");
      listeners.forEach((fn) => fn());
    });
    document.getElementById("signout").addEventListener("click", () => {
      localStorage.removeItem(KEY);
      location.reload();
    });
    refreshSignin();
    if (!token()) say("Paste your API token above to sign in.");
  });

  return { api, headers, token, say, el, fmt, when, lateText, compileErrors, example, otherEvidence, signedIn };
})();
