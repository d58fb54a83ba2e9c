#!/usr/bin/python3
"""A built man page against its program.

    check-man.py PAGE PROGRAM

PAGE is the page scdoc made (e.g. build/docs/man/hfxd.8), PROGRAM the
program it documents. Checks:
  - groff formats the page without a single warning (-ww), and man-db's
    lexgrog reads its NAME section (what apropos and whatis show);
  - the page has the header PROGRAM(SECTION), a NAME line "PROGRAM - ...",
    and the sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS and
    SEE ALSO;
  - every long option that `PROGRAM --help` prints is in the page, and every
    option the page's OPTIONS section describes is in --help: the two cannot
    drift apart.
Exit status 0 when all hold, 77 when groff is missing, 1 otherwise."""
import os
import re
import shutil
import subprocess
import sys

PAGE, PROGRAM = sys.argv[1:3]
NAME = os.path.basename(PROGRAM)
SECTION = PAGE.rsplit(".", 1)[1]
LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]")
failures = []


def fail(what):
    failures.append(what)
    print("FAIL", what)


def render():
    """The page as plain text, one long line per paragraph line (no
    overstrike, no escapes, lines 250 columns wide, words broken at a
    hyphen joined again)."""
    r = subprocess.run(["groff", "-man", "-Tascii", "-rLL=250n", "-P-cbou", PAGE],
                       capture_output=True, text=True, check=True)
    return re.sub(r"-\n\s+", "-", r.stdout)


def sections(text):
    """Section name -> its text (headings are the lines in column 0)."""
    out, cur = {}, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            cur = out.setdefault(line.strip(), [])
        elif cur is not None:
            cur.append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def main():
    if not shutil.which("groff"):
        print("skipped: groff not found (Debian package groff-base)")
        return 77
    r = subprocess.run(["groff", "-man", "-Tascii", "-ww", "-z", PAGE],
                       capture_output=True, text=True)
    if r.returncode != 0 or r.stderr.strip():
        fail(f"groff -ww: {r.returncode} {r.stderr.strip()}")
    if shutil.which("lexgrog"):
        r = subprocess.run(["lexgrog", PAGE], capture_output=True, text=True)
        if r.returncode != 0 or f"{NAME} - " not in r.stdout:
            fail(f"lexgrog cannot read NAME: {r.stdout.strip()} {r.stderr.strip()}")

    text = render()
    first = text.lstrip().splitlines()[0]
    if not first.startswith(f"{NAME}({SECTION})"):
        fail(f"header {first!r}, not {NAME}({SECTION})")
    secs = sections(text)
    for want in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "SEE ALSO"]:
        if want not in secs:
            fail(f"no section {want} (sections: {list(secs)})")
    if not re.search(rf"^\s*{re.escape(NAME)} - \S", secs.get("NAME", ""), re.M):
        fail(f"NAME is not '{NAME} - ...'")

    r = subprocess.run([PROGRAM, "--help"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"{NAME} --help exited {r.returncode}: {r.stderr}")
    in_help = set(LONG.findall(r.stdout))
    if len(in_help) < 5:
        fail(f"only {sorted(in_help)} in {NAME} --help: not an option list")
    in_page = set(LONG.findall(text))
    for opt in sorted(in_help - in_page):
        fail(f"{opt} is in {NAME} --help, not in {os.path.basename(PAGE)}")
    # The options the page describes: the OPTIONS section's items, the lines
    # at its first indentation that start with a dash.
    items = [l for l in secs.get("OPTIONS", "").splitlines() if re.match(r"^ {7}-", l)]
    described = set(LONG.findall("\n".join(items)))
    if not described:
        fail("no option items found in OPTIONS")
    for opt in sorted(described - in_help):
        fail(f"{opt} is described in {os.path.basename(PAGE)}, not in {NAME} --help")
    print(f"{os.path.basename(PAGE)}: {len(in_help)} long options in --help, "
          f"{len(described)} described, all in both; sections {', '.join(secs)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
