"""`python -m identity complete-registration`: PMI central finishes a registration by hand."""
from __future__ import annotations

import sqlalchemy as sa

from identity.activation.cli import complete_registration_command
from identity.adapters.orm import accounts, audit_log


def rows(container, table):
    with container.session_factory() as session:
        return session.execute(sa.select(table)).mappings().all()


def test_it_activates_a_pending_account_and_kills_its_links(client, flow, settings, container, outbox, capsys):
    link = flow.complete(email="marie.dupont@orange.fr")
    assert complete_registration_command(settings, ["123456", "--by", "agent.central"]) == 0
    [account] = rows(container, accounts)
    assert (account["status"], account["email"]) == ("active", "marie.dupont@orange.fr")
    assert client.post("/api/activation/confirm", json={"token": link}).json["error"]["code"] == "link_used"
    [activated] = outbox("identity.account_activated")
    assert (activated["data"]["method"], activated["data"]["email"]) == ("pmi_central", "marie.dupont@orange.fr")
    assert flow.login().status_code == 200  # her password from step 2 still works
    [audited] = [row for row in rows(container, audit_log) if row["action"] == "complete_registration"]
    assert audited["outcome"] == "success" and "agent.central" in audited["detail"]
    assert "activé" in capsys.readouterr().out


def test_it_creates_an_active_account_without_password(client, grant, settings, container, outbox):
    grant("654321", email="julie@laposte.net")
    assert complete_registration_command(settings, ["654321", "--email", "Julie.Martin@free.fr"]) == 0
    [account] = rows(container, accounts)
    assert (account["status"], account["email"], account["password_hash"]) == ("active", "julie.martin@free.fr", None)
    # The PMI's extract knows another address: it is told.
    [told] = outbox("identity.activation_elsewhere_notice")
    assert (told["data"]["email"], told["data"]["method"]) == ("julie@laposte.net", "pmi_central")


def test_it_refuses_an_unknown_number_or_an_active_account(flow, settings, capsys):
    assert complete_registration_command(settings, ["999999"]) == 1
    assert "Refusé" in capsys.readouterr().err
    flow.activate()
    assert complete_registration_command(settings, ["123456"]) == 1
    assert "déjà activé" in capsys.readouterr().err
