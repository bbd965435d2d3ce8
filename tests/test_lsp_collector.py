"""When the language server lets the cyclic garbage collector run (`mpl.lsp.server.Collector`)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from mpl.lsp.server import SETTLE_S, Collector


class Thing:
    """An object a weak reference can watch (a stand-in for an analysis)."""

    def __init__(self) -> None:
        self.other: Thing | None = None


def cycle() -> weakref.ref[Thing]:
    a, b = Thing(), Thing()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture(autouse=True)
def restore_the_collector():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    gc.collect()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_stays_paused_from_the_analysis_to_the_settle():
    async def run() -> None:
        collector = Collector()
        collector.pause()
        assert not gc.isenabled()
        garbage = cycle()
        collector.owe()
        assert not gc.isenabled() and garbage() is not None  # nothing collected yet
        await asyncio.sleep(SETTLE_S + 0.05)  # no change came: the settle runs on its own
        assert gc.isenabled() and garbage() is None

    asyncio.run(run())


def test_a_change_settles_at_once_and_frees_the_replaced_analysis():
    async def run() -> None:
        collector = Collector()
        collector.pause()
        old = Thing()
        freed = weakref.ref(old)
        collector.retire(old)  # type: ignore[arg-type]
        del old
        collector.owe()
        assert freed() is not None  # kept until the settle, not freed on the latency path
        collector.settle()
        assert freed() is None and gc.isenabled()
        assert not collector.owed

    asyncio.run(run())


def test_survivors_are_frozen_and_a_pause_in_typing_sweeps_cycles_among_them():
    async def run() -> None:
        collector = Collector()
        collector.pause()
        alive = Thing()
        alive.other = Thing()
        alive.other.other = alive
        frozen_before = gc.get_freeze_count()
        collector.owe()
        collector.settle()
        assert gc.get_freeze_count() > frozen_before  # the survivors are out of the collector's walks
        watch = weakref.ref(alive)
        del alive  # now a cycle among frozen objects: ordinary collections never see it
        gc.collect()
        assert watch() is not None
        collector.sweep()
        assert watch() is None

    asyncio.run(run())


def test_without_an_event_loop_the_settle_is_immediate():
    collector = Collector()
    collector.pause()
    garbage = cycle()
    collector.owe()
    assert gc.isenabled() and garbage() is None
