// Instructor page, part 4: the course's LMS panel (docs/pages.md "LMS panel"; the routes: docs/lms.md). Webhook
// endpoints (add: the secret shown once; status; deliveries with every attempt; redeliver; delete) and LTI 1.3
// (what the LMS admin pastes, from GET /lti/config; registering a platform; the roster sync). Instructors change,
// TAs read: the controls are not drawn for a TA (the API refuses them anyway). Everything the API sends is set
// as text (Grader.el), never as HTML, and no URL from it becomes a link.
"use strict";
(() => {
  const { api, say, el, when } = Grader;
  const $ = (id) => document.getElementById(id);
  const EVENTS = ["submission.graded", "submission.failed", "grade.changed"];
  const SHOWN_DELIVERIES = 10; // of the API's latest 100, until "Show all"
  let drawnFor = null;

  const mayChange = () => Dash.canAdminister();
  const hooks = () => Dash.base() + "/webhooks";

  // A field's refusal in words beside it (aria-describedby), or cleared.
  function fieldError(id, text) {
    const input = $(id), box = $(id + "-error");
    box.textContent = text || "";
    box.hidden = !text;
    if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
  }

  const errorBox = (id) => el("p", { id: id + "-error", class: "field-error", hidden: true });

  // One labelled field of a form-grid: label, input, its error line (spanning the row).
  function field(id, label, attrs) {
    return [el("label", { for: id }, label), el(attrs.multiline ? "textarea" : "input", Object.assign({ id, "aria-describedby": id + "-error" },
      attrs.multiline ? { rows: 3, required: true, maxlength: attrs.maxlength } : attrs)), errorBox(id)];
  }

  // A read-only value with its copy button.
  function copyable(id, label, value, multiline) {
    const box = multiline ? el("textarea", { id, readonly: true, wrap: "off", rows: String(value.split("\n").length + 1), class: "mono" }, value)
      : el("input", { id, type: "text", readonly: true, value, class: "mono" });
    return [el("label", { for: id }, label), el("div", { class: "copy-row" }, box, Grader.copyButton(value, "Copy the " + label, box))];
  }

  // --- webhooks -------------------------------------------------------------------------------------------
  function webhookSection() {
    const parts = [el("h3", { id: "hooks-title" }, "Webhooks"),
      el("p", { class: "muted" }, "Each grade event is POSTed to these URLs, signed with the endpoint's secret (Standard Webhooks).")];
    if (mayChange()) {
      parts.push(el("form", { id: "hook-form", class: "form-grid", "aria-labelledby": "hook-form-title", novalidate: true, onsubmit: addHook },
        el("h4", { id: "hook-form-title" }, "Add an endpoint"),
        field("hook-url", "Receiver URL", { type: "url", required: true, placeholder: "https://lms.example.edu/hook", maxlength: 2000 }),
        el("fieldset", { id: "hook-events", class: "events", "aria-describedby": "hook-events-error" }, el("legend", {}, "Events"),
          EVENTS.map((kind) => el("label", { class: "check" }, el("input", { type: "checkbox", name: "hook-event", value: kind, checked: true }), " " + kind))),
        errorBox("hook-events"),
        el("button", { type: "submit" }, "Add endpoint")));
    } else {
      parts.push(el("p", { class: "muted", id: "lms-read-only" }, "You are a TA in this course: you see its LMS connections; its instructors change them."));
    }
    parts.push(el("div", { id: "hook-secret" }), el("div", { id: "hook-list" }));
    return el("section", { class: "lms-part", "aria-labelledby": "hooks-title" }, parts);
  }

  async function addHook(e) {
    e.preventDefault();
    fieldError("hook-url", "");
    fieldError("hook-events", "");
    const events = [...document.querySelectorAll('input[name="hook-event"]:checked')].map((c) => c.value);
    if (!events.length) { fieldError("hook-events", "Choose at least one event to send."); return; }
    let made;
    try { made = await api(hooks(), { method: "POST", json: { url: $("hook-url").value.trim(), events } }); }
    catch (error) {
      const words = readable(error.message);
      if (error.status !== 400 && error.status !== 422) say(error.message, true); // not about the input
      else if (/^events/.test(words)) fieldError("hook-events", words);
      else { fieldError("hook-url", words); $("hook-url").focus(); }
      return;
    }
    $("hook-form").reset();
    showSecret(made);
    loadHooks();
  }

  // The secret exists in the page only here, until dismissed: the API never shows it again.
  function showSecret(made) {
    const input = el("input", { id: "hook-secret-value", type: "text", readonly: true, value: made.secret, class: "mono" });
    $("hook-secret").replaceChildren(el("div", { class: "secret-once", role: "group", "aria-labelledby": "hook-secret-title" },
      el("h4", { id: "hook-secret-title" }, "Secret of the new endpoint"),
      el("p", {}, "Give it to the receiver of ", el("span", { class: "wrap" }, made.url),
        " to check signatures with. ", el("strong", {}, "It will not be shown again:"), " copy it now. (To replace it, delete the endpoint and add it again.)"),
      el("div", { class: "copy-row" }, el("label", { for: "hook-secret-value", class: "visually-hidden" }, "Secret"), input,
        Grader.copyButton(made.secret, "Copy the secret", input)),
      el("button", { type: "button", class: "secondary", onclick: () => { $("hook-secret").replaceChildren(); $("hook-url").focus(); } }, "I have copied it")));
    input.focus();
    input.select();
  }

  async function loadHooks() {
    let list;
    try { list = await api(hooks()); } catch (error) { $("hook-list").replaceChildren(el("p", { class: "bad" }, "Could not list the webhooks: " + error.message)); return; }
    $("hook-list").replaceChildren(list.length ? el("ul", { class: "lms-list", "aria-label": "Webhook endpoints" }, list.map(endpointItem))
      : el("p", { class: "muted" }, "No webhook endpoint yet."));
  }

  function endpointItem(hook) {
    const active = hook.status === "active";
    const status = active ? el("span", { class: "status-ok" }, "active")
      : el("span", { class: "status-bad" }, "disabled" + (hook.disabled_at ? " since " + when(hook.disabled_at) : "") + (hook.disabled_reason ? ": " + hook.disabled_reason : ""));
    const deliveries = el("div", { class: "deliveries" });
    const details = el("details", { ontoggle: () => { if (details.open) loadDeliveries(hook, deliveries, SHOWN_DELIVERIES); } },
      el("summary", {}, "Latest deliveries"), deliveries);
    const confirmBox = mayChange() ? el("div", { class: "confirm", role: "group", "aria-label": "Confirm deleting " + hook.url }) : null;
    const item = el("li", { class: "card-inner lms-endpoint", "data-id": hook.id },
      el("h4", { class: "wrap" }, hook.url),
      el("p", { class: "small" }, "Status: ", status, " · events: " + (hook.events || []).join(", ") + " · added " + when(hook.created_at)),
      active ? null : el("p", { class: "muted small" }, "Nothing is sent to it any more, redeliveries neither: add its URL again to resume (a new endpoint, a new secret)."),
      mayChange() ? el("button", { type: "button", class: "secondary", "aria-label": "Delete the endpoint " + hook.url,
        onclick: () => askDelete(hook, confirmBox) }, "Delete") : null,
      confirmBox, details);
    return item;
  }

  function askDelete(hook, box) {
    const no = el("button", { type: "button", class: "secondary", onclick: () => box.replaceChildren() }, "Cancel");
    box.replaceChildren(el("p", {}, "Delete ", el("span", { class: "wrap" }, hook.url), " and its delivery log? Nothing more is sent there."),
      el("button", { type: "button", class: "danger", onclick: () => removeHook(hook) }, "Yes, delete it"), " ", no);
    no.focus();
  }

  async function removeHook(hook) {
    try { await api(hooks() + "/" + encodeURIComponent(hook.id), { method: "DELETE" }); } catch (error) { say(error.message, true); return; }
    say("Webhook endpoint " + hook.url + " deleted.");
    loadHooks();
  }

  async function loadDeliveries(hook, box, limit) {
    let list;
    try { list = await api(hooks() + "/" + encodeURIComponent(hook.id) + "/deliveries"); }
    catch (error) { box.replaceChildren(el("p", { class: "bad" }, "Could not list the deliveries: " + error.message)); return; }
    if (!list.length) { box.replaceChildren(el("p", { class: "muted" }, "Nothing sent yet: a delivery is made when a grade event happens.")); return; }
    const shown = list.slice(0, limit);
    // One table for the endpoint: a row group per delivery (its event, state and button), a row per attempt.
    box.replaceChildren(...[el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Deliveries to " + hook.url + " (scrolls sideways)" },
      el("table", { class: "grid attempts" }, el("thead", {}, el("tr", {}, ["Time", "Status", "Latency", "Response (first 1 KB)", "Error"].map((h) => el("th", { scope: "col" }, h)))),
        shown.map((d) => deliveryRows(hook, d, box)))),
    list.length > shown.length ? el("button", { type: "button", class: "secondary", onclick: () => loadDeliveries(hook, box, list.length) },
      "Show all " + list.length + " deliveries") : null].filter(Boolean));
  }

  function deliveryRows(hook, d, box) {
    const head = [el("strong", {}, d.event), " · ", el("span", { class: "state-" + d.state }, d.state), " · " + d.tries + (d.tries === 1 ? " try" : " tries"),
      " · made " + when(d.created_at), d.delivered_at ? " · delivered " + when(d.delivered_at) : null,
      d.state === "pending" && d.next_attempt_at ? " · next try " + when(d.next_attempt_at) : null];
    const redeliver = mayChange() ? el("button", { type: "button", class: "secondary", disabled: hook.status !== "active",
      title: hook.status !== "active" ? "The endpoint is disabled: add its URL again to send to it" : null,
      "aria-label": "Redeliver " + d.event + " delivery " + d.id, onclick: () => redeliverOne(hook, d, box) }, "Redeliver") : null;
    const attempts = d.attempts.length ? d.attempts.map((a) => el("tr", { class: "attempt" },
      el("td", {}, when(a.at)),
      el("td", { class: "num" + (a.status_code >= 200 && a.status_code < 300 ? "" : " bad") }, a.status_code === null || a.status_code === undefined ? "–" : String(a.status_code)),
      el("td", { class: "num" }, a.latency_ms === null || a.latency_ms === undefined ? "–" : a.latency_ms + " ms"),
      el("td", {}, a.response_excerpt ? el("pre", { class: "excerpt" }, a.response_excerpt) : "–"),
      el("td", {}, a.error || "–"))) : [el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No attempt yet."))];
    return el("tbody", { class: "delivery" }, el("tr", { class: "delivery-head" }, el("th", { colspan: 5, scope: "rowgroup" }, head, " ", redeliver)), attempts);
  }

  async function redeliverOne(hook, d, box) {
    try { await api("/api/v1/instructor/webhook-deliveries/" + encodeURIComponent(d.id) + "/redeliver", { method: "POST" }); }
    catch (error) { say(error.message, true); return; }
    say("The " + d.event + " event goes to " + hook.url + " again now (the same webhook-id).");
    loadDeliveries(hook, box, SHOWN_DELIVERIES);
  }

  // --- LTI 1.3 --------------------------------------------------------------------------------------------
  const LTI_FIELDS = [
    ["issuer", "Issuer", "https://canvas.instructure.com", 500],
    ["client_id", "Client id", "10000000000042", 255],
    ["deployment_ids", "Deployment ids (one per line)", null, 12800],
    ["jwks_url", "Platform JWKS URL", "https://sso.canvaslms.com/api/lti/security/jwks", 1000],
    ["auth_url", "Auth (OIDC) URL", "https://sso.canvaslms.com/api/lti/authorize_redirect", 1000],
    ["token_url", "Token URL", "https://sso.canvaslms.com/login/oauth2/token", 1000]];
  const ltiId = (name) => "lti-" + name.replace("_", "-");

  function ltiSection() {
    const admin = el("div", {}, el("h4", {}, "For the LMS administrator"),
      el("p", { class: "muted" }, "Paste these into the LMS when adding the tool (Canvas: Developer Keys → LTI key; Moodle: External tool → LTI 1.3)."),
      el("div", { id: "lti-config", class: "form-grid" }, el("p", { class: "muted" }, "Loading…")));
    const parts = [el("h3", { id: "lti-title" }, "LTI 1.3")];
    const pair = el("div", { class: "columns" }, admin);
    parts.push(pair);
    if (mayChange()) {
      pair.append(el("form", { id: "lti-form", class: "form-grid", "aria-labelledby": "lti-form-title", novalidate: true, onsubmit: register },
        el("h4", { id: "lti-form-title" }, "Register the LMS for this course"),
        el("p", { class: "muted" }, "The LMS shows these once the tool is added. Its launches then land in this course."),
        LTI_FIELDS.map(([name, label, example, max]) => field(ltiId(name), label, name === "deployment_ids" ? { multiline: true, maxlength: max }
          : { type: name.endsWith("_url") ? "url" : "text", required: true, placeholder: example, maxlength: max })),
        el("p", { id: "lti-form-error", class: "field-error", hidden: true }),
        el("button", { type: "submit" }, "Register platform")));
    }
    parts.push(el("h4", {}, "Registered platforms"), el("div", { id: "lti-platforms" }));
    parts.push(el("h4", {}, "Roster"), mayChange()
      ? el("div", {}, el("button", { type: "button", id: "roster-sync", onclick: syncRoster }, "Sync roster from the LMS"), el("div", { id: "roster-sync-result", role: "status" }))
      : el("p", { class: "muted" }, "An instructor syncs the roster from the LMS."));
    return el("section", { class: "lms-part", "aria-labelledby": "lti-title" }, parts);
  }

  async function loadConfig() {
    let c;
    try { c = await api("/lti/config"); } catch (error) { $("lti-config").replaceChildren(el("p", { class: "bad" }, "Could not load the tool's settings: " + error.message)); return; }
    $("lti-config").replaceChildren(...[
      copyable("lti-cfg-login-url", "Login URL (OIDC initiation)", c.login_url),
      copyable("lti-cfg-launch-url", "Launch / target link URL", c.launch_url),
      copyable("lti-cfg-redirect-uris", "Redirect URIs", (c.redirect_uris || []).join("\n"), (c.redirect_uris || []).length > 1),
      copyable("lti-cfg-jwks-url", "Public JWKS URL", c.jwks_url),
      copyable("lti-cfg-scopes", "Scopes", (c.scopes || []).join("\n"), true),
      copyable("lti-cfg-custom", "Custom parameters", "course=" + Dash.course(), false),
      el("p", { class: "muted small" }, "Add assignment=SLUG to a link's custom parameters to send its grades to that LMS column. " + (c.iframe || ""))].flat());
  }

  async function loadPlatforms() {
    let list;
    try { list = (await api(Dash.base() + "/lti/platforms")).platforms; }
    catch (error) { $("lti-platforms").replaceChildren(el("p", { class: "bad" }, "Could not list the platforms: " + error.message)); return; }
    $("lti-platforms").replaceChildren(list.length ? el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Registered platforms (scrolls sideways)" },
      el("table", { class: "grid", id: "lti-platform-table" }, el("thead", {}, el("tr", {}, ["Issuer", "Client id", "Deployments", "Endpoints"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, list.map((p) => el("tr", {}, el("th", { scope: "row", class: "wrap" }, p.issuer), el("td", { class: "wrap" }, p.client_id),
          el("td", { class: "wrap" }, (p.deployment_ids || []).join(", ")),
          el("td", {}, el("dl", { class: "facts small" }, el("dt", {}, "JWKS"), el("dd", { class: "wrap" }, p.jwks_url),
            el("dt", {}, "Auth"), el("dd", { class: "wrap" }, p.auth_url), el("dt", {}, "Token"), el("dd", { class: "wrap" }, p.token_url))))))))
      : el("p", { class: "muted" }, "No LMS registered for this course."));
  }

  // Which field an API refusal is about: the service names it in words (grader/lms/lti/platforms.py), the
  // request validation (422) by its key.
  function refusedField(message) {
    if (/registered already/.test(message)) return "issuer";
    const key = /"loc":\["body","(\w+)"/.exec(message);
    if (key && LTI_FIELDS.some(([name]) => name === key[1])) return key[1];
    const words = [[/^the issuer/, "issuer"], [/^the client id/, "client_id"], [/deployment id/, "deployment_ids"],
      [/^the JWKS URL/, "jwks_url"], [/^the auth/, "auth_url"], [/^the token URL/, "token_url"]];
    const hit = words.find(([pattern]) => pattern.test(message));
    return hit ? hit[1] : null;
  }

  function readable(message) { // a 422's JSON list reads as its first message; the HTTP status is left out
    const m = /"msg":"([^"]*)"/.exec(message);
    return (m ? m[1] : message).replace(/ \(HTTP \d+\)$/, "");
  }

  async function register(e) {
    e.preventDefault();
    LTI_FIELDS.forEach(([name]) => fieldError(ltiId(name), ""));
    fieldError("lti-form", "");
    const body = {};
    for (const [name] of LTI_FIELDS) body[name] = $(ltiId(name)).value.trim();
    body.deployment_ids = body.deployment_ids.split("\n").map((d) => d.trim()).filter(Boolean);
    if (!body.deployment_ids.length) { fieldError(ltiId("deployment_ids"), "At least one deployment id: the LMS shows it on the tool's page."); $(ltiId("deployment_ids")).focus(); return; }
    let made;
    try { made = await api(Dash.base() + "/lti/platforms", { method: "POST", json: body }); }
    catch (error) {
      const name = [400, 409, 422].includes(error.status) ? refusedField(error.message) : null;
      if (name) { fieldError(ltiId(name), readable(error.message)); $(ltiId(name)).focus(); } else fieldError("lti-form", readable(error.message));
      return;
    }
    $("lti-form").reset();
    say("Registered " + made.issuer + " (client id " + made.client_id + ") for this course.");
    loadPlatforms();
  }

  async function syncRoster() {
    const button = $("roster-sync"), box = $("roster-sync-result");
    button.disabled = true;
    box.replaceChildren(el("p", {}, "Fetching the roster from the LMS…"));
    let r;
    try { r = await api(Dash.base() + "/lti/roster-sync", { method: "POST" }); }
    catch (error) { box.replaceChildren(el("p", { class: "bad" }, "Not synced: " + readable(error.message))); button.disabled = false; return; }
    const skipped = r.skipped || [];
    box.replaceChildren(el("p", {}, r.enrolled + " enrolled, " + r.dropped + " dropped, " + skipped.length + " skipped."),
      skipped.length ? el("ul", { class: "skipped", "aria-label": "Skipped members" }, skipped.map((s) => el("li", {}, s))) : null);
    button.disabled = false;
    Dash.refresh();
  }

  // --- the panel, drawn again when the course (or the reader's role in it) changes ---------------------------
  function draw() {
    const key = Dash.course() + ":" + mayChange();
    if (!Dash.course() || key === drawnFor) return;
    drawnFor = key;
    $("lms-body").replaceChildren(webhookSection(), ltiSection());
    loadHooks();
    loadConfig();
    loadPlatforms();
  }

  Dash.onRefresh(draw);
})();
