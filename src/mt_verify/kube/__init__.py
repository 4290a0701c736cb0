"""The deployment tier's cluster access and checks (official ``kubernetes`` client, read-only: get and list).

``options``  command-line options (imports nothing heavy; the root conftest calls ``add_options``)
``access``   kubeconfig / context / in-cluster resolution, one client, errors translated at one boundary
``checks``   what each check decides, as pure functions over the API's JSON objects
``helm``     Helm 3 release Secrets decoded without a helm binary
``wait``     bounded waiting for a rollout still in progress
"""
