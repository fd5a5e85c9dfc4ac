"""Reading pickles without running code from them: whole pickled models become inert placeholders.

A pickle names functions and classes (GLOBAL) and calls them (REDUCE, NEWOBJ, BUILD); unpickling normally imports
and runs them, which is how a checkpoint can run code. Here every global resolves to an inert `Placeholder`
subclass that records what it was called with and does nothing, except a short allowlist of builders for data:

- numpy arrays and scalars, rebuilt by our own functions from a validated dtype code (bool, int/uint 8-64,
  float16/32/64) and a byte string of the validated length (np.frombuffer): never numpy's `__setstate__`, which
  trusts the file's dtype flags and lengths;
- torch tensors (`torch._utils._rebuild_tensor_v2`, parameters, dtypes, `torch.Size`), their storages coming from
  torch.load's own archive reader (persistent ids);
- OrderedDict, set, frozenset, and `_codecs.encode` for latin-1 text and `bytes()` (how protocol 2 stores bytes).

A pickled `nn.Module` thus becomes a placeholder whose state holds `_modules`, `_parameters` and `_buffers`, from
which `weights.checkpoint` builds the state_dict. torch is imported only for torch checkpoints.
"""
import collections
import io
import math
import pickle
import types

import numpy as np

MAX_DIMS = 32  # numpy's own limit is 64; no weight has more than a handful
MAX_DEPTH = 200  # nesting of containers and objects walked after unpickling


class Placeholder:
    """Something the pickle named (`pickled_module`.`pickled_name`), never imported nor run. Calling it, or
    `__new__`, records the arguments; BUILD records the state; list / dict-style items are recorded too."""

    __slots__ = ("pickled_args", "pickled_kwargs", "pickled_state", "pickled_items", "pickled_dict")
    pickled_module = pickled_name = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.pickled_args, self.pickled_kwargs, self.pickled_state = args, kwargs, None
        self.pickled_items, self.pickled_dict = [], {}
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.pickled_state = state

    def append(self, item):
        self.pickled_items.append(item)

    def extend(self, items):
        self.pickled_items.extend(items)

    def __setitem__(self, key, value):
        self.pickled_dict[key] = value

    def __repr__(self):
        return f"<unloaded {self.qualified_name()}>"

    @classmethod
    def qualified_name(cls):
        return f"{cls.pickled_module}.{cls.pickled_name}"

    @property
    def attributes(self):
        """The object's `__dict__` as pickled (an nn.Module's `_modules`, `_parameters` ...), or {}."""
        state = self.pickled_state
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):  # (dict, slots)
            state = {**(state[0] if isinstance(state[0], dict) else {}), **state[1]}
        return state if isinstance(state, dict) else {}


def placeholder_class(module, name):
    # The names come from the file: kept as data, never as a class's own __name__ (which must be a clean str).
    return type("Placeholder", (Placeholder,), {"__slots__": (), "pickled_module": module, "pickled_name": name})


# ---------------------------------------------------------------- numpy, from validated parts
_NUMERIC_CODES = {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"}


class _DtypeSpec:
    """What the pickle said about a dtype, validated; `dtype` is built by us."""

    def __init__(self, code, align=False, copy=True):
        if not (isinstance(code, str) and code in _NUMERIC_CODES) or align:
            raise pickle.UnpicklingError(f"unsupported numpy dtype {code!r:.40} (plain numeric dtypes only)")
        self.dtype = np.dtype(code)

    def __setstate__(self, state):
        # (version, byte order, subarray, names, fields, elsize, alignment, flags): only the byte order is taken;
        # anything that describes a structured, subarray or object dtype is refused.
        if not (isinstance(state, tuple) and len(state) in (8, 9) and state[0] in (3, 4)
                and state[1] in ("<", ">", "|", "=") and state[2:5] == (None, None, None)):
            raise pickle.UnpicklingError("unsupported numpy dtype state (plain numeric dtypes only)")
        if state[1] in "<>" and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder(state[1])


class _ArraySpec:
    """numpy's `_reconstruct(ndarray, (0,), b'b')` followed by BUILD: the array is made in `__setstate__`."""

    array = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) in (4, 5)):
            raise pickle.UnpicklingError("bad numpy array state")
        shape, dtype, fortran, raw = state[-4:]
        self.array = _array(raw, dtype, shape, "F" if fortran else "C")


