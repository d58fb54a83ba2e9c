"""Checks that all run: each prints an `ok` or `FAIL` line, the failures are
collected, and the script's exit status comes from them at the end (a
browser test wants every colour and figure reported, not the first miss).
run_cases runs a script's case_* functions the same way."""
import time


class Checks:
    def __init__(self):
        self.failed = []

    def check(self, name, ok, detail=''):
        """Report name as ok or FAIL (with detail); returns ok."""
        print(f'{"ok  " if ok else "FAIL"} {name}{": " + str(detail) if detail else ""}',
              flush=True)
        if not ok:
            self.failed.append(name)
        return ok

    def verdict(self):
        """Print the PASS / FAIL line; the exit status (0 or 1)."""
        print(f'{"FAIL" if self.failed else "PASS"}: {len(self.failed)} checks failed',
              flush=True)
        return 1 if self.failed else 0


def run_cases(namespace, names=None):
    """Run the functions named case_* in namespace (a script's globals()),
    or those of names (without the prefix), each to its end whatever the
    others did; print `ok NAME (T s)` or `FAIL NAME: ...` for each and an
    `N passed, N failed` line. Returns the exit status (0 or 1)."""
    cases = {n[5:]: f for n, f in sorted(namespace.items()) if n.startswith('case_')}
    names = names or list(cases)
    failed = 0
    for name in names:
        t = time.monotonic()
        try:
            cases[name]()
            print(f'ok {name} ({time.monotonic() - t:.1f} s)', flush=True)
        except Exception as e:  # noqa: BLE001 - report every case
            failed += 1
            print(f'FAIL {name}: {type(e).__name__}: {e}', flush=True)
    print(f'{len(names) - failed} passed, {failed} failed')
    return 1 if failed else 0
