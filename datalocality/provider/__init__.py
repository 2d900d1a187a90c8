"""The Airflow side of datalocality: provider metadata, connection type, hook, plugin.

Airflow's provider discovery imports this package (entry point ``apache_airflow_provider``
→ :func:`get_provider_info`), so it imports only :mod:`datalocality.provider.info`, which
loads neither airflow nor kubernetes nor hera. The hook and plugin modules are imported by
name when Airflow needs them.
"""

from __future__ import annotations

from datalocality.provider.info import get_provider_info

__all__ = ["get_provider_info"]
