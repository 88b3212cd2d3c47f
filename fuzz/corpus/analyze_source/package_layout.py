"""A module of a package: relative imports, optional and versioned ones."""
from __future__ import annotations

from .core import Engine
from .. import config
import numpy as np
import pandas.io.formats.style

try:
    from lxml import etree
except (ImportError, OSError):
    etree = None

if TYPE_CHECKING:
    import typing_extensions


async def fetch(url: str) -> bytes:
    import aiohttp
    async with aiohttp.ClientSession() as s:
        return await (await s.get(url)).read()
