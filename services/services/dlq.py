"""Dead letters: list, show, replay and purge what the bus set aside, on RabbitMQ and on the SQLite transport.

Sources, for a namespace `ns`: each consuming service's dead-letter queue `ns.<svc>.dead` (events that failed every
retry, bodies that are not events, messages past the delivery limit), and `ns.unroutable` (events published while
no queue was bound to their type). The outbox's parked rows will be listed beside them through the
`parked_outbox_rows` hook of `list_dead_letters` (services.outbox owns them).

A queue is read with basic.get without acknowledging: what is neither replayed nor purged goes back to the queue
when the channel closes, in its place (RabbitMQ requeues to the original position; the SQLite transport only
releases its lease). So listing loses and reorders nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kombu import Queue

from services.bus import ATTEMPTS_HEADER, BROKER_HEADERS, DEAD_AT_HEADER, ERROR_HEADER, UNROUTABLE, Bus, Outgoing

log = logging.getLogger("services.dlq")

_REASONS = {
    "delivery_limit": "delivery limit exceeded: delivered again and again without an ack (its consumer died "
                      "while handling it?)",
    "rejected": "rejected by its consumer",
    "maxlen": "dropped from a full queue",
    "expired": "expired",
}
_CLEARED_ON_REPLAY = (ATTEMPTS_HEADER, ERROR_HEADER, DEAD_AT_HEADER, *BROKER_HEADERS)


@dataclass
class DeadLetter:
    id: str                   # the event id (the message id), or a digest of a body that is not an event
    source: str               # the consuming service, or "unroutable"
    queue: str
    event_type: str | None
    subject: str | None
    error: str
    when: str | None          # when it was set aside, ISO 8601 (for unroutable events: when they occurred)
    envelope: dict | None     # the event as published, when the body is JSON
    body: str | None = None   # the body as text, when it is not JSON
    routing_key: str = ""
    headers: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.id, "source": self.source, "queue": self.queue, "event_type": self.event_type,
                "subject": self.subject, "error": self.error, "when": self.when, "routing_key": self.routing_key,
                "headers": self.headers, "envelope": self.envelope, "body": self.body}


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def sources(bus: Bus, services: Iterable[str], only: str | None = None) -> list[tuple[str, str]]:
    """(source, queue) pairs: each service's dead-letter queue, then the unroutable queue; `only` keeps one."""
    pairs = [(service, bus.dead_letter_queue_name(service)) for service in services]
    pairs.append((UNROUTABLE, bus.unroutable_queue_name))
    if only is not None:
        pairs = [pair for pair in pairs if pair[0] == only]
        if not pairs:
            raise ValueError(f"unknown source {only!r}")
    return pairs


def _iso(value) -> str | None:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat(timespec="seconds")
    return str(value) if value else None


def _letter(source: str, queue: str, message) -> DeadLetter:
    headers = dict(message.headers or {})
    raw = message.body if isinstance(message.body, bytes) else str(message.body or "").encode("utf-8")
    envelope, text = None, None
    try:
        decoded = json.loads(raw.decode(message.content_encoding or "utf-8"))
        envelope = decoded if isinstance(decoded, dict) else {"value": decoded}
    except (ValueError, LookupError):
        text = raw.decode("utf-8", errors="replace")
    properties = message.properties or {}
    letter_id = (properties.get("message_id") or (envelope or {}).get("id")
                 or "sha-" + hashlib.sha256(raw).hexdigest()[:16])
    deaths = headers.get("x-death") or []
    last_death = deaths[0] if deaths and isinstance(deaths[0], dict) else {}  # the newest comes first
    error = headers.get(ERROR_HEADER) or ""
    if not error and headers.get("x-first-death-reason"):
        reason = str(headers["x-first-death-reason"])
        error = _REASONS.get(reason, reason)
    if not error and source == UNROUTABLE:
        error = "unroutable: no queue was bound to its type when it was published"
    when = (_iso(headers.get(DEAD_AT_HEADER)) or _iso(last_death.get("time"))
            or _iso((envelope or {}).get("occurred_at")))
    routing_key = (message.delivery_info or {}).get("routing_key", "")
    return DeadLetter(id=str(letter_id), source=source, queue=queue,
                      event_type=(envelope or {}).get("type") or (routing_key if source == UNROUTABLE else None),
                      subject=(envelope or {}).get("subject"), error=str(error), when=when, envelope=envelope,
                      body=text, routing_key=routing_key, headers={k: _plain(v) for k, v in headers.items()})


