"""Diagnostics name the module and the cause from the evidence, in words a student can act on."""

from typing import Any

import pytest

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


def _at(path: str, function: str, code: str, args: list[str]) -> dict[str, object]:
    """A frame as the harness and the object server record it: with the function's parameter names."""
    return {"file": path, "line": 7, "function": function, "code": code, "args": args}


# Trainer.evaluate iterating enumerate(loader): the model is called on the batch's index, which fails deep inside
# (through the harness's model container, Stack, at the path the sandboxes mount it).
EVALUATE_ENUMERATES = [
    _at("/grader/boundary/server.py", "Server.handle", 'value = self.resolve(request["obj"])(*args, **kwargs)',
        ["self", "request"]),
    _at("/sub/tinytorch/core/training.py", "Trainer.evaluate", "outputs = self._forward(inputs)",
        ["self", "dataloader"]),
    _at("/sub/tinytorch/core/training.py", "Trainer._forward", "return forward(inputs)", ["self", "inputs"]),
    _at("/grader/boundary/adaptors.py", "Stack.forward", "x = layer(x)", ["self", "x"]),
    _at("/sub/tinytorch/core/layers.py", "Layer.__call__", "return self.forward(*args, **kwargs)",
        ["self", "args", "kwargs"]),
    _at("/sub/tinytorch/core/layers.py", "Linear.forward", "out = x @ self.weight", ["self", "x"]),
    _at("/sub/tinytorch/core/tensor.py", "Tensor.matmul", "return Tensor.from_op(a @ b, (self, other), backward)",
        ["self", "other"]),
]
ZERO_D_MATMUL = ("ValueError: matmul: Input operand 0 does not have enough dimensions (has 0, gufunc core with "
                 "signature (n?,k),(k,m?)->(n?,m?) requires 1)")


@pytest.mark.parametrize("stack", ["/grader/boundary/adaptors.py", "/repo/capstone_tests/boundary/inside/adaptors.py"])
def test_a_stray_value_is_blamed_where_it_was_made_not_where_it_failed(stack: str) -> None:
    """The index reached Tensor.matmul through Linear, but every frame on the way only handed on what it was given:
    evaluate made it, so the training module is at fault, and the hint is about a number taking a Tensor's place."""
    trace = [dict(f, file=stack) if f["function"] == "Stack.forward" else f for f in EVALUATE_ENUMERATES]
    diagnostic = diagnose(Verdict("error", ZERO_D_MATMUL, None, {"traceback": trace}), 7)
    assert diagnostic is not None and diagnostic.module == 7
    text = diagnostic.text()
    assert text.startswith("Module 07 training: Trainer.evaluate in tinytorch/core/training.py "
                           "(`outputs = self._forward(inputs)`) hands Trainer._forward a number where a Tensor is due")
    assert "raised in tinytorch/core/tensor.py:7, in Tensor.matmul" in text
    assert "a plain number took the place of a Tensor" in diagnostic.hint and "check Tensor" not in text


def test_without_parameter_names_a_stray_value_stays_where_it_failed() -> None:
    # Frames recorded without args cannot show that a value was handed on: the innermost frame keeps the blame.
    bare = [{k: v for k, v in frame.items() if k != "args"} for frame in EVALUATE_ENUMERATES]
    diagnostic = diagnose(Verdict("error", ZERO_D_MATMUL, None, {"traceback": bare}), 7)
    assert diagnostic is not None and diagnostic.module == 1
    assert "a plain number took the place of a Tensor" in diagnostic.hint


def test_a_value_made_in_the_failing_frame_stays_there() -> None:
    # MultiHeadAttention used scaled_dot_product_attention's (output, weights) pair as a Tensor: its own fault.
    trace = [_at("/sub/tinytorch/core/transformer.py", "TransformerBlock.forward", "x = x + self.attention(h, mask)",
                 ["self", "x", "mask"]),
             _at("/sub/tinytorch/core/attention.py", "MultiHeadAttention.forward", "out = attended.reshape(b, s, d)",
                 ["self", "x", "mask"])]
    verdict = Verdict("error", "AttributeError: 'tuple' object has no attribute 'reshape'", None, {"traceback": trace})
    diagnostic = diagnose(verdict, 13)
    assert diagnostic is not None and diagnostic.module == 12
    assert "a tuple took the place of a Tensor" in diagnostic.hint


def test_a_stray_value_the_test_passed_in_is_not_followed_into_the_test() -> None:
    # Linear.forward reads x.data of what the test gave it: the test's values are right, so Linear is at fault.
    trace = [_at("/grader/capstone_tests/probes/m03_layers.py", "test_linear_forward", "out = layer.forward(x)",
                 ["tt", "challenge"]),
             _at("/sub/tinytorch/core/layers.py", "Linear.forward", "return x.data @ self.weight.data", ["self", "x"])]
    verdict = Verdict("error", "AttributeError: 'int' object has no attribute 'data'", None, {"traceback": trace})
    diagnostic = diagnose(verdict)
    assert diagnostic is not None and diagnostic.module == 3
    assert diagnostic.text().startswith("Module 03 layers: AttributeError: 'int' object has no attribute 'data' "
                                        "(raised in tinytorch/core/layers.py:7, in Linear.forward)")


