"""What every tool shares: importing the project from a checkout, and one-line errors without a traceback."""
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
# A script run from tools/ has tools/ first on sys.path, where tools/inspect.py would shadow the standard library's
# `inspect` (numpy and torch import it): tools/ goes last. So every tool imports _common before anything else.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != TOOLS] + [TOOLS]
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def run(main, prog):
    """Run `main()`; user errors print `prog: error: message` and exit 2, Ctrl-C exits 130."""
    from netdefs.engine import BuildError, UserError
    user_errors = (UserError, BuildError, FileNotFoundError, ValueError, KeyError)
    try:
        from weights import WeightsError
        user_errors += (WeightsError,)
    except ImportError:
        pass
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    except user_errors as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"{prog}: error: {message}", file=sys.stderr)
        sys.exit(2)
