from flask import Flask

from services.web import ApiError, init_service_app, json_body


def make_app(ready=True):
    app = Flask(__name__)

    def check():
        if not ready:
            raise ConnectionError("down")

    init_service_app(app, "demo", {"database": check})

    @app.post("/things")
    def things():
        payload = json_body(required=("name",))
        if payload["name"] == "bad":
            raise ApiError(422, "bad_name", "Nom refusé.")
        return {"ok": True}

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    return app


def test_api_errors_are_json_with_a_code_and_a_french_message():
    client = make_app().test_client()
    assert client.post("/things", data="nope").get_json()["error"]["code"] == "invalid_json"
    missing = client.post("/things", json={})
    assert missing.status_code == 400 and missing.get_json()["error"]["details"] == {"fields": ["name"]}
    refused = client.post("/things", json={"name": "bad"})
    assert refused.status_code == 422 and refused.get_json() == {"error": {"code": "bad_name",
                                                                           "message": "Nom refusé."}}
    assert client.get("/nowhere").get_json()["error"]["message"] == "Ressource introuvable."


def test_unexpected_errors_do_not_leak_details():
    response = make_app().test_client().get("/boom")
    assert response.status_code == 500 and "secret" not in response.get_data(as_text=True)


def test_correlation_id_is_kept_when_sane_and_replaced_when_not():
    client = make_app().test_client()
    assert client.get("/healthz", headers={"X-Correlation-ID": "abc-123"}).headers["X-Correlation-ID"] == "abc-123"
    forged = client.get("/healthz", headers={"X-Correlation-ID": "bad id;drop"}).headers["X-Correlation-ID"]
    assert forged and forged != "bad id;drop"


def test_readiness_reports_each_check():
    assert make_app().test_client().get("/readyz").status_code == 200
    response = make_app(ready=False).test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["database"].startswith("failed")
