"""Orchestration (layer 3, beside ``api``): load inputs, compute, gate; the CLI writes."""
