"""Lambda's read-only function API (2015-03-31): ListFunctions, GetFunction,
GetFunctionConfiguration — so `aws lambda list-functions` and boto3 see what
the platform serves. Functions are created by manifests, not through this API.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubefn_gateway import awserrors
from kubefn_gateway.catalog import Served
from kubefn_gateway.invoke_api import resolve
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
        catalog = self._platform.catalog
        keys = [k for k in catalog.keys() if k > marker]
        page = keys[:limit]
        served = [s for s in map(catalog.get, page) if s is not None]
        body: dict[str, Any] = {"Functions": [self._configuration(s) for s in served]}
        if len(keys) > limit:
            body["NextMarker"] = page[-1]
        return web.json_response(body)

    async def get_function(self, request: web.Request) -> web.Response:
        try:
            served = self._served(request)
        except awserrors.LambdaError as exc:
            return exc.response(request_id="")
        reserved = served.version.spec.get("reservedConcurrency")
        body: dict[str, Any] = {
            "Configuration": self._configuration(served),
            "Code": _code(served.version),
        }
        if reserved is not None:
            body["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
        return web.json_response(body)

    async def get_configuration(self, request: web.Request) -> web.Response:
        try:
            served = self._served(request)
        except awserrors.LambdaError as exc:
            return exc.response(request_id="")
        return web.json_response(self._configuration(served))

    def _served(self, request: web.Request) -> Served:
        return resolve(
            self._platform.catalog,
            self._platform.settings,
            name=request.match_info["name"],
            qualifier=request.query.get("Qualifier"),
        )

    def _configuration(self, served: Served) -> dict[str, Any]:
        settings = self._platform.settings
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
