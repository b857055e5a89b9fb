"""Accounts, extensions, apps, credentials and OAuth tokens (RingCentral-compatible)."""
