"""``nettop check`` and ``--policy``: which ports must listen, which must not, and how many listeners may.

- ``rules``: read a policy (TOML) into rules, every mistake naming its file, line and key.
- ``check``: evaluate the rules against a snapshot's records; one assertion a rule, PASS or FAIL with evidence.
- ``report``: the check's report as text, JSON, JUnit XML or TAP (writers in ``nettop.writers``' registry).
- ``init``: a policy that the current listeners pass (``nettop policy init``).
- ``overlay``: the policy shown live in the viewer: offending rows, missing listeners, rules passed.

None of it imports Textual or a source.
"""
