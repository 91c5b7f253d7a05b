"""Local ServiceNow and Jira servers on loopback, for the demo, the tests and the benchmarks.

    csi-coach sandbox                      # serve both until Ctrl-C, print one JSON line
    csi-coach sandbox --tls                # the same over HTTPS, with a throwaway CA
    from csi_coach.sandbox.cli import start_sandbox  # the same, in-process (port 0 = a free port)

Modules: seed (the generated CSI records), faults (injected latency, 5xx, 429, resets,
slow paging; request counts), http (the shared threaded server base, HTTP or HTTPS),
tls (the throwaway CA), servicenow/ (the Table API: server, query, data, auth), jira/
(the Jira REST API: server, JQL, data, input checks, response shapes, ADF), cli (the
command). Standard library only, but for tls, which needs the optional trustme (the
sandbox extra); nothing here listens on anything but loopback.
"""
