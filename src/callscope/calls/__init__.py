"""Telephony sessions and parties (RingCentral Call Control shapes, spec §7)."""
