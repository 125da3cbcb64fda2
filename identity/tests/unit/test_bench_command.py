"""`python -m identity bench` runs logins through the API beside plain argon2id and prints its figures (never
asserted here: only that every login succeeded and the JSON line carries both rates)."""
import json

from identity.bench import run


def test_the_login_benchmark_logs_in_and_prints_both_rates(capsys):
    assert run(["--logins", "4", "--accounts", "2", "--threads", "1"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["failed_logins"] == 0
    assert figures["argon2"] == {"time_cost": 2, "memory_kib": 19456, "parallelism": 1}
    assert figures["logins_per_s_1t"] > 0 and figures["argon2_verify_per_s_1t"] > 0
