"""Hostile plans: deserialize_cuda_engine answers any bytes as TensorRT does, by logging an error and returning
None, and an engine that loads either computes what the original plan computes or fails its execution with an
error logged. Never an exception, a crash or a hang.

The mutations are seeded (reproducible) and bounded: bit flips, truncations and garbage over the whole file (the
checksum refuses them all), and mutations of the header's JSON fields repacked with a valid checksum, so that the
checks behind it are exercised: negative and huge numbers, wrong types, out-of-range indices, unknown enum names,
removed keys and elements, deep nesting. (Changing weight values and repacking makes another valid plan: no file
format can tell a deliberate weight from a damaged one, so that is not a mutation here.)
"""
import faulthandler
import json
import math
import pickle

import numpy as np
import pytest

import reftrt as trt
from reftrt import _plan
from tests.helpers.trt_logger import Recorder

SEED = 20261204
BATCH = 2
# Any message echoing values from a file stays short (values are clipped to 200 characters).
MAX_MESSAGE = 1200


def _build():
    """A small dynamic-batch network: conv (weights and bias) -> relu -> reshape -> matmul with a constant."""
    logger = Recorder()
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    rng = np.random.default_rng(7)
    x = network.add_input("x", trt.float32, (-1, 2, 5, 5))
    kernel = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    conv = network.add_convolution_nd(x, 3, (3, 3), trt.Weights(kernel), trt.Weights(bias))
    relu = network.add_activation(conv.get_output(0), trt.ActivationType.RELU)
    flat = network.add_shuffle(relu.get_output(0))
    flat.reshape_dims = (-1, 27)
    matrix = network.add_constant((27, 4), rng.standard_normal((27, 4)).astype(np.float32))
    product = network.add_matrix_multiply(flat.get_output(0), trt.MatrixOperation.NONE, matrix.get_output(0),
                                          trt.MatrixOperation.NONE)
    y = product.get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1, 2, 5, 5), (BATCH, 2, 5, 5), (4, 2, 5, 5))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, logger.errors()
    return bytes(plan)


PLAN = _build()
X = np.random.default_rng(1).standard_normal((BATCH, 2, 5, 5)).astype(np.float32)


def _run(data):
    """('refused' | 'failed' | 'ran', outputs, logger) for a plan: deserialize it, run it on X."""
    logger = Recorder()
    engine = trt.Runtime(logger).deserialize_cuda_engine(data)
    if engine is None:
        return "refused", None, logger
    context = engine.create_execution_context()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
    keep = {}
    for name in inputs:
        if not context.set_input_shape(name, X.shape):
            return "failed", None, logger
        context.set_tensor_address(name, X.ctypes.data)
    for name in outputs:
        shape = list(context.get_tensor_shape(name))
        if any(d < 0 for d in shape):
            return "failed", None, logger
        keep[name] = np.full(shape, np.nan, trt.nptype(engine.get_tensor_dtype(name)))
        context.set_tensor_address(name, keep[name].ctypes.data)
    if not context.execute_async_v3(0):
        return "failed", None, logger
    return "ran", [keep[n] for n in outputs], logger


OUTCOME, EXPECTED, _ = _run(PLAN)


def test_the_original_plan_runs():
    assert OUTCOME == "ran"
    (y,) = EXPECTED
    assert y.shape == (BATCH, 4) and np.isfinite(y).all()


def _check(data, what):
    """The contract for any bytes."""
    outcome, outputs, logger = _run(data)
    errors = logger.errors()
    assert all(len(m) <= MAX_MESSAGE for m in errors), (what, max(errors, key=len)[:300])
    # The loader's last-resort handler ("Internal Error") means a check is missing: every refusal is a PlanError.
    assert not any("Internal Error" in m for m in errors), (what, errors)
    if outcome == "ran":
        assert len(outputs) == len(EXPECTED), what
        for got, want in zip(outputs, EXPECTED):
            assert got.shape == want.shape and np.isfinite(got).all() and np.array_equal(got, want), what
    else:
        assert errors, (what, outcome)
    return outcome, errors


# ---- bytes ----------------------------------------------------------------------------------------------------------

