"""Cluster access and deployment checks (official kubernetes client, read-only)."""
