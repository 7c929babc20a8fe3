// Student page: upload, live progress, the result, earlier submissions.
"use strict";
(() => {
  const { api, headers, say, el, fmt, when, lateText, compileErrors, example, otherEvidence, signedIn } = Grader;
  const $ = (id) => document.getElementById(id);
  const FINAL = new Set(["graded", "failed"]);
  let watching = null; // the submission id whose progress is shown

  // --- upload ---------------------------------------------------------------------------------------------
  async function upload(file) {
    if (!Grader.token()) { say("Sign in with your token first.", true); return; }
    const form = new FormData();
    form.append("file", file);
    const assignment = $("assignment").value.trim();
    if (assignment) form.append("assignment", assignment);
    say("Uploading " + file.name + "…");
    try {
      const accepted = await api("/api/v1/submissions", { method: "POST", body: form });
      say("Accepted " + file.name + "; grading…");
      showCompileErrors(accepted.compile_errors); // at once, long before the first test has run
      watch(accepted.id);
      loadHistory();
    } catch (error) {
      say("Upload refused: " + error.message, true);
    }
  }

  const zone = $("dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", () => { if ($("file").files.length) upload($("file").files[0]); $("file").value = ""; });

  function showCompileErrors(problems) {
    const box = $("compile-errors");
    const shown = compileErrors(problems);
    box.replaceChildren(...(shown ? [shown] : []));
    box.hidden = !shown;
  }

  // --- progress -------------------------------------------------------------------------------------------
  function showProgress(status, done, total) {
    $("progress-box").hidden = false;
    const bar = $("progress");
    if (total) { bar.max = total; bar.value = done || 0; } else { bar.removeAttribute("value"); }
    $("progress-label").textContent = status + (total ? " — " + (done || 0) + " of " + total + " tests" : "");
  }

  // Progress as Server-Sent Events read through fetch (EventSource cannot send the Authorization header);
  // polling GET /api/v1/submissions/{id} when the stream is unavailable or breaks.
  async function watch(id) {
    watching = id;
    showProgress("queued");
    try {
      const response = await fetch("/api/v1/submissions/" + id + "/events", { headers: headers({ Accept: "text/event-stream" }) });
      if (!response.ok || !response.body) throw new Error("no event stream");
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
          const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
          if (!data) continue;
          let event;
          try { event = JSON.parse(data); } catch { continue; }
          if (id !== watching) { reader.cancel(); return; }
          onEvent(event);
          if (FINAL.has(event.status)) { reader.cancel(); return showResult(id); }
        }
      }
    } catch (error) {
      // fall through to polling
    }
    if (id === watching) poll(id);
  }

  function onEvent(event) {
    const total = event.total ?? event.total_tests ?? null;
    const done = event.done ?? event.completed ?? event.finished ?? (event.tests ? event.tests.length : null);
    showProgress(event.delayed || event.status || "running", done, total);
  }

  async function poll(id) {
    while (id === watching) {
      let report;
      try { report = await api("/api/v1/submissions/" + id); } catch (error) { say(error.message, true); return; }
      if (FINAL.has(report.status)) return showResult(id, report);
      showProgress(report.delayed || report.status, null, null);
      await new Promise((r) => setTimeout(r, 1500));
    }
  }

  // --- the result -----------------------------------------------------------------------------------------
  async function showResult(id, report) {
    report = report || (await api("/api/v1/submissions/" + id));
    const bar = $("progress");
    bar.max = 1; bar.value = 1;
    $("progress-label").textContent = report.status;
    showCompileErrors(report.compile_errors);
    $("result").hidden = false;
    $("score").textContent = report.status === "graded" ? fmt(report.score) + " / " + fmt(report.max_score) : "not graded";
    $("score-status").textContent = report.status === "failed" ? "(grading failed: " + (report.error || "please resubmit") + ")" : "";
    // The score above is the raw one (what the tests earned); this says what it counts for after the due date.
    $("late").textContent = lateText(report.late, report.max_score);
    $("late").hidden = !report.late;
    const body = $("priorities").tBodies[0];
    body.replaceChildren(...(report.priorities || []).map((p) =>
      // Module suites have no priority; an uncounted suite's name says so (grader/scoring.py).
      el("tr", {}, el("td", {}, p.priority === null || p.priority === undefined ? "" : "P" + p.priority), el("td", {}, p.name), el("td", { class: "num" }, fmt(p.score) + " / " + fmt(p.max_score)))));
    const failed = (report.tests || []).filter((t) => t.outcome !== "passed");
    $("failures").replaceChildren(...(failed.length ? failed.map(failure) : [el("p", {}, "None: every test passed.")]));
    say("");
    loadHistory();
  }

  function failure(test) {
    const parts = [el("h4", {}, test.name, " ", el("span", { class: "outcome-" + test.outcome }, "(" + test.outcome + ")"),
      " ", el("span", { class: "muted" }, fmt(test.points) + " / " + fmt(test.max_points) + (test.counts_toward_grade === false ? " (not counted toward the grade)" : "")))];
    if (test.diagnostic) parts.push(el("pre", { class: "diagnostic" }, test.diagnostic));
    if (test.evidence && test.evidence.example) parts.push(example(test.evidence.example));
    const evidence = otherEvidence(test.evidence);
    if (Object.keys(evidence).length) parts.push(el("details", {}, el("summary", {}, "Evidence"), el("pre", {}, JSON.stringify(evidence, null, 2))));
    if (test.output) parts.push(el("details", {}, el("summary", {}, "Output"), el("pre", {}, test.output.slice(-2000))));
    return el("article", { class: "failure" }, parts);
  }

  // --- earlier submissions --------------------------------------------------------------------------------
  async function loadHistory() {
    let listing;
    try { listing = await api("/api/v1/submissions"); } catch (error) { say(error.message, true); return; }
    const items = Array.isArray(listing) ? listing : listing.submissions || listing.items || [];
    $("history").tBodies[0].replaceChildren(...items.map((s) => el("tr", {},
      el("td", {}, when(s.created_at)), el("td", {}, s.status),
      el("td", { class: "num" }, s.score === null || s.score === undefined ? "–" : fmt(s.score) + " / " + fmt(s.max_score)),
      el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => { watching = s.id; showResult(s.id); } }, "Show")))));
  }

  signedIn(loadHistory);
})();
