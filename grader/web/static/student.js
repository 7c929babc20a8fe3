// Student page: assignments, upload, live progress (resumed from the URL), the report, history, own API token.
"use strict";
(() => {
  const G = Grader;
  const { api, say, el, fmt, when } = G;
  const $ = (id) => document.getElementById(id);
  const FINAL = new Set(["graded", "failed"]);
  let assignments = [];
  let watching = null; // the submission id whose progress or report is shown (also ?submission= in the URL)

  // --- assignments ----------------------------------------------------------------------------------------
  // Settled once the first list has arrived (or failed): a file chosen while the page still loads waits for it.
  let assignmentsArrived;
  const assignmentsLoaded = new Promise((resolve) => { assignmentsArrived = resolve; });

  async function loadAssignments() {
    let listing;
    try { listing = await api("/api/v1/assignments"); } catch (error) { say(error.message, true); assignmentsArrived(); return; }
    assignments = listing.assignments || [];
    if (!assignments.length) {
      $("assignments").replaceChildren(el("p", {}, "You have no assignments yet."));
    } else {
      $("assignments").replaceChildren(el("ul", { class: "assignments" }, assignments.map(assignmentCard)));
    }
    // An LMS launch opens the page on its link's assignment (?assignment=course/slug).
    const chosen = $("assignment").value || new URLSearchParams(location.search).get("assignment");
    $("assignment").replaceChildren(...assignments.map((a) => el("option", { value: a.course + "/" + a.slug },
      a.title + " (" + (a.course_name || a.course) + ")")));
    if (chosen && assignments.some((a) => a.course + "/" + a.slug === chosen)) $("assignment").value = chosen;
    assignmentsArrived();
  }

  function assignmentCard(a) {
    const c = a.counting;
    const due = a.your_due_at ? [el("span", { class: "extension" }, "Extended to "), G.dueText(a.your_due_at, a.due_time_zone),
      el("span", { class: "muted" }, " (was " + G.dueText(a.due_at, a.due_time_zone) + ")")] : G.dueText(a.due_at, a.due_time_zone);
    let standing = el("span", { class: "muted" }, "Nothing handed in yet.");
    if (c) {
      const late = c.late ? " " + G.lateText(c.late, c.max_score) : "";
      const override = c.override_score === null || c.override_score === undefined ? "" : " (set by course staff; tests gave " + fmt(c.raw_score) + ")";
      standing = el("span", {}, el("strong", { class: "counts-tag" }, "counts"), " ",
        c.status === "graded" ? fmt(c.score) + " / " + fmt(c.max_score) + override + late : c.status,
        " ", el("button", { type: "button", class: "link-button", onclick: () => open(c.submission_id) }, "Show"));
    }
    return el("li", { class: "assignment card-inner" },
      el("h3", {}, a.title, " ", el("span", { class: "muted" }, a.course_name || a.course)),
      el("dl", { class: "facts" },
        el("dt", {}, "Due"), el("dd", { class: "due" }, due),
        el("dt", {}, "Late work"), el("dd", { class: "late-policy" }, G.latePolicyText(a.late_policy)),
        el("dt", {}, "Grade"), el("dd", { class: "score-policy" }, G.scorePolicyText(a.score_policy) +
          (a.max_submissions_per_hour ? "; at most " + a.max_submissions_per_hour + " submissions an hour" : "")),
        el("dt", {}, "Standing"), el("dd", { class: "standing" }, standing, " ", el("span", { class: "muted" }, "(" + a.submissions + " handed in)"))));
  }

  // --- upload ---------------------------------------------------------------------------------------------
  async function upload(file) {
    await assignmentsLoaded;
    const choice = $("assignment").value;
    if (!choice) { say("Choose an assignment first.", true); return; }
    const form = new FormData();
    form.append("file", file);
    form.append("assignment", choice);  // "course/slug": the same slug may exist in several courses
    say("Uploading " + file.name + "…");
    try {
      const accepted = await api("/api/v1/submissions", { method: "POST", body: form });
      say("Accepted " + file.name + "; grading…");
      showCompileErrors(accepted.compile_errors); // at once, long before the first test has run
      $("result").hidden = true;
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
  $("upload-form").addEventListener("submit", (e) => e.preventDefault());

  function showCompileErrors(problems) {
    const shown = G.compileErrors(problems);
    $("compile-errors").replaceChildren(...(shown ? [shown] : []));
    $("compile-errors").hidden = !shown;
  }

  // --- progress -------------------------------------------------------------------------------------------
  function remember(id) {
    const url = new URL(location.href);
    url.searchParams.set("submission", id);
    history.replaceState(null, "", url);
  }

  function showProgress(state) {
    $("progress-box").hidden = false;
    const bar = $("progress");
    const total = state.status === "queued" ? 0 : state.total || 0; // a count only once tests run
    if (total) { bar.max = total; bar.value = state.done || 0; } else { bar.removeAttribute("value"); }
    $("progress-label").textContent = state.status + (total ? " — " + (state.done || 0) + " of " + total + " tests" : "");
    $("delayed").textContent = state.delayed || "";
    $("delayed").hidden = !state.delayed;
  }

  // Progress as Server-Sent Events read through fetch (the session cookie goes along); polling the report
  // when the stream is unavailable or breaks. The id is in the URL, so a reload picks the stream up again.
  async function watch(id) {
    watching = id;
    remember(id);
    showProgress({ status: "queued" });
    try {
      const response = await fetch("/api/v1/submissions/" + encodeURIComponent(id) + "/events",
        { credentials: "same-origin", headers: { Accept: "text/event-stream" } });
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
          showProgress(event);
          if (FINAL.has(event.status)) { reader.cancel(); return showResult(id); }
        }
      }
    } catch (error) {
      // fall through to polling
    }
    if (id === watching) poll(id);
  }

  async function poll(id) {
    while (id === watching) {
      let report;
      try { report = await api("/api/v1/submissions/" + encodeURIComponent(id)); } catch (error) { say(error.message, true); return; }
      if (FINAL.has(report.status)) return showResult(id, report);
      showProgress(report);
      await new Promise((r) => setTimeout(r, 1500));
    }
  }

  // Open a submission: its report when done, else its live progress.
  async function open(id) {
    watching = id;
    remember(id);
    let report;
    try { report = await api("/api/v1/submissions/" + encodeURIComponent(id)); } catch (error) { say(error.message, true); return; }
    showCompileErrors(report.compile_errors);
    if (FINAL.has(report.status)) { showResult(id, report); return; }
    $("result").hidden = true;
    showProgress(report);
    watch(id);
    $("progress-box").scrollIntoView({ block: "nearest" });
  }

  // --- the result -----------------------------------------------------------------------------------------
  async function showResult(id, report) {
    try { report = report || (await api("/api/v1/submissions/" + encodeURIComponent(id))); } catch (error) { say(error.message, true); return; }
    if (id !== watching) return;
    $("progress-box").hidden = false;
    const bar = $("progress");
    bar.max = 1; bar.value = 1;
    $("progress-label").textContent = report.status;
    $("delayed").hidden = true;
    showCompileErrors(report.compile_errors);
    $("result").hidden = false;
    $("result-meta").textContent = report.assignment + " · " + (report.filename || "upload") + " · handed in " + when(report.created_at);
    const graded = report.status === "graded";
    $("score").textContent = graded ? fmt(report.score) + " / " + fmt(report.max_score) : "not graded";
    $("score-status").textContent = "";
    const verdict = G.verdict(report);
    $("verdict").textContent = verdict.text;
    $("verdict").className = verdict.bad ? "verdict bad" : "verdict";
    $("late").textContent = G.lateText(report.late, report.max_score);
    $("late").hidden = !report.late;
    const o = report.override;
    $("override").textContent = o ? "Course staff set this grade to " + fmt(o.score) + " (tests gave " + fmt(report.score) + ")" + (o.comment ? ": " + o.comment : "") : "";
    $("override").hidden = !o;
    $("reproduce").replaceChildren(...[G.reproduceLine(report.reproduce)].filter(Boolean));
    $("download").replaceChildren(el("a", { href: "/api/v1/submissions/" + encodeURIComponent(report.id) + "/upload", download: report.filename || "upload" },
      "Download what you handed in" + (report.filename ? " (" + report.filename + ")" : "")));
    $("priorities").tBodies[0].replaceChildren(...(report.priorities || []).map((p) =>
      el("tr", {}, el("td", {}, p.priority === null || p.priority === undefined ? "" : "P" + p.priority), el("td", {}, p.name),
        el("td", { class: "num" }, fmt(p.score) + " / " + fmt(p.max_score)))));
    const tests = report.tests || [];
    $("failures").replaceChildren(tests.length ? G.testGroups(tests) : el("p", { class: "muted" }, "No test results."));
    say("");
    G.announce(graded ? "Graded: " + fmt(report.score) + " of " + fmt(report.max_score) + ". " + verdict.text : verdict.text);
    loadHistory();
    loadAssignments();
  }

  // --- earlier submissions --------------------------------------------------------------------------------
  async function loadHistory() {
    let listing;
    try { listing = await api("/api/v1/submissions"); } catch (error) { say(error.message, true); return; }
    const items = Array.isArray(listing) ? listing : listing.submissions || [];
    const rows = items.map((s) => el("tr", {},
      el("td", { "data-label": "Handed in" }, when(s.created_at)),
      el("td", { "data-label": "Assignment" }, s.assignment, s.counts ? [" ", el("strong", { class: "counts-tag" }, "counts")] : null),
      el("td", { class: "filename", "data-label": "File" }, s.filename || "–"), el("td", { "data-label": "Status" }, s.status),
      el("td", { class: "num", "data-label": "Score" }, s.score === null || s.score === undefined ? "–" : fmt(s.score) + " / " + fmt(s.max_score)),
      el("td", { "data-label": "" }, el("button", { type: "button", class: "secondary", "aria-label": "Show the submission of " + when(s.created_at), onclick: () => open(s.id) }, "Show"))));
    $("history").tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "Nothing handed in yet."))]));
  }

  // --- grading status and the API token -------------------------------------------------------------------
  async function loadStatus() {
    let status;
    try { status = await api("/api/v1/status"); } catch { return; }
    const banner = $("status-banner");
    banner.textContent = status.grading === "ok" ? "" : (status.grading === "paused" ? "Grading is paused. " : "Grading is delayed. ") + (status.message || "");
    banner.hidden = status.grading === "ok";
  }

  function showTokens(me) {
    const tokens = me.tokens || [];
    $("token-now").textContent = tokens.length ? "Your token starts " + tokens.map((t) => t.prefix + "…").join(", ") +
      (tokens[0].last_used_at ? "; last used " + when(tokens[0].last_used_at) : "; never used") + "." : "You have no API token.";
  }

  $("rotate-token").addEventListener("click", async () => {
    if (!confirm("Make a new API token? Your older tokens stop working.")) return;
    let made;
    try { made = await api("/api/v1/me/token", { method: "POST" }); } catch (error) { say(error.message, true); return; }
    const field = el("input", { type: "text", readonly: true, value: made.token, id: "token-value", "aria-label": "Your new API token" });
    $("new-token").replaceChildren(el("p", {}, el("strong", {}, "Copy it now: it is shown only once.")),
      el("div", { class: "copy-row" }, field, G.copyButton(made.token, "Copy the new token", field)),
      el("p", { class: "muted" }, "Use it as: curl -H \"Authorization: Bearer " + made.prefix + "…\" " + location.origin + "/api/v1/submissions"));
    $("new-token").hidden = false;
    $("token-now").textContent = "Your token starts " + made.prefix + "…; older tokens no longer work.";
  });

  G.start((me) => {
    showTokens(me);
    loadStatus();
    loadAssignments();
    loadHistory();
    const wanted = new URLSearchParams(location.search).get("submission") || location.hash.slice(1);
    if (wanted) open(wanted);
  });
})();
