"""Module 09 (spatial) checks: shapes by the output-size formula, values and gradients against a float64
convolution and pooling computed here from the returned weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..probes import m09_spatial as probes
from ..registry import check
from ..verdict import CheckFailed
from . import expect

FORMULA = "out = (size + 2*padding - kernel) // stride + 1, with padding on both sides"


# ----------------------------------------------------------------------------- float64 references
def _out_size(size: int, k: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - k) // stride + 1


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def _windows(xp: np.ndarray, k: int, stride: int, i: int, j: int, ho: int, wo: int) -> np.ndarray:
    """The input value at kernel offset (i, j) of every window: (N, C, Ho, Wo)."""
    return xp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]


def _correlate(xp: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Cross-correlation of an already padded input."""
    k = w.shape[2]
    ho, wo = max((xp.shape[2] - k) // stride + 1, 0), max((xp.shape[3] - k) // stride + 1, 0)
    out = np.zeros((xp.shape[0], w.shape[0], ho, wo))
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", _windows(xp, k, stride, i, j, ho, wo), w[:, :, i, j])
    return out + b[None, :, None, None]


def conv2d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: int) -> np.ndarray:
    return _correlate(_pad(x, padding), w, b, stride)


def conv2d_misreadings(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int,
                       padding: int) -> list[tuple[str, np.ndarray]]:
    """Outputs of common Conv2d mistakes, each with the fix, to name the cause when the values are wrong."""
    p = padding
    sided = [((0, 2 * p), "all 2*padding rows/columns after the input"), ((2 * p, 0), "all 2*padding before it"),
             ((0, p), "padding after the input only"), ((p, 0), "padding before the input only")]
    found = [(f"the input is padded on one side only ({where}): pad `padding` zeros on both sides",
              _correlate(np.pad(x, ((0, 0), (0, 0), widths, widths)), w, b, stride)) for widths, where in sided]
    found.append(("the stride is ignored: step the window by `stride`", _correlate(_pad(x, p), w, b, 1)))
    found.append(("the padding is ignored: zero-pad the input by `padding` on every side",
                  _correlate(x, w, b, stride)))
    found.append(("the kernel is flipped (true convolution): deep-learning Conv2d is a cross-correlation",
                  _correlate(_pad(x, p), w[:, :, ::-1, ::-1], b, stride)))
    found.append(("the bias is not added: add bias[o] to every position of output channel o",
                  _correlate(_pad(x, p), w, np.zeros_like(b), stride)))
    return found


