"""A sandbox that cannot grade (its image or rootfs broken: numpy missing) is an infrastructure fault: grade()
raises SandboxError and no score exists, not even for the reference; `grader grade` exits 3 and prints none.
Real sandboxes throughout: a rootfs copy and a docker image built here, both without numpy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.grading.grade import GradeOptions, grade
from grader.grading.launch import REFERENCE_ROOT
from grader.sandboxes import make_sandbox
from grader.settings import Settings
from sandbox import RunResult, RunSpec, Sandbox, SandboxError

REPO = Path(__file__).resolve().parents[3]
OPTIONS = GradeOptions(suites=["capstone"], seed=1)


def test_a_broken_image_grades_nothing_the_reference_included(rootfs_without_numpy: Path,
                                                              image_without_numpy: str) -> None:
    for sandbox in (make_sandbox(Settings(sandbox_rootfs=rootfs_without_numpy), "bwrap"),
                    make_sandbox(Settings(sandbox_image=image_without_numpy), "docker")):
        with pytest.raises(SandboxError, match="numpy"):
            grade(REFERENCE_ROOT, sandbox, OPTIONS)


class ReferenceOnBrokenImage:
    """The student's sandboxes on the working image, the reference's calibration on the broken one: two real
    sandboxes, chosen by what each run mounts."""

    name = "bwrap"

    def __init__(self, good: Sandbox, broken: Sandbox, student_root: Path) -> None:
        self.good, self.broken, self.student_root = good, broken, student_root

    def run(self, spec: RunSpec) -> RunResult:
        return (self.good if Path(spec.submission) == self.student_root else self.broken).run(spec)

    def describe(self) -> dict[str, Any]:
        return self.good.describe()


def test_a_failed_reference_calibration_is_not_a_score(rootfs_without_numpy: Path, tmp_path: Path) -> None:
    student = tmp_path / "student"
    subprocess.run(["cp", "-r", str(REFERENCE_ROOT), str(student)], check=True)  # a correct package, elsewhere
    for path in [tmp_path, *tmp_path.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    sandbox = ReferenceOnBrokenImage(make_sandbox(Settings(), "bwrap"),
                                     make_sandbox(Settings(sandbox_rootfs=rootfs_without_numpy), "bwrap"), student)
    with pytest.raises(SandboxError, match="reference"):
        grade(student, sandbox, OPTIONS)  # the P7 tests need the reference measured beside the student


@pytest.mark.parametrize("kind", ["docker", "bwrap"])
def test_grader_grade_exits_3_and_prints_no_score(rootfs_without_numpy: Path, image_without_numpy: str,
                                                  kind: str) -> None:
    # The old variable names, as setup scripts and CI set them, reach the sandbox through the one Settings too.
    broken = ({"TINYTORCH_SANDBOX_IMAGE": image_without_numpy} if kind == "docker"
              else {"TINYTORCH_SANDBOX_ROOTFS": str(rootfs_without_numpy)})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_SANDBOX", "TINYTORCH_SANDBOX"))}
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(REFERENCE_ROOT), "--sandbox", kind, "--json"],
                          env={**env, **broken, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert proc.returncode == 3, proc.stderr
    assert "score" not in proc.stdout and proc.stdout.strip() == ""
    assert "infrastructure fault" in proc.stderr and "numpy" in proc.stderr
    with pytest.raises(json.JSONDecodeError):
        json.loads(proc.stdout)
