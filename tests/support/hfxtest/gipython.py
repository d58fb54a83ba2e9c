"""A python3 that can import gi (PyGObject), for the tests' fake portal: the
interpreter running the test, else Debian's /usr/bin/python3 (a python from
pyenv or a venv usually lacks python3-gi)."""
import os
import subprocess
import sys


def gi_python():
    """The path of such a python3, or None."""
    for py in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(py) and subprocess.run([py, "-c", "import gi"],
                                                 capture_output=True).returncode == 0:
            return py
    return None
