"""The simulator's model catalogue: the real lineup (`claudewire._models`), served as ``GET /v1/models`` lists it.

The lifecycle is a function of the date: a model is deprecated from its ``deprecated_at`` day and retired from its
``retires_at`` day (``claude-sonnet-4-5`` from 2026-11-30), as the real API retires it that day. The date comes from
the catalogue's `today` (the UTC date by default, injectable so tests pin both sides of a boundary). Retired models
stay listed, as the API keeps them as the historical record, but inference naming them fails with 404
``not_found_error``. `Catalogue.replacement_for` names a current model. The data lives in `claudewire._models` so
the doctor and `explain` read the same lineup; this module keeps the simulator's names for it.
"""

from __future__ import annotations

from claudewire._models import LINEUP, Catalogue, ClaudeModel, Lifecycle, utc_today

__all__ = ["DEFAULT_MODELS", "Catalogue", "Lifecycle", "SimModel", "utc_today"]

SimModel = ClaudeModel
"""One model of the catalogue (`claudewire._models.ClaudeModel`): ``SimModel(id, display_name, created_at, ...)``."""

DEFAULT_MODELS: tuple[ClaudeModel, ...] = LINEUP
"""The default catalogue, newest first (the order ``GET /v1/models`` lists it in)."""
