"""`AutoTuneCombination`: the I/O type / format combinations (and custom tactics) a plugin supports.

Mirrors `tensorrt/plugin/_autotune.py` (TensorRT 11.4). The string syntax, per I/O position separated by commas:
"A|B" is a *dependent* choice (all '|' positions take their k-th option together), "A*B" an *independent* one
(combined with every other choice). TensorRT times every combination and tactic and keeps the fastest; reftrt has
nothing to time, so it only checks that the network's I/O types (in LINEAR format, the only one reftrt holds) are
among the combinations, and runs the smallest custom tactic advertised for them (0 when there is none).
"""
import itertools

from .._enums import DataType, TensorFormat


def _str_to_data_type(name):
    if name == "FP32":
        return DataType.FLOAT
    if name == "FP16":
        return DataType.HALF
    member = DataType.__members__.get(name)
    if member is None:
        raise ValueError(f"Unknown data type string '{name}'")
    return member


def _str_to_format(name):
    member = TensorFormat.__members__.get(name)
    if member is None:
        raise ValueError(f"Unknown tensor format string '{name}'")
    return member


def _expand(variants):
    """All per-position choices described by `variants` (one string per I/O position)."""
    dependent, independent, width = {}, {}, 0
    for position, variant in enumerate(variants):
        if variant is None:
            raise ValueError(f"Type/Format for I/O position {position} is not specified")
        if "|" in variant and "*" in variant:
            raise ValueError(f"Type/Format '{variant}' contains both '|' and '*'")
        options = [s.strip() for s in variant.replace("*", "|").split("|")]
        if "|" in variant:
            if width > 1 and len(options) != width:
                raise ValueError(f"Type/Format combinations {variants} contain illegal dependent lengths")
            width = max(width, len(options))
            dependent[position] = options
        else:
            independent[position] = options
    combos = []
    for k in range(max(width, 1)):
        fixed = {p: opts[k] for p, opts in dependent.items()}
        positions = sorted(independent)
        for choice in itertools.product(*(independent[p] for p in positions)):
            combo = dict(fixed)
            combo.update(zip(positions, choice))
            combos.append([combo[p] for p in range(len(variants))])
    return combos


class _TypeFormatCombination:
    def __init__(self, num=0):
        self.types = [None] * num
        self.layouts = [None] * num
        self.tactics = []

    def __hash__(self):
        return hash((tuple(self.types), tuple(self.layouts)))

    def __eq__(self, other):
        return isinstance(other, _TypeFormatCombination) and self.types == other.types and \
            self.layouts == other.layouts

    def __str__(self):
        return "{" + str([t.name for t in self.types]) + ", " + str([f.name for f in self.layouts]) + "}"


class AutoTuneCombination:
    def __init__(self, io_types=None, layouts=None, tactics=None):
        """Supported type/format combinations of the plugin's I/O (inputs first, then outputs), e.g.
        `AutoTuneCombination("FP32|FP16, FP32|FP16", "LINEAR", [1, 2])`."""
        if io_types is not None:
            self.io_types = [s.strip() for s in io_types.split(",")]
            self.layouts = [s.strip() for s in (layouts if layouts is not None else "LINEAR").split(",")]
            if len(self.layouts) > 1 and len(self.layouts) != len(self.io_types):
                raise ValueError(f"AutoTuneCombination: {len(self.io_types)} I/O types but {len(self.layouts)} "
                                 f"layouts")
            if len(self.io_types) > len(self.layouts):
                self.layouts = [self.layouts[0]] * len(self.io_types)
        else:
            self.io_types = []
            self.layouts = []
        self.combinations = []
        self._tactics = tactics

    def pos(self, pos, io_types, layouts="LINEAR"):
        """Types and formats for the I/O indices `pos` (an int or an iterable of ints)."""
        positions = [pos] if isinstance(pos, int) else list(pos)
        top = max(positions)
        if top >= len(self.io_types):
            self.io_types.extend([None] * (top + 1 - len(self.io_types)))
            self.layouts.extend([None] * (top + 1 - len(self.layouts)))
        for p in positions:
            if self.io_types[p] is not None:
                raise ValueError(f"Type(s) for position {p} already specified")
            if self.layouts[p] is not None:
                raise ValueError(f"Layout(s) for position {p} already specified")
            self.io_types[p] = io_types
            self.layouts[p] = layouts

    def tactics(self, tactics):
        """Custom tactics (positive integers) for this combination."""
        self._tactics = tactics

    def _generate_combinations(self):
        self.combinations = []
        for types in _expand(self.io_types):
            for layouts in _expand(self.layouts):
                c = _TypeFormatCombination(len(self.io_types))
                c.types = [_str_to_data_type(t) for t in types]
                c.layouts = [_str_to_format(f) for f in layouts]
                c.tactics = self._tactics
                self.combinations.append(c)

    def _get_combinations(self):
        self._generate_combinations()
        return self.combinations

    def __repr__(self):
        return f"AutoTuneCombination({', '.join(str(t) for t in self.io_types)!r}, " \
               f"{', '.join(str(f) for f in self.layouts)!r}, {self._tactics!r})"


def select(combinations, types):
    """(supported, tactic) for the I/O `types` in LINEAR format among `combinations` (AutoTuneCombinations)."""
    expanded = []
    for combination in combinations:
        if not isinstance(combination, AutoTuneCombination):
            raise TypeError(f"the autotune function must return AutoTuneCombinations, got "
                            f"{type(combination).__name__}")
        expanded.extend(combination._get_combinations())
    wanted = _TypeFormatCombination(len(types))
    wanted.types = list(types)
    wanted.layouts = [TensorFormat.LINEAR] * len(types)
    tactics, found = set(), False
    for c in expanded:
        if c == wanted:
            found = True
            tactics.update(int(t) for t in (c.tactics or ()))
    if any(t <= 0 for t in tactics):
        raise ValueError(f"custom tactics must be positive integers, got {sorted(tactics)}")
    return found, (min(tactics) if tactics else 0), expanded
