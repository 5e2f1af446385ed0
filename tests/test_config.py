"""Settings that stay (``nettop.config``, the settings screen, the column chooser) and the saved-capture viewer
(``nettop --from-file``, ``nettop.sources.capture``)."""

from __future__ import annotations

import io
import os
import sys
import time
import tomllib
from pathlib import Path

import pytest
from textual.theme import BUILTIN_THEMES

from nettop import cli, config
from nettop.app import NettopApp
from nettop.errors import NettopError
from nettop.model import State
from nettop.query import parse_query
from nettop.screens.columns import ColumnsScreen
from nettop.screens.settings import CHANGED, SettingsScreen, settings_rows
from nettop.sources.capture import CaptureSource
from nettop.view import COLUMN_KEYS
from nettop.widgets.conn_table import ConnectionTable
from nettop.writers.json import write_records
from tests.scripted import FakeClock, ScriptedSource, conn
from tests.test_app import BASE, ports, settle

THEMES = tuple(BUILTIN_THEMES)
#: A file with every key, a comment and a blank line: what a user writes by hand.
GOOD = """\
# my nettop
theme = "nord"
interval = 5

sort = "-lport"
columns = ["proto", "local", "lport", "state", "program"]
filter = "-proto:udp"
hide_states = ["time_wait", "CLOSE-WAIT"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nettop" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- where the file is ---------------------------------------------------------------------------


def test_the_file_is_found_the_xdg_way() -> None:
    assert config.default_path({"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/a"}) == Path("/xdg/nettop/config.toml")
    # The spec: an empty or relative XDG_CONFIG_HOME is ignored.
    for ignored in ("", "relative/dir"):
        path = config.default_path({"XDG_CONFIG_HOME": ignored, "HOME": "/home/a"})
        assert path == Path("/home/a/.config/nettop/config.toml")


# --- reading -------------------------------------------------------------------------------------


def test_a_good_file_is_read_whole(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path, GOOD), THEMES)
    assert loaded.problems == ()
    s = loaded.settings
    assert (s.theme, s.interval, s.sort, s.sort_reverse) == ("nord", 5.0, "lport", True)
    assert s.columns == {"proto", "local", "lport", "state", "program"}
    assert s.filter == "-proto:udp" and s.hide_states == ("time_wait", "close_wait")
    assert set(loaded.origins.values()) == {"file"}
    assert s.start_filter == "-proto:udp -state:time_wait -state:close_wait"


def test_a_missing_file_is_the_defaults_silently(tmp_path: Path) -> None:
    loaded = config.load(tmp_path / "absent.toml", THEMES)
    assert loaded.settings == config.Settings() and loaded.problems == ()
    assert loaded.path == tmp_path / "absent.toml", "saving creates it"
    assert set(loaded.origins.values()) == {"default"}
    assert config.load(None, THEMES).path is None  # --no-config: nothing read, nothing saved


def test_bad_toml_names_the_file_and_line_and_gives_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, 'theme = "nord"\ninterval = = 3\n')
    loaded = config.load(path, THEMES)
    assert loaded.settings == config.Settings()
    (problem,) = loaded.problems
    assert problem.startswith(f"{path}: not valid TOML") and "line 2" in problem and "using the defaults" in problem


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("interval = 500", "interval: 500 is out of range (give 0.5 to 60 seconds); using the default (2.0)"),
        ("interval = nan", "interval: nan is out of range"),
        ('interval = "fast"', "interval: expected a number of seconds, got text"),
        ("interval = true", "interval: expected a number of seconds, got true/false"),
        ('theme = "no-such-theme"', "theme: unknown theme 'no-such-theme'"),
        ('sort = "-bogus"', "sort: unknown column 'bogus'"),
        ('columns = ["proto", "nope"]', "columns: unknown column 'nope'"),
        ("columns = []", "columns: no column to show; using the default (all)"),
        ('columns = "proto"', "columns: expected a list of names in quotes"),
        ('filter = "prot:udp"', "filter: unknown filter 'prot'"),
        ('hide_states = ["sleepy"]', "hide_states: unknown state 'sleepy'"),
        ("colour = 3", "unknown key 'colour' (known: theme, interval, sort, columns, filter, hide_states); ignored"),
    ],
)
def test_each_broken_key_is_said_with_its_line_and_only_it_takes_the_default(
    tmp_path: Path, line: str, said: str
) -> None:
    good = 'theme = "nord"' if line.startswith("sort") else 'sort = "pid"'
    path = write(tmp_path, f"# settings\n{good}\n{line}\n")
    loaded = config.load(path, THEMES)
    (problem,) = loaded.problems
    assert problem.startswith(f"{path}, line 3: ") and said in problem
    kept = good.split(" ")[0]
    assert loaded.origins[kept] == "file" and getattr(loaded.settings, kept) in ("nord", "pid"), "the good key stays"
    key = line.split(" ")[0]
    if key in config.KEYS:
        assert loaded.origins[key] == "default"
        default = config.Settings()
        assert getattr(loaded.settings, key) == getattr(default, key)


def test_an_unreadable_file_is_said_not_raised(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    path.write_bytes(b'theme = "\xff"\n')
    loaded = config.load(path, THEMES)
    assert loaded.settings == config.Settings() and loaded.problems[0].startswith(f"{path}: cannot read it")


def test_flags_win_over_the_file(tmp_path: Path) -> None:
    loaded = config.load(write(tmp_path, GOOD), THEMES).with_flags(interval=1.0, filter_text="state:time_wait")
    s = loaded.settings
    assert (s.interval, loaded.origins["interval"]) == (1.0, "flag")
    assert (s.filter, loaded.origins["filter"]) == ("state:time_wait", "flag")
    # The file's hidden states still hide, but not one the flag's filter asks for by name.
    assert s.start_filter == "state:time_wait -state:close_wait"
    unchanged = config.load(write(tmp_path, GOOD), THEMES).with_flags(None, None)
    assert unchanged.settings.interval == 5.0 and unchanged.origins["interval"] == "file"


def test_the_hidden_states_terms_are_not_saved_in_the_filter() -> None:
    assert config.filter_without_hidden("nginx -state:time_wait -state:listen", ["time_wait"]) == "nginx -state:listen"
    assert config.filter_without_hidden("nginx", ["time_wait"]) == "nginx"
    assert config.filter_without_hidden("state:(", ["time_wait"]) == "state:(", "a broken filter is kept as typed"


def test_the_viewer_says_a_broken_file_on_stderr_and_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "interval = 0\n")
    args = cli.build_parser().parse_args(["--config", str(path)])
    loaded = cli.viewer_settings(args)
    assert loaded.settings.interval == 2.0
    assert capsys.readouterr().err == (
        f"nettop: {path}, line 1: interval: 0 is out of range (give 0.5 to 60 seconds); using the default (2.0)\n"
    )
    args = cli.build_parser().parse_args(["--no-config", "--interval", "3"])
    clean = cli.viewer_settings(args)
    assert clean.path is None and clean.settings.interval == 3.0 and capsys.readouterr().err == ""
    with pytest.raises(SystemExit):  # one or the other
        cli.build_parser().parse_args(["--no-config", "--config", str(path)])


def test_without_flags_the_default_path_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    write(tmp_path, 'sort = "state"\n')
    loaded = cli.viewer_settings(cli.build_parser().parse_args([]))
    assert loaded.path == tmp_path / "nettop" / "config.toml" and loaded.settings.sort == "state"


def test_the_readme_example_is_a_good_file(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    loaded = config.load(write(tmp_path, example), THEMES)
    assert loaded.problems == () and set(loaded.origins.values()) == {"file"}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_command_line_starts_the_viewer_with_the_file_and_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[NettopApp] = []
    monkeypatch.setattr(NettopApp, "run", lambda self: started.append(self))
    monkeypatch.setattr(sys, "stdout", Terminal())
    path = write(tmp_path, GOOD + "interval = 0.1\n")  # a second interval: the first one stays
    capture = capture_file(tmp_path)
    assert cli.main(["--config", str(path), "--filter", "port:443", "--from-file", str(capture)]) == 0
    (app,) = started
    assert app.settings.path == path and app.settings.origins["filter"] == "flag"
    assert (app.interval, app.sort_column, app.query_filter.text) == (2.0, "state", "port:443"), "TOML broken"
    assert "not valid TOML" in capsys.readouterr().err
    write(tmp_path, GOOD)
    assert cli.main(["--config", str(path), "--filter", "port:443", "--from-file", str(capture)]) == 0
    app = started[1]
    assert (app.sort_column, app.sort_reverse, app.columns) == ("lport", True, app.settings.settings.columns)
    assert app.interval == 5.0 and app.query_filter.text == "port:443 -state:time_wait -state:close_wait"
    assert app.read_only and app.settings.origins["interval"] == "file" and app.settings.origins["filter"] == "flag"


# --- saving --------------------------------------------------------------------------------------


def test_saving_round_trips_and_keeps_comments_and_unknown_lines(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "future_key = 1\n\n[later]\nx = 2\n")
    now = config.Settings("dracula", 0.5, "rx", False, frozenset(COLUMN_KEYS), 'prog:"my app"', ("listen",))
    config.save(path, config.file_values(now))
    text = path.read_text()
    assert text.startswith("# my nettop\n") and "future_key = 1\n" in text and "[later]\nx = 2\n" in text
    assert "columns" not in text, "every column shown: a column added later is shown too"
    loaded = config.load(path, THEMES)
    assert loaded.settings == now
    unknown = ["unknown key 'future_key' (known", "unknown key 'later' (known"]
    assert [p.split(": ")[1] for p in loaded.problems] == unknown, "kept, and still said"
    assert [p for p in os.listdir(path.parent) if p != "config.toml"] == [], "no temporary file left"


def test_saving_one_key_leaves_the_rest_alone(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config.save(path, {"theme": "gruvbox"})
    assert path.read_text() == GOOD.replace('"nord"', '"gruvbox"')


def test_a_key_the_line_editor_cannot_edit_is_written_anew_keeping_the_settings(tmp_path: Path) -> None:
    path = write(tmp_path, 'columns = [\n  "proto",\n  "state",\n]\nsort = "pid"\n')
    config.save(path, {"columns": ["proto", "local"]})
    table = tomllib.loads(path.read_text())
    assert table == {"columns": ["proto", "local"], "sort": "pid"}


def test_a_broken_file_is_never_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path, "interval = = 3\n# my notes\n")
    with pytest.raises(config.SaveRefused, match=r"is not valid TOML \(.*line 1.*\): fix or remove it first"):
        config.save(path, {"theme": "nord"})
    assert path.read_text() == "interval = = 3\n# my notes\n"


async def test_a_theme_chosen_over_a_broken_file_says_it_is_not_saved(tmp_path: Path) -> None:
    path = write(tmp_path, "interval = = 3\n")
    app, source = viewer(config.load(path, THEMES))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        app.theme = "nord"
        await pilot.pause()
        assert any(n.message.startswith(f"settings not saved: {path} is not valid TOML") for n in app._notifications)
    assert path.read_text() == "interval = = 3\n"


def test_saving_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "config.toml"
    config.save(path, {"interval": 4.0})
    assert path.read_text() == config.HEADER + "interval = 4.0\n"


def test_text_is_written_as_toml_reads_it() -> None:
    nasty = 'say "hi" \\ \t\x1b[31m ü'
    line = f"filter = {config.toml_value(nasty)}\nlist = {config.toml_value(['a', nasty])}\n"
    assert tomllib.loads(line) == {"filter": nasty, "list": ["a", nasty]}


# --- in the viewer -------------------------------------------------------------------------------


def viewer(loaded: config.Loaded, script: list = [BASE]) -> tuple[NettopApp, ScriptedSource]:  # type: ignore[type-arg]  # noqa: B006
    clock = FakeClock()
    source = ScriptedSource(script, clock)
    start = loaded.settings
    app = NettopApp(source, start.interval, parse_query(start.start_filter), clock=clock, settings=loaded)
    return app, source


WAITING = [*BASE, conn(443, 50001, local_ip="10.0.0.1", remote_ip="10.0.0.8", state=State.TIME_WAIT, pid=None)]


async def test_config_read_the_viewer_starts_with_it(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    app, source = viewer(config.load(path, THEMES), [WAITING])
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        assert app.theme == "nord" and app.interval == 5.0
        assert table.shown_column_keys() == ["proto", "local", "lport", "state", "program"]
        assert "Port▼" in table.render_line(0).text, "sorted by local port, reversed"
        # -proto:udp from the file, TIME_WAIT hidden: the UDP socket and the waiting connection are not shown
        assert sorted(ports(app), key=str) == [(22, None), (443, 50000), (443, None), (8080, None)]
        assert [p for p, _ in ports(app)] == [8080, 443, 443, 22]
        assert app.query_filter.text == "-proto:udp -state:time_wait -state:close_wait"
        assert path.read_text() == GOOD, "starting saves nothing"


async def test_config_broken_the_viewer_says_so_and_runs(tmp_path: Path) -> None:
    path = write(tmp_path, 'interval = "soon"\ntheme = "nord"\n')
    app, source = viewer(config.load(path, THEMES))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert app.theme == "nord" and app.interval == 2.0
        assert [n.message for n in app._notifications] == [
            f"{path}, line 1: interval: expected a number of seconds, got text; using the default (2.0)"
        ]
        assert len(ports(app)) == len(BASE)


async def test_config_saved_a_theme_chosen_in_the_viewer_stays(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    app, source = viewer(config.load(path, THEMES))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        app.theme = "dracula"  # what the palette's theme picker does
        await pilot.pause()
    assert path.read_text() == GOOD.replace('"nord"', '"dracula"')
    assert app.settings.origins["theme"] == "file" and app.settings.settings.theme == "dracula"


async def test_no_config_saves_nothing(tmp_path: Path) -> None:
    app, source = viewer(config.Loaded(None))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        app.theme = "dracula"
        await pilot.pause()
        await pilot.press("S")
        assert isinstance(app.screen, SettingsScreen)
        assert app.screen.query_one("#settings-save").disabled
        await pilot.press("s")
        assert isinstance(app.screen, SettingsScreen), "nothing to save to: the screen stays"
    assert list(tmp_path.iterdir()) == []


async def test_the_settings_screen_says_where_each_came_from_and_saves(tmp_path: Path) -> None:
    path = write(tmp_path, '# keep me\nsort = "pid"\nhide_states = ["listen"]\n')
    loaded = config.load(path, THEMES).with_flags(interval=4.0, filter_text=None)
    app, source = viewer(loaded)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        await pilot.press("r", "c", *["down"] * COLUMN_KEYS.index("proto"), "space", "escape")  # reverse; hide proto
        await pilot.press("S")
        assert isinstance(app.screen, SettingsScreen)
        rows = {key: (value, origin) for key, value, origin in settings_rows(app.settings, app.current_settings())}
        assert rows == {
            "theme": ('"textual-dark"', "default"),
            "interval": ("4.0", "flag"),
            "sort": ('"-pid"', CHANGED),
            "columns": (str([k for k in COLUMN_KEYS if k != "proto"]).replace("'", '"'), CHANGED),
            "filter": ('""', "default"),
            "hide_states": ('["listen"]', "file"),
        }
        shown = str(app.screen.query_one("#settings-table").render())
        assert f"Config file: {path}" in shown and "changed here, not saved" in shown
        await pilot.press("s")
        assert not isinstance(app.screen, SettingsScreen)
        assert any(n.message == f"settings saved to {path}" for n in app._notifications)
    saved = config.load(path, THEMES)
    assert path.read_text().startswith("# keep me\n")
    assert saved.problems == () and saved.settings == app.current_settings()
    assert (saved.settings.sort, saved.settings.sort_reverse, saved.settings.interval) == ("pid", True, 4.0)
    assert saved.settings.filter == "", "the hidden states' terms stay out of the filter"
    assert set(app.settings.origins.values()) == {"file"}


async def test_the_column_chooser_hides_and_shows_columns() -> None:
    app, source = viewer(config.Loaded(None))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        table = app.query_one(ConnectionTable)
        before = table.shown_column_keys()
        await pilot.press("c")
        assert isinstance(app.screen, ColumnsScreen)
        await pilot.press(*["down"] * COLUMN_KEYS.index("local"), "space")  # the local address
        assert "local" not in table.shown_column_keys()
        assert table.shown_column_keys() == [key for key in before if key != "local"]
        assert app.columns == frozenset(COLUMN_KEYS) - {"local"}
        await pilot.press("space")
        assert table.shown_column_keys() == before
        await pilot.press("escape")
        assert not isinstance(app.screen, ColumnsScreen)


async def test_the_palette_offers_the_column_chooser_and_the_settings() -> None:
    app, source = viewer(config.Loaded(None))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        commands = {command.title: command for command in app.get_system_commands(app.screen)}
        await commands["Columns"].callback()  # what the palette runs
        await pilot.pause()
        assert isinstance(app.screen, ColumnsScreen)
        await pilot.press("escape")
        await commands["Settings"].callback()
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)


async def test_the_last_column_cannot_be_hidden() -> None:
    app, source = viewer(config.Loaded(None, config.Settings(columns=frozenset({"proto", "state"}))))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, app, source, 1)
        assert app.query_one(ConnectionTable).shown_column_keys() == ["proto", "state"]
        await pilot.press("c", *["down"] * COLUMN_KEYS.index("proto"), "space")  # proto off
        for _ in range(COLUMN_KEYS.index("state") - COLUMN_KEYS.index("proto")):
            await pilot.press("down")
        await pilot.press("space")  # state off: none would be left
        await pilot.pause()
        assert app.columns == {"state"}
        assert app.query_one(ConnectionTable).shown_column_keys() == ["state"]
        assert any("At least one column" in n.message for n in app._notifications)


# --- a saved capture -------------------------------------------------------------------------------

TAKEN = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC


class CountingCapture(CaptureSource):
    collected = 0

    async def collect(self):  # type: ignore[no-untyped-def]
        self.collected += 1
        return await super().collect()


def capture_file(tmp_path: Path) -> Path:
    """A snapshot as `nettop list --format json` writes it, taken (its file says) at ``TAKEN``."""
    path = tmp_path / "incident.json"
    path.write_bytes(write_records(BASE))
    os.utime(path, (TAKEN, TAKEN))
    return path


async def test_a_saved_snapshot_opens_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    path = capture_file(tmp_path)
    args = cli.build_parser().parse_args(["--from-file", str(path), "--no-config"])
    read = cli.viewer_source(args)
    assert isinstance(read, CaptureSource)
    source = CountingCapture(read.snapshot)
    app = NettopApp(source, interval=0.5, clock=FakeClock())
    async with app.run_test(size=(120, 30)) as pilot:
        for _ in range(100):
            if app.snapshot is not None:
                break
            await pilot.pause(0.01)
        await pilot.pause()
        summary = str(app.query_one("#summary").render())
        assert "capture incident.json (nettop-json) 2025-06-15 15:06:40 │" in summary and "│ read-only" in summary
        assert "every" not in summary
        assert len(ports(app)) == len(BASE)
        for _ in range(3):
            app.refresh_now()
            await pilot.pause(0.02)
        assert source.collected == 1, "a capture is read once"
        await pilot.press("k")
        assert not app.screen_stack[1:], "no question asked"
        assert [n.message for n in app._notifications] == ["A saved capture: nothing to kill."]
    time.tzset()


def test_a_captured_ss_listing_opens_with_its_time(corpus: Path) -> None:
    path = corpus / "debian12" / "ss-tunap.out"
    args = cli.build_parser().parse_args(["--from-file", str(path)])
    source = cli.viewer_source(args)
    assert isinstance(source, CaptureSource) and source.read_only
    snapshot = source.snapshot
    assert snapshot.source == "capture ss-tunap.out (ss)"
    assert snapshot.taken_at == path.stat().st_mtime
    assert len(snapshot.records) > 10


def test_an_unreadable_capture_is_refused_before_the_viewer(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Netid State Local Address:Port\ntcp LISTEN nonsense\n")
    with pytest.raises(NettopError):
        cli.viewer_source(cli.build_parser().parse_args(["--from-file", str(path)]))


# --- what it looks like ----------------------------------------------------------------------------


def test_the_settings_screen_looks_right(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The screenshot's scene (screenshots/make.py): a file that sets the interval and hides TIME_WAIT, the sort
    changed with s. After a deliberate change: pytest tests/test_config.py --snapshot-update."""
    from screenshots.make import DEMO_SETTINGS
    from tests.demo_data import demo_records

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    clock = FakeClock()
    source = ScriptedSource([demo_records()], clock)
    start = DEMO_SETTINGS.settings
    app = NettopApp(source, start.interval, start.start_filter, clock=clock, settings=DEMO_SETTINGS)

    async def first(pilot) -> None:  # type: ignore[no-untyped-def]
        while source.collected < 1:
            await pilot.pause(0.01)
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(100, 30), run_before=first, press=["s", "S"])
    finally:
        monkeypatch.undo()
        time.tzset()
