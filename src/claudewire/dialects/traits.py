"""A fallback guess of a model's traits from its id, for when the catalogue does not describe the model.

The gateway should build `ModelTraits` from the shared catalogue; this reads the generation out of a Claude id
(``claude-opus-4-7``, ``claude-sonnet-4-5-20250929``, ``claude-3-7-sonnet-20250219``, ``claude-sonnet-5-5``) and
applies the API's rules by generation: adaptive thinking from 4.6 (and every 5.x), budgeted thinking from 3.7 up to
4.6, sampling parameters refused from 4.7, the ``xhigh`` effort from 4.7, structured outputs from 4.1, fast mode on
Opus from 4.6. An id it cannot read gets no thinking and no structured outputs: nothing the API could refuse.
"""

from __future__ import annotations

import re

from claudewire.dialects.common import ModelTraits

__all__ = ["generation", "guess_traits"]

_NEW = re.compile(r"claude-(?P<family>[a-z]+)-(?P<major>\d{1,2})(?:-(?P<minor>\d{1,2}))?(?:-\d{8})?(?:[@:-].*)?")
_OLD = re.compile(r"claude-(?P<major>\d{1,2})(?:-(?P<minor>\d{1,2}))?-(?P<family>[a-z]+)(?:-.*)?")


def generation(model_id: str) -> tuple[str, int, int] | None:
    """``(family, major, minor)`` of a Claude model id (a Bedrock/Vertex prefix or suffix is ignored), or None."""
    at = model_id.find("claude-")
    if at < 0:
        return None
    text = model_id[at:]
    m = _NEW.fullmatch(text) or _OLD.fullmatch(text)
    if m is None:
        return None
    return m.group("family"), int(m.group("major")), int(m.group("minor") or 0)


def guess_traits(model_id: str, *, max_output: int | None = None) -> ModelTraits:
    """The traits a model of this id's generation has (see the module docstring)."""
    found = generation(model_id)
    if found is None:
        return ModelTraits(budget_thinking=False, structured_outputs=False, max_output=max_output)
    family, major, minor = found
    version = (major, minor)
    efforts = ("low", "medium", "high", "xhigh", "max") if version >= (4, 7) else ("low", "medium", "high", "max")
    return ModelTraits(
        adaptive_thinking=version >= (4, 6),
        budget_thinking=(3, 7) <= version < (4, 7),
        rejects_sampling=version >= (4, 7),
        max_output=max_output,
        fast_mode=family == "opus" and version >= (4, 6),
        structured_outputs=version >= (4, 1),
        efforts=efforts,
    )
