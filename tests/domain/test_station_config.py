"""Folding NotifyReport parts; merging what GetVariables says with what a report said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.station_config import (
    DeviceVariable,
    VariableCharacteristics,
    VariableKey,
    VariableSource,
    fold_report_part,
    merge_variable,
    merge_variables,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def part(report, seq_no: int, tbc: bool, count: int = 1, at: datetime = T0):  # type: ignore[no-untyped-def]
    return fold_report_part(report, station_id="CP", request_id=1, seq_no=seq_no, tbc=tbc, variables=count, at=at)


def test_parts_add_up_until_tbc_false() -> None:
    first = part(None, 0, True, 3)
    assert (first.parts, first.variables, first.complete) == (1, 3, False)
    second = part(first, 1, True, 2, T0 + timedelta(seconds=1))
    last = part(second, 2, False, 1, T0 + timedelta(seconds=2))
    assert (last.parts, last.variables, last.complete) == (3, 6, True)
    assert last.started_at == T0 and last.updated_at == T0 + timedelta(seconds=2)


def test_a_part_sent_again_changes_nothing() -> None:
    first = part(None, 0, True, 3)
    assert part(first, 0, True, 3) is first


def test_a_single_part_report_is_complete() -> None:
    assert part(None, 0, False).complete


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 50)), min_size=1, max_size=20))
def test_a_report_counts_each_seq_no_once_and_in_order(parts: list[tuple[int, int]]) -> None:
    report = None
    for seq_no, count in parts:
        report = part(report, seq_no, True, count)
    assert report is not None
    records = [parts[0]]  # a part counts when its seqNo is beyond every one before
    for seq_no, count in parts[1:]:
        if seq_no > records[-1][0]:
            records.append((seq_no, count))
    assert report.parts == len(records)
    assert report.variables == sum(c for _, c in records)
    assert report.last_seq_no == max(s for s, _ in parts)


KEY = VariableKey("OCPPCommCtrlr", "HeartbeatInterval")
CHARS = VariableCharacteristics(data_type="integer", unit="s")


def test_get_variables_keeps_what_the_report_said() -> None:
    reported = DeviceVariable(KEY, "300", T0, VariableSource.REPORT, "ReadWrite", CHARS)
    got = DeviceVariable(KEY, "120", T0 + timedelta(hours=1), VariableSource.GET)
    merged = merge_variable(reported, got)
    assert (merged.value, merged.source, merged.mutability, merged.characteristics) == ("120", VariableSource.GET, "ReadWrite", CHARS)
    assert merged.reported_at == T0 + timedelta(hours=1)
    assert merge_variable(None, got) is got


def test_merge_variables_only_returns_the_new_ones() -> None:
    other = DeviceVariable(VariableKey("X", "Y"), "1", T0, VariableSource.REPORT)
    reported = DeviceVariable(KEY, "300", T0, VariableSource.REPORT, "ReadWrite", CHARS)
    merged = merge_variables([reported, other], [DeviceVariable(KEY, "60", T0, VariableSource.SET)])
    assert [(v.key, v.value, v.mutability) for v in merged] == [(KEY, "60", "ReadWrite")]
