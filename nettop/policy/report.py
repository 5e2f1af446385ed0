"""What ``nettop check`` writes: its report as text, JSON, JUnit XML or TAP.

JSON (``to_json``) is one object, stable like the list schema (fields are added, never renamed)::

    {"policy": "policy.toml", "source": "ss", "notes": [],
     "summary": {"tested": 5, "passed": 4, "failed": 1, "errors": 0},
     "assertions": [{"kind": "forbid", "description": "tcp port 25 is not listening", "status": "FAIL",
                     "reason": "...", "line": 9,
                     "evidence": [{"note": "...", "socket": "tcp 127.0.0.1:25 LISTEN 880/exim4",
                                   "record": {... one socket, as nettop list --format json ...}}]}]}
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from nettop import writers
from nettop.policy.check import Assertion, CheckReport, Evidence, Status
from nettop.text import local_text, owners_text, safe
from nettop.writers.json import dump_json, record_to_dict

#: The report formats, as the writers' registry has them (``nettop.writers``, kind "report").
FORMATS = tuple(writers.names("report"))

#: What a writer takes: one report, or one a host (``nettop check --host a,b``).
Reports = CheckReport | Sequence[CheckReport]


def _each(reports: Reports) -> list[CheckReport]:
    return [reports] if isinstance(reports, CheckReport) else list(reports)


def _hosts_line(reports: list[CheckReport]) -> str:
    codes = [report.exit_code for report in reports]
    return (f"{len(reports)} hosts: {codes.count(0)} passed, {codes.count(1)} failed, {codes.count(2)} could not be "
            "checked")  # fmt: skip


def render(report: Reports, format: str) -> str:
    """The report in one of ``FORMATS``."""
    text: str = writers.writer("report", format)(report)
    return text


def evidence_text(evidence: Evidence) -> str:
    """``tcp 127.0.0.1:25 LISTEN 880/exim4 (Debian-exim): listening, owned by 880/exim4``."""
    record = evidence.record
    owners = owners_text(record.owners) or f"no owner ({record.owner_status.value})"
    user = f" ({record.user})" if record.user else ""
    where = local_text(record)
    return f"{record.proto.value}{record.family} {where} {record.state.value} {owners}{user}: {evidence.note}"


def _summary_line(report: CheckReport) -> str:
    s = report.summary
    return f"{s.tested} tested, {s.passed} passed, {s.failed} failed, {s.errors} errors"


# ---- text


def to_text(reports: Reports) -> str:
    each = _each(reports)
    text = "\n".join(_text(report) for report in each)
    return text if isinstance(reports, CheckReport) else text + safe(_hosts_line(each)) + "\n"


def _text(report: CheckReport) -> str:
    on = f" on {report.host}" if report.host is not None else ""
    lines = [f"nettop check {report.policy}{on}" + (f" against {report.source}" if report.source else "")]
    lines += [f"note: {note}" for note in report.notes]
    for assertion in report.assertions:
        lines.append(f"{assertion.status.value:<5} {assertion.description}")
        if assertion.reason:
            lines.append(f"      reason: {assertion.reason}")
        lines += [f"      {evidence_text(e)}" for e in assertion.evidence]
    lines.append(_summary_line(report))
    # Names, addresses and notes are other users' text: every line is made safe to print.
    return "\n".join(map(safe, lines)) + "\n"


# ---- JSON


def report_to_dict(report: CheckReport) -> dict[str, Any]:
    s = report.summary
    return {
        "policy": report.policy,
        "host": report.host,
        "source": report.source,
        "notes": list(report.notes),
        "summary": {"tested": s.tested, "passed": s.passed, "failed": s.failed, "errors": s.errors},
        "assertions": [_assertion_to_dict(a) for a in report.assertions],
    }


def _assertion_to_dict(assertion: Assertion) -> dict[str, Any]:
    return {
        "kind": assertion.kind,
        "description": assertion.description,
        "status": assertion.status.value,
        "reason": assertion.reason,
        "line": assertion.line,
        "evidence": [
            {"note": e.note, "socket": evidence_text(e), "record": record_to_dict(e.record)} for e in assertion.evidence
        ],
    }


def to_json(reports: Reports) -> str:
    """One report's object; for several hosts, ``{"hosts": [one object a host], "summary": …}``."""
    if isinstance(reports, CheckReport):
        return dump_json(report_to_dict(reports), indent=2).decode() + "\n"
    each = _each(reports)
    codes = [report.exit_code for report in each]
    summary = {"hosts": len(each), "passed": codes.count(0), "failed": codes.count(1), "errors": codes.count(2)}
    value = {"hosts": [report_to_dict(report) for report in each], "summary": summary}
    return dump_json(value, indent=2).decode() + "\n"


