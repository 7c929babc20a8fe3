"""The engine on the fixture cases: copies of the reference (unchanged, renamed and reordered, stripped and
re-spaced) score far above honest pairs; a module two students share is found; starter code counts only when
it is not registered as boilerplate."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.similarity import engine
from grader.similarity.sources import package_sources, reference_sources
from tests.fixtures.similarity import build


def doc(root: Path) -> engine.Document:
    return engine.fingerprint(package_sources(root))


@pytest.fixture(scope="module")
def ref() -> engine.Document:
    return engine.fingerprint(reference_sources())


@pytest.mark.parametrize("variant", ["reference", "renamed", "stripped"])
def test_copies_score_far_above_honest_pairs(variant: str, ref: engine.Document, tmp_path: Path) -> None:
    copy = doc(getattr(build, variant)(tmp_path / variant))
    honest = [doc(build.honest(tmp_path / f"h{seed}", seed)) for seed in (1, 2)]
    copied = engine.compare(copy, ref).score
    honest_scores = [engine.compare(h, ref).score for h in honest] + [engine.compare(honest[0], honest[1]).score]
    assert copied >= 0.8, copied
    assert max(honest_scores) < 0.1, honest_scores
    assert copied - max(honest_scores) > 0.7


def test_a_shared_module_is_found_and_named(tmp_path: Path) -> None:
    a = doc(build.shared_module(tmp_path / "a", 11))
    b = doc(build.shared_module(tmp_path / "b", 12))
    match = engine.compare(a, b)
    assert match.files[0]["a_path"] == match.files[0]["b_path"] == "tinytorch/" + build.SHARED_MODULE
    assert match.files[0]["score"] == 1.0
    assert 0.02 < match.score < 0.5  # they differ elsewhere
    assert engine.compare(doc(build.honest(tmp_path / "c", 13)), a).score < match.score / 2
    assert all(f["a_path"] == "tinytorch/" + build.SHARED_MODULE for f in match.fragments)
    lines = len(Path(tmp_path / "a/tinytorch" / build.SHARED_MODULE).read_text().splitlines())
    assert any(f["a_start"] <= 5 and f["a_end"] >= lines - 5 for f in match.fragments) or match.shared_lines > lines / 2


def test_starter_code_makes_honest_students_alike_unless_it_is_boilerplate(tmp_path: Path) -> None:
    a = doc(build.with_starter(build.honest(tmp_path / "a", 21)))
    b = doc(build.with_starter(build.honest(tmp_path / "b", 22)))
    scaffold = doc(build.starter(tmp_path / "starter"))
    assert engine.compare(a, b).score > 0.3  # the scaffolding alone makes them look alike
    assert engine.compare(a, b, scaffold.hashes).score < 0.1


def test_fingerprints_survive_encoding_and_are_the_same_in_every_process(ref: engine.Document) -> None:
    again = engine.decode(engine.encode(ref))
    assert again.paths == ref.paths and (again.hashes == ref.hashes).all() and (again.last_line == ref.last_line).all()
    # A fixed hash, not Python's salted hash(): one k-gram's value is known in advance.
    assert engine.fingerprint({"x.py": "a = 1\n" * 10}).hashes.size > 0
    renamed = engine.fingerprint({"x.py": "b = 1\n" * 10})
    assert (engine.fingerprint({"x.py": "a = 1\n" * 10}).hashes == renamed.hashes).all()


def test_hostile_sources_do_not_break_the_engine() -> None:
    huge = "x = 1\n" * 200_000  # past MAX_FILE_CHARS: cut, not refused
    odd = b"\xff\xfe def f(:\n\x00\x00".decode("utf-8", errors="replace")
    tiny = {f"tinytorch/m{i}.py": "a=1\n" for i in range(3000)}
    document = engine.fingerprint({"tinytorch/huge.py": huge, "tinytorch/odd.py": odd, **tiny})
    assert document.paths == ["tinytorch/huge.py"]  # files shorter than a k-gram add nothing
    assert engine.compare(document, engine.fingerprint({})).score == 0.0
