"""Deal kickoff workflow: propose meeting slots for a deal (or a company intake request), wait
for an approval, then schedule the meeting and link it. The graph and its nodes are in
`graph.py`, its state in `state.py`; the pure parts are the slot finder (`slots.py`), the
attendee rules (`team.py`) and the proposal and decision handling (`proposal.py`)."""

from __future__ import annotations

from orchestrator_defs.workflows.deal_kickoff.graph import build_graph
from orchestrator_defs.workflows.deal_kickoff.state import KickoffState

__all__ = ["KickoffState", "build_graph"]
