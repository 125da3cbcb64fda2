"""The expiring store on its three backends: SQLite (embedded default), PostgreSQL and Redis (real servers)."""
from __future__ import annotations

import threading
import time

import pytest

from services.expiring import SqlExpiringStore, open_store


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return open_store(f"sqlite:///{tmp_path}/store.sqlite3", namespace="t")
    if request.param == "postgresql":
        servers = request.getfixturevalue("real_servers")
        return open_store(servers.database("expiring"), namespace="t")
    return open_store(request.getfixturevalue("real_redis"), namespace=request.getfixturevalue("redis_namespace"))


def test_hits_count_within_a_window_and_start_again_after_it(store):
    assert [store.hit("ip:1", 1.0) for _ in range(3)] == [1, 2, 3]
    assert store.count("ip:1") == 3
    assert store.count("ip:2") == 0
    time.sleep(1.2)
    assert store.count("ip:1") == 0
    assert store.hit("ip:1", 1.0) == 1


def test_a_value_is_taken_once_and_expires(store):
    store.put("captcha:a", "KX7P", ttl_seconds=60)
    assert store.get("captcha:a") == "KX7P"
    assert store.take("captcha:a") == "KX7P"
    assert store.take("captcha:a") is None
    assert store.get("captcha:a") is None
    store.put("captcha:b", "QWER", ttl_seconds=0.5)
    time.sleep(0.7)
    assert store.get("captcha:b") is None
    assert store.take("captcha:b") is None


def test_put_replaces_and_delete_removes(store):
    store.put("session:s", "one", ttl_seconds=60)
    store.put("session:s", "two", ttl_seconds=60)
    assert store.get("session:s") == "two"
    store.delete("session:s")
    assert store.get("session:s") is None
    store.delete("session:never-set")  # deleting what is not there is fine


def test_replace_writes_only_over_a_live_key(store):
    assert store.replace("session:a", "v1", ttl_seconds=60) is False
    assert store.get("session:a") is None  # a deleted or never-written key does not come back
    store.put("session:a", "v1", ttl_seconds=60)
    assert store.replace("session:a", "v2", ttl_seconds=60) is True
    assert store.get("session:a") == "v2"
    store.delete("session:a")
    assert store.replace("session:a", "v3", ttl_seconds=60) is False
    assert store.get("session:a") is None
    store.put("session:b", "v1", ttl_seconds=0.5)
    time.sleep(0.7)
    assert store.replace("session:b", "v2", ttl_seconds=60) is False and store.get("session:b") is None


def test_concurrent_hits_are_all_counted(store):
    def hammer():
        for _ in range(25):
            store.hit("global", 60)
    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count("global") == 100


def test_only_one_of_two_takers_gets_a_single_use_value(store):
    results = []
    for round_ in range(20):
        store.put(f"state:{round_}", "x", ttl_seconds=60)
        barrier = threading.Barrier(2)

        def take(key=f"state:{round_}"):
            barrier.wait()
            results.append(store.take(key))
        threads = [threading.Thread(target=take) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results.count("x") == 20 and results.count(None) == 20


def test_namespaces_do_not_mix(tmp_path):
    url = f"sqlite:///{tmp_path}/shared.sqlite3"
    first, second = open_store(url, namespace="identity"), open_store(url, namespace="gateway")
    first.put("k", "identity's", 60)
    assert second.get("k") is None
    assert first.get("k") == "identity's"


def test_the_sql_backend_follows_the_callers_clock_and_purges(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/clock.sqlite3")
    assert isinstance(store, SqlExpiringStore)
    assert store.hit("k", 60, now=1000.0) == 1
    assert store.hit("k", 60, now=1059.0) == 2
    assert store.hit("k", 60, now=1060.0) == 1   # the window opened at 1000 closed at 1060
    store.put("v", "x", 10, now=1000.0)
    assert store.get("v", now=1009.9) == "x"
    assert store.get("v", now=1010.0) is None
    assert store.purge(now=2000.0) == 2


def test_keys_are_checked():
    store = open_store("sqlite://")
    with pytest.raises(ValueError):
        store.put("", "x", 1)
    with pytest.raises(ValueError):
        store.hit("k" * 300, 1)
