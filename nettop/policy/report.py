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
from typing import Any

from nettop import writers
from nettop.policy.check import Assertion, CheckReport, Evidence, Status
from nettop.text import local_text, owners_text, safe
from nettop.writers.json import dump_json, record_to_dict

#: The report formats, as the writers' registry has them (``nettop.writers``, kind "report").
FORMATS = tuple(writers.names("report"))


def render(report: CheckReport, format: str) -> str:
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


def to_text(report: CheckReport) -> str:
    lines = [f"nettop check {report.policy}" + (f" against {report.source}" if report.source else "")]
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


def to_json(report: CheckReport) -> str:
    return dump_json(report_to_dict(report), indent=2).decode() + "\n"


# ---- JUnit XML


def to_junit(report: CheckReport) -> str:
    """One testsuite, one testcase per assertion; a FAIL is a <failure>, an ERROR an <error>. Every text is made
    safe (``text.safe``), which also keeps the XML valid: XML 1.0 cannot hold most control characters at all."""
    s = report.summary
    suites = ET.Element("testsuites", name="nettop check", tests=str(s.tested), failures=str(s.failed),
                        errors=str(s.errors))  # fmt: skip
    suite = ET.SubElement(suites, "testsuite", name=safe(f"nettop check {report.policy}"), tests=str(s.tested),
                          failures=str(s.failed), errors=str(s.errors), skipped="0")  # fmt: skip
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
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# ---- TAP


def to_tap(report: CheckReport) -> str:
    """TAP version 13; a failed or broken assertion carries a YAML diagnostic block."""
    lines = ["TAP version 13", f"1..{len(report.assertions)}"]
    for number, assertion in enumerate(report.assertions, 1):
        # '#' opens a TAP directive (SKIP/TODO): escaped in a description.
        description = safe(assertion.description).replace("\\", "\\\\").replace("#", "\\#")
        ok = "ok" if assertion.status is Status.PASS else "not ok"
        lines.append(f"{ok} {number} - {description}")
        if assertion.status is not Status.PASS:
            lines += _tap_diagnostics(assertion)
    lines.append(f"# {_summary_line(report)}")
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
