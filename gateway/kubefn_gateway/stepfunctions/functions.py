"""Functions as a Task sees them: the gateway's Invoker, faults named as Step Functions names them.

A function's own error becomes the task's error by its errorType (a Python
exception's class name, `Sandbox.Timedout`); a fault of the platform becomes a
`Lambda.*Exception`, as the Lambda integration reports it on AWS.
"""

from __future__ import annotations

import json

from kubefn_gateway import awserrors
from kubefn_gateway.invoker import Invoker
from kubefn_gateway.stepfunctions.engine import tasks
from kubefn_runtime import protocol


class InvokerFunctions:
    def __init__(self, invoker: Invoker) -> None:
        self._invoker = invoker

    async def invoke(self, name: str, *, payload: bytes, qualifier: str | None) -> tasks.TaskResult:
        try:
            served = self._invoker.resolve(name, qualifier=qualifier)
            result = await self._invoker.invoke(served, payload=payload)
        except awserrors.LambdaError as exc:
            return tasks.TaskResult.failure(f"Lambda.{exc.code}", exc.message)
        if result.headers.get(protocol.FUNCTION_ERROR):
            return tasks.function_error(result.body)
        if not result.body:
            return tasks.TaskResult(ok=True, value=None)
        try:
            return tasks.TaskResult(ok=True, value=json.loads(result.body))
        except ValueError:
            return tasks.TaskResult(ok=True, value=result.body.decode(errors="replace"))
