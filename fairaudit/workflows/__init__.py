"""Workflows: what a command does, as library calls (layer 3, beside :mod:`fairaudit.api`).

A workflow loads the inputs, runs the computation (``api``, ``metrics``, ``models``,
``mitigation``), renders the views (``report``) and writes them through :mod:`fairaudit._io`,
all or nothing. It never prints: status and progress go to callbacks the caller passes. The
CLI (layer 4) parses options, calls one workflow and maps errors to exit codes.

- :mod:`fairaudit.workflows.audit`: ``fairaudit audit``;
- :mod:`fairaudit.workflows.mitigate`: ``fairaudit mitigate``, with the fine-tuning runs in
  :mod:`fairaudit.workflows.fine_tune` and the before/after audits in
  :mod:`fairaudit.workflows.before_after`;
- :mod:`fairaudit.workflows.compare`: ``fairaudit compare`` (a candidate against the deployed
  model on the same patients, through the paired engine :mod:`fairaudit.metrics.paired`).
"""
