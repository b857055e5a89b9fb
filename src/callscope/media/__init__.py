"""Pure audio building blocks: G.711, jitter buffer, WAV files. No I/O loops, no asyncio."""
