"""Everything the provider writes to Kubernetes: pure manifest builders and one client.

Builders take model objects and return plain camelCase dicts ready for the API:
``names`` (deterministic names, labels, annotations), ``claims`` (our CRDs and their
objects), ``slices`` (a DataSource's chunks in bounded DataSourceSlices), ``affinity``,
``pods``, ``chunk_lists`` (the lists pods mount, in ConfigMaps), ``configmaps``, ``jobs``,
``security``, ``volcano``, ``karmada``; ``job_status`` decides whether a Job is done.
``resources`` maps kinds to REST paths and ``objects`` reads plain objects.
Only :mod:`datalocality.kube.client` imports the ``kubernetes`` package;
:mod:`datalocality.kube.binder` applies :mod:`datalocality.binding`'s decisions through it,
and :mod:`datalocality.kube.publish` writes and reads a source with its slices.
Importing this package imports nothing else, so the builders stay cheap to load.
"""

from __future__ import annotations