class _NdarrayMarker:
    """Stands for `numpy.ndarray`, the only class `_reconstruct` accepts."""


def _reconstruct(cls, shape=None, typecode=None):
    if cls is not _NdarrayMarker:
        raise pickle.UnpicklingError("numpy _reconstruct of something other than an ndarray")
    return _ArraySpec()


def _frombuffer(buffer, dtype, shape, order="C"):  # numpy's pickle protocol 5 form
    return _ArraySpecDone(_array(buffer, dtype, shape, order))


class _ArraySpecDone(_ArraySpec):
    def __init__(self, array):
        self.array = array

    def __setstate__(self, state):
        raise pickle.UnpicklingError("bad numpy array state")


def _scalar(dtype, raw=None):
    array = _array(raw, dtype, (), "C")
    return array[()]


def _array(raw, dtype, shape, order):
    if not isinstance(dtype, _DtypeSpec):
        raise pickle.UnpicklingError("numpy array without a plain numeric dtype")
    if isinstance(raw, str):  # Python 2 pickles read with encoding="latin1"
        raw = raw.encode("latin1")
    if isinstance(raw, pickle.PickleBuffer):
        raw = bytes(raw)
    if not isinstance(raw, (bytes, bytearray)):
        raise pickle.UnpicklingError("numpy array data is not bytes (object arrays are not weights)")
    if not (isinstance(shape, tuple) and len(shape) <= MAX_DIMS
            and all(type(d) is int and d >= 0 for d in shape)) or order not in ("C", "F", True, False):
        raise pickle.UnpicklingError(f"bad numpy array shape {shape!r:.100}")
    count = math.prod(shape)
    if len(raw) != count * dtype.dtype.itemsize:
        raise pickle.UnpicklingError(f"numpy array of shape {shape!r:.100} and dtype {dtype.dtype} needs "
                                     f"{count * dtype.dtype.itemsize} bytes, the pickle has {len(raw)}")
    if dtype.dtype.kind == "b" and raw.translate(None, b"\x00\x01"):
        raise pickle.UnpicklingError("a bool array holds bytes other than 0 and 1")
    # bytearray: a writable array (torch.from_numpy takes it without a warning), one array's copy at a time.
    array = np.frombuffer(raw if isinstance(raw, bytearray) else bytearray(raw), dtype.dtype, count)
    return array.reshape(shape, order="F" if order in ("F", True) else "C")


def _encode(text, encoding="latin1"):
    if not (isinstance(text, str) and encoding in ("latin1", "latin-1", "iso-8859-1", "iso8859-1")):
        raise pickle.UnpicklingError("_codecs.encode is allowed for latin-1 text only")
    return text.encode("latin1")


def _empty_bytes(*args):  # protocol 2 writes b"" as a call of `bytes`; bytes(n) would allocate n bytes
    if args:
        raise pickle.UnpicklingError("bytes() is allowed without arguments only")
    return b""


def _reconstructor(cls, base, state=None):  # copyreg's, for objects of old-style reduce
    if isinstance(cls, type) and issubclass(cls, Placeholder):
        return cls.__new__(cls)
    return placeholder_class("copyreg", "_reconstructor")(cls, base, state)


