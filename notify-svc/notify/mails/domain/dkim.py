"""DKIM signing (RFC 6376), rsa-sha256 with relaxed/relaxed canonicalization, when a key is configured.

Small and self-contained (cryptography is already a dependency through authlib): the mails are ours, their headers
known, so the general cases of a full DKIM library (verification, l=, simple canonicalization) are not needed.
"""
from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGNED_HEADERS = ("from", "to", "subject", "date", "message-id", "mime-version", "content-type",
                  "auto-submitted", "content-language")
_WSP = re.compile(rb"[ \t]+")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SELECTOR = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def split_message(data: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers (name, raw value with its folds) and the body of a CRLF message."""
    head, _, body = data.partition(b"\r\n\r\n")
    headers: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b"\r\n" + line)
        else:
            name, _, value = line.partition(b":")
            headers.append((name, value))
    return headers, body


def relaxed_header(name: bytes, value: bytes) -> bytes:
    value = value.replace(b"\r\n", b"")
    value = _WSP.sub(b" ", value).strip(b" ")
    return name.strip().lower() + b":" + value


def relaxed_body(body: bytes) -> bytes:
    lines = [_WSP.sub(b" ", line).rstrip(b" ") for line in body.split(b"\r\n")]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


@dataclass(frozen=True)
class DkimSigner:
    domain: str
    selector: str
    key: rsa.RSAPrivateKey = field(repr=False)

    def sign(self, data: bytes, now: float | None = None) -> bytes:
        """`data` with a DKIM-Signature header in front."""
        headers, body = split_message(data)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        present = {name.strip().lower().decode() for name, _ in headers}
        signed = [name for name in SIGNED_HEADERS if name in present]
        tags = (f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain}; s={self.selector}; "
                f"t={int(now if now is not None else time.time())}; h={':'.join(signed)}; bh={body_hash}; b=")
        # Each signed header's last instance (RFC 6376 5.4.2); ours appear once.
        by_name = {name.strip().lower().decode(): (name, value) for name, value in headers}
        canonical = b"".join(relaxed_header(*by_name[name]) + b"\r\n" for name in signed)
        canonical += relaxed_header(b"DKIM-Signature", b" " + tags.encode())
        signature = self.key.sign(canonical, padding.PKCS1v15(), hashes.SHA256())
        value = tags + base64.b64encode(signature).decode()
        # Folded at the "; " separators so no line runs past 998 octets; relaxed canonicalization ignores folds.
        folded = value.replace("; ", ";\r\n\t")
        return b"DKIM-Signature: " + folded.encode() + b"\r\n" + data


def load_signer(settings) -> DkimSigner | None:
    """The signer the settings configure, None without a domain; ValueError says what is wrong."""
    if not settings.dkim_domain:
        if settings.dkim_selector or settings.dkim_key_file:
            raise ValueError("NOTIFY_DKIM_DOMAIN is empty but a selector or key is set")
        return None
    domain, selector = settings.dkim_domain.lower(), settings.dkim_selector.lower()
    if not _DOMAIN.match(domain):
        raise ValueError(f"NOTIFY_DKIM_DOMAIN {settings.dkim_domain!r} is not a domain name")
    if not _SELECTOR.match(selector):
        raise ValueError(f"NOTIFY_DKIM_SELECTOR {settings.dkim_selector!r} is not a selector")
    try:
        pem = Path(settings.dkim_key_file).read_bytes()
    except OSError as error:
        raise ValueError(f"NOTIFY_DKIM_KEY_FILE {settings.dkim_key_file!r}: {error.strerror}") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValueError("NOTIFY_DKIM_KEY_FILE is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
        raise ValueError("NOTIFY_DKIM_KEY_FILE must hold an RSA key of 1024 bits or more (2048 advised)")
    return DkimSigner(domain, selector, key)
