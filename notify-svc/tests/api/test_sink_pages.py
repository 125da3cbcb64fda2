"""The sink's pages and API: there in local runs, 404 everywhere else; mail HTML never rendered into the page."""
import datetime as dt
import uuid
from email.message import EmailMessage

import pytest

from notify import create_app
from notify.mails.domain.messages import checked_sender, compose, email_confirmation
from notify.mails.domain.rendering import render
from notify.settings import Settings

ENDPOINTS = [("get", "/sink"), ("get", "/sink/20251126T090000000000Z-" + "0" * 32),
             ("get", "/api/sink/messages"), ("delete", "/api/sink/messages")]


@pytest.fixture
def app(local_settings):
    return create_app(local_settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sink(app):
    return app.extensions["notify"].sink


@pytest.fixture
def send_confirmation(sink, confirmation_data):
    def send(**overrides):
        draft = email_confirmation(confirmation_data(**overrides))
        sent_at = dt.datetime(2025, 11, 26, 9, 0, tzinfo=dt.timezone.utc)
        sink.send(compose(uuid.uuid4(), checked_sender("Portail assmat – PMI <ne-pas-repondre@assmat.local>"), draft,
                          render(draft.template, draft.context), sent_at))
    return send


def _hostile_mail(sink):
    message = EmailMessage()
    message["From"] = "pirate@example.fr"
    message["To"] = "marie.dupont@orange.fr"
    message["Subject"] = "<b>Objet</b> piégé"
    message.set_content("Voir https://portail.example/x?a=1&b=<2> maintenant.")
    message.add_alternative('<p>Bonjour</p><script>alert("sink")</script><img src="https://tracker.example/p.gif">',
                            subtype="html")
    sink.send(message)


def test_the_list_page_shows_caught_mails_newest_first(client, send_confirmation):
    send_confirmation(email="premiere@example.fr")
    send_confirmation(email="seconde@example.fr")

    response = client.get("/sink")

    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<html lang="fr">' in page and 'name="viewport"' in page
    assert page.index("seconde@example.fr") < page.index("premiere@example.fr")
    assert page.count("Confirmez votre adresse e-mail – espace professionnel") == 2
    assert "26/11/2025 10:00:00" in page  # the Date header, in Paris time


def test_the_list_page_says_when_nothing_arrived(client):
    assert "Aucun message reçu" in client.get("/sink").get_data(as_text=True)


def test_one_mail_shows_its_headers_and_its_text_with_clickable_links(client, sink, send_confirmation):
    send_confirmation()
    [caught] = list(sink.messages())

    response = client.get(f"/sink/{caught.id}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "marie.dupont@orange.fr" in page and "ne-pas-repondre@assmat.local" in page
    url = "https://portail.example/activation/confirmer?jeton=s3cr3t&amp;etape=2"
    assert f'<a href="{url}" rel="noopener noreferrer">{url}</a>' in page
    assert "jeudi 27 novembre 2025 à 15 h 30" in page


def test_mail_html_stays_escaped_in_a_sandboxed_frame(client, sink):
    _hostile_mail(sink)
    [caught] = list(sink.messages())

    response = client.get(f"/sink/{caught.id}")

    page = response.get_data(as_text=True)
    assert "<script>" not in page and "<b>Objet</b>" not in page and "<img" not in page
    assert 'sandbox srcdoc="&lt;p&gt;Bonjour&lt;/p&gt;&lt;script&gt;' in page
    assert "&lt;b&gt;Objet&lt;/b&gt; piégé" in page
    # The link stops before what could close the attribute; the rest of the text stays escaped.
    assert '<a href="https://portail.example/x?a=1&amp;b=" rel="noopener noreferrer">' in page
    assert "&lt;2&gt; maintenant." in page
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("message_id", ["20251126T090000000000Z-" + "0" * 32, "..%2F..%2Fetc%2Fpasswd"])
def test_an_unknown_mail_is_404(client, message_id):
    response = client.get(f"/sink/{message_id}")
    assert response.status_code == 404


def test_the_api_lists_mails_for_tests(client, send_confirmation, sink):
    send_confirmation(email="marie.dupont@orange.fr")
    _hostile_mail(sink)
    send_confirmation(email="paul.martin@free.fr", confirmation_url="https://portail.example/c?jeton=autre")

    everything = client.get("/api/sink/messages").get_json()
    for_paul = client.get("/api/sink/messages?to=Paul.Martin@FREE.fr").get_json()

    assert [message["to"] for message in everything] == \
        ["paul.martin@free.fr", "marie.dupont@orange.fr", "marie.dupont@orange.fr"]
    [mail] = for_paul
    assert set(mail) == {"id", "to", "subject", "date", "text", "links"}
    assert mail["links"] == ["https://portail.example/c?jeton=autre"]
    assert mail["subject"] == "Confirmez votre adresse e-mail – espace professionnel"
    assert mail["date"] == "2025-11-26T09:00:00+00:00"
    assert mail["text"].startswith("Bonjour Marie Dupont,\n")
    assert len(client.get("/api/sink/messages?limit=2").get_json()) == 2


@pytest.mark.parametrize("query, code", [("limit=0", "invalid_limit"), ("limit=501", "invalid_limit"),
                                         ("limit=dix", "invalid_limit"), ("to=" + "a" * 321, "invalid_to")])
def test_bad_queries_get_a_french_error(client, query, code):
    response = client.get(f"/api/sink/messages?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code and "doit" in error["message"]


def test_delete_clears_the_sink(client, send_confirmation):
    send_confirmation()
    send_confirmation()

    assert client.delete("/api/sink/messages").get_json() == {"deleted": 2}
    assert client.get("/api/sink/messages").get_json() == []


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_nothing_of_the_sink_exists_in_production(tmp_path, method, path):
    settings = Settings(environment="production", database_url=f"sqlite:///{tmp_path / 'notify.sqlite3'}",
                        broker_url="memory://", mail_url="smtp://smtp.cd28.fr:587?starttls=1")
    response = getattr(create_app(settings).test_client(), method)(path)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_a_local_run_that_mails_through_smtp_has_no_sink(local_environ, method, path):
    from notify.settings import load_settings
    settings = load_settings({**local_environ, "NOTIFY_MAIL_URL": "smtp://127.0.0.1:2525"})
    assert getattr(create_app(settings).test_client(), method)(path).status_code == 404


def test_health_and_readiness(app, client, local_settings):
    from services.db import upgrade
    from services.health import WorkerStatus
    upgrade(local_settings.database_url, "notify:migrations")
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "notify-svc"}
    # No worker has said it is alive: the web process may answer, but what it records would go nowhere.
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.get_json()["checks"]["database"] == "ok"
    WorkerStatus(app.extensions["notify"].session_factory, "notify").beat("consuming", None, "ok", None)
    assert client.get("/readyz").status_code == 200
