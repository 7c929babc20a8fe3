"""after_commit: items held per key are sent once the session commits, each once and in order; a rollback
forgets them; a later transaction of the same session starts empty."""

from __future__ import annotations

from sqlalchemy import text

from grader.db.session import after_commit, get_sessionmaker


def test_held_items_go_out_on_commit_each_once_and_a_rollback_forgets_them(service_database: str) -> None:
    sent: list[list[int]] = []
    with get_sessionmaker(write=True)() as session:
        for item in (1, 2, 1):
            after_commit(session, "t", item, sent.append)
        session.execute(text("SELECT 1"))
        assert sent == []  # not before the commit
        session.commit()
        assert sent == [[1, 2]]
        session.execute(text("SELECT 1"))  # the work that held the item (a flush, in real use)
        after_commit(session, "t", 3, sent.append)
        session.rollback()
        after_commit(session, "t", 4, sent.append)
        session.commit()
    assert sent == [[1, 2], [4]]