_DATA_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set, ("__builtin__", "frozenset"): frozenset,
    ("_codecs", "encode"): _encode, ("builtins", "bytes"): _empty_bytes, ("__builtin__", "bytes"): _empty_bytes,
    ("copyreg", "_reconstructor"): _reconstructor, ("copy_reg", "_reconstructor"): _reconstructor,
    ("numpy", "ndarray"): _NdarrayMarker, ("numpy", "dtype"): _DtypeSpec,
}
for _core in ("numpy.core", "numpy._core"):
    _DATA_GLOBALS.update({(f"{_core}.multiarray", "_reconstruct"): _reconstruct,
                          (f"{_core}.multiarray", "scalar"): _scalar,
                          (f"{_core}.numeric", "_frombuffer"): _frombuffer})


# ---------------------------------------------------------------- torch tensors
def _torch_globals():
    import torch
    import torch._utils

    def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                          metadata=None):
        # Hooks and metadata are dropped: they may be placeholders, and weights need neither.
        return rebuild_tensor(storage, storage_offset, size, stride)

    def rebuild_tensor(storage, storage_offset, size, stride):
        if not isinstance(storage, torch.storage.TypedStorage):
            raise pickle.UnpicklingError("a tensor without a storage from the archive")
        size, stride = tuple(size), tuple(stride)
        if not (type(storage_offset) is int and storage_offset >= 0 and len(size) == len(stride) <= MAX_DIMS
                and all(type(d) is int and d >= 0 for d in size + stride)):
            raise pickle.UnpicklingError(f"bad tensor geometry {size!r:.100} / {stride!r:.100}")
        if math.prod(size) and storage_offset + sum((d - 1) * s for d, s in zip(size, stride)) >= storage.size():
            raise pickle.UnpicklingError(f"a tensor of shape {size!r:.100} reaches past its storage")
        return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, False,
                                               collections.OrderedDict())

    def rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
        if not isinstance(data, torch.Tensor):
            raise pickle.UnpicklingError("a parameter without a tensor")
        return data

    def rebuild_from_type_v2(func, new_type, args, state):
        # A tensor subclass (or a tensor with Python attributes): the plain tensor is what weights need.
        if func in (rebuild_tensor_v2, rebuild_tensor, rebuild_parameter) and isinstance(args, tuple):
            return func(*args)
        return placeholder_class("torch._tensor", "_rebuild_from_type_v2")(func, new_type, args, state)

    found = {("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor_v2,
             ("torch._utils", "_rebuild_tensor"): rebuild_tensor,
             ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
             ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
             ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type_v2,
             ("torch", "Size"): torch.Size, ("torch", "device"): torch.device}
    for name in dir(torch):
        if isinstance(getattr(torch, name, None), torch.dtype):
            found[("torch", name)] = getattr(torch, name)
    return found


# ---------------------------------------------------------------- unpicklers
_CONTAINERS = (dict, list, set, collections.OrderedDict)


class SafeUnpickler(pickle._Unpickler):
    """Resolves every global to a placeholder except the data builders above; imports nothing.

    Python's own unpickler (the pure-Python one, so that opcodes can be checked) with two more rules: BUILD
    (`__setstate__`, or setting attributes) applies only to placeholders and our numpy specs, never to a class,
    a function or a tensor; and items are added only to plain containers and placeholders (`tensor[i] = v` and
    attributes set on our builders are not data).
    """

    extra_globals = {}
    record = None  # a list shared by every instance (torch.load makes its own instances): see torch_safe_unpickler
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, **kwargs):
        super().__init__(file, **kwargs)
        self._placeholders = {}
        # qualified names of what the file asked for and did not get
        self.placeholders_made = [] if self.record is None else self.record

    def find_class(self, module, name):
        key = (module, name)
        found = _DATA_GLOBALS.get(key) or self.extra_globals.get(key)
        if found is not None:
            return found
        if key not in self._placeholders:
            self._placeholders[key] = placeholder_class(module, name)
            self.placeholders_made.append(f"{module}.{name}")
        return self._placeholders[key]

    def _target(self, kinds, opcode):
        target = self.stack[-1]
        if not isinstance(target, kinds):
            raise pickle.UnpicklingError(f"{opcode} on a {type(target).__name__:.40} refused")
        return target

    def load_build(self):
        state = self.stack.pop()
        if type(self.stack[-1]) is collections.OrderedDict:
            return  # a state_dict's `_metadata` (module versions): not needed, and attributes are not data
        self._target((Placeholder, _DtypeSpec, _ArraySpec), "BUILD").__setstate__(state)
    dispatch[pickle.BUILD[0]] = load_build

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self._target(_CONTAINERS + (Placeholder,), "SETITEM")[key] = value
    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self):
        items = self.pop_mark()
        target = self._target(_CONTAINERS + (Placeholder,), "SETITEMS")
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]
    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_append(self):
        value = self.stack.pop()
        self._target((list, Placeholder), "APPEND").append(value)
    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self):
        items = self.pop_mark()
        self._target((list, Placeholder), "APPENDS").extend(items)
    dispatch[pickle.APPENDS[0]] = load_appends

    def load_additems(self):
        items = self.pop_mark()
        self._target((set,), "ADDITEMS").update(items)
    dispatch[pickle.ADDITEMS[0]] = load_additems


