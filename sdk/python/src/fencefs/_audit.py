"""Refusals from a sandbox's audit log (fence-audit(5)): which deny events
belong to which command, and waiting for the daemon's flush."""

from __future__ import annotations

import json
import os
import time
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional,
                    Sequence)

from ._types import Denial

if TYPE_CHECKING:  # pragma: no cover
    from ._core import State


def audit_offset(state: State) -> int:
    """The audit log's size now: a command's events come after it."""
    if not state.audit:
        return 0
    try:
        return os.path.getsize(state.audit)
    except OSError:
        return 0


def read_events(state: State, offset: int) -> List[Dict[str, Any]]:
    """The audit events written since OFFSET (complete lines only)."""
    if not state.audit:
        return []
    try:
        with open(state.audit, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return []
    events = []
    for ln in data.split(b"\n")[:-1] if not data.endswith(b"\n") else data.split(b"\n"):
        if not ln.strip():
            continue
        try:
            ev = json.loads(ln)
        except ValueError:
            continue
        if isinstance(ev, dict):
            events.append(ev)
    return events


#: The keys an audit event may name its command with (issue 17: "each
#: audit event names the command it belongs to").
CMD_KEYS = ("command_id", "cmd_id", "cmd", "command")


def event_cmd(ev: Mapping[str, Any]) -> Optional[int]:
    """The command id an audit event names, if it names one."""
    for key in CMD_KEYS:
        v = ev.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def denials(events: Iterable[Mapping[str, Any]], cmd_id: Optional[int]) -> List[Denial]:
    """The deny events of command CMD_ID (all of them when CMD_ID is None)."""
    out = []
    for ev in events:
        if ev.get("event") != "deny":
            continue
        if cmd_id is not None and event_cmd(ev) != cmd_id:
            continue
        pid = ev.get("pid")
        out.append(Denial(op=str(ev.get("op", "")), path=str(ev.get("path", "")),
                          level=str(ev.get("level", "")), errno=str(ev.get("errno", "")),
                          pid=pid if isinstance(pid, int) else None,
                          comm=ev.get("comm") if isinstance(ev.get("comm"), str) else None,
                          ts=ev.get("ts") if isinstance(ev.get("ts"), str) else None))
    return out


#: How long after a command its refusals may still sit in the daemon's
#: buffer (fencefs flushes its audit log at least once a second).
FLUSH_SECONDS = 1.2


def ts_seconds(ts: Any) -> Optional[float]:
    """An audit timestamp (``2026-12-02T06:33:17.195516Z``) as epoch seconds."""
    if not isinstance(ts, str):
        return None
    from datetime import datetime, timezone
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(ts, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            pass
    return None


def command_id(events: Iterable[Mapping[str, Any]], argv: Sequence[str],
               start: float) -> Optional[int]:
    """The id fence-run gave our command: its ``command`` event (``cmd``,
    ``argv``) logged after START with our argv."""
    for ev in events:
        if ev.get("event") == "command" and ev.get("argv") == list(argv):
            t = ts_seconds(ev.get("ts"))
            if t is None or t >= start - 0.5:
                return event_cmd(ev)
    return None


def window_denials(events: List[Dict[str, Any]], argv: Optional[Sequence[str]],
                   start: float, end: float) -> List[Denial]:
    """The refusals of one command.  When deny events name their command
    (``cmd``), those of our command id; else those logged between START and
    END (epoch seconds): a time window, which commands running at the same
    time in one sandbox share."""
    cmd = command_id(events, argv, start) if argv is not None else None
    tagged = any(ev.get("event") == "deny" and event_cmd(ev) is not None for ev in events)
    if cmd is not None and tagged:
        return denials(events, cmd)
    picked = []
    for ev in events:
        if ev.get("event") != "deny":
            continue
        t = ts_seconds(ev.get("ts"))
        if t is not None and start - 0.005 <= t <= end + 0.05:
            picked.append(ev)
    return denials(picked, None)


def denied_loader(state: State, offset: int, argv: Optional[Sequence[str]], start: float,
                  end: float, result: Optional[Mapping[str, Any]]) -> Callable[[], List[Denial]]:
    """What ExecResult.denied calls on first access: waits until the daemon
    must have flushed the command's refusals (or --result's count of them
    is reached), then picks them from the log."""
    want = result.get("denied") if result else None

    def load() -> List[Denial]:
        while True:
            events = state.final_events if state.final_events is not None \
                else read_events(state, offset)
            got = window_denials(events, argv, start, end)
            if state.final_events is not None or time.time() >= end + FLUSH_SECONDS:
                return got
            if isinstance(want, int) and want > 0 and len(got) >= want:
                return got
            time.sleep(min(0.05, max(0.0, end + FLUSH_SECONDS - time.time())))

    return load
