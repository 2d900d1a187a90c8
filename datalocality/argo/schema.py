"""A strict JSON schema of Argo's Workflow, from Hera's generated models, and a check.

No Argo schema file ships in a package, but Hera's models are generated from Argo's
OpenAPI spec: ``Workflow.model_json_schema(by_alias=True)`` is that spec. Argo's own
CRD preserves unknown fields, so a misspelled field would be dropped silently by the
apiserver; with ``additionalProperties: false`` on every object it is an error here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from hera.workflows.models import Workflow
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from datalocality.errors import SpecError, show_value


def _strict(node: Any) -> Any:
    """``node`` with every object schema closed to fields it does not name."""
    if isinstance(node, dict):
        closed = {key: _strict(value) for key, value in node.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


@cache
def build_workflow_schema() -> dict[str, Any]:
    """The Workflow schema of the installed Hera's models, closed on every object."""
    schema: dict[str, Any] = _strict(Workflow.model_json_schema(by_alias=True))
    return schema


def check_workflow(manifest: Mapping[str, Any]) -> None:
    """Raise SpecError naming the first field of ``manifest`` the schema refuses."""
    validator = Draft202012Validator(build_workflow_schema())
    error = best_match(validator.iter_errors(dict(manifest)))
    if error is None:
        return
    while error.context:  # anyOf (an Optional field): the alternative that got deepest
        error = max(error.context, key=lambda e: len(e.absolute_path))
    path = ".".join(str(part) for part in error.absolute_path) or "<workflow>"
    raise SpecError(path, show_value(error.instance), error.message.split("\n")[0][:300])
