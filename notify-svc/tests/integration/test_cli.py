"""`python -m notify ...` as the embedded runner and docker-compose start it."""
import os
import subprocess
import sys

import sqlalchemy as sa


def _notify(*args, env):
    return subprocess.run([sys.executable, "-m", "notify", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_production_without_a_mail_url_refuses_to_start():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NOTIFY_", "ASSMAT_"))}
    env.update(ASSMAT_ENV="production", NOTIFY_DATABASE_URL="postgresql://db/notify", BROKER_URL="amqp://mq//")

    result = _notify("worker", env=env)

    assert result.returncode == 2
    assert "NOTIFY_MAIL_URL" in result.stderr


def test_migrate_creates_the_delivery_log(local_environ):
    result = _notify("migrate", env={**os.environ, **local_environ})

    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(local_environ["NOTIFY_DATABASE_URL"])
    assert "mails" in sa.inspect(engine).get_table_names()
    engine.dispose()
