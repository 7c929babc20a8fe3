"""The contract app's similarity routes (docs/similarity.md "Contract"), for the page tests only: the list of
pairs per assignment, one pair side by side, the review, and the course's known solutions, in memory, with the
contract's rules (sorted by score then newest, the filters, 400 for a bad status or an over-long note, staff only).

The data has the cases the page must get right: a tie in score (newest first), a known solution beside student
pairs, a note, a label and file text that are markup, a path with quotes, overlapping fragments, fragments in
a second file, a pair of ten 256 KiB files a side, and 256 KiB as 262,143 empty lines or as one line (the page
must not freeze on any of them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

BASE = "/api/v1/instructor/courses/{course}"
STATUSES = ("unreviewed", "cleared", "flagged")
NOTE_MAX = 2000
MAX_TEXT = 256 * 1024
ENGINE = "copydetect 0.5.0 (k=25, window=1)"

# Text from the API that is markup: the page must show it as text.
HOSTILE_NOTE = 'Same typo as Cy <img src=x onerror="window.pwned=1"> in backward()'
HOSTILE_LABEL = 'fall-2025 "answers" <b>leaked</b>'
HOSTILE_PATH = "tinytorch/core/o'brien \"autograd\".py"
HOSTILE_LINE = '    # <img src=x onerror="window.pwned=2"></pre><script>window.pwned=3</script>'

ADA = {"id": 11, "email": "ada@example.edu", "name": "Ada Lovelace"}
BOB = {"id": 12, "email": "bob@example.edu", "name": "Bob Barker"}
CY = {"id": 13, "email": "cy@example.edu", "name": None}
DEE = {"id": 14, "email": "dee@example.edu", "name": "Dee Dee"}
REFERENCE = {"id": 1, "label": "tinytorch_reference"}
LAST_YEAR = {"id": 2, "label": HOSTILE_LABEL}


def _student(sid: str, who: dict[str, Any]) -> dict[str, Any]:
    return {"submission_id": sid, "student": dict(who)}


def _pair(pid: int, assignment: str, a: dict[str, Any], b: dict[str, Any], share_a: float, share_b: float,
          files: list[tuple[str, str, float]], compared_at: str, **extra: Any) -> dict[str, Any]:
    row = {"id": pid, "assignment": assignment, "score": max(share_a, share_b),
           "kind": "known" if "known" in b else "student", "a": a, "b": b, "share_a": share_a, "share_b": share_b,
           "shared_lines": int(400 * max(share_a, share_b)),
           "files": [{"a_path": x, "b_path": y, "score": s} for x, y, s in files],
           "status": "unreviewed", "note": None, "reviewed_by": None, "reviewed_at": None,
           "compared_at": compared_at}
    row.update(extra)
    return row


def pairs() -> list[dict[str, Any]]:
    """Stored in no particular order: the route sorts, as the contract says."""
    core = "tinytorch/core/"
    return [
        _pair(22, "capstone", _student("sub-ada-1", ADA), _student("sub-cy-1", CY), 0.34, 0.30,
              [(core + "tensor.py", core + "tensor.py", 0.34)], "2027-01-16T08:00:00+00:00",
              status="cleared", note="Both started from the lab skeleton.", reviewed_by="teach@example.edu",
              reviewed_at="2027-01-17T09:00:00+00:00"),
        _pair(17, "capstone", _student("sub-ada-1", ADA), {"known": dict(REFERENCE)}, 0.95, 0.41,
              [(core + "tensor.py", core + "tensor.py", 0.99), (HOSTILE_PATH, core + "autograd.py", 0.90),
               (core + "layers.py", core + "layers.py", 0.70), (core + "activations.py", core + "activations.py", 0.6)],
              "2027-01-15T10:00:00+00:00"),
        _pair(24, "capstone", _student("sub-ada-1", ADA), _student("sub-bob-1", BOB), 0.12, 0.15,
              [(core + "losses.py", core + "losses.py", 0.15)], "2027-01-18T10:00:00+00:00"),
        _pair(21, "capstone", _student("sub-bob-1", BOB), _student("sub-cy-1", CY), 0.62, 0.81,
              [(core + "autograd.py", core + "autograd.py", 0.81), (core + "tensor.py", core + "tensor.py", 0.5)],
              "2027-01-18T10:00:00+00:00", status="flagged", note=HOSTILE_NOTE, reviewed_by="teach@example.edu",
              reviewed_at="2027-01-19T09:00:00+00:00"),
        _pair(23, "capstone", _student("sub-dee-1", DEE), {"known": dict(LAST_YEAR)}, 0.20, 0.34,
              [(core + "optimizers.py", core + "optimizers.py", 0.34)], "2027-01-17T08:00:00+00:00"),
        _pair(40, "autograd", _student("sub-ada-4", ADA), _student("sub-bob-9", BOB), 0.88, 0.86,
              [(f"{core}big_{i}.py", f"{core}big_{i}.py", 0.88 - i / 100) for i in range(10)],
              "2027-01-10T10:00:00+00:00"),
        _pair(41, "autograd", _student("sub-cy-9", CY), _student("sub-dee-9", DEE), 0.5, 0.5,
              [("tinytorch/blank.py", "tinytorch/blank.py", 0.5),
               ("tinytorch/one_line.py", "tinytorch/one_line.py", 0.4)],
              "2027-01-09T10:00:00+00:00"),
    ]


# --- the files of a pair and the fragments in common -----------------------------------------------------
def _lines(tag: str, n: int, start: int = 0) -> list[str]:
    """n lines of plausible Python, different for each tag."""
    out = []
    for i in range(start, start + n):
        if i % 12 == 0:
            out.append(f"def {tag}_step_{i}(x, w):")
        elif i % 12 == 11:
            out.append(f"    return out_{i - 1}")
        else:
            out.append(f"    out_{i} = x.matmul(w[{i % 7}]) + {tag}_bias({i % 5})  # {tag} line {i}")
    return out


def _file_pair(seed: str, hostile: bool) -> tuple[str, str, list[tuple[int, int, int, int]]]:
    """Two versions of one file that share two blocks (A 6-25 and 34-48, B 10-29 and 33-47) and one block of A
    found twice in B (A 6-15 again at B 50-59: overlapping fragments on A's side)."""
    common1, common2 = _lines("shared", 20), _lines("shared", 15, 100)
    a = ["# " + seed + " (side a)", "import numpy as np", "", "", "class Mine:", *common1, *_lines("own_a", 8),
         *common2, *_lines("own_a", 10, 50)]
    b = ["# " + seed + " (side b)", "import numpy as np", *_lines("own_b", 7), *common1, *_lines("own_b", 3, 40),
         *common2, "", "# again", *common1[:10], *_lines("own_b", 6, 60)]
    if hostile:
        a[2] = HOSTILE_LINE
        b[2] = HOSTILE_LINE
    frags = [(6, 25, 10, 29), (34, 48, 33, 47), (6, 15, 50, 59)]
    return "\n".join(a) + "\n", "\n".join(b) + "\n", frags


@lru_cache(maxsize=1)
def _big_text(tag: str) -> str:
    """One file of just under 256 KiB (the contract's limit per file)."""
    lines, size, i = [], 0, 0
    while True:
        line = _lines(tag, 1, i)[0]
        if size + len(line) + 1 > MAX_TEXT:
            return "\n".join(lines) + "\n"
        lines.append(line)
        size += len(line) + 1
        i += 1


def detail(pair: dict[str, Any]) -> dict[str, Any]:
    """The pair with `sides` and `fragments`, as GET .../similarity/{pair_id} answers."""
    sides: dict[str, list[dict[str, str]]] = {"a": [], "b": []}
    fragments = []
    if pair["id"] == 40:  # ten files of 256 KiB a side, 30 fragments each
        text = _big_text("big")
        for f in pair["files"]:
            sides["a"].append({"path": f["a_path"], "text": text})
            sides["b"].append({"path": f["b_path"], "text": text})
            fragments += [{"a_path": f["a_path"], "a_start": 1 + k * 140, "a_end": 40 + k * 140,
                           "b_path": f["b_path"], "b_start": 21 + k * 140, "b_end": 60 + k * 140} for k in range(30)]
        return pair | {"sides": sides, "fragments": fragments}
    if pair["id"] == 41:  # the awkward shapes of 256 KiB: 262,143 empty lines; one line of 262,143 characters
        blank, line = "\n" * (MAX_TEXT - 1), "x = [" + "1, " * ((MAX_TEXT - 6) // 3) + "]"
        for f, text in zip(pair["files"], (blank, line), strict=True):
            sides["a"].append({"path": f["a_path"], "text": text})
            sides["b"].append({"path": f["b_path"], "text": text})
        fragments = [{"a_path": "tinytorch/blank.py", "a_start": 1 + k * 8000, "a_end": 21 + k * 8000,
                      "b_path": "tinytorch/blank.py", "b_start": 6 + k * 8000, "b_end": 26 + k * 8000}
                     for k in range(30)]
        fragments.append({"a_path": "tinytorch/one_line.py", "a_start": 1, "a_end": 1,
                          "b_path": "tinytorch/one_line.py", "b_start": 1, "b_end": 1})
        return pair | {"sides": sides, "fragments": fragments}
    for n, f in enumerate(pair["files"][:2]):  # the first two file pairs have text; the rest matched too little
        a, b, frags = _file_pair(f"{pair['id']}-{n}", hostile=pair["id"] == 17 and n == 0)
        sides["a"].append({"path": f["a_path"], "text": a})
        sides["b"].append({"path": f["b_path"], "text": b})
        fragments += [{"a_path": f["a_path"], "a_start": s, "a_end": e, "b_path": f["b_path"], "b_start": t,
                       "b_end": u} for s, e, t, u in frags]
    return pair | {"sides": sides, "fragments": fragments}


def known() -> list[dict[str, Any]]:
    return [{"id": 1, "label": REFERENCE["label"], "files": 20, "created_at": None, "built_in": True},
            {"id": 2, "label": LAST_YEAR["label"], "files": 18, "created_at": "2027-01-02T10:00:00+00:00",
             "built_in": False}]


class SimilarityState:
    """What the routes keep between requests: reviews and known solutions survive a reload."""

    def __init__(self) -> None:
        self.pairs = {p["id"]: p for p in pairs()}
        self.known = known()
        self.counts = {"capstone": {"compared": 4, "pending": 1}, "autograd": {"compared": 2, "pending": 0}}


def _shown(pair: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pair.items() if k != "assignment"}


def similarity_routes(r: APIRouter, term: Any, who: Callable, staff: Callable) -> None:
    term.similarity = state = SimilarityState()
    assignments = {a["slug"] for a in term.assignments}

    async def teacher(request: Request, course: str, assignment: str | None = None) -> str:
        email = await who(request)
        staff(email)
        if course != "cs1":
            raise HTTPException(404, f"no course {course!r}")
        if assignment is not None and assignment not in assignments:
            raise HTTPException(404, f"no assignment {assignment!r} in {course}")
        return email

    def find(assignment: str, pair_id: int) -> dict[str, Any]:
        pair = state.pairs.get(pair_id)
        if pair is None or pair["assignment"] != assignment:
            raise HTTPException(404, f"no pair {pair_id} in {assignment}")
        return pair

    @r.get(BASE + "/assignments/{assignment}/similarity")
    async def listing(course: str, assignment: str, request: Request, min_score: float = 0.0,
                      status: str | None = None, limit: int = 200) -> dict[str, Any]:
        await teacher(request, course, assignment)
        if not 0 <= min_score <= 1:
            raise HTTPException(400, f"min_score must be between 0 and 1, not {min_score}")
        if status is not None and status not in STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        if not 1 <= limit <= 1000:
            raise HTTPException(400, f"limit must be between 1 and 1000, not {limit}")
        rows = [p for p in state.pairs.values() if p["assignment"] == assignment and p["score"] >= min_score
                and (status is None or p["status"] == status)]
        rows.sort(key=lambda p: p["compared_at"], reverse=True)
        rows.sort(key=lambda p: p["score"], reverse=True)  # stable: ties keep newest first
        counts = state.counts.get(assignment, {"compared": 0, "pending": 0})
        return {"course": course, "assignment": assignment, "engine": ENGINE, **counts,
                "pairs": [_shown(p) for p in rows[:limit]]}

    @r.get(BASE + "/assignments/{assignment}/similarity/{pair_id}")
    async def one(course: str, assignment: str, pair_id: int, request: Request) -> dict[str, Any]:
        await teacher(request, course, assignment)
        return _shown(detail(find(assignment, pair_id)))

    @r.put(BASE + "/assignments/{assignment}/similarity/{pair_id}/review")
    async def review(course: str, assignment: str, pair_id: int, request: Request) -> dict[str, Any]:
        email = await teacher(request, course, assignment)
        pair = find(assignment, pair_id)
        body = await request.json()
        if body.get("status") not in STATUSES:
            raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}, not {body.get('status')!r}")
        note = body.get("note")
        if note is not None and len(note) > NOTE_MAX:
            raise HTTPException(400, f"the note has {len(note)} characters; at most {NOTE_MAX}")
        pair.update(status=body["status"], note=note or None, reviewed_by=email,
                    reviewed_at=datetime.now(UTC).isoformat(timespec="seconds"))
        return _shown(pair)

    @r.get(BASE + "/similarity/known")
    async def known_list(course: str, request: Request) -> list[dict[str, Any]]:
        await teacher(request, course)
        return state.known

    @r.post(BASE + "/similarity/known", status_code=201)
    async def known_add(course: str, request: Request) -> dict[str, Any]:
        await teacher(request, course)
        form = await request.form()
        upload, label = form.get("file"), str(form.get("label") or "").strip()
        name = getattr(upload, "filename", None) or ""
        term.requests.append(("POST", "known", {"label": label, "filename": name}))
        if not label:
            raise HTTPException(400, "a known solution needs a label")
        if not name.endswith((".zip", ".tar.gz", ".tgz", ".tar")):
            raise HTTPException(400, f"{name!r} is not a zip, tar.gz or tar archive holding tinytorch/")
        row = {"id": max(k["id"] for k in state.known) + 1, "label": label, "files": 7,
               "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "built_in": False}
        state.known.append(row)
        return {k: v for k, v in row.items() if k != "built_in"}

    @r.delete(BASE + "/similarity/known/{known_id}", status_code=204)
    async def known_delete(course: str, known_id: int, request: Request) -> Response:
        await teacher(request, course)
        row = next((k for k in state.known if k["id"] == known_id), None)
        if row is None:
            raise HTTPException(404, f"no known solution {known_id}")
        if row["built_in"]:
            raise HTTPException(400, "the built-in reference cannot be deleted")
        state.known.remove(row)
        return Response(status_code=204)
