"""The commands other than the scan: check-config, explain, classify, demo."""
