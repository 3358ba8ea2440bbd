"""Orchestration (layer 3, beside api): load inputs, compute through the lower layers, gate."""
