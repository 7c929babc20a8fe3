"""Diagnostics name the module and the cause from the evidence, in words a student can act on."""

from typing import Any

from capstone_tests.checks import m02_activations, m09_spatial
from capstone_tests.verdict import CheckFailed, Verdict
from grader.diagnostics import diagnose


def _frame(path: str, function: str, code: str = "") -> dict[str, object]:
    return {"file": path, "line": 12, "function": function, "code": code}


def test_memoryview_in_optimizer() -> None:
    trace = [_frame("/grader/capstone_tests/probes/capstone.py", "probe"),
             _frame("/sub/tinytorch/core/optimizers.py", "SGD.step", "param.data = param.data - self.lr * grad")]
    verdict = Verdict("error", "TypeError: unsupported operand type(s) for *: 'float' and 'memoryview'", None,
                      {"traceback": trace})
    diagnostic = diagnose(verdict)
    assert diagnostic is not None
    text = diagnostic.text()
    assert text.startswith("Module 06 optimizers: SGD.step in tinytorch/core/optimizers.py")
    assert "multiplies by a memoryview" in text and "numpy array" in text
    assert [f["function"] for f in diagnostic.traceback] == ["SGD.step"]  # trimmed to the student's files


def test_object_dtype_gradients() -> None:
    trace = [_frame("/sub/tinytorch/core/tensor.py", "Tensor.backward")]
    verdict = Verdict("error", "UFuncTypeError: Cannot cast ufunc 'add' output from dtype('O') to dtype('float32')",
                      None, {"traceback": trace})
    diagnostic = diagnose(verdict)
    assert diagnostic is not None and diagnostic.module == 1
    assert "object-dtype" in diagnostic.text()


def test_missing_module_keeps_the_resolver_message() -> None:
    verdict = Verdict("failed", "module 09 (spatial) not found: No module named 'tinytorch.core.spatial'", 9)
    diagnostic = diagnose(verdict)
    assert diagnostic is not None
    assert diagnostic.text().startswith("Module 09 spatial: module 09 (spatial) not found: No module named")


def test_check_failure_gets_the_module_hint() -> None:
    diagnostic = diagnose(Verdict("failed", "Conv2d output has shape (2, 4, 5, 5), expected (2, 4, 3, 3)", 9))
    assert diagnostic is not None
    assert "Conv2d output has shape" in diagnostic.text()
    assert "(H + 2*padding - kernel) // stride + 1" in diagnostic.text()


def test_timeout_and_pass() -> None:
    assert diagnose(Verdict("passed")) is None
    diagnostic = diagnose(Verdict("timeout", "the test did not finish within 60 s", 7))
    assert diagnostic is not None and "vectorize" in diagnostic.hint


def test_a_library_that_is_not_installed_is_named() -> None:
    """A module that imports scipy is there but cannot load: say which library, and that only numpy is there,
    not that the module should be exported elsewhere."""
    verdict = Verdict("failed", "module 02 (activations) not found: ModuleNotFoundError: No module named "
                      "'scipy.special'", 2)
    diagnostic = diagnose(verdict)
    assert diagnostic is not None and diagnostic.module == 2
    text = diagnostic.text()
    assert "imports the library 'scipy'" in text and "only numpy" in text
    assert "export the module" not in text


def test_a_library_imported_at_call_time_is_named_at_its_frame() -> None:
    trace = [_frame("/sub/tinytorch/core/activations.py", "GELU.forward", "from scipy.special import erf")]
    verdict = Verdict("error", "ModuleNotFoundError: No module named 'scipy'", None, {"traceback": trace})
    diagnostic = diagnose(verdict)
    assert diagnostic is not None and diagnostic.module == 2
    assert diagnostic.text().startswith("Module 02 activations: GELU.forward in tinytorch/core/activations.py")
    assert "'scipy'" in diagnostic.text()


