"""Enums that behave like pybind11's: named members with TensorRT's integer values.

pybind11 enums are not Python `enum.Enum`s: `str(DataType.FLOAT)` is "DataType.FLOAT", `repr` is
"<DataType.FLOAT: 0>", `int()` gives the value, `DataType(0)` looks a member up, members compare equal only to
members of the same enum, and the class has `__members__` but is not iterable.
"""
import operator

from . import _enum_tables, _version


class TrtEnum:
    __slots__ = ("_name", "_value")
    __members__: dict = {}
    _by_value: dict = {}

    def __new__(cls, value):
        if isinstance(value, cls):
            return value
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(f"{cls.__name__}(): expected an integer value, got {type(value).__name__}") from None
        if not -(1 << 31) <= value < 1 << 31:
            raise TypeError(f"{cls.__name__}(): {value} does not fit in an int32")
        member = cls._by_value.get(value)
        # pybind11 makes a nameless member for a value the enum does not define: <DataType.???: 99>.
        return member if member is not None else cls._make("???", value)

    @classmethod
    def _make(cls, name, value):
        member = object.__new__(cls)
        member._name, member._value = name, value
        return member

    @property
    def name(self):
        return self._name

    @property
    def value(self):
        return self._value

    def __int__(self):
        return self._value

    __index__ = __int__

    def __hash__(self):
        return hash(self._value)

    def __eq__(self, other):
        return type(other) is type(self) and other._value == self._value

    def __ne__(self, other):
        return not self == other

    def __str__(self):
        return f"{type(self).__name__}.{self._name}"

    def __repr__(self):
        return f"<{type(self).__name__}.{self._name}: {self._value}>"

    def __reduce__(self):
        return type(self), (self._value,)


def make_enum(name, members, base=TrtEnum, qualname=None, canonical=()):
    """An enum class; names sharing a value are aliases of one member, whose .name is the one in `canonical`,
    else the first given."""
    cls = type(name, (base,), {"__slots__": (), "__module__": "reftrt"})
    if qualname:
        cls.__qualname__ = qualname
    cls.__members__ = {}
    cls._by_value = {}
    for member_name, value in sorted(members.items(), key=lambda kv: kv[1]):
        member = cls._by_value.get(value)
        if member is None:
            member = cls._by_value[value] = cls._make(member_name, value)
        elif member_name in canonical:
            member._name = member_name
        setattr(cls, member_name, member)
        cls.__members__[member_name] = member
    return cls


def _tables():
    version_only = _enum_tables.ONLY_11 if _version.IS_11 else _enum_tables.ONLY_10
    return {**_enum_tables.COMMON, **version_only}


def _canonical():
    return _enum_tables.CANONICAL_11 if _version.IS_11 else _enum_tables.CANONICAL_10


class _DataTypeBase(TrtEnum):
    __slots__ = ()

    @property
    def itemsize(self):
        # Bytes per element as the real DataType.itemsize reports it (sub-byte types report fractions).
        return _ITEMSIZE.get(self._name)


# E8M0: TensorRT 11.4's itemsize gives None.
_ITEMSIZE = {"FLOAT": 4, "HALF": 2, "INT8": 1, "INT32": 4, "BOOL": 1, "UINT8": 1, "FP8": 1, "BF16": 2,
             "INT64": 8, "INT4": 0.5, "FP4": 0.5, "E8M0": None}

ENUMS = {}
for _name, _members in sorted(_tables().items()):
    ENUMS[_name] = make_enum(_name, _members, _DataTypeBase if _name == "DataType" else TrtEnum,
                             canonical=_canonical().get(_name, ()))

# Nested enum of ILogger / Logger, not in the manifest's top-level enums.
Severity = make_enum("Severity", {"INTERNAL_ERROR": 0, "ERROR": 1, "WARNING": 2, "INFO": 3, "VERBOSE": 4},
                     qualname="ILogger.Severity")

globals().update(ENUMS)
