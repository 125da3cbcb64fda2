import time

import pytest


class Timeline:
    """Moments of a drill, in seconds since its start, printed with the test's output."""

    def __init__(self, title: str):
        self.title = title
        self.started = time.monotonic()
        self.moments: list[tuple[str, float]] = []
        self.figures: list[tuple[str, object]] = []

    def now(self) -> float:
        return time.monotonic() - self.started

    def mark(self, what: str) -> float:
        at = self.now()
        self.moments.append((what, at))
        return at

    def figure(self, what: str, value) -> None:
        self.figures.append((what, value))

    def render(self) -> str:
        lines = [f"--- {self.title}"]
        lines += [f"  {at:7.1f} s  {what}" for what, at in sorted(self.moments, key=lambda moment: moment[1])]
        lines += [f"  {what}: {value}" for what, value in self.figures]
        return "\n".join(lines)


@pytest.fixture
def timeline(request, capsys):
    """A Timeline printed at the end of the test, whatever its outcome, past pytest's capture (the drills report
    their timings in every run, not only with -s)."""
    line = Timeline(request.node.name)
    yield line
    with capsys.disabled():
        print("\n" + line.render(), flush=True)
