"""What the grader receives and keeps of a kernel's output: the message cap, the receive queue,
the memory bound a flooding kernel is stopped at, and the per-cell and per-notebook output budget.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

from autograder.limits import Limits

#: Largest kernel message the grader accepts, all its frames together (ZeroMQ drops the
#: connection on one bigger frame; _BoundedChannel drops a message of many frames that passes
#: it). Figures and long logs stay far below it.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
#: Messages queued in the grader per channel (ZeroMQ high-water mark, whole messages of any
#: number of frames); what a flooding kernel can make the grader hold is bounded by the watchdog
#: (see _receive_bound_mb).
RECEIVE_QUEUE_MESSAGES = 16
_TEXT_MIME = re.compile(r"^(text/.*|application/(json|javascript|x-latex))$")


def _size(value: object) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


class _OutputBudget:
    """Decides, message by message, what output the grader keeps.

    Text (streams, ``text/*`` display data, tracebacks) counts against ``per_cell_chars`` per
    cell; everything kept counts against ``total_chars`` for the notebook. A cleared output gives
    its share back, so a progress display that redraws itself keeps its latest frame.
    """

    def __init__(self, per_cell_chars: int, total_chars: int) -> None:
        self.per_cell = per_cell_chars
        self.total_cap = total_chars
        self.text = defaultdict(int)  # cell -> text chars kept since its last clear
        self.kept = defaultdict(int)  # cell -> all chars kept since its last clear
        self.total = 0
        self.cut_chars = defaultdict(int)  # cell -> text chars not kept
        self.cut_displays = defaultdict(int)  # cell -> displays (figures, ...) not kept
        self.lost: set[int] = set()  # cells whose output channel broke (an oversized message)
        self.refused: set[int] = set()  # cells that sent a message over the cap in many frames

    def cleared(self, cell: int) -> None:
        self.total -= self.kept[cell]
        self.text[cell] = self.kept[cell] = 0

    def _room(self, cell: int) -> int:
        return max(0, min(self.per_cell - self.text[cell], self.total_cap - self.total))

    def _keep(self, cell: int, text: int, other: int = 0) -> None:
        self.text[cell] += text
        self.kept[cell] += text + other
        self.total += text + other

    def admit(self, cell: int, msg: dict) -> dict | None:
        """The message to keep (maybe shortened), or None to drop it."""
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "stream":
            text = content.get("text", "")
            room = self._room(cell)
            if len(text) <= room:
                self._keep(cell, len(text))
                return msg
            self.cut_chars[cell] += len(text) - room
            if room == 0:
                return None
            self._keep(cell, room)
            return {**msg, "content": {**content, "text": text[:room]}}
        if kind == "error":  # always kept: the failure is the kernel's word; only shortened
            room = max(self._room(cell), 2000)
            evalue = str(content.get("evalue", ""))[:room]
            lines, used = [], len(evalue)
            for line in content.get("traceback", []):
                if used + len(line) > room:
                    lines.append("[... rest of the traceback cut ...]")
                    break
                lines.append(line)
                used += len(line)
            self._keep(cell, used)
            return {**msg, "content": {**content, "evalue": evalue, "traceback": lines}}
        if kind in ("display_data", "execute_result"):
            data = content.get("data", {})
            text = sum(_size(v) for k, v in data.items() if _TEXT_MIME.match(k))
            other = sum(_size(v) for k, v in data.items() if not _TEXT_MIME.match(k))
            room = self._room(cell)
            if text <= room and text + other <= self.total_cap - self.total:
                self._keep(cell, text, other)
                return msg
            # Keep a short plain-text form when there is room for some text; drop the rest.
            plain = str(data.get("text/plain", ""))
            self.cut_displays[cell] += 1
            if room == 0 or not plain:
                return None
            self.cut_chars[cell] += max(0, len(plain) - room)
            self._keep(cell, min(len(plain), room))
            return {**msg, "content": {**content, "data": {"text/plain": plain[:room]}}}
        return msg

    def note(self, cell: int) -> str | None:
        """The line appended to a cell whose output was cut, or None."""
        chars, displays = self.cut_chars.get(cell, 0), self.cut_displays.get(cell, 0)
        if cell in self.lost or cell in self.refused:
            return (
                f"\n[kit grader: this cell sent an output larger than the "
                f"{MAX_MESSAGE_BYTES / 2**20:g} MB the grader accepts in one message; "
                + (
                    "that output and the rest of the cell's output were lost.]\n"
                    if cell in self.lost
                    else "that output was not kept.]\n"
                )
            )
        if not (chars or displays):
            return None
        what = []
        if chars:
            what.append(f"{chars:,} characters of output")
        if displays:
            what.append(f"{displays} display{'s' if displays > 1 else ''} (figures, tables)")
        return (
            f"\n[kit grader: {' and '.join(what)} not kept. The grader keeps "
            f"{self.per_cell:,} characters of text per cell and "
            f"{self.total_cap / 2**20:g} MB of output per notebook.]\n"
        )


def _receive_bound_mb(limits: Limits) -> float:
    """Memory, in MB, a kernel may make the grader hold by sending to it: the messages ZeroMQ
    queues on a channel (``RECEIVE_QUEUE_MESSAGES`` of at most ``MAX_MESSAGE_BYTES``) plus the
    outputs kept, four times over for their decoded Python form.

    The watchdog stops a kernel that makes the grader grow past it. Nothing on the receiving side
    can: libzmq delivers a message of many frames whole (its pipe never shows an application a
    partial message), so a kernel sending one of 60 frames x 30 MB had the grader hold all
    1.8 GB before :class:`_BoundedChannel` saw its first frame. Killing the sender makes libzmq
    discard the frames it held of an unfinished message.

    >>> _receive_bound_mb(Limits())
    640.0
    """
    return RECEIVE_QUEUE_MESSAGES * MAX_MESSAGE_BYTES / 2**20 + 4 * limits.max_notebook_output_mb
