"""Everything the provider writes to Kubernetes: pure manifest builders and one client.

Builders take model objects and return plain camelCase dicts ready for the API:
``names`` (deterministic names, labels, annotations), ``claims`` (our CRDs and their
objects), ``affinity``, ``pods``, ``configmaps``, ``jobs``, ``security``, ``volcano``,
``karmada``. ``resources`` maps kinds to REST paths and ``objects`` reads plain objects.
Only :mod:`datalocality.kube.client` imports the ``kubernetes`` package;
:mod:`datalocality.kube.binder` applies :mod:`datalocality.binding`'s decisions through it.
Importing this package imports nothing else, so the builders stay cheap to load.
"""

from __future__ import annotations
