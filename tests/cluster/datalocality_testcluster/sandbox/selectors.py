"""Label selectors, field selectors and node selector requirements.

String label selectors follow ``kubectl``/API syntax: ``a=b``, ``a==b``, ``a!=b``,
``a in (x,y)``, ``a notin (x,y)``, ``a`` (exists) and ``!a`` (does not exist), joined by
commas. Field selectors accept ``path=value``, ``path==value`` and ``path!=value`` on any
dotted path of the object (a superset of what a real API server allows per kind); a
missing field compares as the empty string, so ``spec.nodeName=`` selects unbound pods.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from datalocality_testcluster.sandbox.apierrors import bad_request

Obj = dict[str, Any]
Matcher = Callable[[Mapping[str, str]], bool]

_SET_REQUIREMENT = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _requirement(text: str) -> Matcher:
    """One parsed requirement of a string label selector."""
    set_match = _SET_REQUIREMENT.match(text)
    if set_match:
        key, operator, raw = set_match.groups()
        values = frozenset(v.strip() for v in raw.split(",") if v.strip())
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for operator in ("!=", "==", "="):
        if operator in text:
            key, _, value = (part.strip() for part in text.partition(operator))
            if not key or any(c in value for c in "=!()"):
                raise bad_request(f"unable to parse requirement: {text!r}")
            if operator == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if text.startswith("!"):
        key = text[1:].strip()
        return lambda labels: key not in labels
    if re.fullmatch(r"[^\s!=(),]+", text):
        return lambda labels: text in labels
    raise bad_request(f"unable to parse requirement: {text!r}")


def parse_label_selector(text: str | None) -> Matcher:
    """A predicate on a label mapping; an empty selector matches everything."""
    requirements = [_requirement(part) for part in _split_top_level(text or "")]
    return lambda labels: all(req(labels) for req in requirements)


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> Matcher:
    """A predicate for a ``metav1.LabelSelector`` (matchLabels and matchExpressions)."""
    if selector is None:
        return lambda labels: False  # a nil selector selects nothing
    match_labels = dict(selector.get("matchLabels") or {})
    expressions = list(selector.get("matchExpressions") or [])

    def matches(labels: Mapping[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in match_labels.items()):
            return False
        return all(requirement_matches(expr, labels) for expr in expressions)

    return matches


def requirement_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A label-selector or node-selector requirement (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""
    key = str(expression.get("key", ""))
    operator = str(expression.get("operator", ""))
    values = [str(v) for v in expression.get("values") or []]
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in {"Gt", "Lt"}:
        if not present or len(values) != 1:
            return False
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if operator == "Gt" else have < want
    raise bad_request(f"unknown selector operator {operator!r} for key {key!r}")


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The value at a dotted path as the string a field selector compares (``""`` if absent)."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return ""
        current = current[part]
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def parse_field_selector(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate on a whole object for a field selector string."""
    checks: list[tuple[str, bool, str]] = []
    for part in _split_top_level(text or ""):
        for operator in ("!=", "==", "="):
            if operator in part:
                path, _, value = (p.strip() for p in part.partition(operator))
                checks.append((path, operator != "!=", value))
                break
        else:
            raise bad_request(f"invalid field selector: {part!r}")
    return lambda obj: all((field_value(obj, p) == v) is eq for p, eq, v in checks)
