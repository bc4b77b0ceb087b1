"""enable_compilation_cache: a second process finds the first one's compiled executables."""

import subprocess
import sys

import pytest

from jloss import _cache

SCRIPT = """
import sys
from jloss._cache import enable_compilation_cache
assert enable_compilation_cache(sys.argv[1]) == sys.argv[1]
assert enable_compilation_cache(sys.argv[1]) == sys.argv[1]  # twice is harmless
import jax, jax.numpy as jnp
events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
value = float(jax.jit(lambda x: jnp.sin(x) * 2 + 1)(jnp.arange(3.0)).sum())
print(value, events.count("/jax/compilation_cache/cache_hits"), events.count("/jax/compilation_cache/cache_misses"))
"""


def _entries(d):
    return sorted(p.name for p in d.rglob("*") if p.is_file())


def test_second_process_reuses_the_cache(tmp_path):
    d = tmp_path / "cache"
    run = [sys.executable, "-c", SCRIPT, str(d)]
    first = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True)
    entries = _entries(d)
    assert entries, "the first run wrote no cache entry"
    second = subprocess.run(run, capture_output=True, text=True, timeout=120, check=True)
    v1, hits1, misses1 = first.stdout.split()
    v2, hits2, misses2 = second.stdout.split()
    assert v1 == v2
    assert (int(hits1), int(hits2), int(misses2)) == (0, int(misses1), 0)  # the second run loads, compiles nothing
    assert int(misses1) >= 1
    assert _entries(d) == entries


def test_unwritable_dir_warns_and_continues(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, "_ENABLED", [])
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(RuntimeWarning, match="^enable_compilation_cache: no compilation cache"):
        assert _cache.enable_compilation_cache(blocker / "sub") is None
    assert _cache._ENABLED == []


def test_default_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("JLOSS_CACHE_DIR", str(tmp_path / "c"))
    assert _cache.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("JLOSS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert _cache.default_cache_dir() == tmp_path / "x" / "jloss" / "jax"
