"""The openai SDK, imported at its first use (about 0.4 s of CPU): the scoring modules name
``openai`` from here, so a run whose papers are all cached never loads it.

The stdlib's own recipe (``importlib.util.LazyLoader``): ``openai`` is a module object whose
first attribute access executes the real import. Nothing here touches an attribute at import
time (annotations are strings; ``except openai.X`` is evaluated only when an exception
arrives).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING


def lazy_module(name: str) -> ModuleType:
    """``name``, imported when one of its attributes is first read."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def loaded(name: str = "openai") -> bool:
    """Whether ``name`` has really been imported (not only registered lazily)."""
    # a lazy module's class is a subclass of ModuleType until its import has run
    return type(sys.modules.get(name)) is ModuleType


if TYPE_CHECKING:
    import openai as openai
else:
    openai = lazy_module("openai")
