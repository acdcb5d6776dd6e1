"""``pybuildpack._exit.leave``: a finished process ends without the interpreter's teardown,
unless something may still need the normal exit. Each case runs in a process of its own:
an object whose finalizer prints shows whether the teardown ran."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

NOISY = (
    "import sys\n"
    f"sys.path.insert(0, {str(SRC)!r})\n"
    "class Noisy:\n"
    "    def __del__(self): print('teardown ran', file=sys.stderr)\n"
    "keep = Noisy()\n"
)


def leave_after(setup: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    script = (
        f"{NOISY}{setup}\n"
        "print('output before the exit', end='')\n"  # buffered: leave must flush it
        "from pybuildpack._exit import leave\n"
        f"leave({code})\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )


@pytest.mark.parametrize("code", [0, 1, 3])
def test_nothing_pending_ends_without_teardown_and_keeps_output_and_code(code: int) -> None:
    done = leave_after("", code)
    assert done.returncode == code
    assert done.stdout == "output before the exit"
    assert "teardown ran" not in done.stderr


# Work a normal exit would still do; each prints "pending ran" when it is done.
PENDING = {
    "atexit-callback": "import atexit\n"
    "atexit.register(lambda: print('pending ran', file=sys.stderr))",
    "running-thread": "import threading, time\n"
    "def late(): time.sleep(0.3); print('pending ran', file=sys.stderr)\n"
    "threading.Thread(target=late).start()",
    # weakref.finalize (temporary folders use it) registers itself with atexit when used
    "finalizer": "import weakref\n"
    "class Held: pass\n"
    "held = Held()\n"
    "weakref.finalize(held, print, 'pending ran', file=sys.stderr)",
}


@pytest.mark.parametrize("pending", PENDING.values(), ids=PENDING.keys())
def test_what_is_pending_gets_the_normal_exit(pending: str) -> None:
    done = leave_after(pending, 2)
    assert done.returncode == 2
    assert "pending ran" in done.stderr and "teardown ran" in done.stderr
    assert done.stdout == "output before the exit"


def test_a_standard_output_that_cannot_be_flushed_gets_the_normal_exit() -> None:
    """A reader that went away: the flush fails, and the normal exit reports it as usual."""
    gone = (
        "import io\n"
        "class Gone(io.StringIO):\n"
        "    def flush(self): raise BrokenPipeError(32, 'Broken pipe')\n"
        "sys.stdout = Gone()"
    )
    done = leave_after(gone, 4)
    assert done.returncode in (4, 120)  # 120: the interpreter's own flush failed too
    assert "teardown ran" in done.stderr
