"""The ``jaxlic`` command re-executes itself with a faster allocator (tcmalloc where
installed, else glibc's huge pages), once, keeping its arguments; the opt-out works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jaxlic.cli import allocator

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

PROBE = """
import os, sys
from jaxlic.cli import allocator
allocator.relaunch()
with open("/proc/self/maps") as maps:
    loaded = "tcmalloc" in maps.read()
print(os.environ.get("JAXLIC_ALLOCATOR"), loaded, sys.argv[1:], "jax" in sys.modules)
"""


def _probe(env: dict[str, str]) -> list[str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("JAXLIC_ALLOCATOR", "LD_PRELOAD", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", PROBE, "a b", "--c"], check=True, text=True,
                         capture_output=True, env={**environment, **env}).stdout
    return out.strip().splitlines()


def test_relaunch_sets_the_allocator_once_and_keeps_the_arguments():
    expected = allocator.fast_allocator_env({})
    lines = _probe({})
    assert len(lines) == 1  # one process printed: the re-executed one, not both
    choice = expected[allocator.CHOICE] if expected else None
    loaded = bool(expected) and "LD_PRELOAD" in expected
    assert lines[0] == f"{choice} {loaded} ['a b', '--c'] False"


def test_opt_out_keeps_the_system_allocator():
    assert _probe({"JAXLIC_ALLOCATOR": "system"}) == ["system False ['a b', '--c'] False"]


def test_choices(monkeypatch):
    monkeypatch.setattr(allocator.ctypes.util, "find_library",
                        lambda name: "libtcmalloc_minimal.so.4" if name == "tcmalloc_minimal"
                        else None)
    env = allocator.fast_allocator_env({"LD_PRELOAD": "libother.so"})
    assert env["LD_PRELOAD"] == "libtcmalloc_minimal.so.4 libother.so"
    assert env[allocator.CHOICE] == "libtcmalloc_minimal.so.4"
    assert allocator.fast_allocator_env({"JAXLIC_ALLOCATOR": "system"}) is None

    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(allocator, "_glibc_version", lambda: (2, 36))
    env = allocator.fast_allocator_env({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    monkeypatch.setattr(allocator, "_glibc_version", lambda: (2, 31))  # no hugetlb tunable
    assert allocator.fast_allocator_env({}) is None
    monkeypatch.setattr(allocator, "_glibc_version", lambda: None)  # musl, say
    assert allocator.fast_allocator_env({}) is None