def _byte_mutations(rng):
    data = PLAN
    yield "empty", b""
    yield "pickle", pickle.dumps({"format": "reftrt-plan", "layers": []})
    yield "pickled array", pickle.dumps(np.frombuffer(PLAN, np.uint8))
    yield "magic only", _plan.MAGIC
    yield "json", json.dumps({"format": "reftrt-plan"}).encode()
    yield "real TensorRT-like", b"ftrt" + bytes(rng.integers(0, 256, 500, dtype=np.uint8))
    for _ in range(90):
        position, bit = int(rng.integers(len(data))), int(rng.integers(8))
        flipped = bytearray(data)
        flipped[position] ^= 1 << bit
        yield f"bit {bit} flipped at {position}", bytes(flipped)
    for _ in range(40):
        length = int(rng.integers(len(data)))
        yield f"truncated to {length}", data[:length]
    for _ in range(30):
        start, size = int(rng.integers(len(data))), int(rng.integers(1, 64))
        yield f"garbage at {start}", data[:start] + bytes(rng.integers(0, 256, size, dtype=np.uint8)) + \
            data[start + size:]
    for _ in range(10):
        yield "garbage appended", data + bytes(rng.integers(0, 256, int(rng.integers(1, 100)), dtype=np.uint8))
    for _ in range(10):
        yield "random bytes", bytes(rng.integers(0, 256, int(rng.integers(1, 2000)), dtype=np.uint8))


def test_damaged_bytes_are_refused():
    faulthandler.dump_traceback_later(120, exit=True)  # a hang fails the run instead of stalling it
    try:
        for what, data in _byte_mutations(np.random.default_rng(SEED)):
            outcome, _ = _check(data, what)
            assert outcome == "refused", what
    finally:
        faulthandler.cancel_dump_traceback_later()


# ---- header fields --------------------------------------------------------------------------------------------------

HEADER, BODY = _plan.split(PLAN)
# Placeholders replaced in the JSON text: values json.dumps cannot write (or would write too slowly).
DEEP, LONG_INT = "@@deep@@", "@@long-int@@"
_TEXT = {DEEP: "[" * 5000 + "]" * 5000, LONG_INT: "9" * 5000}

_VALUES = {
    "negative": [-1, -2, -2**31, -2**63],
    "huge": [2**31, 2**63, 2**64 + 1, 10**30, 10**400, LONG_INT],
    "float": [0.5, -0.0, 1e308, math.inf, math.nan],
    "type": ["x", "", None, True, False, [], {}, [[1]], {"a": 1}, "A" * 100_000],
    "enum": ["NOT_A_MEMBER", "float", "FLOAT "],
    "nesting": [DEEP, [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]],
}


