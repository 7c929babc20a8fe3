"""Scoring is rubric arithmetic: full points for a pass, none otherwise, grouped by priority and suite."""

from capstone_tests.rubric import SuiteRubric, TestPoints
from capstone_tests.verdict import Verdict
from grader.scoring import score


def _rubrics() -> dict[str, SuiteRubric]:
    capstone = SuiteRubric("capstone", True, (
        TestPoints("capstone", "test_a", 20, 1, "End-to-end", "visible"),
        TestPoints("capstone", "test_b", 5, 2, "Architectures", "visible"),
        TestPoints("capstone", "test_c", 5, 2, "Architectures", "hidden"),
    ))
    module = SuiteRubric("19_benchmarking", False, (TestPoints("19_benchmarking", "test_x", 1, None, None, "visible"),))
    return {"capstone": capstone, "19_benchmarking": module}


def test_points_priorities_and_total() -> None:
    verdicts = {("capstone", "test_a"): Verdict("passed"), ("capstone", "test_b"): Verdict("failed", "no"),
                ("capstone", "test_c"): Verdict("passed"), ("19_benchmarking", "test_x"): Verdict("passed")}
    sheet = score(verdicts, _rubrics(), ["capstone", "19_benchmarking"])
    assert (sheet.score, sheet.max_score) == (25, 30)  # the uncounted suite adds nothing
    groups = {g.key: (g.score, g.max_score, g.name) for g in sheet.groups}
    assert groups == {"capstone:P1": (20, 20, "End-to-end"), "capstone:P2": (5, 10, "Architectures"),
                      "19_benchmarking": (1, 1, "19_benchmarking")}
    assert [t.points for t in sheet.tests] == [20, 0, 5, 1]


def test_a_test_without_verdict_scores_nothing() -> None:
    sheet = score({}, _rubrics(), ["capstone"])
    assert sheet.score == 0 and sheet.max_score == 30
    assert {t.outcome for t in sheet.tests} == {"error"}


def test_only_passed_earns_points() -> None:
    for outcome in ("failed", "error", "timeout", "skipped"):
        verdicts = {("capstone", name): Verdict(outcome) for name in ("test_a", "test_b", "test_c")}  # type: ignore[arg-type]
        assert score(verdicts, _rubrics(), ["capstone"]).score == 0
