"""A frozen, JSON-able copy of chosen policy sections, for records that must show which rules
applied (an approval keeps the snapshot taken when it was requested)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypeAlias, get_args

from pydantic import JsonValue

from orchestrator_core.policy.loader import LoadedPolicy

SectionName: TypeAlias = Literal[
    "workflows",
    "routing",
    "company_intake",
    "roles",
    "role_mapping",
    "deal_kickoff",
    "procurement",
    "approvals",
]
SECTION_NAMES: tuple[SectionName, ...] = get_args(SectionName)


def policy_snapshot(
    loaded: LoadedPolicy, *, sections: Iterable[SectionName]
) -> dict[str, JsonValue]:
    """`{"version", "content_hash", "sections": {name: rules}}`; equal inputs give equal output.

    Amounts are decimal strings and times `HH:MM:SS`, so nothing is lost to floats.
    """
    chosen = sorted(set(sections))
    unknown = [name for name in chosen if name not in SECTION_NAMES]
    if unknown or not chosen:
        raise ValueError(
            f"sections must be a non-empty choice of {', '.join(SECTION_NAMES)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    include: set[str] = set(chosen)
    dumped = loaded.policy.model_dump(mode="json", include=include)
    return {
        "version": loaded.version,
        "content_hash": loaded.content_hash,
        "sections": {name: dumped[name] for name in chosen},
    }
