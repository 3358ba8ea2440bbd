"""Orchestration above the api: load, compute, write (layer 3, between ``cli`` and ``api``)."""
