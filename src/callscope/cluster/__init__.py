"""Several callscope nodes on one PostgreSQL database and one Redis (``redis_url``)."""