def test_a_file_that_does_not_compile_says_so() -> None:
    verdict = Verdict("failed", "module 02 (activations) not found: SyntaxError: invalid syntax (activations.py, "
                      "line 8)", 2)
    diagnostic = diagnose(verdict)
    assert diagnostic is not None and diagnostic.module == 2
    assert "line 8" in diagnostic.text() and "does not compile" in diagnostic.text()
    assert "export the module" not in diagnostic.text()


def test_a_renamed_course_attribute_is_blamed_on_its_class_module() -> None:
    """Linear.weight renamed to `weights`: every capstone test that reads it fails; say which module and
    attribute, not a bare AttributeError."""
    verdict = Verdict("error", "AttributeError: 'Linear' object has no attribute 'weight'", None,
                      {"traceback": [_frame("/grader/capstone_tests/probes/capstone.py", "probe")]})
    diagnostic = diagnose(verdict)
    assert diagnostic is not None and diagnostic.module == 3
    text = diagnostic.text()
    assert text.startswith("Module 03 layers: the tests read Linear.weight")
    assert "`weight`" in text


def test_a_missing_attribute_inside_the_students_code_stays_with_its_frame() -> None:
    trace = [_frame("/sub/tinytorch/core/optimizers.py", "SGD.step", "p.weight")]
    verdict = Verdict("error", "AttributeError: 'Linear' object has no attribute 'weight'", None,
                      {"traceback": trace})
    diagnostic = diagnose(verdict)
    assert diagnostic is not None and diagnostic.module == 6


def test_a_check_that_knows_the_cause_gives_its_own_hint() -> None:
    # The tour of layer types found the Linear bias cut from the graph: the hint is about that, not about the
    # module's usual mistakes, and the hint itself is not repeated as evidence.
    verdict = Verdict("failed", "Linear(4, 3) alone: its bias got no gradient (.grad is None)", 3,
                      {"hint": "forward must use self.bias itself, not self.bias.data", "layer": "linear"})
    diagnostic = diagnose(verdict)
    assert diagnostic is not None
    assert diagnostic.text() == ("Module 03 layers: Linear(4, 3) alone: its bias got no gradient (.grad is None) "
                                 "Hint: forward must use self.bias itself, not self.bias.data.")
    assert diagnostic.evidence == {"layer": "linear"}


def test_a_checks_own_hint_replaces_the_modules() -> None:
    # The module 09 hint is about output sizes: wrong for an AvgPool2d gradient that is missing altogether.
    verdict = Verdict("failed", "AvgPool2d sends no gradient to its input", 9, hint="give AvgPool2d a backward")
    diagnostic = diagnose(verdict)
    assert diagnostic is not None
    assert diagnostic.hint == "give AvgPool2d a backward"
    assert diagnostic.text().startswith("Module 09 spatial: AvgPool2d sends no gradient to its input")


def _verdict_of(check: Any, challenge: dict[str, Any], artefacts: dict[str, Any]) -> Verdict:
    try:
        check(challenge, artefacts)
    except CheckFailed as failure:
        return failure.verdict
    return Verdict("passed")


def test_the_extras_hints_name_their_own_fix() -> None:
    tanh = _verdict_of(m02_activations.test_tanh_gradient, {"x": [[1.0]], "c": [[1.0]]},
                       {"grad": None, "backward_error": None})
    text = diagnose(tanh).text()  # type: ignore[union-attr]
    assert "1 - tanh(x)^2" in text and "Softmax" not in text
    wrong = _verdict_of(m02_activations.test_tanh_gradient, {"x": [[1.0]], "c": [[1.0]]},
                        {"grad": [[5.0]], "backward_error": None})
    assert "Tanh's derivative is 1 - tanh(x)^2" in diagnose(wrong).text()  # type: ignore[union-attr]
    challenge = {"n": 1, "c": 1, "h": 4, "w": 4, "k": 2, "stride": 2, "seed": 3}
    pool = _verdict_of(m09_spatial.test_avgpool2d_gradient, challenge,
                       {"out_shape": [1, 1, 2, 2], "x_grad": None, "backward_error": None})
    text = diagnose(pool).text()  # type: ignore[union-attr]
    assert "AvgPool2d sends no gradient" in text and "1/k² each" in text and "output sizes" not in text
