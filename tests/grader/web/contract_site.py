"""What the page tests against the contract app share: the running app, signing in, the checks every page
state must pass (no horizontal scroll at its width, no script error, no serious accessibility violation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

from tests.grader.web.contract_app import sign_in_cookie

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ADA = "tt_ada_secret"
TEACHER = "tt_teach_secret"


def open_page(browser: Browser, url: str, token: str | None,
              viewport: dict[str, int] = DESKTOP) -> tuple[Page, list[str]]:
    """A new browser context (its own cookie jar) signed in with `token` (None: signed out), at `url`."""
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    if token is not None:
        sign_in_cookie(page, url.split("/", 3)[0] + "//" + url.split("/", 3)[2], token)
    page.goto(url)
    return page, errors


def assert_no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert widths["scroll"] <= widths["inner"], widths


def axe_violations(page: Page, axe_script: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now (WCAG 2.x A and AA rules)."""
    page.add_script_tag(content=axe_script)
    result = page.evaluate("""async () => {
        const tags = ["wcag2a", "wcag2aa", "wcag21aa", "wcag22aa"];
        const r = await axe.run(document, {runOnly: {type: "tag", values: tags}});
        return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary)}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def shoot(page: Page, folder: Path, name: str) -> None:
    """A full-page screenshot at the page's own viewport."""
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def assert_accessible(page: Page, axe_script: str) -> None:
    """No serious or critical axe-core violation; the failure message lists each with its elements."""
    violations = axe_violations(page, axe_script)
    assert not violations, "\n".join(f"{v['id']} ({v['impact']}): {v['help']}\n  " + "\n  ".join(v["nodes"])
                                     for v in violations)
