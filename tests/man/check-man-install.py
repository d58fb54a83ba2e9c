#!/usr/bin/python3
"""`meson install --tags man` into a DESTDIR puts each man page where man
looks for it: MANDIR/manSECTION/PAGE, the same bytes as the built page.

    check-man-install.py MESON BUILD_ROOT PAGE...

PAGE: the built pages that are to be installed. Exit status 0 or 1."""
import json
import os
import subprocess
import sys
import tempfile

MESON, BUILD = sys.argv[1:3]
PAGES = sys.argv[3:]


def main():
    opts = json.loads(subprocess.run([MESON, "introspect", "--buildoptions", BUILD],
                                     capture_output=True, text=True, check=True).stdout)
    opt = {o["name"]: o["value"] for o in opts}
    mandir = os.path.join(opt["prefix"], opt["mandir"])
    bad = 0
    with tempfile.TemporaryDirectory(prefix="hfx-man-") as dest:
        r = subprocess.run([MESON, "install", "-C", BUILD, "--no-rebuild", "--quiet",
                            "--destdir", dest, "--tags", "man"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            print(f"FAIL meson install: {r.stdout}{r.stderr}")
            return 1
        for page in PAGES:
            name = os.path.basename(page)
            want = os.path.join(dest + mandir, "man" + name.rsplit(".", 1)[1], name)
            if not os.path.isfile(want):
                print(f"FAIL {name} not installed at {want}")
                bad += 1
                continue
            with open(page, "rb") as a, open(want, "rb") as b:
                if a.read() != b.read():
                    print(f"FAIL {want} differs from {page}")
                    bad += 1
                    continue
            print(f"{name}: {want[len(dest):]}")
        found = [f for _, _, fs in os.walk(dest) for f in fs]
        if len(found) != len(PAGES):
            print(f"FAIL installed {sorted(found)}, expected {len(PAGES)} pages")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
