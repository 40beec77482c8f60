"""Registrable domains under the Public Suffix List, and domains that are not a company's site."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import publicsuffixlist
import pytest

from resources.enrichment.domains import (
    InvalidDomainError,
    SiteKind,
    canonical_domain,
    canonical_host,
    foreign_site,
)


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("acme.com", "acme.com"),
        ("https://www.Acme.com/about?x=1#team", "acme.com"),
        ("WWW.ACME.COM.", "acme.com"),
        ("acme.com:8080/path", "acme.com"),
        ("www2.acme.com", "acme.com"),
        ("https://user:secret@eu.acme.com", "acme.com"),
        ("jane.doe@Acme.co.uk", "acme.co.uk"),
        ("mailto:info@acme.io", "acme.io"),
        ("  <https://acme.io>  ", "acme.io"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("http://www.bücher.de/shop", "xn--bcher-kva.de"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("www.com", "www.com"),
        ("https:/www.acme.com/typo", "acme.com"),
        # Subdomains go: the registrable domain is what one registrant holds.
        ("corporate.siemens.com", "siemens.com"),
        ("https://eu.app.personio.com/login", "personio.com"),
        ("shop.eu.acme.co.uk", "acme.co.uk"),
        ("investors.woolworthsgroup.com.au", "woolworthsgroup.com.au"),
        ("cs.ox.ac.uk", "ox.ac.uk"),
        ("www.leedsth.nhs.uk", "leedsth.nhs.uk"),
        ("eecs.mit.edu", "mit.edu"),
        ("www.bb.com.br", "bb.com.br"),
        ("news.xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        # A private suffix hosts one registrant per name: the shop is its own domain.
        ("https://bluebirdtea.myshopify.com/collections", "bluebirdtea.myshopify.com"),
        ("studio.wixsite.com", "studio.wixsite.com"),
        # Brand top-level domains.
        ("https://global.toyota/en/", "global.toyota"),
        # The documentation TLD the sandbox's fictional companies use.
        ("https://www.northwind.example/about", "northwind.example"),
    ],
)
def test_canonical_domain(raw: str, domain: str) -> None:
    assert canonical_domain(raw) == domain


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("not a domain", "spaces"),
        ("acme", "no top-level domain"),
        ("localhost", "no top-level domain"),
        ("192.168.1.10", "IP address"),
        ("http://[::1]/", "IP address"),
        ("http://", "no host"),
        ("acme..com", "Empty Label"),
        ("-acme.com", "hyphen"),
        ("acme_corp.com", "not allowed"),
        ("acme.c", "not a top-level domain"),
        ("acme.123", "not a top-level domain"),
        ("acme.con", "not a top-level domain"),
        ("acme.local", "not a top-level domain"),
        ("http://[broken", "not a URL"),
        (f"{'a' * 64}.com", "too long"),
        ("☃.net", "not a valid domain"),
        ("co.uk", "public suffix"),
        ("myshopify.com", "public suffix"),
    ],
)
def test_invalid_domains_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidDomainError, match=reason):
        canonical_domain(raw)


@pytest.mark.parametrize(
    ("raw", "kind", "owner"),
    [
        ("gmail.com", SiteKind.MAILBOX, "Google"),
        ("jane@hotmail.co.uk", SiteKind.MAILBOX, "Microsoft"),
        ("https://mail.google.com/mail/u/0/#inbox", SiteKind.WEBMAIL, "Google"),
        ("outlook.office365.com", SiteKind.WEBMAIL, "Microsoft"),
        ("https://www.linkedin.com/company/acme/", SiteKind.PROFILE, "LinkedIn"),
        ("facebook.com/acme", SiteKind.PROFILE, "Facebook"),
        ("https://x.com/acme", SiteKind.PROFILE, "Twitter"),
        ("linktr.ee/acme", SiteKind.PROFILE, "Linktree"),
        ("https://sites.google.com/view/acme", SiteKind.PROFILE, "Google"),
        ("www.example.com", SiteKind.PLACEHOLDER, None),
        ("test.com", SiteKind.PLACEHOLDER, None),
    ],
)
def test_sites_that_are_not_a_company_s_own(raw: str, kind: SiteKind, owner: str | None) -> None:
    site = foreign_site(canonical_host(raw), canonical_domain(raw))
    assert site is not None
    assert (site.kind, site.owner) == (kind, owner)


@pytest.mark.parametrize(
    "raw", ["acme.com", "google.com", "careers.linkedin.com.example", "northwind.example"]
)
def test_a_company_s_own_site_is_not_foreign(raw: str) -> None:
    assert foreign_site(canonical_host(raw), canonical_domain(raw)) is None


def test_the_docs_name_the_bundled_public_suffix_list() -> None:
    """docs/enrichment.md documents the list version; a new pin must update it."""
    header = Path(publicsuffixlist.PSLFILE).read_text(encoding="utf-8")[:2000]
    version = next(line for line in header.splitlines() if line.startswith("// VERSION:"))
    docs = (Path(__file__).parents[2] / "docs" / "enrichment.md").read_text(encoding="utf-8")
    assert version.removeprefix("// ") in docs
    assert f"publicsuffixlist=={importlib.metadata.version('publicsuffixlist')}" in docs
