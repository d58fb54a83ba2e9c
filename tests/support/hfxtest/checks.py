"""Checks that all run: each prints an `ok` or `FAIL` line, the failures are
collected, and the script's exit status comes from them at the end (a
browser test wants every colour and figure reported, not the first miss)."""


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
