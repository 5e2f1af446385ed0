"""The live reading of ``ss`` text (``nettop.sources.linux.LiveListing``): only what changed is parsed, owners
are joined after the parse, and what went and came is said."""

from __future__ import annotations

from nettop.formats import ss
from nettop.model import Owner, OwnerResolver, OwnerStatus, State
from nettop.owners.join import join_by_inode
from nettop.sources.linux import LiveListing
from tests.test_formats_ss import MEMO_TEXT


def test_a_live_listing_parses_only_what_changed_and_says_what_did() -> None:
    holders = {111: (Owner(7, "web"),), 222: (Owner(7, "web"),), 333: (Owner(9, "other"),)}
    asked: list[set[int]] = []
    changed: set[int] | None = None

    def owners_for(inode: int | None, state: State, uid: int | None) -> tuple[tuple[Owner, ...], OwnerStatus]:
        found = holders.get(inode or -1, ())
        return found, OwnerStatus.KNOWN if found else OwnerStatus.NO_PROCESS

    def live_owners(live: set[int]) -> tuple[OwnerResolver, set[int] | None]:
        asked.append(live)
        return owners_for, changed

    listing = LiveListing()
    first, changes = listing.read(MEMO_TEXT, live_owners)
    assert changes is None, "a first read has nothing to compare with"
    whole = join_by_inode(ss.parse(MEMO_TEXT).records, owners_for)
    assert [r._replace(raw="") for r in first.records] == [r._replace(raw="") for r in whole]
    assert first.records[2].raw == whole[2].raw.replace(" timer:(timewait,59sec,0)", ""), "less its timer"
    assert [issue.line_no for issue in first.issues] == [6]
    assert asked == [{111, 222, 333}], "the scan is asked once, with the inodes the text shows"

    holders[222] = (Owner(8, "worker"),)  # the socket changed hands; its line did not
    changed = {222}
    later = MEMO_TEXT.replace("timewait,59sec", "timewait,58sec")
    second, changes = listing.read(later, live_owners)
    listener, established, waiting, curl = second.records
    assert listener is first.records[0], "an unchanged line gives back the same record"
    assert established.owners == (Owner(8, "worker"),) and established.inode == 222
    assert waiting is first.records[2], "only the timer changed: the record is kept"
    assert waiting.state is State.TIME_WAIT
    assert curl is first.records[3] and curl.owners == (Owner(77, "curl"),), "owners in the line are the line's"
    assert [issue.line_no for issue in second.issues] == [6], "a line not read is reported every time"
    assert changes is not None
    removed, added = changes
    assert (removed, added) == ([first.records[1]], [established])
    fresh = join_by_inode(ss.parse(later).records, owners_for)
    assert [r._replace(raw="") for r in second.records] == [r._replace(raw="") for r in fresh]

    gone = "\n".join(line for line in later.splitlines() if "ino:111" not in line) + "\n"
    third, changes = listing.read(gone, live_owners)
    assert changes == ([listener], []) and asked[-1] == {222, 333}
    assert third.records == second.records[1:]
