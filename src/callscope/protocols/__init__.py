"""Wire protocols as sans-I/O cores: text in, typed events out. No asyncio in here."""