def conv2d_gradients(x: np.ndarray, w: np.ndarray, g: np.ndarray, stride: int,
                     widths: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of sum(conv2d(x, w, b) * g), the input padded by widths (before, after) per side."""
    xp = np.pad(x, ((0, 0), (0, 0), widths, widths))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    k, (ho, wo) = w.shape[2], g.shape[2:]
    for i in range(k):
        for j in range(k):
            dw[:, :, i, j] = np.einsum("nohw,nchw->oc", g, _windows(xp, k, stride, i, j, ho, wo))
            _windows(dxp, k, stride, i, j, ho, wo)[...] += np.einsum("nohw,oc->nchw", g, w[:, :, i, j])
    dx = dxp[:, :, widths[0]:widths[0] + x.shape[2], widths[0]:widths[0] + x.shape[3]]
    return dx, dw, g.sum(axis=(0, 2, 3))


def _pool_windows(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """(N, C, Ho, Wo, k*k) of every window's values."""
    ho, wo = _out_size(x.shape[2], k, stride, 0), _out_size(x.shape[3], k, stride, 0)
    return np.stack([_windows(x, k, stride, i, j, ho, wo) for i in range(k) for j in range(k)], axis=-1)


def maxpool_gradient(x: np.ndarray, k: int, stride: int, g: np.ndarray) -> np.ndarray:
    """Each window's gradient goes to its (first) maximum; overlapping windows add up."""
    winner = _pool_windows(x, k, stride).argmax(axis=-1)
    dx = np.zeros_like(x)
    n, c, ho, wo = g.shape
    for index in np.ndindex(n, c, ho, wo):
        i, j = divmod(int(winner[index]), k)
        dx[index[0], index[1], index[2] * stride + i, index[3] * stride + j] += g[index]
    return dx


def avgpool_gradient(x: np.ndarray, k: int, stride: int, g: np.ndarray) -> np.ndarray:
    dx = np.zeros_like(x)
    ho, wo = g.shape[2:]
    for i in range(k):
        for j in range(k):
            _windows(dx, k, stride, i, j, ho, wo)[...] += g / (k * k)
    return dx


# ----------------------------------------------------------------------------- challenges
def _conv_config(r: np.random.Generator) -> dict[str, Any]:
    k = int(r.integers(1, 4))
    padding = int(r.integers(0, 3))
    size_floor = max(k - 2 * padding, 1) + 2
    return {"n": 2, "c_in": int(r.integers(1, 4)), "c_out": int(r.integers(1, 4)), "k": k,
            "stride": int(r.integers(1, 4)), "padding": padding,
            "h": int(r.integers(size_floor, 9)), "w": int(r.integers(size_floor, 9))}


def _conv_strided(r: np.random.Generator) -> dict[str, Any]:
    """A config where stride and padding both matter: stride 2-3, padding 1-2, kernel 2-3."""
    config = _conv_config(r)
    config.update(k=int(r.integers(2, 4)), stride=int(r.integers(2, 4)), padding=int(r.integers(1, 3)))
    return config


def _pool_config(r: np.random.Generator) -> dict[str, Any]:
    k = int(r.integers(2, 4))
    stride = [None, 1, 2, k][int(r.integers(0, 4))]
    return {"n": 2, "c": int(r.integers(1, 3)), "k": k, "stride": stride,
            "h": int(r.integers(k + 2, 9)), "w": int(r.integers(k + 2, 9))}


def _pool_name(challenge: dict[str, Any], cls: str) -> str:
    stride = "" if challenge["stride"] is None else f", stride={challenge['stride']}"
    return f"{cls}({challenge['k']}{stride})"


def _pool_given(challenge: dict[str, Any], x: np.ndarray) -> dict[str, Any]:
    return {"x": x, "kernel_size": challenge["k"], "stride": challenge["stride"]}


def _stride(challenge: dict[str, Any]) -> int:
    return challenge["k"] if challenge["stride"] is None else challenge["stride"]


def _conv_name(c: dict[str, Any]) -> str:
    return f"Conv2d({c['c_in']}, {c['c_out']}, kernel_size={c['k']}, stride={c['stride']}, padding={c['padding']})"


# ----------------------------------------------------------------------------- Conv2d
@check(module=9, challenge=lambda r: {"configs": [_conv_config(r), _conv_config(r), _conv_strided(r),
                                                  _conv_strided(r)]})
def test_conv2d_output_shapes(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    for config, got in zip(challenge["configs"], artefacts["shapes"], strict=True):
        expected = [config["n"], config["c_out"], _out_size(config["h"], config["k"], config["stride"],
                                                            config["padding"]),
                    _out_size(config["w"], config["k"], config["stride"], config["padding"])]
        if list(got) != expected:
            given = {"input shape": [config[k] for k in ("n", "c_in", "h", "w")],
                     **{k: config[k] for k in ("c_out", "k", "stride", "padding")}}
            raise CheckFailed(f"{_conv_name(config)} on a {config['h']}x{config['w']} input gives output shape "
                              f"{tuple(got)}, expected {tuple(expected)}: {FORMULA}", 9,
                              example=expect.example(expected, list(got), given))


@check(module=9, challenge=_conv_strided)
def test_conv2d_values(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    c = challenge
    weight = expect.array(artefacts, "weight", shape=(c["c_out"], c["c_in"], c["k"], c["k"]), module=9,
                          what="Conv2d.weight (out_channels, in_channels, k, k)")
    bias = expect.array(artefacts, "bias", shape=(c["c_out"],), module=9, what="Conv2d.bias")
    x = probes.conv_input(c).astype(np.float64)
    expected = conv2d_reference(x, weight, bias, c["stride"], c["padding"])
    given = {"x": x, "weight": weight, "bias": bias, "stride": c["stride"], "padding": c["padding"]}
    out = expect.array(artefacts, "out", module=9, what=f"{_conv_name(c)} output")
    expect.that(out.shape == expected.shape,
                f"{_conv_name(c)} on a {c['h']}x{c['w']} input gives shape {out.shape}, expected "
                f"{expected.shape}: {FORMULA}", 9)
    if not np.allclose(out, expected, rtol=1e-4, atol=1e-4):
        for cause, misread in conv2d_misreadings(probes.conv_input(c).astype(np.float64), weight, bias,
                                                 c["stride"], c["padding"]):
            if misread.shape == out.shape and np.allclose(out, misread, rtol=1e-4, atol=1e-4):
                worst = np.unravel_index(int(np.argmax(np.abs(out - expected))), out.shape)
                raise CheckFailed(f"{_conv_name(c)} output is wrong: it matches a convolution where {cause}", 9,
                                  example=expect.example(expected, out, given, tuple(int(i) for i in worst)))
    expect.close(out, expected, f"{_conv_name(c)} output (cross-correlation of the zero-padded input with each "
                 f"(in, k, k) filter, plus that channel's bias)", module=9, rtol=1e-4, atol=1e-4, given=given)


@check(module=9, challenge=_conv_strided)
def test_conv2d_gradients(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    c = challenge
    expected_shape = (c["n"], c["c_out"], _out_size(c["h"], c["k"], c["stride"], c["padding"]),
                      _out_size(c["w"], c["k"], c["stride"], c["padding"]))
    expect.that(tuple(artefacts["out_shape"]) == expected_shape,
                f"{_conv_name(c)} output shape is {tuple(artefacts['out_shape'])}, expected {expected_shape}: "
                f"{FORMULA}", 9)
    weight = expect.array(artefacts, "weight", shape=(c["c_out"], c["c_in"], c["k"], c["k"]), module=9)
    g = probes.upstream(c, expected_shape).astype(np.float64)
    x, p = probes.conv_input(c).astype(np.float64), c["padding"]
    dx, dw, db = conv2d_gradients(x, weight, g, c["stride"], (p, p))
    given = {"x": x, "weight": weight, "stride": c["stride"], "padding": p, "upstream": g}
    weight_grad = expect.array(artefacts, "weight_grad", shape=dw.shape, module=9, what="Conv2d.weight.grad")
    if not np.allclose(weight_grad, dw, rtol=1e-3, atol=1e-4):
        for widths in ((0, 2 * p), (2 * p, 0)):
            if np.allclose(weight_grad, conv2d_gradients(x, weight, g, c["stride"], widths)[1], rtol=1e-3, atol=1e-4):
                worst = np.unravel_index(int(np.argmax(np.abs(weight_grad - dw))), dw.shape)
                raise CheckFailed(f"Conv2d.weight.grad of {_conv_name(c)} matches an input padded on one side only "
                                  f"({widths[0]} before, {widths[1]} after): pad `padding` zeros on both sides", 9,
                                  example=expect.example(dw, weight_grad, given, tuple(int(i) for i in worst)))
    expect.close(weight_grad, dw, "Conv2d.weight.grad", module=9, rtol=1e-3, atol=1e-4, given=given)
    expect.close(expect.array(artefacts, "bias_grad", shape=db.shape, module=9, what="Conv2d.bias.grad"),
                 db, "Conv2d.bias.grad (the output gradient summed over batch and positions)", module=9,
                 rtol=1e-3, atol=1e-4, given=given)
    expect.close(expect.array(artefacts, "x_grad", shape=dx.shape, module=9, what="the Conv2d input's grad"),
                 dx, "the Conv2d input gradient (each output gradient spread back over its window, strided "
                 "and with the padding cut off)", module=9, rtol=1e-3, atol=1e-4, given=given)


# ----------------------------------------------------------------------------- pooling
def _pool_output(challenge: dict[str, Any], artefacts: dict[str, Any], cls: str) -> np.ndarray:
    stride = _stride(challenge)
    shape = (challenge["n"], challenge["c"], _out_size(challenge["h"], challenge["k"], stride, 0),
             _out_size(challenge["w"], challenge["k"], stride, 0))
    out = expect.array(artefacts, "out", module=9, what=f"{_pool_name(challenge, cls)} output")
    default = " (stride defaults to kernel_size)" if challenge["stride"] is None else ""
    expect.that(out.shape == shape,
                f"{_pool_name(challenge, cls)} on a {challenge['h']}x{challenge['w']} input gives shape "
                f"{out.shape}, expected {shape}{default}: {FORMULA}", 9)
    return out


@check(module=9, challenge=_pool_config)
def test_maxpool2d_values(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    out = _pool_output(challenge, artefacts, "MaxPool2d")
    x = probes.pool_input(challenge).astype(np.float64)
    windows = _pool_windows(x, challenge["k"], _stride(challenge))
    expect.close(out, windows.max(axis=-1), f"{_pool_name(challenge, 'MaxPool2d')} output (the maximum of each "
                 f"window)", module=9, rtol=1e-6, atol=1e-6, given=_pool_given(challenge, x))


@check(module=9, challenge=_pool_config)
def test_maxpool2d_gradient_routing(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    stride = _stride(challenge)
    x = probes.pool_input(challenge).astype(np.float64)
    shape = (challenge["n"], challenge["c"], _out_size(challenge["h"], challenge["k"], stride, 0),
             _out_size(challenge["w"], challenge["k"], stride, 0))
    expect.that(tuple(artefacts["out_shape"]) == shape,
                f"{_pool_name(challenge, 'MaxPool2d')} output shape is {tuple(artefacts['out_shape'])}, "
                f"expected {shape}", 9)
    expected = maxpool_gradient(x, challenge["k"], stride, probes.upstream(challenge, shape).astype(np.float64))
    got = expect.array(artefacts, "x_grad", shape=x.shape, module=9, what="the MaxPool2d input's grad")
    overlap = " (overlapping windows add their gradients)" if stride < challenge["k"] else ""
    expect.close(got, expected, f"the MaxPool2d input gradient (each window's gradient goes only to the "
                 f"position of its maximum{overlap})", module=9, rtol=1e-5, atol=1e-5,
                 given=_pool_given(challenge, x) | {"upstream": probes.upstream(challenge, shape)})


@check(module=9, challenge=_pool_config)
def test_avgpool2d_values(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    out = _pool_output(challenge, artefacts, "AvgPool2d")
    x = probes.pool_input(challenge).astype(np.float64)
    windows = _pool_windows(x, challenge["k"], _stride(challenge))
    expect.close(out, windows.mean(axis=-1), f"{_pool_name(challenge, 'AvgPool2d')} output (the mean of each "
                 f"window)", module=9, rtol=1e-5, atol=1e-5, given=_pool_given(challenge, x))


@check(module=9, challenge=_pool_config)
def test_avgpool2d_gradient(challenge: dict[str, Any], artefacts: dict[str, Any]) -> None:
    stride = _stride(challenge)
    x = probes.pool_input(challenge).astype(np.float64)
    shape = (challenge["n"], challenge["c"], _out_size(challenge["h"], challenge["k"], stride, 0),
             _out_size(challenge["w"], challenge["k"], stride, 0))
    expect.that(tuple(artefacts["out_shape"]) == shape,
                f"{_pool_name(challenge, 'AvgPool2d')} output shape is {tuple(artefacts['out_shape'])}, "
                f"expected {shape}", 9)
    # The course's AvgPool2d builds no graph (module 09 gives only Conv2d and MaxPool2d a backward): this test is
    # an extra that the rubric does not count unless an instructor asks (rubric.toml, `extras`).
    unwired = ("AvgPool2d sends no gradient to its input: its backward is not wired into autograd, which the "
               "course's own module 09 does only for Conv2d and MaxPool2d")
    how = ("an extra beyond the course: give AvgPool2d a backward as MaxPool2d has one (a Function recorded on its "
           "output), sending each window's upstream gradient to all its positions, 1/k² each")
    if artefacts.get("backward_error"):
        raise CheckFailed(f"{unwired} (backward() raised {artefacts['backward_error']})", 9, hint=how)
    expect.that(artefacts.get("x_grad") is not None, f"{unwired} (the input's .grad stayed None)", 9, hint=how)
    expected = avgpool_gradient(x, challenge["k"], stride, probes.upstream(challenge, shape).astype(np.float64))
    with expect.hinted("AvgPool2d's backward sends each window's upstream gradient to all its k x k positions, "
                       "1/k² each, adding where windows overlap"):
        got = expect.array(artefacts, "x_grad", shape=x.shape, module=9, what="the AvgPool2d input's grad")
        expect.close(got, expected, "the AvgPool2d input gradient (each window's gradient shared equally, 1/k² "
                     "each, by all its positions)", module=9, rtol=1e-5, atol=1e-5,
                     given=_pool_given(challenge, x) | {"upstream": probes.upstream(challenge, shape)})
