"""csi-coach: coaches continual-service-improvement records toward service-value goals.

The repository root is this package (``package-dir = {"csi_coach" = "."}``), so the
entries an admin looks for stay at the top of the checkout while installing the
project adds one import name. Layers, lowest first (checked by import-linter):

    model, errors, tomlpos          records, verdicts, the one error tree
    rules                           the pure engine, its loader and default.toml
    config                          the TOML config, read into typed settings
    advice                          what a comment says, from the record as read
    coach, render, logsetup         comment decisions, templates, logging
    connectors                      ServiceNow and Jira, behind one Protocol
    scan                            one scan: pipeline, state, watermark, lock, scheduler
    report                          the managers' report
    commands, bot                   check-config, explain, classify, demo; the CLI

``sandbox`` (local ServiceNow and Jira servers) stands apart: it imports nothing of
the bot but ``errors``.
"""

__version__ = "0.1.0"
