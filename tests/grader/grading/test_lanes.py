"""The machine's cores are shared between gradings (grader/grading/lanes.py): an extra lane runs only on a core no
other grading wants, gives it back within one test when one does, and nothing a dead grading held is kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.grading.lanes import WANT_PREFIX, CoreSlots, ExtraLane

REPO = Path(__file__).resolve().parents[3]


def wants(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith(WANT_PREFIX))


def test_a_lone_grading_takes_a_spare_core_for_an_extra_lane(tmp_path: Path) -> None:
    first = CoreSlots(tmp_path, cores=2)
    assert first.hold_first()
    extra = ExtraLane(first)
    assert not extra.retired and extra.may_run()
    # Both cores are taken now: a second extra lane gets none.
    assert ExtraLane(first).retired
    extra.close()
    first.close()


def test_a_new_grading_takes_the_core_of_an_extra_lane(tmp_path: Path) -> None:
    first = CoreSlots(tmp_path, cores=2)
    assert first.hold_first()
    extra = ExtraLane(first)
    assert not extra.retired

    second = CoreSlots(tmp_path, cores=2)
    assert not second.hold_first(), "both cores are held: the newcomer must wait for one"
    assert len(wants(tmp_path)) == 1, "the newcomer says it wants a core"
    assert not extra.may_run(), "an extra lane gives its core back as soon as a grading wants one"
    assert extra.retired and not extra.may_run(), "and does not come back"
    assert second.hold_first(), "the newcomer gets the core before its next test"
    assert wants(tmp_path) == [], "and stops wanting one"
    assert ExtraLane(second).retired and ExtraLane(first).retired, "no core is left for anyone's extra lane"
    second.close()
    first.close()


def test_cores_are_freed_when_a_grading_ends(tmp_path: Path) -> None:
    first = CoreSlots(tmp_path, cores=2)
    assert first.hold_first()
    first.close()
    again = CoreSlots(tmp_path, cores=2)
    assert again.hold_first() and not ExtraLane(again).retired
    again.close()


def test_a_dead_grading_keeps_no_core_and_no_want(tmp_path: Path) -> None:
    """The kernel drops a dead process's flocks: its slot is free and its want file counts for nothing."""
    holder = (
        "import sys, time; from pathlib import Path; from grader.grading.lanes import CoreSlots\n"
        "folder = Path(sys.argv[1])\n"
        "a = CoreSlots(folder, cores=2); assert a.hold_first()\n"
        "b = CoreSlots(folder, cores=2); assert b.hold_first()\n"  # both cores held by this process
        "c = CoreSlots(folder, cores=2); assert not c.hold_first()\n"  # and a want file
        "print('held', flush=True); time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", holder, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        mine = CoreSlots(tmp_path, cores=2)
        assert not mine.hold_first(), "every core is held by the other process"
        mine.close()
        assert len(wants(tmp_path)) == 1
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 5
    mine = CoreSlots(tmp_path, cores=2)
    while not mine.hold_first() and time.monotonic() < deadline:
        time.sleep(0.05)
    extra = ExtraLane(mine)
    assert not extra.retired and extra.may_run(), "a dead grading's want file must not hold anyone back"
    assert wants(tmp_path) == [], "and it is removed"
    extra.close()
    mine.close()


def test_one_lane_where_the_cores_cannot_be_shared(tmp_path: Path) -> None:
    """A folder nobody can write to (or that cannot be made) leaves every grading in its first lane."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    slots = CoreSlots(blocker / "lanes", cores=2)
    assert not slots.usable
    assert not slots.hold_first()
    assert ExtraLane(slots).retired
    slots.close()


@pytest.mark.parametrize("cores", [1, 2, 4])
def test_extra_lanes_only_on_spare_cores(tmp_path: Path, cores: int) -> None:
    """Every grading runs its first lane, core or not; extra lanes add to that only while there are more cores
    than gradings, and are gone within one test of the next grading's arrival."""
    gradings: list[tuple[CoreSlots, list[ExtraLane]]] = []
    for _ in range(cores + 2):
        slots = CoreSlots(tmp_path, cores=cores)
        extras = [ExtraLane(slots)] if slots.hold_first() else []
        gradings.append((slots, extras))
        for other, other_extras in gradings:  # each lane's next test
            other.hold_first()
            for extra in other_extras:
                extra.may_run()
        lanes = len(gradings) + sum(1 for _, extras in gradings for extra in extras if not extra.retired)
        assert lanes <= max(cores, len(gradings)), (lanes, len(gradings))
    for slots, extras in gradings:
        for extra in extras:
            extra.close()
        slots.close()