# A loss backward that returned a bare array: the engine takes its first row for the prediction's gradient.
BARE_ARRAY = [
    _at("/sub/tinytorch/core/training.py", "Trainer.train_epoch", "loss.backward()", ["self", "dataloader"]),
    _at("/sub/tinytorch/core/tensor.py", "Tensor.backward", "parent_grad = _unbroadcast(parent_grad, parent.shape)",
        ["self", "grad"]),
    _at("/sub/tinytorch/core/tensor.py", "_unbroadcast", "return grad.reshape(shape)", ["grad", "shape"]),
]


def test_a_gradient_that_does_not_fit_in_the_engine_is_the_autograds() -> None:
    """Raised in tensor.py's bookkeeping, called from the Trainer: neither is at fault, the backward that made the
    gradient is, and the course teaches every backward (losses' included) in module 05. The hint reads the sizes."""
    verdict = Verdict("error", "ValueError: cannot reshape array of size 3 into shape (7,3)", None,
                      {"traceback": BARE_ARRAY})
    diagnostic = diagnose(verdict, 7)
    assert diagnostic is not None and diagnostic.module == 5
    text = diagnostic.text()
    assert text.startswith("Module 05 autograd: a backward function gave the autograd engine a gradient that does not "
                           "fit its tensor: ValueError: cannot reshape array of size 3 into shape (7,3)")
    assert "shape (7, 3) has 3 values, one row of it" in diagnostic.hint
    assert "`return (grad,)`" in diagnostic.hint and "check step()" not in text


def test_a_layers_own_backward_failing_in_its_own_file_keeps_its_module() -> None:
    trace = [*BARE_ARRAY[:2], _at("/sub/tinytorch/core/spatial.py", "conv2d.<locals>.backward",
                                  "grad_w = np.einsum('nopq,ncpqij->ocij', g, windows)", ["g"])]
    verdict = Verdict("error", "ValueError: operands could not be broadcast together with shapes (2,3) (4,)", None,
                      {"traceback": trace})
    diagnostic = diagnose(verdict, 9)
    assert diagnostic is not None and diagnostic.module == 9


def test_a_gradient_that_kept_the_batch_axis_is_the_autograds_not_the_optimizers() -> None:
    trace = [_at("/sub/tinytorch/core/optimizers.py", "SGD.step", "np.multiply(grad, lr, out=scratch)", ["self"])]
    verdict = Verdict("error", "ValueError: non-broadcastable output operand with shape (8,) doesn't match the "
                      "broadcast shape (4,8)", None, {"traceback": trace})
    diagnostic = diagnose(verdict, 6)
    assert diagnostic is not None and diagnostic.module == 5
    assert diagnostic.text().startswith("Module 05 autograd: a gradient that does not fit its tensor reached SGD.step")
    assert "a gradient of shape (4, 8) reached a tensor of shape (8,)" in diagnostic.hint
    assert "sum its gradient over the broadcast axes" in diagnostic.hint


def test_an_optimizers_own_shape_error_stays_with_the_optimizer() -> None:
    # Shapes that differ in another way than a kept batch axis (a buffer made transposed): step() is at fault.
    trace = [_at("/sub/tinytorch/core/optimizers.py", "Adam.step", "m[:] = b1 * m + (1 - b1) * grad", ["self"])]
    verdict = Verdict("error", "ValueError: operands could not be broadcast together with shapes (3,4) (4,3)", None,
                      {"traceback": trace})
    diagnostic = diagnose(verdict, 6)
    assert diagnostic is not None and diagnostic.module == 6


def test_a_course_class_in_a_file_of_the_students_own_is_blamed_on_its_module() -> None:
    trace = [_at("/sub/tinytorch/core/helpers.py", "Trainer.evaluate", "correct += (pred == y).sum()", ["self", "x"])]
    diagnostic = diagnose(Verdict("error", "ValueError: something odd", None, {"traceback": trace}))
    assert diagnostic is not None and diagnostic.module == 7


def test_a_checks_evidence_of_a_wrong_gradient_gives_the_hint() -> None:
    one_row = Verdict("failed", "x.grad through MSELoss has shape (3,), expected (4, 3)", 4,
                      {"got_shape": [3], "expected_shape": [4, 3]})
    assert "one row of the expected (4, 3)" in diagnose(one_row).hint  # type: ignore[union-attr]
    kept_batch = Verdict("failed", "the bias gradient has shape (5, 3), expected (3,)", 5,
                         {"got_shape": [5, 3], "expected_shape": [3]})
    assert "still has the batch axis" in diagnose(kept_batch).hint  # type: ignore[union-attr]
    repeated = Verdict("failed", "x.grad through BinaryCrossEntropyLoss is wrong: largest difference 0.3", 4,
                       {"got": [0.1, 0.1, 0.1, 0.1], "expected": [0.1, -0.2, 0.05, 0.3], "shape": [4, 1]})
    hint = diagnose(repeated).hint  # type: ignore[union-attr]
    assert "every row of the gradient is the same" in hint and "`return (grad,)`" in hint
    right_rows = Verdict("failed", "x.grad through MSELoss is wrong: largest difference 0.3", 4,
                         {"got": [0.1, 0.2, 0.3, 0.4], "expected": [0.2, 0.4, 0.6, 0.8], "shape": [4, 1]})
    assert diagnose(right_rows).hint == "check the loss formulas (mean over the batch) and use a stable log-softmax"
