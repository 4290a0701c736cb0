"""The ``Next:`` line of a failure as a command an operator can paste: built from the environment (context,
namespace, Deployment names, the certificate's kind) where ``kubernetes:`` is set, with placeholders only where
the file says nothing."""

from __future__ import annotations

from mt_verify.config import Environment


def kubectl(env: Environment, args: str) -> str:
    """``kubectl [--context C] ARGS -n NAMESPACE`` for this environment (``-n <namespace>`` when unknown)."""
    kube = env.kubernetes
    if kube is None:
        return f"kubectl {args} -n <namespace>"
    ctx = f"--context {kube.context} " if kube.context else ""
    return f"kubectl {ctx}{args} -n {kube.namespace}"


def deployment(env: Environment, role: str) -> str:
    """The Deployment of ``role`` (``backend``, ``frontend``) as the environment names it, else a placeholder."""
    kube = env.kubernetes
    for d in kube.deployments if kube else []:
        if role in d.name or role in d.release_containers:
            return d.name
    return f"<{role}>"


def backend_down(env: Environment) -> str:
    name = deployment(env, "backend")
    return f"{kubectl(env, f'rollout status deploy/{name}')}; {kubectl(env, f'logs deploy/{name} --tail=100')}"


def frontend_down(env: Environment) -> str:
    name = deployment(env, "frontend")
    return f"{kubectl(env, f'get pods,ingress -l app.kubernetes.io/name={name}')}; " \
           f"{kubectl(env, f'logs deploy/{name} --tail=100')}"


def certificate(env: Environment, host: str) -> str:
    """What to look at for a bad certificate, by the kind of certificate the environment uses."""
    cert = env.kubernetes.certificate if env.kubernetes else None
    if cert is None:
        return f"renew the certificate of {host} (openssl s_client -connect {host}:443 -servername {host})"
    if cert.kind == "gke-managed":
        return (f"{kubectl(env, f'describe managedcertificate {cert.name}')}: a Google-managed certificate "
                "renews itself while the Ingress and DNS point at the load balancer; check both")
    return (f"{kubectl(env, f'describe certificate {cert.name}')}; cert-manager renews ~30 days before expiry: "
            f"{kubectl(env, 'get certificaterequests,orders,challenges')}")