def _paths(value, path=()):
    """Every (path to a container, key or index) in a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield path + (key,)
        yield from _paths(child, path + (key,))


def _at(header, path):
    for key in path:
        header = header[key]
    return header


def _mutate(path, kind, value=None):
    """The plan with the header's field at `path` mutated: replaced by `value`, removed, or (an index)
    pointed past the end of its table."""
    header = json.loads(HEADER)
    parent, key = _at(header, path[:-1]), path[-1]
    if kind == "remove":
        del parent[key]
    elif kind == "past the end":
        parent[key] = len(header["tensors"]) + (value or 0)
    else:
        parent[key] = value
    text = json.dumps(header, separators=(",", ":"))
    for placeholder, replacement in _TEXT.items():
        text = text.replace(json.dumps(placeholder), replacement)
    return _plan.frame(text.encode(), BODY)


# Fields whose every mutation must be refused: the reproducers of the issue among them.
_FIELDS = [("weights", 0, "offset"), ("weights", 1, "count"), ("weights", 0, "nbytes"), ("weights", 0, "dtype"),
           ("inputs", 0), ("outputs", 0), ("tensors", 0, "dtype"), ("tensors", 0, "shape", 1),
           ("layers", 0, "inputs", 0), ("layers", 1, "outputs", 0), ("layers", 0, "kind"),
           ("layers", 0, "params", "num_output_maps"), ("profiles", 0, "shapes", "x", 0, 0),
           ("format_version",), ("tensors",), ("layers",), ("profiles",)]


def _field_mutations(rng):
    header = json.loads(HEADER)
    for path in _FIELDS:
        _at(header, path)  # the field exists: its mutations test something
        yield path, "remove", None
        for kind, values in _VALUES.items():
            for value in values:
                if value == -1 and path == ("tensors", 0, "shape", 1):
                    continue  # -1 is a valid dimension (any size): tested below as a neutral mutation
                yield path, kind, value
    paths = list(_paths(header))
    kinds = list(_VALUES) + ["remove", "past the end"]
    for _ in range(250):
        path = paths[int(rng.integers(len(paths)))]
        kind = kinds[int(rng.integers(len(kinds)))]
        values = _VALUES.get(kind, [int(rng.integers(0, 3))])
        yield path, kind, values[int(rng.integers(len(values)))]


def test_mutated_header_fields():
    faulthandler.dump_traceback_later(240, exit=True)
    outcomes = {"refused": 0, "failed": 0, "ran": 0}
    try:
        for path, kind, value in _field_mutations(np.random.default_rng(SEED)):
            what = f"{'.'.join(map(str, path))}: {kind} {str(value)[:40]}"
            outcome, _ = _check(_mutate(path, kind, value), what)
            if path in _FIELDS:
                assert outcome == "refused", what
            outcomes[outcome] += 1
    finally:
        faulthandler.cancel_dump_traceback_later()
    # Mostly refusals; some mutations touch what does not matter (a name, an unused parameter) and run.
    assert outcomes["refused"] > 250 and outcomes["ran"] > 0, outcomes


def _refusal(data):
    outcome, errors = _check(data, "explicit case")
    assert outcome == "refused"
    (message,) = errors
    return message


def test_weight_offset_minus_one_is_refused():
    # Before: read the header as weights and ran with NaN logits.
    message = _refusal(_mutate(("weights", 0, "offset"), "negative", -1))
    assert "header.weights[0].offset" in message and "-1" in message


def test_negative_input_index_is_refused():
    # Before: wrapped around to tensor 0.
    message = _refusal(_mutate(("inputs", 0), "negative", -1))
    assert "header.inputs[0]" in message
    assert "header.layers[0].inputs[0]" in _refusal(_mutate(("layers", 0, "inputs", 0), "negative", -1))


def test_unknown_enum_and_missing_parameter_are_refused():
    header = json.loads(HEADER)
    conv = header["layers"][0]
    assert conv["kind"] == "IConvolutionLayer"
    mode = next(k for k, v in conv["params"].items() if isinstance(v, dict) and "enum" in v)
    assert "NOT_A_MEMBER" in _refusal(_mutate(("layers", 0, "params", mode, "name"), "enum", "NOT_A_MEMBER"))
    assert "missing" in _refusal(_mutate(("layers", 0, "params", mode), "remove"))


def test_a_layer_that_does_not_validate_is_refused():
    # Well-formed, but the convolution no longer matches its weights: the builder would not have written it.
    message = _refusal(_mutate(("layers", 0, "params", "num_output_maps"), "type", 5))
    assert "do not validate" in message and "profile 0" in message


def test_deep_nesting_and_huge_values_are_refused_with_short_messages():
    for path, value in [(("name",), DEEP), (("name",), LONG_INT), (("name",), 10**400),
                        (("profiling_verbosity",), "A" * 100_000), (("layers", 0, "kind"), "A" * 100_000)]:
        message = _refusal(_mutate(path, "type", value))
        assert len(message) <= MAX_MESSAGE


def test_neutral_mutations_run_identically():
    # A -1 recorded dimension means "any size"; a layer's name is only a name.
    for data in (_mutate(("tensors", 1, "shape", 0), "negative", -1), _mutate(("layers", 1, "name"), "type", "A")):
        outcome, _ = _check(data, "neutral")
        assert outcome == "ran"


# ---- what deserialize_cuda_engine takes ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["bytes", "IHostMemory", "bytearray", "memoryview", "numpy"])
def test_any_buffer_loads(kind):
    host = trt.Runtime(Recorder()).deserialize_cuda_engine(PLAN).serialize()
    data = {"bytes": PLAN, "IHostMemory": host, "bytearray": bytearray(PLAN), "memoryview": memoryview(PLAN),
            "numpy": np.frombuffer(PLAN, np.uint8)}[kind]
    outcome, outputs, logger = _run(data)
    assert outcome == "ran" and all(np.array_equal(a, b) for a, b in zip(outputs, EXPECTED)), logger.errors()


@pytest.mark.parametrize("argument", [3, "plan", None, [1, 2, 3]])
def test_an_argument_that_is_no_buffer_is_a_type_error(argument):
    with pytest.raises(TypeError):
        trt.Runtime(Recorder()).deserialize_cuda_engine(argument)


# ---- run time -------------------------------------------------------------------------------------------------------

def _context():
    logger = Recorder()
    engine = trt.Runtime(logger).deserialize_cuda_engine(PLAN)
    return engine.create_execution_context(), logger


def test_execute_without_input_shape_or_addresses_returns_false():
    context, logger = _context()
    assert context.execute_async_v3(0) is False  # dynamic input shape not set
    assert logger.errors()
    context.set_input_shape("x", X.shape)
    assert context.execute_async_v3(0) is False  # no addresses
    assert context.execute_v2([0, 0]) is False
    assert len(logger.errors()) == 3


@pytest.mark.parametrize("error", [KeyError("k"), ZeroDivisionError("z"), MemoryError(), AssertionError("a"),
                                   OverflowError("o"), RecursionError("r")])
def test_a_layer_failing_at_run_time_fails_the_execution(error):
    context, logger = _context()

    def fail(inputs, ctx):
        raise error

    context.engine._plan.layers[1]._forward = fail
    context.set_input_shape("x", X.shape)
    y = np.zeros((BATCH, 4), np.float32)
    context.set_tensor_address("x", X.ctypes.data)
    context.set_tensor_address("y", y.ctypes.data)
    assert context.execute_async_v3(0) is False
    (message,) = logger.errors()
    assert message.startswith("IExecutionContext::enqueueV3: Error Code")
