"""The REPORT parser (text and JSON forms) and Lambda's price model."""

from __future__ import annotations

import json

import pytest

from lamforest.cost import PRICE_PER_GB_S, price
from lamforest.logs import LocalLogSource, append_lines, format_report, parse_report

TEXT = (
    "REPORT RequestId: 3f1c\tDuration: 1776.81 ms\tBilled Duration: 1777 ms\tMemory Size: 256 MB\t"
    "Max Memory Used: 131 MB\tInit Duration: 1987.45 ms\t"
)


def test_text_report_with_init():
    r = parse_report(TEXT)
    assert (r.request_id, r.duration_ms, r.billed_ms, r.memory_mb, r.max_memory_mb, r.init_ms) == (
        "3f1c",
        1776.81,
        1777.0,
        256.0,
        131.0,
        1987.45,
    )
    assert r.restore_ms is None


def test_text_report_warm_without_init_and_with_xray_line():
    line = (
        "REPORT RequestId: ab\tDuration: 12.5 ms\tBilled Duration: 13 ms\tMemory Size: 1769 MB\t"
        "Max Memory Used: 99 MB\t\nXRAY TraceId: 1-5e1b-abc\tSegmentId: 0a\tSampled: true\t"
    )
    r = parse_report(line)
    assert r.billed_ms == 13.0 and r.init_ms is None and r.memory_mb == 1769.0


def test_text_report_with_snapstart_restore():
    line = (
        "REPORT RequestId: s\tDuration: 5.00 ms\tBilled Duration: 300 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 80 MB\tRestore Duration: 250.12 ms\tBilled Restore Duration: 295 ms\t"
    )
    r = parse_report(line)
    assert r.restore_ms == 250.12 and r.billed_restore_ms == 295.0


def test_text_report_with_error_status():
    r = parse_report(format_report("e1", 10.0, 128, 50, None, "error"))
    assert r.status == "error" and r.billed_ms == 10


def test_json_platform_report():
    doc = {
        "time": "2026-11-27T00:00:00Z",
        "type": "platform.report",
        "record": {
            "requestId": "j1",
            "status": "success",
            "metrics": {
                "durationMs": 100.5,
                "billedDurationMs": 101,
                "memorySizeMB": 1024,
                "maxMemoryUsedMB": 300,
                "initDurationMs": 900.25,
            },
        },
    }
    r = parse_report(json.dumps(doc))
    assert (r.request_id, r.duration_ms, r.billed_ms, r.memory_mb, r.max_memory_mb, r.init_ms, r.status) == (
        "j1",
        100.5,
        101.0,
        1024.0,
        300.0,
        900.25,
        None,
    )


@pytest.mark.parametrize(
    "line",
    [
        "START RequestId: x Version: $LATEST",
        "END RequestId: x",
        "hello",
        "",
        '{"type": "platform.start", "record": {"requestId": "x"}}',
        "REPORT RequestId: x\tDuration: 1 ms\t",
        "{oops",
    ],
)
def test_other_lines_are_not_reports(line):
    assert parse_report(line) is None


def test_format_report_round_trips_and_bills_init():
    line = format_report("rt", 100.2, 1769, 120, 950.5)
    r = parse_report(line)
    assert r.duration_ms == 100.2 and r.init_ms == 950.5
    assert r.billed_ms == 1051  # container images bill INIT too, rounded up to the ms


def test_price_per_architecture():
    # 1 GB for 1 s, one request
    x86 = price(1000, 1024, "x86_64")
    arm = price(1000, 1024, "arm64")
    assert x86.gb_seconds == 1.0
    assert x86.compute_usd == pytest.approx(0.0000166667)
    assert arm.compute_usd == pytest.approx(0.0000133334)
    assert x86.request_usd == pytest.approx(0.2e-6)
    assert price(1777, 256, "x86_64", requests=3).usd == pytest.approx(
        1.777 * 0.25 * PRICE_PER_GB_S["x86_64"] + 3 * 0.2e-6
    )


def test_price_rejects_unknown_arch():
    with pytest.raises(ValueError, match="arch"):
        price(1, 128, "sparc")


def test_local_log_source_reads_incrementally_and_only_whole_lines(tmp_path):
    src = LocalLogSource(tmp_path)
    path = src.path("b")
    assert src.lines("b") == []
    append_lines(path, ["START RequestId: 1 Version: $LATEST", "END RequestId: 1"])
    assert src.lines("b") == ["START RequestId: 1 Version: $LATEST", "END RequestId: 1"]
    with open(path, "a") as f:
        f.write("REPORT RequestId: 1\tDura")  # a line still being written
    assert src.lines("b") == []
    with open(path, "a") as f:
        f.write("tion: 1 ms\n")
    assert src.lines("b") == ["REPORT RequestId: 1\tDuration: 1 ms"]
