"""The code location's single `Definitions`; each workflow module will merge its own into it."""

from __future__ import annotations

import dagster as dg

defs = dg.Definitions()
