"""The suite's cluster reads: GETs of the Kubernetes API sent through the official client's ``ApiClient``.

The client's generated API classes (``CoreV1Api``, ``AppsV1Api``, ...) build a pydantic validator for each of
their methods when first imported: ~1.1 s for ``CoreV1Api`` alone on 2 cores, most of the deployment tier's time
against a quick cluster, for a tier that reads raw JSON anyway. The reads here keep the generated methods' names
and argument order (``kube.apps.list_namespaced_deployment(namespace, limit=1)``), so a call site reads as the
client's reference does, and go through the same ``ApiClient``: the kubeconfig's host, TLS, token or client
certificate, proxy and retries, and the same ``ApiException`` for a status outside 2xx. The gate's writes (Lease,
verdict record) still use the generated classes: they run once a gate, not on every suite run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

#: A read: its path and the positional arguments in the generated method's order.
Route = tuple[str, tuple[str, ...]]

#: Method name -> route, per API group.
CORE: dict[str, Route] = {
    "read_namespace": ("/api/v1/namespaces/{name}", ("name",)),
    "list_namespaced_pod": ("/api/v1/namespaces/{namespace}/pods", ("namespace",)),
    "list_namespaced_endpoints": ("/api/v1/namespaces/{namespace}/endpoints", ("namespace",)),
    "list_namespaced_event": ("/api/v1/namespaces/{namespace}/events", ("namespace",)),
    "list_namespaced_secret": ("/api/v1/namespaces/{namespace}/secrets", ("namespace",)),
    "list_namespaced_service": ("/api/v1/namespaces/{namespace}/services", ("namespace",)),
}
APPS: dict[str, Route] = {
    "list_namespaced_deployment": ("/apis/apps/v1/namespaces/{namespace}/deployments", ("namespace",)),
    "list_namespaced_replica_set": ("/apis/apps/v1/namespaces/{namespace}/replicasets", ("namespace",)),
}
BATCH: dict[str, Route] = {"list_namespaced_job": ("/apis/batch/v1/namespaces/{namespace}/jobs", ("namespace",))}
DISCOVERY: dict[str, Route] = {
    "list_namespaced_endpoint_slice": ("/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
                                       ("namespace",)),
}
NETWORKING: dict[str, Route] = {
    "read_namespaced_ingress": ("/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{name}",
                                ("name", "namespace")),
}
CUSTOM: dict[str, Route] = {
    "get_namespaced_custom_object": ("/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
                                     ("group", "version", "namespace", "plural", "name")),
}


def _camel(name: str) -> str:
    """``label_selector`` -> ``labelSelector`` (the API's query parameter names)."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


class Reads:
    """One API group's reads: ``Reads(api_client, APPS).list_namespaced_deployment("ns")``."""

    def __init__(self, api_client: Any, methods: dict[str, Route]) -> None:
        self._api = api_client
        self._methods = methods

    def __getattr__(self, name: str) -> Callable[..., Any]:
        try:
            path, arg_names = self._methods[name]
        except KeyError:
            raise AttributeError(f"{name}: not a read this suite makes (mt_verify.kube.reads)") from None

        def read(*args: Any, _preload_content: bool = False, _request_timeout: Any = None, **query: Any) -> Any:
            if len(args) != len(arg_names):
                raise TypeError(f"{name}() takes {', '.join(arg_names)}")
            return self.get(path, dict(zip(arg_names, args, strict=True)), query, _request_timeout)

        read.__name__ = name
        return read

    def get(self, path: str, path_params: dict[str, Any], query: dict[str, Any], timeout: Any) -> Any:
        """The raw ``urllib3`` response (``.data`` is the JSON body), as ``_preload_content=False`` gives."""
        from kubernetes.client.exceptions import ApiException

        request = self._api.param_serialize(
            method="GET", resource_path=path, path_params={k: str(v) for k, v in path_params.items()},
            query_params=[(_camel(k), v) for k, v in query.items() if v is not None],
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        response = self._api.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return response.response