class TrustedUnpickler(pickle.Unpickler):
    """Plain unpickling (runs code) that also finds a YOLOv5 repository's modules (`models.yolo`, `utils.general`)
    in the pip `yolov5` package when they do not import under their own names."""

    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            if module.split(".")[0] not in ("models", "utils"):
                raise
            try:
                return super().find_class(f"yolov5.{module}", name)
            except (ImportError, AttributeError):
                pass
            raise


def pickle_module(unpickler):
    """A module object to hand torch.load as `pickle_module`: torch reads its archive (zip or legacy) and
    storages itself, and unpickles with `unpickler` underneath its own storage handling."""
    module = types.ModuleType(f"weights_{unpickler.__name__}")
    module.Unpickler = unpickler
    module.load = lambda file, **kwargs: unpickler(file, **kwargs).load()
    module.loads = lambda data, **kwargs: unpickler(io.BytesIO(data), **kwargs).load()
    module.UnpicklingError = pickle.UnpicklingError
    return module


def torch_safe_unpickler():
    """SafeUnpickler with torch's tensor builders allowed; its `record` lists the placeholders made."""
    return type("TorchSafeUnpickler", (SafeUnpickler,), {"extra_globals": _torch_globals(), "record": []})


def load_plain(file, trusted=False):
    """Unpickle a plain (non-torch) pickle: (object, names of globals replaced by placeholders)."""
    if trusted:
        return TrustedUnpickler(file, encoding="latin1").load(), []
    unpickler = SafeUnpickler(file, encoding="latin1")
    return resolve(unpickler.load()), unpickler.placeholders_made


def resolve(obj):
    """`obj` with the array specs the numpy builders left in it replaced by their arrays, in place where the
    container is mutable (unpickling cannot: BUILD fills an object it has already placed)."""
    memo = {}

    def walk(o, depth):
        if isinstance(o, _ArraySpec):
            if o.array is None:
                raise pickle.UnpicklingError("a numpy array that was never filled in")
            return o.array
        if not isinstance(o, (dict, list, tuple, Placeholder)):
            return o
        if id(o) in memo:
            return memo[id(o)]
        if depth > MAX_DEPTH:
            raise pickle.UnpicklingError(f"objects nested more than {MAX_DEPTH} deep")
        memo[id(o)] = o  # cycles end here
        if isinstance(o, dict):
            for k in list(o):
                o[k] = walk(o[k], depth + 1)
        elif isinstance(o, list):
            o[:] = [walk(v, depth + 1) for v in o]
        elif isinstance(o, tuple):
            memo[id(o)] = o = tuple(walk(v, depth + 1) for v in o)
        else:
            o.pickled_args = walk(o.pickled_args, depth + 1)
            o.pickled_state = walk(o.pickled_state, depth + 1)
            o.pickled_items = walk(o.pickled_items, depth + 1)
            o.pickled_dict = walk(o.pickled_dict, depth + 1)
        return o
    return walk(obj, 0)
