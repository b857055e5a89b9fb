"""Helpers the test modules share: a condition wait (``wait``), logins and requests
(``login``), a WebHook receiver (``receiver``), the call runner (``runner``) and a
supervisor's web phone (``phone``). Test modules import these, never each other."""
