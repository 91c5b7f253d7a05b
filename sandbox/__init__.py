"""Local ServiceNow and Jira servers on loopback, for the demo, the tests and the benchmarks.

    csi-coach sandbox                      # serve both until Ctrl-C, print one JSON line
    from csi_coach.sandbox.cli import start_sandbox  # the same, in-process (port 0 = a free port)

Modules: seed (the generated CSI records), faults (injected latency, 5xx, 429, resets;
request counts), http (the shared threaded server base), servicenow + snquery +
sndata + snauth (the Table API), jira (the Jira REST API), cli (the command).
Standard library only; nothing here listens on anything but loopback.
"""
