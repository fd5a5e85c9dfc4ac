"""The conformance checker's own rules, on hand-made signatures (no reftrt, no bindings)."""
import enum

import trt_apicheck as ac


class Color(enum.Enum):
    RED = 0

    def __int__(self):
        return self.value

    def __repr__(self):
        return f"<Color.{self.name}: {self.value}>"


def params(func):
    return ac._without_self(list(ac.inspect.signature(func).parameters.values()))


def overloads(*lines, name="f"):
    return [ac.parse_signature(line, name) for line in lines]


def test_parse_signature():
    ov = ac.parse_signature("2. f(self: m.T, a: dict[str, int], b: m.Color = <Color.RED: 0>, "
                            "c: str = 'x, y', arg3: typing.Callable[[int], None] = None) -> m.R", "f")
    assert [(p.name, p.default) for p in ov.params] == [
        ("a", None), ("b", "<Color.RED: 0>"), ("c", "'x, y'"), ("arg3", "None")]
    assert ov.params[3].unnamed and not ov.params[0].unnamed
    assert ac.parse_signature("f() -> int", "f").params == ()


def test_overloads_of_skips_the_star_header():
    sigs = ["f(*args, **kwargs)", "1. f(self: T) -> None", "2. f(self: T, a: int) -> None"]
    assert [len(ov.params) for ov in ac.overloads_of(sigs, "f")] == [0, 1]
    assert ac.overloads_of(["f(*args, **kwargs)"], "f") == []


def test_exact_signature():
    ovs = overloads("f(self: T, a: int, b: m.Color = <Color.RED: 0>) -> None")
    def good(self, a, b=Color.RED): ...
    def renamed(self, x, b=Color.RED): ...
    def extra_default(self, a=0, b=Color.RED): ...
    def wrong_default(self, a, b=None): ...
    def extra(self, a, b=Color.RED, c=1): ...
    def keyword_only(self, *, a, b=Color.RED): ...
    assert ac.check_signature("f", params(good), ovs) == ([], [])
    for bad in (renamed, extra_default, wrong_default, extra, keyword_only):
        failures, _ = ac.check_signature("f", params(bad), ovs)
        assert failures, bad.__name__


def test_unnamed_parameters_take_any_name_even_positional_only():
    ovs = overloads("f(self: T, arg0: int) -> int")
    def positional_only(self, index, /): ...
    assert ac.check_signature("f", params(positional_only), ovs) == ([], [])


def test_one_signature_may_implement_several_overloads():
    ovs = overloads("1. f(self: T, a: int) -> None", "2. f(self: T, a: int, kind: m.Color) -> None")
    def both(self, a, kind=None): ...
    def first(self, a): ...
    def invented(self, a, other=None): ...
    assert ac.check_signature("f", params(both), ovs) == ([], [])
    assert ac.check_signature("f", params(first), ovs) == ([], [ovs[1].text])
    assert ac.check_signature("f", params(invented), ovs)[0]


def test_dispatcher_entries_match_distinct_overloads_exactly():
    ovs = overloads("1. f(self: T, type: m.Color = <Color.RED: 0>) -> None",
                    "2. f(self: T, a: numpy.ndarray) -> None")
    def empty(self, type=Color.RED): ...
    def array(self, a): ...
    def loose(self, a=None): ...
    assert ac.check_dispatcher("f", [empty, array], ovs, drop_self=True) == ([], [])
    assert ac.check_dispatcher("f", [empty], ovs, drop_self=True) == ([], [ovs[1].text])
    assert ac.check_dispatcher("f", [loose], ovs, drop_self=True)[0]
    assert ac.check_dispatcher("f", [array, array], ovs, drop_self=True)[0]


def test_defaults_compare_as_pybind11_prints_them():
    assert ac.canon(Color.RED) == "<Color.RED: 0>"
    assert [ac.canon(v) for v in (None, "", 0, False)] == ["None", "''", "0", "False"]
