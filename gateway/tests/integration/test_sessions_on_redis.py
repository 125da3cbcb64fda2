"""The browser sessions on a real Redis (production's store): a logout kills a copied cookie at once, every key
expires by itself, and a Redis outage answers a French 503 that ends when Redis comes back."""
from __future__ import annotations

import time

import pytest
import redis

from gateway.browser import _store_key


@pytest.fixture
def redis_url(real_redis, tcp_proxy):
    proxy = tcp_proxy(real_redis)
    return proxy, proxy.url(real_redis)


@pytest.fixture
def app(make_app, redis_url):
    _, url = redis_url
    app = make_app(GATEWAY_STORE_URL=url)
    app.extensions["gateway"].clock = time.time  # Redis counts TTLs on its own clock
    return app


def test_a_copied_cookie_is_dead_right_after_logout_on_redis(app, client, log_in, downstream, urls, csrf,
                                                             real_redis):
    downstream.post(f"{urls['identity']}/api/sessions/logout", status=204)
    downstream.get(f"{urls['agrement']}/api/agrements/me", json={"pmi_number": "280001", "status": "active"})
    log_in()
    copied = client.get_cookie("assmat_session").value
    session_id = copied.rpartition(".")[0]
    store = app.extensions["gateway"].sessions.store
    assert store.get(_store_key(session_id)) is not None
    ttl = redis.Redis.from_url(real_redis).pttl(f"gateway:{_store_key(session_id)}")
    assert 0 < ttl <= (30 * 60 + 300) * 1000  # the idle timeout and its grace: Redis forgets it by itself

    client.post("/espace-pro/deconnexion", data={"csrf_token": csrf("/espace-pro/connexion")})
    assert store.get(_store_key(session_id)) is None
    client.set_cookie("assmat_session", copied)
    response = client.get("/espace-pro")
    assert response.status_code == 303 and response.headers["Location"].startswith("/espace-pro/connexion")


def test_a_redis_outage_answers_a_french_503_until_redis_is_back(client, log_in, redis_url):
    proxy, _ = redis_url
    log_in()
    proxy.cut()
    response = client.get("/espace-pro")
    assert response.status_code == 503
    assert "Réessayez dans quelques minutes" in response.get_data(as_text=True)
    proxy.restore()
    assert client.get("/espace-pro/connexion").status_code == 200
