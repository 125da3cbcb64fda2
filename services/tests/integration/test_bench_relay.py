"""`assmat bench relay` on both ways of running: it measures, and leaves nothing behind."""
from __future__ import annotations

import sqlalchemy as sa

from services.bench_pipeline import run_relay
from services.bus import Bus


def test_bench_relay_on_the_embedded_default():
    figures = run_relay(300)
    assert figures["database"] == "sqlite" and figures["broker"] == "sqlitebus"
    assert figures["relay_per_second"] > 0 and figures["plain_with_confirms"]["messages"] == 300


def test_bench_relay_on_the_real_servers_cleans_up(real_servers):
    figures = run_relay(300, real_servers.postgres_url, real_servers.broker_url)
    assert figures["database"] == "postgresql" and figures["broker"] == "amqp"
    assert figures["relay_per_second"] > 0 and figures["plain_with_confirms"]["confirms"]
    assert figures["relay_vs_plain_with_confirms"] > 0
    admin = sa.create_engine(real_servers.postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.connect() as connection:
        left = connection.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :name"),
                                  {"name": f"{figures['namespace']}%"}).scalars().all()
    admin.dispose()
    assert left == [], "its database is dropped"
    bus = Bus(real_servers.broker_url, figures["namespace"])
    assert bus.waiting(bus.queue_name("sink")) is None and bus.waiting(bus.unroutable_queue_name) is None, \
        "its queues are deleted"
