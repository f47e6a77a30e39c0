"""The Table resource's schema: DynamoDB's vocabulary (camelCase), its limits and defaults.

Apart from kubefn.table so the compile step reads short; the rules a schema
cannot say are in kubefn.table_rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubefn.schema import Schema

KIND = "Table"

ATTRIBUTE_TYPES = ("S", "N", "B")
HASH, RANGE = "HASH", "RANGE"
PAY_PER_REQUEST, PROVISIONED = "PAY_PER_REQUEST", "PROVISIONED"
INCLUDE = "INCLUDE"
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
GSI_MAX = 20
LSI_MAX = 5
NON_KEY_ATTRIBUTES_MAX = 100
"""Across all of a table's secondary indexes, as DynamoDB counts them."""

NAME: Schema = {
    "type": "string",
    "minLength": 3,
    "maxLength": 255,
    "pattern": r"^[a-zA-Z0-9_.\-]+$",
    "x-kubefn-pattern-hint": "must be letters, digits, '_', '.' and '-' only",
}
"""DynamoDB's rule for table and index names."""

_ATTRIBUTE_NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 255}

_THROUGHPUT: Schema = {
    "type": "object",
    "required": ["readCapacityUnits", "writeCapacityUnits"],
    "properties": {
        "readCapacityUnits": {"type": "integer", "minimum": 1},
        "writeCapacityUnits": {"type": "integer", "minimum": 1},
    },
}


def _index(*, throughput: bool, max_items: int) -> Schema:
    properties: dict[str, Any] = {
        "indexName": NAME,
        "keySchema": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {
                "type": "object",
                "required": ["attributeName", "keyType"],
                "properties": {
                    "attributeName": _ATTRIBUTE_NAME,
                    "keyType": {"type": "string", "enum": [HASH, RANGE]},
                },
            },
        },
        "projection": {
            "type": "object",
            "required": ["projectionType"],
            "properties": {
                "projectionType": {"type": "string", "enum": ["ALL", "KEYS_ONLY", INCLUDE]},
                "nonKeyAttributes": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": NON_KEY_ATTRIBUTES_MAX,
                    "items": _ATTRIBUTE_NAME,
                },
            },
        },
    }
    if throughput:
        properties["provisionedThroughput"] = _THROUGHPUT
    return {
        "type": "array",
        "maxItems": max_items,
        "items": {
            "type": "object",
            "required": ["indexName", "keySchema", "projection"],
            "properties": properties,
        },
    }


_FUNCTION_REF: Schema = {"type": "string"}
"""A Function's name; checked by kubefn.function.check_name, so the message is Function's."""

TRIGGER_DEFAULTS: Mapping[str, Any] = {
    "batchSize": 100,
    "maximumBatchingWindowSeconds": 0,
    "startingPosition": "LATEST",
    "maximumRetryAttempts": -1,
    "bisectBatchOnFunctionError": False,
}

SPEC_SCHEMA: Schema = {
    "type": "object",
    "required": ["keySchema"],
    "properties": {
        "tableName": NAME,
        "keySchema": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {
                "type": "object",
                "required": ["attributeName", "attributeType", "keyType"],
                "properties": {
                    "attributeName": _ATTRIBUTE_NAME,
                    "attributeType": {"type": "string", "enum": list(ATTRIBUTE_TYPES)},
                    "keyType": {"type": "string", "enum": [HASH, RANGE]},
                },
            },
        },
        "attributeDefinitions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["attributeName", "attributeType"],
                "properties": {
                    "attributeName": _ATTRIBUTE_NAME,
                    "attributeType": {"type": "string", "enum": list(ATTRIBUTE_TYPES)},
                },
            },
        },
        "billingMode": {
            "type": "string",
            "enum": [PAY_PER_REQUEST, PROVISIONED],
            "default": PAY_PER_REQUEST,
        },
        "provisionedThroughput": _THROUGHPUT,
        "ttl": {
            "type": "object",
            "required": ["attributeName"],
            "properties": {"attributeName": _ATTRIBUTE_NAME},
        },
        "stream": {
            "type": "object",
            "required": ["enabled"],
            "properties": {
                "enabled": {"type": "boolean"},
                "viewType": {"type": "string", "enum": list(STREAM_VIEW_TYPES)},
            },
        },
        "globalSecondaryIndexes": _index(throughput=True, max_items=GSI_MAX),
        "localSecondaryIndexes": _index(throughput=False, max_items=LSI_MAX),
        "tableClass": {
            "type": "string",
            "enum": ["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
            "default": "STANDARD",
        },
        "deletionPolicy": {"type": "string", "enum": ["Retain", "Delete"], "default": "Retain"},
        "deletionProtectionEnabled": {"type": "boolean", "default": False},
        "triggers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["function"],
                "properties": {
                    "function": _FUNCTION_REF,
                    "batchSize": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 10000,
                        "default": TRIGGER_DEFAULTS["batchSize"],
                    },
                    "maximumBatchingWindowSeconds": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 300,
                        "default": TRIGGER_DEFAULTS["maximumBatchingWindowSeconds"],
                    },
                    "startingPosition": {
                        "type": "string",
                        "enum": ["TRIM_HORIZON", "LATEST"],
                        "default": TRIGGER_DEFAULTS["startingPosition"],
                    },
                    "maximumRetryAttempts": {
                        "type": "integer",
                        "minimum": -1,
                        "maximum": 10000,
                        "default": TRIGGER_DEFAULTS["maximumRetryAttempts"],
                    },
                    "bisectBatchOnFunctionError": {
                        "type": "boolean",
                        "default": TRIGGER_DEFAULTS["bisectBatchOnFunctionError"],
                    },
                    "onFailure": {
                        "type": "object",
                        "required": ["function"],
                        "properties": {"function": _FUNCTION_REF},
                    },
                },
            },
        },
    },
}

STATUS_SCHEMA: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
