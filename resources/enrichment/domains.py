"""Canonical company domains from whatever a CRM holds: a domain, a website URL or an email.

A company's domain is its registrable domain under the Public Suffix List (`publicsuffixlist`,
pinned in pyproject.toml; the list ships inside the package and nothing is fetched at run time):
`eu.app.acme.com` → `acme.com`, `cs.ox.ac.uk` → `ox.ac.uk`, and a shop on a hosted-store domain is
its own (`acme.myshopify.com`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList

from resources.enrichment import domain_taxonomy as dt
from resources.enrichment.text import clean_spaces

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_WWW = re.compile(r"^www\d*\.")
_SCHEME_TYPO = re.compile(r"^(https?):/*(?=[^/])", re.I)
# Reserved for documentation (RFC 2606), absent from the list: the sandbox's fictional companies.
_DOCUMENTATION_TLD = "example"


class InvalidDomainError(ValueError):
    """The text cannot be read as a public domain name; the message says why."""


@cache
def _psl() -> PublicSuffixList:
    # Only the list bundled with the package: no download, ever.
    return PublicSuffixList(accept_unknown=False)


def canonical_domain(raw: str) -> str:
    """`HTTPS://www.Acme.com/about?x=1` → `acme.com`; `jane@münchen.de` → `xn--mnchen-3ya.de`;
    `eu.app.acme.co.uk` → `acme.co.uk`. Lower case, IDNA A-labels, the registrable domain."""
    return registrable_domain(canonical_host(raw))


def canonical_host(raw: str) -> str:
    """The host named by a domain, URL or email address, in lower-case A-labels without
    `www.`: `https://Mail.Google.com/mail/u/0` → `mail.google.com`."""
    text = clean_spaces(raw).strip("<>\"' ")
    if not text:
        raise InvalidDomainError("empty")
    if " " in text:
        raise InvalidDomainError(f"contains spaces: {raw!r}")
    text = _SCHEME_TYPO.sub(r"\1://", text)  # "https:/acme.com", "http:///acme.com"
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


def registrable_domain(host: str) -> str:
    """The part of a host that one registrant holds: `corporate.acme.com` → `acme.com`."""
    labels = host.split(".")
    if labels[-1] == _DOCUMENTATION_TLD:
        return ".".join(labels[-2:])
    psl = _psl()
    if psl.publicsuffix(host) is None:
        raise InvalidDomainError(f"{labels[-1]!r} is not a top-level domain (in {host!r})")
    registrable = psl.privatesuffix(host)
    if registrable is None:
        raise InvalidDomainError(
            f"{host} is a public suffix shared by many registrants, not one company's domain"
        )
    return str(registrable)


def domain_label(domain: str) -> str:
    """`acme-labs.co.uk` → `acme-labs`, `acme.myshopify.com` → `acme`: the registrant's label."""
    return domain.split(".", 1)[0]


def _validate(host: str) -> None:
    labels = host.split(".")
    if len(host) > 253:
        raise InvalidDomainError("longer than 253 characters")
    if len(labels) < 2:
        raise InvalidDomainError(f"no top-level domain in {host!r}")
    bad = [label for label in labels if not _LABEL.match(label)]
    if bad:
        raise InvalidDomainError(f"invalid label {bad[0]!r} in {host!r}")


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class SiteKind(StrEnum):
    MAILBOX = "mailbox"
    WEBMAIL = "webmail"
    PROFILE = "profile"
    PLACEHOLDER = "placeholder"


@dataclass(frozen=True)
class ForeignSite:
    """A domain that is not a company's own site: what it is, and whose it is."""

    kind: SiteKind
    what: str  # "a personal mailbox provider", "a LinkedIn profile", ...
    owner: str | None  # the company whose own domain it is; none for placeholders


def foreign_site(host: str, domain: str) -> ForeignSite | None:
    """Why `host` (in `domain`) is not the company's own site, or None when it may be."""
    if host in dt.WEBMAIL_HOSTS:
        return ForeignSite(SiteKind.WEBMAIL, "a webmail host", dt.WEBMAIL_HOSTS[host])
    if domain in dt.MAIL_PROVIDERS:
        return ForeignSite(
            SiteKind.MAILBOX, "a personal mailbox provider", dt.MAIL_PROVIDERS[domain]
        )
    profile = dt.PROFILE_HOSTS.get(host) or dt.PROFILE_SITES.get(domain)
    if profile is not None:
        return ForeignSite(SiteKind.PROFILE, *profile)
    if domain in dt.PLACEHOLDER_DOMAINS:
        return ForeignSite(SiteKind.PLACEHOLDER, "a placeholder domain", None)
    return None
