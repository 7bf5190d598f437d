"""The operator console: platform staff on the admin host(s)."""
