"""Scoring is rubric arithmetic: full points for a pass, none otherwise, grouped by priority and suite."""

from pathlib import Path

import pytest

from capstone_tests.rubric import RubricError, SuiteRubric, TestPoints, load_rubric
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
                      "19_benchmarking": (1, 1, "19_benchmarking (not counted toward the grade)")}
    assert [t.points for t in sheet.tests] == [20, 0, 5, 1]


def test_a_test_without_verdict_scores_nothing() -> None:
    sheet = score({}, _rubrics(), ["capstone"])
    assert sheet.score == 0 and sheet.max_score == 30
    assert {t.outcome for t in sheet.tests} == {"error"}


def test_only_passed_earns_points() -> None:
    for outcome in ("failed", "error", "timeout", "skipped"):
        verdicts = {("capstone", name): Verdict(outcome) for name in ("test_a", "test_b", "test_c")}  # type: ignore[arg-type]
        assert score(verdicts, _rubrics(), ["capstone"]).score == 0


def test_an_uncounted_suite_says_so_and_a_counted_one_does_not() -> None:
    sheet = score({}, _rubrics(), ["capstone", "19_benchmarking"])
    shown = {g.key: (g.name, g.counts) for g in sheet.groups}
    assert shown["19_benchmarking"] == ("19_benchmarking (not counted toward the grade)", False)
    assert shown["capstone:P1"] == ("End-to-end", True)
    assert [t.counts for t in sheet.tests] == [True, True, True, False]


def _with_extra(counted: bool) -> dict[str, SuiteRubric]:
    tests = (TestPoints("02_activations", "test_core", 1, None, None, "visible"),
             TestPoints("02_activations", "test_extra", 1, None, None, "visible", extra=True, counted=counted))
    return {"02_activations": SuiteRubric("02_activations", True, tests)}


def test_an_extra_is_shown_but_not_counted_by_default() -> None:
    verdicts = {("02_activations", "test_core"): Verdict("passed"), ("02_activations", "test_extra"): Verdict("failed")}
    sheet = score(verdicts, _with_extra(counted=False), ["02_activations"])
    assert (sheet.score, sheet.max_score) == (1, 1)
    assert [(g.score, g.max_score, g.name) for g in sheet.groups] == [(1, 1, "02_activations")]
    extra = sheet.tests[1]
    assert (extra.name, extra.outcome, extra.points, extra.max_points, extra.counts) == ("test_extra", "failed", 0, 1,
                                                                                        False)
    # A passed extra earns its points on the test's line and still adds nothing to the grade.
    passed = score({**verdicts, ("02_activations", "test_extra"): Verdict("passed")}, _with_extra(counted=False),
                   ["02_activations"])
    assert (passed.score, passed.max_score, passed.tests[1].points) == (1, 1, 1)


def test_an_instructor_may_count_the_extras() -> None:
    verdicts = {("02_activations", "test_core"): Verdict("passed"), ("02_activations", "test_extra"): Verdict("failed")}
    sheet = score(verdicts, _with_extra(counted=True), ["02_activations"])
    assert (sheet.score, sheet.max_score) == (1, 2)
    assert sheet.tests[1].counts


def test_the_shipped_rubric_counts_no_gradient_the_course_never_assigns() -> None:
    rubrics = load_rubric()
    extras = {(suite, t.name) for suite, r in rubrics.items() for t in r.tests if t.extra}
    assert extras == {("02_activations", "test_tanh_gradient"), ("09_spatial", "test_avgpool2d_gradient")}
    assert not any(t.counted for suite, r in rubrics.items() for t in r.tests if t.extra)
    # Everything else counts, and the maximum of a suite leaves its extras out.
    activations = rubrics["02_activations"]
    assert activations.max_points == len(activations.tests) - 1


def test_a_rubric_whose_extras_name_no_test_is_refused(tmp_path: Path) -> None:
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('[suites.02_activations]\npoints_per_test = 1\nextras = ["test_no_such_test"]\n')
    with pytest.raises(RubricError, match="extras"):
        load_rubric(rubric)
    rubric.write_text('[suites.02_activations]\npoints_per_test = 1\nextras = ["test_tanh_gradient"]\n'
                      'count_extras = true\n')
    assert all(t.counted for t in load_rubric(rubric)["02_activations"].tests)
