"""Recovery of missed webhooks: what HubSpot changed that no webhook delivered, stored as
synthetic envelopes that then flow through the normal path (docs/recovery.md).

- `rules.py`: the pure comparison (an object's current state against what the product knows);
- `sources.py`: the `ChangeSource` protocol and the CRM-search source (windows under the cap);
- `store.py`: the stored knowledge, the recovered envelopes, the watermark;
- `recover.py`: one pass, window by window, audited;
- `covering.py`: the dispatch side: a late webhook for a recovered change is `covered`.
"""

from __future__ import annotations

from orchestrator_core.recovery.recover import (
    RecoveryBusyError,
    RecoveryReport,
    RecoveryRequest,
    TypeReport,
    recover_missed,
)
from orchestrator_core.recovery.rules import SEARCH_TYPES, SearchType
from orchestrator_core.recovery.sources import (
    ChangeSource,
    CrmSearchSource,
    RecoveryError,
    WindowChanges,
)

__all__ = [
    "SEARCH_TYPES",
    "ChangeSource",
    "CrmSearchSource",
    "RecoveryBusyError",
    "RecoveryError",
    "RecoveryReport",
    "RecoveryRequest",
    "SearchType",
    "TypeReport",
    "WindowChanges",
    "recover_missed",
]
