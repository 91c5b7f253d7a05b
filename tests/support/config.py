"""Config text the config and check-config tests share."""

# The smallest valid ServiceNow source, with secrets named (never written).
SNOW = """\
[sources.snow]
type = "servicenow"
url = "https://example.service-now.com"

[sources.snow.auth]
method = "basic"
username_env = "SNOW_USER"
password_env = "SNOW_PASSWORD"
"""
