"""One check's answer (done, not yet, or failed), shared by the kube rules and the triggers.

Pure data with no imports beyond the standard library, so a status rule in
:mod:`datalocality.kube` can return it without importing Airflow or the triggers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CheckStatus = Literal["success", "pending", "error"]


@dataclass(frozen=True)
class Outcome:
    """One check's answer: done, not yet, or failed (``transient`` when it may pass)."""

    status: CheckStatus
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    transient: bool = False
