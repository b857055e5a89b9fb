"""RingCentral list envelope: ``uri``, ``records``, ``paging``, ``navigation`` (spec §1.2).

The ``uri`` and navigation links repeat the request's query, less credentials: a token
passed as ``?access_token=`` (which a list does not even accept) must not come back in a
body that may be logged, cached or shared.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callscope.api.errors import ApiError
from callscope.digits import is_digits
from callscope.logsafe import CREDENTIAL_PARAMS

__all__ = ["page_params", "paged"]


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not is_digits(raw) or not lo <= int(raw) <= hi:
        raise ApiError(
            400,
            "CMN-101",
            f"Parameter [{name}] value is invalid: use an integer {lo}-{hi}",
            parameterName=name,
            parameterValue=raw,
        )
    return int(raw)


def page_params(request: web.Request) -> tuple[int, int]:
    """``(page, perPage)`` from the query; page is 1-based, perPage 1-1000 (default 100)."""
    return (
        _int_param(request, "page", 1, 1, 10**9),
        _int_param(request, "perPage", 100, 1, 1000),
    )


def paged(
    request: web.Request, records: list[Any], total: int, page: int, per_page: int
) -> dict[str, Any]:
    url = request.url.with_query(
        [(k, v) for k, v in request.url.query.items() if k.lower() not in CREDENTIAL_PARAMS]
    )

    def link(p: int) -> dict[str, str]:
        return {"uri": str(url.update_query(page=p, perPage=per_page))}

    pages = max(1, -(-total // per_page))
    paging: dict[str, Any] = {
        "page": page,
        "perPage": per_page,
        "totalPages": pages,
        "totalElements": total,
    }
    if records:
        paging["pageStart"] = (page - 1) * per_page
        paging["pageEnd"] = (page - 1) * per_page + len(records) - 1
    navigation: dict[str, Any] = {"firstPage": link(1), "lastPage": link(pages)}
    if page > 1:
        navigation["previousPage"] = link(min(page - 1, pages))
    if page < pages:
        navigation["nextPage"] = link(page + 1)
    return {"uri": str(url), "records": records, "paging": paging, "navigation": navigation}
