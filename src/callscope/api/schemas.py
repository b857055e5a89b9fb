"""JSON Schemas (OpenAPI 3.1 ``components.schemas``) of the bodies the OpenAPI document names.

Field names and meanings follow RingCentral's public OpenAPI file (spec §0 "Spec"): the error
body (spec §1.3), the paging envelope (§1.2), ``CallLogRecord`` and its parts (§6 and the
vendor's "Call Log" section), ``GetCallRecordingResponse``. Only the fields callscope sends
are listed; RingCentral's own schemas have more.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["SCHEMAS"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_STR: Final = {"type": "string"}
_INT: Final = {"type": "integer"}
_TIME: Final = {"type": "string", "format": "date-time"}
_DIRECTION: Final = {"type": "string", "enum": ["Inbound", "Outbound"]}

SCHEMAS: Final[dict[str, Any]] = {
    "ApiErrorItem": {
        "type": "object",
        "required": ["errorCode", "message"],
        "properties": {
            "errorCode": {**_STR, "examples": ["CMN-102"]},
            "message": _STR,
            "parameterName": _STR,
            "parameterValue": _STR,
            "permissionName": _STR,
        },
    },
    "ApiError": {
        "type": "object",
        "description": "RingCentral's error body: errors[] and, as legacy servers did, the "
        "first error's errorCode and message at the top (OAuth errors add RFC 6749 `error`)",
        "required": ["errors"],
        "properties": {
            "errorCode": _STR,
            "message": _STR,
            "error": _STR,
            "errors": {"type": "array", "minItems": 1, "items": _ref("ApiErrorItem")},
        },
    },
    "PageNavigationUri": {"type": "object", "properties": {"uri": {**_STR, "format": "uri"}}},
    "PageNavigation": {
        "type": "object",
        "properties": {
            k: _ref("PageNavigationUri")
            for k in ("firstPage", "nextPage", "previousPage", "lastPage")
        },
    },
    "EnumeratedPaging": {
        "type": "object",
        "required": ["perPage"],
        "properties": {
            "page": _INT,
            "perPage": _INT,
            "pageStart": _INT,
            "pageEnd": _INT,
            "totalPages": _INT,
            "totalElements": _INT,
        },
    },
    "CallLogCallerInfo": {
        "type": "object",
        "properties": {
            "phoneNumber": {**_STR, "description": "E.164 when the number is complete"},
            "dialerPhoneNumber": {**_STR, "description": "from: the number as streamed"},
            "dialedPhoneNumber": {**_STR, "description": "to: the number as streamed"},
            "extensionNumber": _STR,
            "extensionId": _STR,
            "name": _STR,
        },
    },
    "CallLogRecordingInfo": {
        "type": "object",
        "properties": {
            "id": _STR,
            "uri": {**_STR, "format": "uri"},
            "type": {"type": "string", "enum": ["Automatic", "OnDemand"]},
            "contentUri": {**_STR, "format": "uri"},
        },
    },
    "ExtensionInfoCallLog": {
        "type": "object",
        "required": ["id", "uri"],
        "properties": {"id": {"type": "integer", "format": "int64"}, "uri": _STR},
    },
    "CallLogRecordLegInfo": {
        "type": "object",
        "properties": {
            "startTime": _TIME,
            "duration": {**_INT, "description": "seconds"},
            "type": {"type": "string", "enum": ["Voice", "Fax"]},
            "direction": _DIRECTION,
            "action": {**_STR, "examples": ["Phone Call", "Transfer", "Monitoring"]},
            "result": {**_STR, "examples": ["Call connected", "In Progress"]},
            "legType": {**_STR, "examples": ["PstnToSip", "TransferCall", "Monitoring"]},
            "from": _ref("CallLogCallerInfo"),
            "to": _ref("CallLogCallerInfo"),
            "transport": {"type": "string", "enum": ["PSTN", "VoIP"]},
            "extension": _ref("ExtensionInfoCallLog"),
            "recording": _ref("CallLogRecordingInfo"),
            "telephonySessionId": _STR,
            "master": {"type": "boolean"},
        },
    },
    "CallLogRecord": {
        "type": "object",
        "required": ["id", "uri", "sessionId", "startTime", "type", "direction", "action"],
        "properties": {
            "id": _STR,
            "uri": {**_STR, "format": "uri"},
            "sessionId": _STR,
            "telephonySessionId": _STR,
            "partyId": _STR,
            "startTime": _TIME,
            "duration": {**_INT, "description": "seconds (so far, while in progress)"},
            "durationMs": _INT,
            "type": {"type": "string", "enum": ["Voice", "Fax"]},
            "direction": _DIRECTION,
            "action": {**_STR, "examples": ["Phone Call"]},
            "result": {**_STR, "examples": ["Call connected", "In Progress"]},
            "transport": {"type": "string", "enum": ["PSTN", "VoIP"]},
            "from": _ref("CallLogCallerInfo"),
            "to": _ref("CallLogCallerInfo"),
            "extension": _ref("ExtensionInfoCallLog"),
            "recording": _ref("CallLogRecordingInfo"),
            "lastModifiedTime": _TIME,
            "legs": {
                "type": "array",
                "description": "view=Detailed only",
                "items": _ref("CallLogRecordLegInfo"),
            },
        },
    },
    "CallLogResponse": {
        "type": "object",
        "required": ["records", "paging", "navigation"],
        "properties": {
            "uri": {**_STR, "format": "uri"},
            "records": {"type": "array", "items": _ref("CallLogRecord")},
            "paging": _ref("EnumeratedPaging"),
            "navigation": _ref("PageNavigation"),
        },
    },
    "GetCallRecordingResponse": {
        "type": "object",
        "properties": {
            "id": _STR,
            "uri": {**_STR, "format": "uri"},
            "contentUri": {**_STR, "format": "uri"},
            "contentType": {**_STR, "examples": ["audio/wav"]},
            "duration": {**_INT, "description": "seconds"},
        },
    },
}
