"""Tests of the Kubernetes layer: builders, binding, client."""

from __future__ import annotations
