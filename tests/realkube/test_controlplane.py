"""The control plane itself: real components, kwok nodes from the inventory, the real
scheduler, admission and RBAC, the simulated runtime (logs, exit codes, the XCom sidecar),
and an exec that cannot reach the machine's processes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest
from kubernetes import client  # type: ignore[import-untyped]  # no stubs
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]  # no stubs
from kubernetes.stream import stream  # type: ignore[import-untyped]  # no stubs

from datalocality.kube.security import container_security_context, pod_security_context
from datalocality_testcluster import ControlPlane
from datalocality_testcluster.sandbox.inventory import demo_inventory_path, load_inventory
from datalocality_testcluster.tenancy import Tenant

Obj = dict[str, Any]
SIDECAR = "airflow-xcom-sidecar"


def restricted_pod(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    container = {
        "name": "base",
        "image": "busybox:1.36",
        "securityContext": container_security_context(),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": pod_security_context(run_as_user=1000),
            "containers": [container],
            **spec,
        },
    }


def message_of(error: ApiException) -> str:
    """The Status message of an API error."""
    return str(json.loads(error.body)["message"])


def wait_for(read: Any, done: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out; last: {value}"
        time.sleep(0.1)


def phase_of(core: client.CoreV1Api, name: str, namespace: str) -> client.V1Pod:
    return wait_for(
        lambda: core.read_namespaced_pod(name, namespace),
        lambda p: p.status.phase in {"Succeeded", "Failed"},
    )


def test_started_components_and_inventory_nodes(
    control_plane: ControlPlane, admin: client.ApiClient
) -> None:
    control_plane.check_alive()
    assert {"etcd", "kube-apiserver", "nodes ready (kwok)", "total"} <= set(control_plane.timings)
    print("start-up:", {k: round(v, 2) for k, v in control_plane.timings.items()})
    version = client.VersionApi(admin).get_code()
    assert version.git_version == "v1.35.4"
    nodes = {n.metadata.name: n for n in client.CoreV1Api(admin).list_node().items}
    expected = {n["metadata"]["name"]: n for n in load_inventory(demo_inventory_path()).nodes}
    assert set(nodes) == set(expected)
    for name, node in nodes.items():
        want = expected[name]
        assert (
            node.metadata.labels["topology.kubernetes.io/zone"]
            == (want["metadata"]["labels"]["topology.kubernetes.io/zone"])
        )
        assert node.status.allocatable["cpu"] == want["status"]["allocatable"]["cpu"]
        ready = {c.type: c.status for c in node.status.conditions}
        assert ready["Ready"] == "True"
        # the node lifecycle controller lifted the not-ready taint the apiserver put on
        taints = {t.key for t in node.spec.taints or []}
        assert "node.kubernetes.io/not-ready" not in taints
    assert {t.key for t in nodes["gateway-b"].spec.taints} == {"datalocality.io/gateway"}


def test_scheduler_places_by_required_node_affinity(
    tenant: Tenant, provider: client.ApiClient
) -> None:
    core = client.CoreV1Api(provider)
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/hostname",
                                "operator": "In",
                                "values": ["worker-b2"],
                            }
                        ]
                    }
                ]
            }
        }
    }
    core.create_namespaced_pod(tenant.namespace, restricted_pod("placed", affinity=affinity))
    pod = phase_of(core, "placed", tenant.namespace)
    assert pod.spec.node_name == "worker-b2"  # written by kube-scheduler, not by us
    assert pod.status.phase == "Succeeded"
    assert pod.status.host_ip == "127.0.0.1"


INVALID_PODS = [
    (
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "zone", "operator": "In", "values": []}]}
                        ]
                    }
                }
            }
        },
        "must be specified when `operator` is 'In' or 'NotIn'",
    ),
    (
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "rank", "operator": "Gt", "values": ["1", "2"]}
                                ]
                            }
                        ]
                    }
                }
            }
        },
        "must be specified single value when `operator` is 'Lt' or 'Gt'",
    ),
    (
        {
            "affinity": {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 0,
                            "preference": {
                                "matchExpressions": [{"key": "zone", "operator": "Exists"}]
                            },
                        }
                    ]
                }
            }
        },
        "must be in the range 1-100",
    ),
    (
        {
            "affinity": {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 500,
                            "preference": {
                                "matchExpressions": [{"key": "zone", "operator": "Exists"}]
                            },
                        }
                    ]
                }
            }
        },
        "must be in the range 1-100",
    ),
]
INVALID_POD_IDS = ["in-without-values", "gt-two-values", "weight-0", "weight-500"]


@pytest.mark.parametrize(("change", "message"), INVALID_PODS, ids=INVALID_POD_IDS)
def test_apiserver_rejects_invalid_pods(
    tenant: Tenant, provider: client.ApiClient, change: Obj, message: str
) -> None:
    with pytest.raises(ApiException) as raised:
        client.CoreV1Api(provider).create_namespaced_pod(
            tenant.namespace, restricted_pod("invalid", **change)
        )
    assert raised.value.status == 422
    assert message in message_of(raised.value)


def test_apiserver_rejects_bad_quantity_and_env_name(
    tenant: Tenant, provider: client.ApiClient
) -> None:
    core = client.CoreV1Api(provider)
    bad_cpu = restricted_pod("cpu")
    bad_cpu["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "lots"}}
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod(tenant.namespace, bad_cpu)
    assert raised.value.status == 400  # a quantity that does not parse fails decoding
    assert "quantities must match the regular expression" in message_of(raised.value)
    # Since 1.34 (RelaxedEnvironmentVariableValidation, GA) any printable name but '=' is
    # valid: "1 bad" is accepted by this apiserver, "bad=name" is not.
    bad_env = restricted_pod("env")
    bad_env["spec"]["containers"][0]["env"] = [{"name": "bad=name", "value": "x"}]
    with pytest.raises(ApiException) as raised:
        core.create_namespaced_pod(tenant.namespace, bad_env)
    assert raised.value.status == 422
    assert "environment variable name" in message_of(raised.value)


def test_restricted_pod_security_is_enforced(tenant: Tenant, provider: client.ApiClient) -> None:
    pod = restricted_pod("loose")
    del pod["spec"]["containers"][0]["securityContext"]
    with pytest.raises(ApiException) as raised:
        client.CoreV1Api(provider).create_namespaced_pod(tenant.namespace, pod)
    assert raised.value.status == 403
    message = message_of(raised.value)
    assert 'violates PodSecurity "restricted:latest"' in message
    assert "allowPrivilegeEscalation != false" in message


def test_rbac_allows_what_deploy_grants_and_nothing_else(
    tenant: Tenant, provider: client.ApiClient
) -> None:
    core = client.CoreV1Api(provider)
    assert core.list_node().items  # the topology reader
    custom = client.CustomObjectsApi(provider)
    custom.list_namespaced_custom_object(
        "datalocality.io", "v1alpha1", tenant.namespace, "datasourceclaims"
    )
    custom.list_cluster_custom_object("datalocality.io", "v1alpha1", "datasources")
    custom.list_cluster_custom_object("datalocality.io", "v1alpha1", "datasourceslices")
    for what, forbidden in (
        (
            "update a slice",  # slices are written once: create and delete only
            lambda: custom.replace_cluster_custom_object(
                "datalocality.io", "v1alpha1", "datasourceslices", "x", {"metadata": {}}
            ),
        ),
        ("list secrets", lambda: core.list_namespaced_secret(tenant.namespace)),
        ("pods elsewhere", lambda: core.create_namespaced_pod("default", restricted_pod("x"))),
        ("delete a node", lambda: core.delete_node("worker-a1")),
        ("list CRDs", client.ApiextensionsV1Api(provider).list_custom_resource_definition),
    ):
        with pytest.raises(ApiException) as raised:
            forbidden()
            pytest.fail(f"allowed: {what}")
        assert raised.value.status == 403, what


def test_logs_exit_codes_and_follow_that_ends(tenant: Tenant, provider: client.ApiClient) -> None:
    core = client.CoreV1Api(provider)
    text = "first $(GREETING)\nsecond line"
    pod = restricted_pod(
        "talker",
        {
            "sandbox.datalocality.io/log": text,
            "sandbox.datalocality.io/exit-code": "3",
            "sandbox.datalocality.io/run-seconds": "1",
        },
    )
    pod["spec"]["containers"][0]["env"] = [{"name": "GREETING", "value": "hello"}]
    core.create_namespaced_pod(tenant.namespace, pod)
    wait_for(
        lambda: core.read_namespaced_pod("talker", tenant.namespace),
        lambda p: p.status.phase == "Running",
    )
    started = time.monotonic()
    response = core.read_namespaced_pod_log(
        "talker",
        tenant.namespace,
        container="base",
        follow=True,
        _request_timeout=(5, 30),
        _preload_content=False,
    )
    followed = response.data.decode()
    response.release_conn()
    assert time.monotonic() - started < 10  # a real kubelet ends the stream on exit
    assert followed.splitlines() == ["first hello", "second line"]
    done = phase_of(core, "talker", tenant.namespace)
    assert done.status.phase == "Failed"
    assert done.status.container_statuses[0].state.terminated.exit_code == 3


def _sidecar_pod(name: str, xcom: str) -> Obj:
    from airflow.providers.cncf.kubernetes.utils.xcom_sidecar import add_xcom_sidecar

    base = restricted_pod(name)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, annotations={"sandbox.datalocality.io/xcom": xcom}),
        spec=client.V1PodSpec(
            restart_policy="Never",
            containers=[client.V1Container(name="base", image="busybox:1.36")],
        ),
    )
    with_sidecar = add_xcom_sidecar(pod)
    manifest: Obj = client.ApiClient().sanitize_for_serialization(with_sidecar)
    manifest["spec"]["securityContext"] = base["spec"]["securityContext"]
    for container in manifest["spec"]["containers"]:
        container["securityContext"] = container_security_context()
    return manifest


def test_xcom_sidecar_through_kpo_pod_manager(
    control_plane: ControlPlane, tenant: Tenant, provider: client.ApiClient
) -> None:
    from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

    core = client.CoreV1Api(provider)
    core.create_namespaced_pod(tenant.namespace, _sidecar_pod("xc", '{"chunks": ["c1"]}'))
    pod = wait_for(
        lambda: core.read_namespaced_pod("xc", tenant.namespace),
        lambda p: any(
            s.name == "base" and s.state.terminated for s in p.status.container_statuses or []
        ),
    )
    assert pod.status.phase == "Running"  # the sidecar still waits to be read
    assert PodManager(kube_client=core).extract_xcom(pod) == '{"chunks": ["c1"]}'
    # KPO's kill reached the sidecar's real process in kwok's namespace: the pod ends
    done = phase_of(core, "xc", tenant.namespace)
    assert done.status.phase == "Succeeded"


def test_exec_cannot_signal_processes_of_the_machine(
    control_plane: ControlPlane, tenant: Tenant, provider: client.ApiClient, admin: client.ApiClient
) -> None:
    core = client.CoreV1Api(provider)
    core.create_namespaced_pod(tenant.namespace, _sidecar_pod("victim", "{}"))
    wait_for(
        lambda: core.read_namespaced_pod("victim", tenant.namespace),
        lambda p: p.status.phase == "Running",
    )
    execs = client.CustomObjectsApi(admin).get_namespaced_custom_object(
        "kwok.x-k8s.io", "v1alpha1", tenant.namespace, "execs", "victim"
    )
    uid = execs["spec"]["execs"][0]["local"]["securityContext"]["runAsUser"]
    # A canary on the machine, of the pod's own user id and named like the sidecar's shell:
    # without kwok's PID namespace, `pgrep -u $(id -u) -f sh` would find and kill it.
    canary = subprocess.Popen(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "sh",
            "-c",
            "trap 'exit 7' INT; while :; do sleep 0.2; done",
        ],
    )
    try:

        def run(command: str) -> str:
            session = stream(
                core.connect_get_namespaced_pod_exec,
                "victim",
                tenant.namespace,
                container=SIDECAR,
                command=["/bin/sh", "-c", command],
                stderr=True,
                stdout=True,
                stdin=False,
                tty=False,
                _preload_content=False,
            )
            try:
                session.run_forever(timeout=20)
                return str(session.read_all())
            finally:
                session.close()

        inside = run("readlink /proc/self/ns/pid; id -u; ls /proc | grep -c '^[0-9]'")
        namespace_id, user, processes = inside.split()
        assert namespace_id != os.readlink("/proc/self/ns/pid")
        assert int(user) == uid
        assert int(processes) < 10  # kwok, its init, the sidecar: not the machine's
        run("kill -s SIGINT 1; kill -2 $(pgrep -u $(id -u) -f 'sh'); true")
        time.sleep(1)
        assert canary.poll() is None, "the canary on the machine was signalled"
        control_plane.check_alive()
        done = phase_of(core, "victim", tenant.namespace)
        assert done.status.phase == "Succeeded"  # the pod's own sidecar was killed
    finally:
        canary.kill()
        canary.wait()


def test_job_completes_and_ttl_controller_removes_it(
    tenant: Tenant, provider: client.ApiClient
) -> None:
    batch = client.BatchV1Api(provider)
    template = restricted_pod("unused")
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "ttlSecondsAfterFinished": 1,
            "backoffLimit": 0,
            "template": {"metadata": {}, "spec": template["spec"]},
        },
    }
    batch.create_namespaced_job(tenant.namespace, job)
    done = wait_for(
        lambda: batch.read_namespaced_job("once", tenant.namespace),
        lambda j: any(
            c.type == "Complete" and c.status == "True" for c in j.status.conditions or []
        ),
    )
    assert done.status.succeeded == 1

    def gone() -> bool:
        try:
            batch.read_namespaced_job("once", tenant.namespace)
        except ApiException as exc:
            return bool(exc.status == 404)
        return False

    wait_for(gone, bool)
    core = client.CoreV1Api(provider)
    wait_for(lambda: core.list_namespaced_pod(tenant.namespace).items, lambda items: not items)
