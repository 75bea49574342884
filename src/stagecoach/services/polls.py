"""The status poll: from memory when the change feed vouches for the job, else from the
database.

``from_memory`` does no I/O, so the poll route calls it on the event loop and answers most
polls there; handing a poll to a thread and back costs more than the poll itself (about
0.4 ms against 0.3 on this machine). What it cannot answer (a token, a team or a job not
known, or not vouched for) goes to ``from_database`` in the poll's thread pool, which also
teaches memory the answer.
"""

from __future__ import annotations

from stagecoach.domain.records import User
from stagecoach.services.accounts import Accounts, Background
from stagecoach.services.tracking import Tracking

Answer = tuple[str, bytes | None]
"""The ETag and the encoded status document; None for a 304."""


class Polls:
    def __init__(self, accounts: Accounts, tracking: Tracking) -> None:
        self.accounts = accounts
        self.tracking = tracking

    def from_memory(
        self,
        token: str,
        job_id: str,
        if_none_match: str | None,
        background: Background | None = None,
    ) -> Answer | None:
        """The answer, with no I/O, or None: ask ``from_database``. The token's check and
        the viewer's visibility are renewed through ``background`` before they lapse, so
        steady polling keeps being answered here (``Accounts.known_token``)."""
        found = self.accounts.known_token(token, background) if token else None
        if found is None:
            return None
        sees = self.accounts.known_owners(found[0], background)
        if sees is None:
            return None
        return self.tracking.poll_kept(found[0], sees, job_id, if_none_match)

    def from_database(self, viewer: User, job_id: str, if_none_match: str | None) -> Answer:
        self.accounts.learn_owners(viewer)
        return self.tracking.poll_encoded(viewer, job_id, if_none_match)
