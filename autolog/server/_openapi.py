"""The OpenAPI 3 description of the server's API, built from the same endpoint table that routes
requests (so the two cannot disagree); served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any, Sequence

from autolog.store import _wire

_KEY_VALUE = {"type": "object", "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
              "required": ["key"]}
_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer", "format": "int64"},
    "number": {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]},
    "array": {"type": "array", "items": {"type": "string"}},
    "keyvalues": {"type": "array", "items": _KEY_VALUE},
    "metrics": {"type": "array", "items": {"type": "object", "properties": {
        "key": {"type": "string"}, "value": {"type": "number"},
        "timestamp": {"type": "integer", "format": "int64"}, "step": {"type": "integer", "format": "int64"}},
        "required": ["key", "value", "timestamp"]}},
    "datasets": {"type": "array", "items": {"type": "object", "properties": {
        "tags": {"type": "array", "items": _KEY_VALUE},
        "dataset": {"type": "object", "properties": {
            "name": {"type": "string"}, "digest": {"type": "string"},
            "source_type": {"type": "string"}, "source": {"type": "string"},
            "schema": {"type": "string"}, "profile": {"type": "string"}},
            "required": ["name", "digest"]}}}},
}
_ERROR = {"description": "Error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}


def _responses(auth: bool) -> dict[str, Any]:
    out = {"200": _OK, "400": _ERROR, "404": _ERROR, "500": _ERROR, "503": _ERROR}
    if auth:
        out.update({"401": _ERROR, "403": _ERROR})
    return out


def describe(endpoints: Sequence[Any], version: str, serve_artifacts: bool, auth: bool) -> dict[str, Any]:
    """The OpenAPI document for ``endpoints`` (see ``_tracking_api.ENDPOINTS``)."""
    paths: dict[str, Any] = {}
    for spec in endpoints:
        op: dict[str, Any] = {"operationId": f"{spec.method.lower()}_{spec.path.replace('/', '_')}",
                              "summary": spec.handler.__doc__ or spec.path,
                              "responses": _responses(auth)}
        if spec.method == "GET":
            op["parameters"] = [
                {"name": name, "in": "query", "required": name in spec.required,
                 "schema": _TYPES.get(kind, {"type": "string"}),
                 **({"style": "form", "explode": True} if kind == "array" else {})}
                for name, kind in spec.fields.items()]
        else:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {name: _TYPES.get(kind, {"type": "string"}) for name, kind in spec.fields.items()},
                "required": list(spec.required)}}}}
        paths.setdefault(f"{_wire.API}/{spec.path}", {})[spec.method.lower()] = op
    text = {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    paths["/health"] = {"get": {"operationId": "health", "responses": {"200": text}}}
    paths["/version"] = {"get": {"operationId": "version", "responses": {"200": text}}}
    if serve_artifacts:
        path_param = [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}]
        paths[_wire.ARTIFACTS_API] = {"get": {
            "operationId": "list_artifacts_proxy", "responses": _responses(auth),
            "parameters": [{"name": "path", "in": "query", "schema": {"type": "string"}}]}}
        paths[_wire.ARTIFACTS_API + "/{path}"] = {
            "get": {"operationId": "download_artifact", "parameters": path_param,
                    "responses": {**_responses(auth), "200": {"description": "The file's bytes",
                                  "content": {"application/octet-stream": {"schema": {
                                      "type": "string", "format": "binary"}}}}}},
            "put": {"operationId": "upload_artifact", "parameters": path_param,
                    "requestBody": {"content": {"application/octet-stream": {"schema": {
                        "type": "string", "format": "binary"}}}},
                    "responses": _responses(auth)},
            "delete": {"operationId": "delete_artifact", "parameters": path_param,
                       "responses": _responses(auth)},
        }
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "autolog tracking server",
                 "description": "MLflow's v2 REST tracking protocol (without MLflow 3's logged "
                                "models) and artifact proxy.",
                 "version": version},
        "paths": paths,
        "components": {"schemas": {"Error": {"type": "object", "properties": {
            "error_code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["error_code", "message"]}}},
    }
    if auth:
        doc["components"]["securitySchemes"] = {"basic": {"type": "http", "scheme": "basic"}}
        doc["security"] = [{"basic": []}]
    return doc
