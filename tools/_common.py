"""What every tool shares: importing the project from a checkout, one-line user errors, and argument checks."""
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tools run from a checkout without installing the project.
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# netdefs.errors.UserError is this class; importing it from weights keeps tools that need no netdefs light.
from weights.errors import UserError  # noqa: E402  (after the project is importable)


def run(main, prog):
    """Run `main()`. A UserError (bad input: a file, an argument, a model name; weights.WeightsError and
    netdefs.errors.BuildError are ones) prints `prog: error: message` on one line and exits 2; Ctrl-C exits 130.
    Anything else is a bug and keeps its traceback."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    except UserError as e:
        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
        sys.exit(2)


def one_line(error, limit=2000):
    """The error's message on one line (a multi-line message would look like a traceback), bounded in length."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + " ..."


# ---- argument checks: nonsense is refused before anything is loaded, with the allowed range in the message
def check_range(flag, value, lo, hi, integer=True):
    """`value` when it is a number in [lo, hi] (an integer when `integer`); None passes (an unset option)."""
    if value is None:
        return None
    ok = (not isinstance(value, bool) and isinstance(value, (int, float)) and not math.isnan(value)
          and lo <= value <= hi and (not integer or float(value).is_integer()))
    if not ok:
        kind = "an integer" if integer else "a number"
        raise UserError(f"{flag} must be {kind} in [{lo}, {hi}], got {value!r}")
    return int(value) if integer else float(value)


def image_size(values):
    """--imgsz N or H W as the `imgsz` option (None when not given)."""
    if not values:
        return None
    from netdefs.family import MAX_IMGSZ
    if len(values) > 2:
        raise UserError(f"--imgsz takes N or H W, got {len(values)} values")
    for v in values:
        check_range("--imgsz", v, 1, MAX_IMGSZ)
    return values[0] if len(values) == 1 else tuple(values)


def output_dir(flag, path):
    """`path` when it can be a directory to write into (it need not exist yet)."""
    if path is not None and os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{flag} {path}: exists and is not a directory")
    return path


def output_file(flag, path):
    """`path` when it can be a file to write (not an existing directory)."""
    if path is not None and os.path.isdir(path):
        raise UserError(f"{flag} {path}: is a directory; give a file name")
    return path
