"""A notify worker killed (SIGKILL) in the middle of a batch: every mail still reaches the SMTP server exactly once.

Real processes (`python -m notify worker`), PostgreSQL, RabbitMQ and an aiosmtpd server on 127.0.0.1 that takes
a little time to answer each mail, so that the killed worker dies holding mails, some before their final dot
(`sending`: another worker sends them) and some after it (`committing`: the server has them; never sent again).
"""
import asyncio
import collections
import email
import os
import signal
import socket
import subprocess
import sys
import threading
from email import policy

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from notify.adapters.orm import mails, metadata
from services.bus import Bus
from services.catalogue.identity import EMAIL_CONFIRMATION_REQUESTED
from services.db import make_engine
from services.testing import eventually

MAILS = 80


class SlowServer:
    def __init__(self):
        self.message_ids = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        await asyncio.sleep(0.02)  # the worker waits for this answer in `sending`
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.message_ids.append(str(message["Message-ID"]))
        await asyncio.sleep(0.04)  # the worker waits for this answer in `committing`
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_worker_killed_mid_batch_sends_each_mail_exactly_once(real_servers, confirmation_data, tmp_path):
    database_url = real_servers.database("notify_crash")
    engine = make_engine(database_url)
    metadata.create_all(engine)
    server = SlowServer()
    controller = Controller(server, hostname="127.0.0.1", port=_free_port())
    controller.start()
    namespace = f"{real_servers.namespace}_crash"
    environ = {**os.environ, "ASSMAT_ENV": "test", "NOTIFY_DATABASE_URL": database_url,
               "BROKER_URL": real_servers.broker_url, "BUS_NAMESPACE": namespace,
               "NOTIFY_MAIL_URL": f"smtp://127.0.0.1:{controller.port}", "NOTIFY_SENDERS": "2",
               "NOTIFY_POLL_SECONDS": "0.05", "NOTIFY_CLAIM_LEASE_SECONDS": "2", "OUTBOX_POLL_SECONDS": "0.1",
               "NOTIFY_DOMAIN_PACE": "", "LOG_LEVEL": "WARNING"}
    bus = Bus(real_servers.broker_url, namespace)
    from notify.mails.consumers import MAILS as SPECS
    bus.declare("notify", [spec.type for spec in SPECS], [100, 200])
    events = [EMAIL_CONFIRMATION_REQUESTED.build(data["account_id"], data)
              for data in (confirmation_data(email=f"assmat{number}@example.fr") for number in range(MAILS))]
    for event in events:
        bus.publish(event)
    workers = []

    def start_worker(name):
        log = open(tmp_path / f"{name}.log", "wb")
        workers.append(subprocess.Popen([sys.executable, "-m", "notify", "worker"], env=environ,
                                        stdout=log, stderr=subprocess.STDOUT))
        return workers[-1]

    def held_by(pid):
        with engine.connect() as connection:
            return connection.execute(sa.select(mails.c.id, mails.c.status).where(
                mails.c.claim_token.like(f"{pid:x}-%"), mails.c.status.in_(("sending", "committing")))).all()

    try:
        victim = start_worker("victim")
        start_worker("survivor")
        eventually(lambda: len(server.message_ids) >= MAILS // 4, timeout=60)
        held = eventually(lambda: held_by(victim.pid), timeout=30, interval=0.005)
        victim.send_signal(signal.SIGKILL)  # no clean-up of any kind: rows stay claimed, messages unacked
        victim.wait(timeout=10)
        start_worker("replacement")

        def settled():
            with engine.connect() as connection:
                rows = connection.execute(sa.select(mails.c.status)).scalars().all()
            return len(rows) == MAILS and all(status in ("sent", "unconfirmed") for status in rows) and rows

        statuses = eventually(settled, timeout=120)
    finally:
        for process in workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        controller.stop()
        with bus.connection() as connection:
            queue = bus.queue_name("notify")
            for name in [queue, f"{queue}.dead", bus.retry_queue_name("notify", 100),
                         bus.retry_queue_name("notify", 200)]:
                connection.default_channel.queue_delete(name)
        bus.close()

    with engine.connect() as connection:
        expected = sorted(connection.execute(sa.select(mails.c.message_id)).scalars())
        held_after = {row.id: row.status for row in connection.execute(
            sa.select(mails.c.id, mails.c.status).where(mails.c.id.in_([row.id for row in held])))}
    engine.dispose()
    counts = collections.Counter(server.message_ids)
    assert [message_id for message_id, count in counts.items() if count > 1] == []  # no mail twice
    assert sorted(counts) == expected and len(expected) == MAILS                      # no mail missing
    # The mails the killed worker held were finished by the others: sent again if their dot never left,
    # `unconfirmed` (and at the server once) if it had.
    assert set(held_after.values()) <= {"sent", "unconfirmed"}
    assert statuses.count("unconfirmed") <= len(held)
