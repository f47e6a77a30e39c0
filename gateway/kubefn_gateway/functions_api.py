"""Lambda's read-only function API (2015-03-31): ListFunctions, GetFunction,
GetFunctionConfiguration — so `aws lambda list-functions` and boto3 see what
the platform serves. Functions are created by manifests, not through this API.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubefn_gateway import awserrors
from kubefn_gateway.invoke_api import function_key
from kubefn_gateway.version import FunctionVersion

if TYPE_CHECKING:
    from kubefn_gateway.app import Platform

LIST_MAX_ITEMS = 50


class FunctionsApi:
    def __init__(self, *, platform: Platform) -> None:
        self._platform = platform

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/2015-03-31/functions", self.list_functions),
            web.get("/2015-03-31/functions/", self.list_functions),
            web.get("/2015-03-31/functions/{name}/configuration", self.get_configuration),
            web.get("/2015-03-31/functions/{name}", self.get_function),
        ]

    async def list_functions(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("MaxItems", LIST_MAX_ITEMS))
            if not 1 <= limit <= LIST_MAX_ITEMS:
                raise ValueError
        except ValueError:
            return awserrors.InvalidParameterValue(
                f"MaxItems must be between 1 and {LIST_MAX_ITEMS} "
                f"(got {request.query.get('MaxItems')!r})"
            ).response(request_id="")
        marker = request.query.get("Marker", "")
        keys = [k for k in self._platform.catalog.keys() if k > marker]
        page = keys[:limit]
        body: dict[str, Any] = {"Functions": [self._configuration(k) for k in page]}
        if len(keys) > limit:
            body["NextMarker"] = page[-1]
        return web.json_response(body)

    async def get_function(self, request: web.Request) -> web.Response:
        try:
            key = self._key(request)
        except awserrors.LambdaError as exc:
            return exc.response(request_id="")
        served = self._platform.catalog.get(key)
        assert served is not None
        reserved = served.version.spec.get("reservedConcurrency")
        body: dict[str, Any] = {
            "Configuration": self._configuration(key),
            "Code": _code(served.version),
        }
        if reserved is not None:
            body["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
        return web.json_response(body)

    async def get_configuration(self, request: web.Request) -> web.Response:
        try:
            key = self._key(request)
        except awserrors.LambdaError as exc:
            return exc.response(request_id="")
        return web.json_response(self._configuration(key))

    def _key(self, request: web.Request) -> str:
        settings = self._platform.settings
        key, qualifier = function_key(
            request.match_info["name"],
            request.query.get("Qualifier"),
            default_namespace=settings.namespace,
        )
        if self._platform.catalog.get(key) is None or qualifier not in (None, "$LATEST"):
            name = key.split("/", 1)[1] + (f":{qualifier}" if qualifier else "")
            raise awserrors.ResourceNotFound(
                f"Function not found: arn:aws:lambda:{settings.region}:"
                f"{settings.account_id}:function:{name}"
            )
        return key

    def _configuration(self, key: str) -> dict[str, Any]:
        settings = self._platform.settings
        served = self._platform.catalog.get(key)
        assert served is not None
        version = served.version
        spec = version.spec
        code = spec["code"]
        configuration: dict[str, Any] = {
            "FunctionName": version.name,
            "FunctionArn": version.arn(region=settings.region, account_id=settings.account_id),
            "Runtime": spec["runtime"],
            "Role": f"arn:aws:iam::{settings.account_id}:role/kubefn-{version.namespace}",
            "Handler": spec.get("handler", ""),
            "CodeSize": code.get("size", 0),
            "Description": "",
            "Timeout": spec["timeoutSeconds"],
            "MemorySize": spec["memoryMB"],
            "CodeSha256": _sha256(code),
            "Version": "$LATEST",
            "RevisionId": f"{version.namespace}-{version.name}-{version.revision}",
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Image" if "image" in code else "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": spec["ephemeralStorageMB"]},
            "SnapStart": {
                "ApplyOn": (spec.get("snapStart") or {}).get("applyOn", "None"),
                "OptimizationStatus": "Off",
            },
        }
        if spec.get("environment"):
            configuration["Environment"] = {"Variables": dict(spec["environment"])}
        return configuration


def _sha256(code: dict[str, Any]) -> str:
    """Lambda's CodeSha256 is base64; kubefn's bundle digest is hex of the same kind of hash."""
    digest = code.get("bundle")
    return base64.b64encode(bytes.fromhex(digest)).decode() if digest else ""


def _code(version: FunctionVersion) -> dict[str, Any]:
    code = version.spec["code"]
    if "image" in code:
        return {"RepositoryType": "ECR", "ImageUri": code["image"]}
    return {"RepositoryType": "kubefn", "Location": f"kubefn:{{code}}:{code['bundle']}"}
