"""``get_provider_info()``: what Airflow's provider discovery learns about this package.

Airflow calls it through the ``apache_airflow_provider`` entry point of every installed
distribution while discovering providers, so it imports nothing but the standard library
and ``datalocality``'s own (lazy) package: no airflow, kubernetes or hera. Module lists are
checked against the files present in the package, without importing them, so the info
never names a module that does not exist (the operators, hook, links and plugin land in other
issues). The connection form is declared here (``ui-field-behaviour``), so the UI needs
no hook import to draw it.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, Final

from datalocality import __version__

PACKAGE_NAME: Final = "airflow-provider-datalocality"
INTEGRATION: Final = "Data Locality"
CONFIG_SECTION: Final = "datalocality"
CONN_TYPE: Final = "datalocality"
HOOK_CLASS: Final = "datalocality.provider.hook.DataLocalityHook"
PASSWORD_ENV: Final = "DATALOCALITY_CONN_PASSWORD"  # as datalocality.provider.hook names it
# Modules holding operators, sensors, hooks and triggers (helpers such as
# ``triggers.base`` are not listed); each is listed only once its file exists.
# The cncf.kubernetes connection every operator, sensor and trigger uses unless told
# otherwise (KubernetesPodOperator's default; when it does not exist, the hook falls back
# to in-cluster or kubeconfig credentials).
KUBERNETES_CONN_ID: Final = "kubernetes_default"

OPERATOR_MODULES: Final = (
    "datalocality.operators.plan",
    "datalocality.operators.pod",
    "datalocality.operators.produce",
    "datalocality.operators.collect",
    "datalocality.operators.jobs",
    "datalocality.operators.group",
    "datalocality.operators.release",
)
SENSOR_MODULES: Final = (
    "datalocality.sensors.claims",
    "datalocality.sensors.data",
    "datalocality.sensors.operations",
)
HOOK_MODULES: Final = ("datalocality.provider.hook",)
TRIGGER_MODULES: Final = (
    "datalocality.triggers.claims",
    "datalocality.triggers.data",
    "datalocality.triggers.operations",
)
# Operator extra links (filled by the UI issue) and the plugin class; each is listed only
# once its module exists.
EXTRA_LINK_CANDIDATES: Final[tuple[str, ...]] = ("datalocality.provider.links.PlacementPlanLink",)
PLUGIN_CANDIDATES: Final[tuple[tuple[str, str], ...]] = (
    ("datalocality", "datalocality.provider.plugin.DataLocalityPlugin"),
)


def _module_exists(module: str) -> bool:
    """Whether ``datalocality.x.y`` has a source file, found without importing it."""
    parts = module.split(".")
    if parts[0] != "datalocality":
        return False
    node = resources.files("datalocality").joinpath(*parts[1:-1])
    return (
        node.joinpath(f"{parts[-1]}.py").is_file()
        or node.joinpath(parts[-1], "__init__.py").is_file()
    )


def _existing(modules: tuple[str, ...]) -> list[str]:
    return [module for module in modules if _module_exists(module)]


def _by_integration(modules: list[str]) -> list[dict[str, Any]]:
    return [{"integration-name": INTEGRATION, "python-modules": modules}] if modules else []


def _option(description: str, kind: str, default: str, example: str) -> dict[str, Any]:
    return {
        "description": description,
        "version_added": "0.1.0",
        "type": kind,
        "example": example,
        "default": default,
    }


def _connection_type() -> dict[str, Any]:
    # DataLocalityHook reads the whole extra as the resolvers config (system → config, plus
    # ``secrets``), so the form relabels the extra and password fields rather than adding
    # ``conn-fields``, which the UI would store as extra keys the hook takes for systems.
    return {
        "connection-type": CONN_TYPE,
        "hook-class-name": HOOK_CLASS,
        "hook-name": "Data Locality",
        "ui-field-behaviour": {
            "hidden-fields": ["host", "schema", "login", "port"],
            "relabeling": {
                "extra": 'Resolvers config (JSON: system → config; secrets under "secrets")',
                "password": f"Secret (SecretRef env {PASSWORD_ENV})",
            },
            "placeholders": {
                "extra": '{"iceberg": {"catalog": {"type": "sql", "uri": "sqlite:///c.db"}}}',
            },
        },
    }


def _config() -> dict[str, Any]:
    return {
        CONFIG_SECTION: {
            "description": "Defaults of the datalocality provider's operators and sensors.",
            "options": {
                "default_deferrable": _option(
                    "Whether datalocality sensors and the repartition/assembly job "
                    "operators defer to the triggerer unless a task says otherwise. "
                    "Independent of [operators] default_deferrable (False by default in "
                    "Airflow): these tasks mostly wait, which the triggerer does without "
                    "holding a worker slot.",
                    "boolean",
                    "True",
                    "False",
                ),
                "default_poll_interval": _option(
                    "Seconds between two checks of a datalocality sensor or trigger.",
                    "float",
                    "30",
                    "10",
                ),
            },
        }
    }


def get_provider_info() -> dict[str, Any]:
    """The provider's metadata, valid against Airflow's ``provider_info.schema.json``."""
    info: dict[str, Any] = {
        "package-name": PACKAGE_NAME,
        "name": "Data Locality",
        "description": "Places Kubernetes pods where their data already is: resolves data "
        "inputs to chunk locations, plans replicas next to them, and runs them as pods.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "tags": ["software"],
            }
        ],
        "operators": _by_integration(_existing(OPERATOR_MODULES)),
        "sensors": _by_integration(_existing(SENSOR_MODULES)),
        "hooks": _by_integration(_existing(HOOK_MODULES)),
        "triggers": _by_integration(_existing(TRIGGER_MODULES)),
        "connection-types": [_connection_type()],
        "extra-links": [
            path for path in EXTRA_LINK_CANDIDATES if _module_exists(path.rpartition(".")[0])
        ],
        "config": _config(),
    }
    plugins = [
        {"name": name, "plugin-class": path}
        for name, path in PLUGIN_CANDIDATES
        if _module_exists(path.rpartition(".")[0])
    ]
    if plugins:
        info["plugins"] = plugins
    return info
