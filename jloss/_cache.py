"""JAX's persistent compilation cache for jloss's command-line tools.

A jitted train step takes seconds to compile on a CPU; with the cache on, the second run of the same
command loads the compiled executable from disk instead.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__ = ["default_cache_dir", "enable_compilation_cache"]

_ENABLED: list[str] = []


def default_cache_dir() -> Path:
    """``$JLOSS_CACHE_DIR``, else ``$XDG_CACHE_HOME/jloss/jax``, else ``~/.cache/jloss/jax``."""
    env = os.environ.get("JLOSS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jloss" / "jax"


def enable_compilation_cache(path: str | os.PathLike[str] | None = None) -> str | None:
    r"""Turn on JAX's persistent compilation cache in ``path`` (default :func:`default_cache_dir`).

    Every compilation is cached (no minimum compile time or entry size), so the train and eval
    steps of ``jloss train`` are loaded, not recompiled, when the same command runs again. Calling
    it again is harmless (the first directory stays in use). A directory that cannot be created or
    written is not an error: a ``RuntimeWarning`` says so and the run continues without the cache.

    Args:
        path: the cache directory.

    Returns:
        the directory in use, or ``None`` when the cache could not be turned on.
    """
    if _ENABLED:
        return _ENABLED[0]
    d = Path(path).expanduser() if path is not None else default_cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
        if not os.access(d, os.W_OK | os.X_OK):
            raise PermissionError(f"{d} is not writable")
        import jax  # noqa: PLC0415

        jax.config.update("jax_compilation_cache_dir", str(d))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except (OSError, ValueError, AttributeError) as e:  # an unwritable dir, or a jax without these options
        warnings.warn(f"enable_compilation_cache: no compilation cache ({e}); continuing without it",
                      RuntimeWarning, stacklevel=2)
        return None
    _ENABLED.append(str(d))
    return str(d)
