"""judge() decides from the envelope alone; the probe's side can only supply facts, never a verdict."""

from typing import Any

import numpy as np
import pytest

from capstone_tests import artefacts as codec
from capstone_tests.checks import expect
from capstone_tests.harness import judge, make_challenge, run_probe
from capstone_tests.registry import GradedTest
from capstone_tests.resolver import REFERENCE, Resolver


def _doubling_check(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    got = expect.array(artefacts, "doubled", module=1)
    expect.close(got, np.arange(challenge["n"]) * 2.0, "doubled values", module=1)


def _test(check: Any = _doubling_check, measure: Any = None) -> GradedTest:
    return GradedTest("01_tensor", "test_doubling", None, check, lambda r: {"n": int(r.integers(2, 9))}, measure)


def _ok(value: dict[str, Any]) -> dict[str, Any]:
    return {"status": "ok", "artefacts": codec.encode(value)}


def test_challenge_depends_on_seed_and_test() -> None:
    test = _test()
    assert make_challenge(test, 1) == make_challenge(test, 1)
    assert make_challenge(test, 1)["seed"] != make_challenge(test, 2)["seed"]


def test_correct_artefacts_pass_and_wrong_ones_fail_with_evidence() -> None:
    challenge = {"seed": 0, "n": 4}
    assert judge(_test(), challenge, _ok({"doubled": np.arange(4) * 2.0})).outcome == "passed"
    verdict = judge(_test(), challenge, _ok({"doubled": np.arange(4) * 3.0}))
    assert verdict.outcome == "failed" and verdict.module == 1
    assert "doubled values is wrong" in verdict.message and verdict.evidence["expected"] == [0, 2, 4, 6]


def test_a_probe_claiming_success_gains_nothing() -> None:
    forged = _ok({"passed": True, "outcome": "passed", "verdict": "passed"})
    assert judge(_test(), {"seed": 0, "n": 4}, forged).outcome == "failed"


def test_missing_module_becomes_failed_with_its_number() -> None:
    envelope = {"status": "missing", "module": 9, "message": "module 09 (spatial) not found: No module named x"}
    verdict = judge(_test(), {"seed": 0, "n": 4}, envelope)
    assert (verdict.outcome, verdict.module) == ("failed", 9)
    assert verdict.message.startswith("module 09 (spatial) not found")


def test_exception_blames_the_students_deepest_frame() -> None:
    envelope = {"status": "exception", "type": "TypeError", "message": "unsupported operand",
                "traceback": [{"file": "/sub/tinytorch/core/training.py", "line": 3, "function": "f", "code": ""},
                              {"file": "/sub/tinytorch/core/optimizers.py", "line": 9, "function": "step",
                               "code": ""}]}
    verdict = judge(_test(), {"seed": 0, "n": 4}, envelope)
    assert (verdict.outcome, verdict.module) == ("error", 6)
    assert verdict.message == "TypeError: unsupported operand"


def test_exception_blames_the_frame_that_made_the_wrong_value() -> None:
    """A number handed on from the Trainer, through Linear, to Tensor.matmul: each frame on the way only passed on
    its parameter (the frames name them), so the Trainer's module is at fault, not the tensor's."""
    def frame(path: str, function: str, code: str, args: list[str]) -> dict[str, Any]:
        return {"file": path, "line": 1, "function": function, "code": code, "args": args}

    envelope = {"status": "exception", "type": "ValueError",
                "message": "matmul: Input operand 0 does not have enough dimensions (has 0, ...)",
                "traceback": [frame("/sub/tinytorch/core/training.py", "Trainer.evaluate", "out = self.model(inputs)",
                                    ["self", "dataloader"]),
                              frame("/sub/tinytorch/core/layers.py", "Linear.forward", "return x @ self.weight",
                                    ["self", "x"]),
                              frame("/sub/tinytorch/core/tensor.py", "Tensor.matmul",
                                    "return Tensor(self.data @ other.data)", ["self", "other"])]}
    assert judge(_test(), {"seed": 0, "n": 4}, envelope).module == 7


def test_a_probes_exception_names_each_frames_parameters() -> None:
    def scaled(values: list[float], *, factor: float) -> float:
        return values[0] * factor + None  # type: ignore[operator]

    def probe(tt: Any, challenge: dict[str, Any]) -> dict[str, Any]:
        return {"doubled": scaled([1.0], factor=challenge["n"])}

    envelope = run_probe(probe, {"seed": 0, "n": 4}, Resolver(REFERENCE))
    assert envelope["status"] == "exception"
    assert [f["args"] for f in envelope["traceback"][-2:]] == [["tt", "challenge"], ["values", "factor"]]


@pytest.mark.parametrize("envelope", [None, [], {"status": "weird"}, {"status": "ok", "artefacts": [1, 2]},
                                      {"status": "ok", "artefacts": {"doubled": {"__ndarray__": {}}}}])
def test_malformed_envelopes_never_pass_and_never_raise(envelope: Any) -> None:
    assert judge(_test(), {"seed": 0, "n": 4}, envelope).outcome in ("failed", "error")


def test_measurements_come_only_from_the_trusted_side() -> None:
    seen: list[Any] = []
    test = _test(check=lambda c, a: seen.append(a["__measured__"]), measure="time")
    judge(test, {"seed": 0}, _ok({"__measured__": {"student": {"seconds": 0.0}}}), measured={"student": "real"})
    judge(test, {"seed": 0}, _ok({"__measured__": {"student": {"seconds": 0.0}}}))
    assert seen == [{"student": "real"}, None]


def test_run_probe_turns_crashes_into_envelopes() -> None:
    def crashing(tt: Resolver, challenge: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("boom")

    envelope = run_probe(crashing, {"seed": 0}, Resolver(REFERENCE))
    assert envelope["status"] == "exception" and envelope["type"] == "ValueError"
    assert envelope["traceback"][-1]["function"].endswith("<locals>.crashing")
    assert run_probe(lambda tt, c: [1], {"seed": 0}, Resolver(REFERENCE))["status"] == "exception"
