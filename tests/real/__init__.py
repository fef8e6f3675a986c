"""Conformance and harm tests against the real p0f daemon (root, Debian's p0f)."""
