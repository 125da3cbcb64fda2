"""What the audit trail keeps of an identifier: enough to group the attempts on one account and to recognise it,
never the identifier in clear nor any secret."""
from __future__ import annotations

import hashlib
import json

DETAIL_MAX_LENGTH = 2000


def masked_identifier(identifier: str | None) -> str | None:
    """'28••01#3f2a9c1b' for a PMI number, 'ma•••@orange.fr#...' for an e-mail: the visible part lets support
    recognise a case they are told about, the hash groups the attempts on one identifier. A PMI number has only a
    million values, so the hash hides nothing from whoever can read this table; it is not meant to: that reader can
    read the accounts too. What it keeps out is the clear identifier in exports and logs."""
    if not identifier:
        return None
    value = str(identifier).strip().lower()[:254]
    digest = hashlib.sha256(b"assmat-audit:" + value.encode()).hexdigest()[:8]
    if "@" in value:
        local, _, domain = value.partition("@")
        visible = f"{local[:2]}•••@{domain[:40]}"
    elif len(value) >= 6:
        visible = f"{value[:2]}••{value[-2:]}"
    else:
        visible = "•••"
    return f"{visible}#{digest}"[:80]


SECRET_KEYS = ("password", "token", "ticket", "answer", "captcha_answer", "secret", "totp", "code")


def clean_detail(detail: dict | None) -> str | None:
    """The detail as JSON, with any key that could hold a secret dropped (a caller's mistake must not put a
    password in the trail)."""
    if not detail:
        return None
    kept = {key: value for key, value in detail.items()
            if not any(secret in key.lower() for secret in SECRET_KEYS)}
    return json.dumps(kept, ensure_ascii=False, default=str)[:DETAIL_MAX_LENGTH] if kept else None
