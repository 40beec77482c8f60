"""Domains that are not a company's own site: mailbox providers, webmail, social networks and
other hosted profiles, placeholders. Each service's owner is named, so that the owner's own record
(Google with gmail.com) is not taken for a customer using the service.

Registrable domains unless said otherwise (see `domains.registrable_domain`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from resources.enrichment.text import word_set


def _owned(table: Mapping[str, str]) -> dict[str, str]:
    """{"Google": "gmail.com googlemail.com"} → {"gmail.com": "Google", ...}."""
    return {domain: owner for owner, domains in table.items() for domain in domains.split()}


# Mailbox providers: an address there says nothing about the company.
MAIL_PROVIDERS: Final[Mapping[str, str]] = _owned(
    {
        "Google": "gmail.com googlemail.com",
        "Yahoo": "yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es yahoo.it yahoo.co.jp ymail.com "
        "rocketmail.com",
        "Microsoft": "hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.es hotmail.it "
        "outlook.com outlook.de outlook.fr live.com live.co.uk live.fr msn.com",
        "Apple": "icloud.com me.com mac.com",
        "AOL": "aol.com",
        "GMX": "gmx.de gmx.net gmx.at gmx.ch gmx.com",
        "Mail.com": "mail.com email.com",
        "WEB.DE": "web.de",
        "Telekom": "t-online.de",
        "freenet": "freenet.de",
        "Proton": "proton.me protonmail.com pm.me",
        "Tuta": "tutanota.com tuta.io",
        "Zoho": "zoho.com zohomail.com",
        "Yandex": "yandex.ru yandex.com ya.ru",
        "Mail.ru": "mail.ru bk.ru inbox.ru list.ru",
        "Rambler": "rambler.ru",
        "Tencent": "qq.com foxmail.com",
        "NetEase": "163.com 126.com yeah.net",
        "Sina": "sina.com",
        "Naver": "naver.com",
        "Orange": "orange.fr wanadoo.fr",
        "Free": "free.fr",
        "La Poste": "laposte.net",
        "SFR": "sfr.fr",
        "Italiaonline": "libero.it virgilio.it",
        "TIM": "alice.it tim.it",
        "Tiscali": "tiscali.it",
        "Terra": "terra.com.br",
        "UOL": "uol.com.br bol.com.br",
        "Ziggo": "ziggo.nl",
        "KPN": "kpnmail.nl hetnet.nl planet.nl",
        "Telenet": "telenet.be",
        "Proximus": "skynet.be",
        "Swisscom": "bluewin.ch",
        "Hushmail": "hushmail.com",
        "Fastmail": "fastmail.com fastmail.fm",
        "Rediff": "rediffmail.com",
        "Comcast": "comcast.net",
        "Verizon": "verizon.net",
        "AT&T": "att.net sbcglobal.net",
        "Cox": "cox.net",
        "BT": "btinternet.com",
        "Sky": "sky.com",
        "Virgin Media": "virginmedia.com",
        "Seznam": "seznam.cz",
        "Wirtualna Polska": "wp.pl",
        "Onet": "onet.pl",
        "Interia": "interia.pl",
        "o2": "o2.pl",
    }
)

# Other names of those owners, present or former: Mail.ru Group has been VK since 2021, so VK's
# record on mail.ru is the service's own.
OWNER_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "Mail.ru": ("VK", "Mail.ru Group"),
    "Facebook": ("Meta", "Meta Platforms"),
    "Instagram": ("Meta", "Meta Platforms"),
    "Twitter": ("X Corp",),
    "YouTube": ("Google", "Alphabet"),
    "Google": ("Alphabet",),
    "Italiaonline": ("Libero",),
    "WEB.DE": ("1&1 Mail & Media", "United Internet"),
    "GMX": ("1&1 Mail & Media", "United Internet"),
}


def owner_names(owner: str | None) -> tuple[str, ...]:
    """The owner and its other names (`OWNER_ALIASES`); nothing for no owner."""
    return (owner, *OWNER_ALIASES.get(owner, ())) if owner else ()


# Webmail hosts of companies whose registrable domain is their own site (mail.google.com).
WEBMAIL_HOSTS: Final[Mapping[str, str]] = _owned(
    {
        "Google": "mail.google.com inbox.google.com",
        "Microsoft": "outlook.live.com outlook.office.com outlook.office365.com",
    }
)

# Sites where a company has a page rather than a site of its own (linkedin.com/company/acme),
# by what a person would call the link.
PROFILE_SITES: Final[Mapping[str, tuple[str, str]]] = {
    domain: (what, owner)
    for (what, owner), domains in {
        ("a LinkedIn profile", "LinkedIn"): "linkedin.com lnkd.in",
        ("a Facebook page", "Facebook"): "facebook.com fb.com fb.me",
        ("an Instagram profile", "Instagram"): "instagram.com",
        ("an X (Twitter) profile", "Twitter"): "twitter.com x.com t.co",
        ("a YouTube channel", "YouTube"): "youtube.com youtu.be",
        ("a TikTok profile", "TikTok"): "tiktok.com",
        ("a Pinterest page", "Pinterest"): "pinterest.com",
        ("a XING page", "XING"): "xing.com",
        ("a VK page", "VK"): "vk.com",
        ("a Telegram link", "Telegram"): "t.me",
        ("a WhatsApp link", "WhatsApp"): "wa.me whatsapp.com",
        ("a Linktree page", "Linktree"): "linktr.ee",
        ("a Crunchbase profile", "Crunchbase"): "crunchbase.com",
        ("a Glassdoor page", "Glassdoor"): "glassdoor.com glassdoor.co.uk",
        ("a Yelp listing", "Yelp"): "yelp.com",
        ("a Wellfound profile", "Wellfound"): "wellfound.com angel.co",
        ("a GitHub page", "GitHub"): "github.com",
        ("a Medium page", "Medium"): "medium.com",
        ("a shortened link", "Bitly"): "bit.ly",
        ("a shortened link", "TinyURL"): "tinyurl.com",
        ("a Google Maps link", "Google"): "goo.gl g.page",
    }.items()
    for domain in domains.split()
}
# The same, by host, where the registrable domain is the owner's own site.
PROFILE_HOSTS: Final[Mapping[str, tuple[str, str]]] = {
    "sites.google.com": ("a Google Sites page", "Google"),
    "maps.google.com": ("a Google Maps link", "Google"),
    "business.google.com": ("a Google Business Profile", "Google"),
    "maps.app.goo.gl": ("a Google Maps link", "Google"),
}

# Domains typed when the real one was not known. (The `.example` top-level domain, reserved for
# documentation, is what the sandbox's fictional companies use, so it is not listed here.)
PLACEHOLDER_DOMAINS: Final = word_set(
    """example.com example.net example.org test.com domain.com yourdomain.com yourcompany.com
    mycompany.com company.com website.com yourwebsite.com none.com na.com n-a.com noemail.com
    no-email.com nomail.com noreply.com unknown.com tbd.com asdf.com fake.com sample.com
    placeholder.com"""
)