# ---- JUnit XML


def to_junit(reports: Reports) -> str:
    """One testsuite a report (a host's, with ``--host``), one testcase per assertion; a FAIL is a <failure>, an
    ERROR an <error>. Every text is made safe (``text.safe``), which also keeps the XML valid: XML 1.0 cannot
    hold most control characters at all."""
    each = _each(reports)
    totals = [report.summary for report in each]
    tested, failed, errors = (sum(s.tested for s in totals), sum(s.failed for s in totals),
                              sum(s.errors for s in totals))  # fmt: skip
    suites = ET.Element("testsuites", name="nettop check", tests=str(tested), failures=str(failed), errors=str(errors))
    for report in each:
        _junit_suite(suites, report)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _junit_suite(suites: ET.Element, report: CheckReport) -> None:
    s = report.summary
    on = f" on {report.host}" if report.host is not None else ""
    suite = ET.SubElement(suites, "testsuite", name=safe(f"nettop check {report.policy}{on}"), tests=str(s.tested),
                          failures=str(s.failed), errors=str(s.errors), skipped="0")  # fmt: skip
    if report.host is not None:
        ET.SubElement(suite, "properties").append(ET.Element("property", name="host", value=safe(report.host)))
    for assertion in report.assertions:
        case = ET.SubElement(
            suite, "testcase", classname=f"nettop.check.{assertion.kind}", name=safe(assertion.description)
        )
        details = "\n".join(safe(evidence_text(e)) for e in assertion.evidence)
        if assertion.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", message=safe(assertion.reason or "failed"), type="policy")
            failure.text = details
        elif assertion.status is Status.ERROR:
            error = ET.SubElement(case, "error", message=safe(assertion.reason or "error"), type="collection")
            error.text = details
        elif details:
            ET.SubElement(case, "system-out").text = details


# ---- TAP


def to_tap(reports: Reports) -> str:
    """TAP version 13; a failed or broken assertion carries a YAML diagnostic block. With several hosts, one plan
    over all of them, each description led by its host."""
    each = _each(reports)
    checked = [(report, assertion) for report in each for assertion in report.assertions]
    lines = ["TAP version 13", f"1..{len(checked)}"]
    for number, (report, assertion) in enumerate(checked, 1):
        on = f"{report.host}: " if report.host is not None else ""
        # '#' opens a TAP directive (SKIP/TODO): escaped in a description.
        description = safe(on + assertion.description).replace("\\", "\\\\").replace("#", "\\#")
        ok = "ok" if assertion.status is Status.PASS else "not ok"
        lines.append(f"{ok} {number} - {description}")
        if assertion.status is not Status.PASS:
            lines += _tap_diagnostics(assertion)
    lines += [f"# {report.host + ': ' if report.host else ''}{_summary_line(report)}" for report in each]
    return "\n".join(lines) + "\n"


def _tap_diagnostics(assertion: Assertion) -> list[str]:
    # JSON strings are YAML double-quoted scalars: quoting every value keeps the block valid YAML (made safe
    # first: YAML refuses DEL and C1 controls, which JSON leaves raw).
    def quoted(text: str | None) -> str:
        return json.dumps(safe(text or ""), ensure_ascii=False)

    block = ["  ---", f"  message: {quoted(assertion.reason)}",
             f"  severity: {'fail' if assertion.status is Status.FAIL else 'error'}",
             f"  kind: {quoted(assertion.kind)}"]  # fmt: skip
    if assertion.line is not None:
        block.append(f"  line: {assertion.line}")
    if assertion.evidence:
        block.append("  evidence:")
        block += [f"    - {quoted(evidence_text(e))}" for e in assertion.evidence]
    block.append("  ...")
    return block
