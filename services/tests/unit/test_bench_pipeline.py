"""How `assmat bench pipeline` turns its samples into rates."""
from __future__ import annotations

from services.bench_pipeline import Sample, busy_rate


def sample(at: float, done: int, waiting: int) -> Sample:
    return Sample(at=at, written={"p": done + waiting}, pending={"p": waiting}, inbox={"c": done},
                  queued={"c": waiting}, searchable=None, cost=0.0)


def test_a_stage_is_timed_while_work_waits_for_it_and_over_its_activity():
    samples = [sample(0, 0, 0), sample(1, 0, 500),       # idle, then work arrives
               sample(2, 100, 900), sample(3, 300, 700),  # behind: 100/s then 200/s
               sample(4, 400, 50), sample(5, 450, 0),     # catching up, then drained
               sample(6, 450, 0)]
    rates = busy_rate(samples, lambda s: s.inbox["c"], lambda s: s.queued["c"], threshold=100)
    assert rates["busy_seconds"] == 3 and rates["busy_per_second"] == round(400 / 3, 1)
    assert rates["events"] == 450 and rates["active_seconds"] == 4 and rates["overall_per_second"] == 112.5


def test_a_stage_never_behind_has_no_busy_rate():
    samples = [sample(0, 0, 0), sample(1, 10, 5), sample(2, 20, 0)]
    rates = busy_rate(samples, lambda s: s.inbox["c"], lambda s: s.queued["c"], threshold=100)
    assert rates["busy_per_second"] is None and rates["overall_per_second"] == 10
