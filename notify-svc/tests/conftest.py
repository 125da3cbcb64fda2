import uuid

import pytest

from notify.settings import load_settings
from services.catalogue.identity import EMAIL_CONFIRMATION_REQUESTED


@pytest.fixture
def confirmation_data():
    """Factory: the data of an identity.email_confirmation_requested event, fields overridable."""
    def make(**overrides) -> dict:
        data = {"account_id": str(uuid.uuid4()), "email": "marie.dupont@orange.fr", "display_name": "Marie Dupont",
                "confirmation_url": "https://portail.example/activation/confirmer?jeton=s3cr3t&etape=2",
                "expires_at": "2025-11-27T14:30:00+00:00"}
        data.update(overrides)
        return data
    return make


@pytest.fixture
def confirmation_event(confirmation_data):
    """Factory: an identity.email_confirmation_requested event as identity publishes it."""
    def make(**overrides):
        data = confirmation_data(**overrides)
        return EMAIL_CONFIRMATION_REQUESTED.build(data["account_id"], data)
    return make


@pytest.fixture
def local_environ(tmp_path) -> dict:
    """The variables of a local run: SQLite file, sink directory, in-memory broker (these tests never connect)."""
    return {"ASSMAT_ENV": "test", "NOTIFY_DATABASE_URL": f"sqlite:///{tmp_path / 'notify.sqlite3'}",
            "BROKER_URL": "memory://", "NOTIFY_MAIL_URL": f"sink://{tmp_path / 'mail'}",
            "CONSUMER_RETRY_DELAYS_MS": "10,10"}


@pytest.fixture
def local_settings(local_environ):
    return load_settings(local_environ)
