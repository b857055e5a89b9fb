"""Offline speech recognition: engines, VAD segmentation, per-party transcripts."""
