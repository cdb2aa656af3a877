"""The daemon gives back the memory of its work before it waits: cycles collected, freed pages returned."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from flow import until

from daemon import service


class _Node:
    pass


def test_tidy_memory_collects_reference_cycles():
    gc.disable()
    try:
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        alive = weakref.ref(a)
        del a, b
        assert alive() is not None        # a cycle outlives its names until the collector runs
        service.tidy_memory()
        assert alive() is None
    finally:
        gc.enable()


@pytest.mark.mailserver
def test_the_daemon_tidies_after_a_pass_that_did_work_and_not_while_idle(office, monkeypatch):
    tidied = []
    monkeypatch.setattr(service, "tidy_memory", lambda: tidied.append(1))
    stop = threading.Event()
    daemon = threading.Thread(target=service.run, args=(office.cfg,), kwargs={"stop": stop}, daemon=True)
    daemon.start()
    try:
        office.send_request()
        until(lambda: office.raw_inbox("unit1"), what="the receipt")
        until(lambda: tidied, what="memory tidied after the request")
        count = len(tidied)
        stop.wait(2.5)                    # nothing more arrives: no tidying while the daemon waits
        assert len(tidied) == count
    finally:
        stop.set()
        daemon.join(30)
    assert not daemon.is_alive()
