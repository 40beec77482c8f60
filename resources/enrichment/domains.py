"""Canonical company domains from whatever a CRM holds: a domain, a website URL or an email."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna

from resources.enrichment.company_taxonomy import COUNTRY_SECOND_LEVELS, PERSONAL_EMAIL_DOMAINS
from resources.enrichment.text import clean_spaces

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_WWW = re.compile(r"^www\d*\.")


class InvalidDomainError(ValueError):
    """The text cannot be read as a public domain name; the message says why."""


def canonical_domain(raw: str) -> str:
    """`HTTPS://www.Acme.com/about?x=1` → `acme.com`; `jane@münchen.de` → `xn--mnchen-3ya.de`.

    Lower case, no scheme, user, port, path, trailing dot or leading `www.`; IDNA A-labels.
    Subdomains other than `www` are kept (`eu.acme.com`): without the Public Suffix List the
    registrable part is not known for certain.
    """
    text = clean_spaces(raw).strip("<>\"' ")
    if not text:
        raise InvalidDomainError("empty")
    if " " in text:
        raise InvalidDomainError(f"contains spaces: {raw!r}")
    if "//" not in text and "@" in text:
        text = text.rsplit("@", 1)[1]  # an email address, or mailto:
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname
    except ValueError as exc:
        raise InvalidDomainError(f"not a URL or domain: {raw!r}") from exc
    if not host:
        raise InvalidDomainError(f"no host name in {raw!r}")
    host = host.rstrip(".")
    if _is_ip_address(host):
        raise InvalidDomainError(f"an IP address, not a domain: {host}")
    if _WWW.match(host) and host.count(".") >= 2:
        host = _WWW.sub("", host)
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidDomainError(f"not a valid domain name: {host!r} ({exc})") from exc
    _validate(ascii_host)
    return ascii_host


def _validate(host: str) -> None:
    labels = host.split(".")
    if len(host) > 253:
        raise InvalidDomainError("longer than 253 characters")
    if len(labels) < 2:
        raise InvalidDomainError(f"no top-level domain in {host!r}")
    bad = [label for label in labels if not _LABEL.match(label)]
    if bad:
        raise InvalidDomainError(f"invalid label {bad[0]!r} in {host!r}")
    if not _TLD.match(labels[-1]):
        raise InvalidDomainError(f"invalid top-level domain {labels[-1]!r} in {host!r}")


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_personal_email_domain(domain: str) -> bool:
    return domain in PERSONAL_EMAIL_DOMAINS


def site_key(domain: str) -> str:
    """The part naming the organisation, approximately: `eu.acme.co.uk` → `acme.co.uk`."""
    labels = domain.split(".")
    keep = 3 if len(labels) >= 3 and _under_country_second_level(labels) else 2
    return ".".join(labels[-keep:])


def organisation_label(domain: str) -> str:
    """`acme-labs.co.uk` → `acme-labs`: the label a name can be guessed from."""
    return site_key(domain).split(".")[0]


def _under_country_second_level(labels: list[str]) -> bool:
    return len(labels[-1]) == 2 and labels[-2] in COUNTRY_SECOND_LEVELS