def _plain(value):
    """Headers as JSON can show them (RabbitMQ's x-death holds timestamps)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


Decide = Callable[[DeadLetter], str]   # "keep", "replay", "purge" or "stop" (keep it, and read no further)


def _scan(bus: Bus, source: str, queue_name: str, decide: Decide, outcome: Outcome | None = None) -> list[DeadLetter]:
    """Read the queue from its head, letting `decide` settle each letter; what is kept goes back in place."""
    seen: list[DeadLetter] = []
    # Only what is there now: a replayed unroutable event that is still unroutable comes back at the tail.
    waiting = bus.waiting(queue_name)
    if not waiting:
        return seen
    with bus.connected() as conn:
        channel = conn.channel()
        queue = Queue(queue_name)(channel)
        replays: list[tuple[DeadLetter, object, Outgoing]] = []
        for _ in range(waiting):
            message = queue.get(no_ack=False, accept=None)
            if message is None:
                break
            letter = _letter(source, queue_name, message)
            action = decide(letter)
            seen.append(letter)
            if action == "purge":
                message.ack()
                if outcome is not None:
                    outcome.done.append(letter.id)
            elif action == "replay":
                replays.append((letter, message, _replay_message(bus, letter, message)))
                if len(replays) >= 200:
                    _replay(bus, replays, outcome)
                    replays = []
            if action == "stop":
                break
        _replay(bus, replays, outcome)
        # Closing the channel hands every message neither replayed nor purged back to the queue, in its place.
        channel.close()
    return seen


def _replay_message(bus: Bus, letter: DeadLetter, message) -> Outgoing:
    headers = {key: value for key, value in dict(message.headers or {}).items() if key not in _CLEARED_ON_REPLAY}
    body = message.body if isinstance(message.body, bytes) else str(message.body or "").encode("utf-8")
    if letter.source == UNROUTABLE:  # through the exchange again: its consumer's bindings now route it
        exchange, routing_key = bus.exchange.name, letter.routing_key
    else:  # straight back to the service's own queue, with a fresh count of attempts
        exchange, routing_key = "", bus.queue_name(letter.source)
    return Outgoing(exchange, routing_key, body, letter.id, headers, message.content_type or "",
                    message.content_encoding or "")


def _replay(bus: Bus, replays: list, outcome: Outcome | None) -> None:
    if not replays:
        return
    refusals = bus.send([outgoing for _, _, outgoing in replays])
    for (letter, message, _), refusal in zip(replays, refusals):
        if refusal:  # kept where it was
            if outcome is not None:
                outcome.failed[letter.id] = refusal
            continue
        message.ack()
        if outcome is not None:
            outcome.done.append(letter.id)


def _first(limit: int) -> Decide:
    read = 0

    def decide(letter: DeadLetter) -> str:
        nonlocal read
        read += 1
        return "stop" if read >= limit else "keep"
    return decide


def list_dead_letters(bus: Bus, services: Iterable[str], *, only: str | None = None, limit: int = 1000,
                      parked_outbox_rows: Callable[[], Iterable[DeadLetter]] | None = None) -> list[DeadLetter]:
    """Up to `limit` letters per source, oldest first. `parked_outbox_rows` is the hook through which the outbox's
    parked rows (events the broker kept refusing) will be listed with them."""
    letters: list[DeadLetter] = []
    for source, queue_name in sources(bus, services, only):
        found = _scan(bus, source, queue_name, _first(limit))
        if source == UNROUTABLE and found:
            log.warning("unroutable events kept aside", extra={"queue": queue_name, "count": len(found)})
        letters += found
    if parked_outbox_rows is not None and only is None:
        letters += list(parked_outbox_rows())
    return letters


def show(bus: Bus, services: Iterable[str], letter_id: str, *, only: str | None = None) -> DeadLetter | None:
    """The letter with this id (the first one, if a redelivery made two), whole; None if there is none."""
    for source, queue_name in sources(bus, services, only):
        found = _scan(bus, source, queue_name, lambda letter: "stop" if letter.id == letter_id else "keep")
        if found and found[-1].id == letter_id:
            return found[-1]
    return None


def _settle(bus: Bus, services: Iterable[str], ids: Iterable[str] | None, action: str,
            only: str | None) -> Outcome:
    wanted = None if ids is None else set(ids)
    outcome = Outcome()
    for source, queue_name in sources(bus, services, only):
        def decide(letter: DeadLetter) -> str:
            if wanted is None or letter.id in wanted:
                return action
            return "keep"
        _scan(bus, source, queue_name, decide, outcome)
    if wanted is not None:
        outcome.missing = sorted(wanted - set(outcome.done) - set(outcome.failed))
    return outcome


def replay(bus: Bus, services: Iterable[str], ids: Iterable[str] | None = None, *,
           only: str | None = None) -> Outcome:
    """Send the letters with these ids (all if None) back: a service's to its queue with attempts reset, an
    unroutable event to the exchange with its routing key. A letter is removed once the broker confirmed it."""
    return _settle(bus, services, ids, "replay", only)


def purge(bus: Bus, services: Iterable[str], ids: Iterable[str] | None = None, *,
          only: str | None = None) -> Outcome:
    """Delete the letters with these ids (all if None), for good."""
    return _settle(bus, services, ids, "purge", only)

