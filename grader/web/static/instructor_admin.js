// Instructor page, part 3: running the course: create a course, create and edit assignments, the roster
// (add, drop, import, sign-in links) and extensions.
"use strict";
(() => {
  const G = Grader;
  const { api, say, el, when } = G;
  const $ = (id) => document.getElementById(id);
  const SUITES = ($("dash").dataset.suites || "").split(",").filter(Boolean);
  let editing = null; // the slug of the assignment in the form, or null for a new one
  let roster = [];

  // --- times: a wall-clock time in a zone, as ISO 8601 with that zone's offset at that moment --------------
  function offsetMinutes(zone, utcMillis) {
    if (/^[+-]\d\d:\d\d$/.test(zone)) return (zone[0] === "-" ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(utcMillis)).map((p) => [p.type, p.value]));
    const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
    return Math.round((asUtc - utcMillis) / 60000);
  }

  function zonedIso(local, zone) {
    if (!local) return null;
    const [d, t] = local.split("T");
    const wall = Date.UTC(+d.slice(0, 4), +d.slice(5, 7) - 1, +d.slice(8, 10), +t.slice(0, 2), +t.slice(3, 5));
    let offset = offsetMinutes(zone, wall);
    offset = offsetMinutes(zone, wall - offset * 60000); // again at the true instant (a DST change in between)
    const sign = offset < 0 ? "-" : "+", abs = Math.abs(offset);
    return d + "T" + t.slice(0, 5) + ":00" + sign + String(Math.floor(abs / 60)).padStart(2, "0") + ":" + String(abs % 60).padStart(2, "0");
  }

  const localPart = (iso) => (iso ? iso.slice(0, 16) : ""); // the wall-clock time as given in its zone

  // --- courses --------------------------------------------------------------------------------------------
  $("course-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const slug = $("course-slug").value.trim();
    try { await api("/api/v1/instructor/courses", { method: "POST", json: { slug, name: $("course-name").value.trim() } }); }
    catch (error) { say(error.message, true); return; }
    say("Course " + slug + " created.");
    $("course-form").reset();
    $("new-course").open = false;
    await Dash.loadCourses(slug);
  });

  // --- assignments ----------------------------------------------------------------------------------------
  function fillZones() {
    const own = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [own, "UTC"];
    const all = [...new Set([own, "UTC", ...zones])];
    $("a-zone").replaceChildren(...all.map((z) => el("option", { value: z }, z)));
    $("a-zone").value = own;
    $("a-suites").replaceChildren(...SUITES.map((s) => el("option", { value: s, selected: s === "capstone" }, s)));
  }

  function drawAssignments() {
    const list = Dash.assignments();
    $("assignment-list").replaceChildren(list.length ? el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Assignments (scrolls sideways)" }, el("table", { class: "grid", id: "assignment-table" },
      el("thead", {}, el("tr", {}, ["Assignment", "Suites", "Due", "Late work", "Counts", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, list.map((a) => el("tr", {}, el("th", { scope: "row" }, a.title, el("span", { class: "muted small block" }, a.slug + (a.archived ? " (archived)" : ""))),
        el("td", {}, (a.suites || []).join(", ")), el("td", {}, G.dueText(a.due_at, a.due_time_zone)),
        el("td", {}, G.latePolicyText(a.late_policy)), el("td", {}, a.score_policy || "best"),
        el("td", {}, Dash.canAdminister() ? el("button", { type: "button", class: "secondary", "aria-label": "Edit " + a.title, onclick: () => edit(a) }, "Edit") : null))))))
      : el("p", { class: "muted" }, "No assignment yet."));
    $("assignment-editor").hidden = !Dash.canAdminister();
    fillExtensionChoices();
  }

  function edit(a) {
    editing = a ? a.slug : null;
    $("assignment-form").reset();
    $("a-slug").disabled = !!a;
    if (a) {
      $("a-slug").value = a.slug;
      $("a-title").value = a.title;
      for (const o of $("a-suites").options) o.selected = (a.suites || []).includes(o.value);
      $("a-opens").value = localPart(a.opens_at);
      $("a-due").value = localPart(a.due_at);
      if (a.due_time_zone) {
        if (![...$("a-zone").options].some((o) => o.value === a.due_time_zone)) $("a-zone").append(el("option", { value: a.due_time_zone }, a.due_time_zone));
        $("a-zone").value = a.due_time_zone;
      }
      const p = a.late_policy || {};
      $("a-penalty").value = p.penalty_per_day ? String(Math.round(p.penalty_per_day * 10000) / 100) : "0";
      $("a-maxdays").value = p.max_late_days === null || p.max_late_days === undefined ? "" : p.max_late_days;
      $("a-policy").value = a.score_policy || "best";
      $("a-limit").value = a.max_submissions_per_hour || "";
    }
    $("assignment-editor-title").textContent = a ? "Edit " + a.title : "Create an assignment";
    $("a-save").textContent = a ? "Save changes" : "Create assignment";
    $("assignment-editor").open = true;
    (a ? $("a-title") : $("a-slug")).focus();
  }

  $("a-new").addEventListener("click", () => edit(null));

  $("assignment-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const zone = $("a-zone").value;
    const body = {
      title: $("a-title").value.trim(),
      suites: [...$("a-suites").selectedOptions].map((o) => o.value),
      opens_at: zonedIso($("a-opens").value, zone),
      due_at: zonedIso($("a-due").value, zone),
      due_time_zone: zone,
      late_policy: { penalty_per_day: Number($("a-penalty").value || 0) / 100,
        max_late_days: $("a-maxdays").value === "" ? null : Number($("a-maxdays").value) },
      score_policy: $("a-policy").value,
      max_submissions_per_hour: $("a-limit").value === "" ? null : Number($("a-limit").value),
    };
    if (!body.suites.length) { say("Choose at least one suite.", true); $("a-suites").focus(); return; }
    const base = Dash.base() + "/assignments";
    try {
      if (editing) await api(base + "/" + encodeURIComponent(editing), { method: "PATCH", json: body });
      else await api(base, { method: "POST", json: Object.assign({ slug: $("a-slug").value.trim() }, body) });
    } catch (error) { say(error.message, true); return; }
    say((editing ? "Saved " : "Created ") + body.title + ".");
    const slug = editing || $("a-slug").value.trim();
    $("assignment-editor").open = false;
    editing = null;
    await Dash.loadCourses(Dash.course());
    Dash.fillAssignments(slug);
  });

  // --- roster ---------------------------------------------------------------------------------------------
  async function loadRoster() {
    try { roster = (await api(Dash.base() + "/roster")).members || []; } catch (error) { say(error.message, true); return; }
    $("roster").tBodies[0].replaceChildren(...roster.map((m) => el("tr", { class: m.dropped ? "dropped" : null },
      el("th", { scope: "row" }, m.name || m.email, m.name ? el("span", { class: "muted small block" }, m.email) : null),
      el("td", {}, m.dropped ? "dropped" : m.role), el("td", {}, m.section || "–"), el("td", {}, when(m.last_submission_at)),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "secondary", "aria-label": "Copy a sign-in link for " + m.email, onclick: () => signInLink(m) }, "Sign-in link"), " ",
        Dash.canAdminister() ? el("button", { type: "button", class: "secondary", "aria-label": (m.dropped ? "Enroll again " : "Drop ") + m.email,
          onclick: () => setDropped(m, !m.dropped) }, m.dropped ? "Enroll again" : "Drop") : null))));
    if (!roster.length) $("roster").tBodies[0].append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "Nobody enrolled yet.")));
    fillExtensionChoices();
  }

  async function signInLink(m) {
    let link;
    try { link = await api(Dash.base() + "/roster/" + encodeURIComponent(m.user_id) + "/sign-in-link", { method: "POST" }); } catch (error) { say(error.message, true); return; }
    const field = el("input", { type: "text", readonly: true, value: link.url, id: "sign-in-url", "aria-label": "Sign-in link for " + m.email });
    $("sign-in-link").replaceChildren(el("p", {}, "Sign-in link for " + m.email + " (works once, until " + when(link.expires_at) + "):"),
      el("div", { class: "copy-row" }, field, G.copyButton(link.url, "Copy the sign-in link", field)));
    try { await navigator.clipboard.writeText(link.url); } catch { /* the copy button is there */ }
  }

  async function setDropped(m, dropped) {
    if (dropped && !confirm("Drop " + m.email + " from the course?")) return;
    try { await api(Dash.base() + "/roster/" + encodeURIComponent(m.user_id), { method: "PATCH", json: { dropped } }); } catch (error) { say(error.message, true); return; }
    say((dropped ? "Dropped " : "Enrolled again: ") + m.email + ".");
    loadRoster();
    Dash.refresh();
  }

  $("add-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { email: $("add-email").value.trim(), role: $("add-role").value };
    if ($("add-name").value.trim()) body.name = $("add-name").value.trim();
    if ($("add-section").value.trim()) body.section = $("add-section").value.trim();
    try { await api(Dash.base() + "/roster", { method: "POST", json: body }); } catch (error) { say(error.message, true); return; }
    say("Added " + body.email + ".");
    $("add-form").reset();
    loadRoster();
    Dash.refresh();
  });

  $("import-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData();
    form.append("file", $("import-file").files[0]);
    form.append("format", $("import-format").value);
    let result;
    try { result = await api(Dash.base() + "/roster/import", { method: "POST", body: form }); } catch (error) { say(error.message, true); return; }
    const skipped = result.skipped || [];
    $("import-result").replaceChildren(el("p", {}, result.added + " added, " + result.updated + " updated, " + skipped.length + " skipped."),
      skipped.length ? el("ul", { class: "skipped" }, skipped.map((s) => el("li", {}, "line " + s.line + ": " + s.reason))) : "");
    loadRoster();
    Dash.refresh();
  });

  // --- extensions -----------------------------------------------------------------------------------------
  function fillExtensionChoices() {
    const students = roster.filter((m) => m.role === "student" && !m.dropped);
    const keep = [$("ext-student").value, $("ext-assignment").value];
    $("ext-student").replaceChildren(...students.map((m) => el("option", { value: m.user_id }, m.name ? m.name + " (" + m.email + ")" : m.email)));
    $("ext-assignment").replaceChildren(...Dash.assignments().map((a) => el("option", { value: a.slug }, a.title)));
    if (keep[0]) $("ext-student").value = keep[0];
    $("ext-assignment").value = keep[1] || Dash.assignment();
    loadExtensions();
  }

  async function loadExtensions() {
    const slug = $("ext-assignment").value;
    if (!slug) { $("extensions").replaceChildren(); return; }
    let list;
    try { list = await api(Dash.base() + "/assignments/" + encodeURIComponent(slug) + "/extensions"); } catch { $("extensions").replaceChildren(); return; }
    $("extensions").replaceChildren(list.length ? el("ul", { class: "extension-list", "aria-label": "Extensions" }, list.map((x) => el("li", {},
      x.email + ": due " + G.dueText(x.due_at, null) + (x.reason ? " (" + x.reason + ")" : "") + " ",
      el("button", { type: "button", class: "secondary", "aria-label": "Remove the extension of " + x.email, onclick: () => removeExtension(slug, x) }, "Remove"))))
      : el("p", { class: "muted" }, "No extension for this assignment."));
  }

  async function removeExtension(slug, x) {
    const url = Dash.base() + "/assignments/" + encodeURIComponent(slug) + "/extensions/" + encodeURIComponent(x.user_id);
    try { await api(url, { method: "DELETE" }); } catch (error) { say(error.message, true); return; }
    say("Extension of " + x.email + " removed: the assignment's due date applies again.");
    loadExtensions();
    Dash.refresh();
  }

  $("ext-assignment").addEventListener("change", loadExtensions);
  $("extension-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const a = Dash.assignments().find((x) => x.slug === $("ext-assignment").value);
    const zone = (a && a.due_time_zone) || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const body = { due_at: zonedIso($("ext-due").value, zone) };
    if ($("ext-reason").value.trim()) body.reason = $("ext-reason").value.trim();
    const url = Dash.base() + "/assignments/" + encodeURIComponent($("ext-assignment").value) + "/extensions/" + encodeURIComponent($("ext-student").value);
    try { await api(url, { method: "PUT", json: body }); } catch (error) { say(error.message, true); return; }
    say("Extension granted: due " + G.dueText(body.due_at, zone) + ".");
    loadExtensions();
    Dash.refresh();
  });

  fillZones();
  Dash.onRefresh(() => { drawAssignments(); });
  let rosterOf = null;
  Dash.onRefresh(() => { if (rosterOf !== Dash.course()) { rosterOf = Dash.course(); loadRoster(); } });
  Dash.zonedIso = zonedIso;
})();
