"""SIP supervisor devices: desk phones and softphones that register with callscope and are
called when supervision starts. Messages are parsed and serialised by ``aiosipua``; the
registrar's digest checks, SDP offer/answer and RTP framing are sans-I/O here
(``digest``, ``media``); ``agent`` is the asyncio side."""
