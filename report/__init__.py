"""The managers' report: report.json and report.html from a scan's result."""
