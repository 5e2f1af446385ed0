"""nettop: a top-like viewer of network connections, and a small API over the same core.

The API (``snapshot``, ``snapshot_async``, ``parse``, ``filter_records``, ``to_json``, ``to_csv``, ``watch``,
``diff``) is
documented in ``nettop.api``. Importing nettop never loads Textual: only the viewer needs it.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nettop.api import diff, filter_records, parse, snapshot, snapshot_async, to_csv, to_json, watch


def __getattr__(name: str) -> Any:
    # The API loads on first use, so `nettop list` (which needs little of it) starts faster.
    if name in __all__ and name != "__version__":
        from nettop import api

        return getattr(api, name)
    raise AttributeError(f"module 'nettop' has no attribute {name!r}")


# The one place the version is written; pyproject.toml reads it from here.
__version__ = "0.1.0"

__all__ = [
    "__version__",
    "diff",
    "filter_records",
    "parse",
    "snapshot",
    "snapshot_async",
    "to_csv",
    "to_json",
    "watch",
]
