"""Phone numbers as RingCentral shows them: E.164 (``+16505550123``).

RingCX streams carry the caller's number (``ani``) and the number called (``dnis``) as the
carrier or the dialer wrote them: ``6505550123``, ``1-650-555-0123``, ``(650) 555-0123``.
RingCentral's telephony events and session parties show ``phoneNumber`` in E.164 (spec §9.2
examples), and a subscription filter ``phoneNumber=`` is E.164 with a ``+`` (spec §9.2), so
parties get the number in that form. Pure: no I/O.

Numbers without a country code are read as NANP (RingCX is a North American product). What
cannot be read as a complete number keeps the text it came with: an extension number
(``101``), a seven-digit local number, a number with an extension (``… ext. 12``: E.164 has
no place for it), an anonymous caller (``anonymous``, ``Restricted``), junk.
"""

from __future__ import annotations

import phonenumbers

from callscope.digits import is_digits

__all__ = ["DEFAULT_REGION", "e164"]

#: the country of numbers written without a country code
DEFAULT_REGION = "US"
#: longer texts are not numbers (phonenumbers refuses more than 250 characters anyway)
_MAX_CHARS = 64


def e164(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """``raw`` in E.164 when it is a complete phone number, else ``raw`` unchanged.

    >>> e164("(650) 555-0123")
    '+16505550123'
    >>> e164("101")
    '101'
    """
    if raw is None:
        return None
    text = raw.strip()
    if not text or len(text) > _MAX_CHARS or not any(is_digits(c) for c in text):
        return raw
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return raw
    if number.extension:
        return raw
    # the length fits a complete number of its country (not merely a local one: "5550123")
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
