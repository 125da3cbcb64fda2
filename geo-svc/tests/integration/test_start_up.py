"""Outside local runs a missing required setting stops start-up at once, naming the variable."""
import os
import subprocess
import sys


def test_production_start_without_database_url_exits_naming_it():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GEO_", "BROKER_URL"))}
    env.update(ASSMAT_ENV="production", BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
    result = subprocess.run([sys.executable, "-m", "geo", "web"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "GEO_DATABASE_URL" in result.stderr and "BROKER_URL" not in result.stderr.split("setting(s)")[1]
