"""Kopf for real, in-process, against kmock's Kubernetes emulator, with a real Redis
(see /work/shared/notes/kmock.md for what the emulator is and is not).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import kmock
import pytest

from kubefn.redisserver import EmbeddedRedis
from tests.operator import apiserver
from tests.operator.apiserver import Api, Operator


@pytest.fixture
def kmock_options(kmock_options: dict[str, Any]) -> dict[str, Any]:
    return {**kmock_options, "cls": apiserver.ApiServer}


@pytest.fixture
def api(kmock: kmock.KubernetesEmulator) -> Api:
    apiserver.register(kmock)
    return Api(kmock)


@pytest.fixture
async def operator(api: Api, redis_server: EmbeddedRedis) -> AsyncIterator[Operator]:
    running = Operator(api_url=str(api.emulator.url), redis_url=redis_server.url)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
