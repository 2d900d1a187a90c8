"""Argo Workflows through Hera: the provider's placement for Hera-authored workflows.

The only package that imports ``hera`` (install the ``argo`` extra). Importing it registers
the pre-build hooks of :mod:`datalocality.argo.hooks`; then a template built with
``**placement.template_kwargs()`` runs as one task per replica of the plan, each on its
planned node with its chunk list::

    planned = load_planned("request.yaml", "plan.json")  # or plan_ahead(request)
    placement = ArgoPlacement(name="train", namespace="ml", planned=planned)
    train = Container(name="train", image="trainer:1", **placement.template_kwargs())
"""

from __future__ import annotations

from datalocality.argo.hooks import register_hooks
from datalocality.argo.placement import (
    ArgoPlacement,
    PlannedPlacement,
    RuntimePlacement,
    build_replica_patch,
    load_planned,
    plan_ahead,
)
from datalocality.argo.producer import ArgoProducer

register_hooks()

__all__ = [
    "ArgoPlacement",
    "ArgoProducer",
    "PlannedPlacement",
    "RuntimePlacement",
    "build_replica_patch",
    "load_planned",
    "plan_ahead",
    "register_hooks",
]
