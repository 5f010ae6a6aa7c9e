"""Server-sent events (text/event-stream) as the three providers send them: bytes in, (event, data) out.

The WHATWG rules that matter here: lines end in LF, CRLF or CR; `event:` names the event, `data:`
lines are joined with LF; a blank line ends the event, and an event whose data is empty (no
`data:` line, or only a bare `data:` as some proxies send for a keep-alive) is dropped; lines
starting with ':' are comments (keep-alives); one space after the colon is dropped; a byte-order
mark opening the stream is not part of the first field's name.
"""

from typing import List, Tuple


class Decoder:
    """Feed bytes as they arrive; get back every event they complete.

    >>> d = Decoder()
    >>> d.feed(b'event: message_start\\ndata: {"a":')
    []
    >>> d.feed(b' 1}\\n\\n: ping\\n\\ndata: [DONE]\\r\\n\\r\\n')
    [('message_start', '{"a": 1}'), ('message', '[DONE]')]
    >>> Decoder().feed(b'\\xef\\xbb\\xbfdata: {}\\n\\n')
    [('message', '{}')]
    >>> Decoder().feed(b'data:\\n\\nevent: ping\\ndata: \\n\\n')
    []
    """

    def __init__(self):
        self._buffer = b""
        self._event, self._data = "", []
        self._started = False

    def feed(self, chunk: bytes) -> List[Tuple[str, str]]:
        """Add `chunk`; return the events it completed, in order."""
        self._buffer += chunk
        if not self._started and len(self._buffer) >= 3:
            self._started = True
            self._buffer = self._buffer[3:] if self._buffer.startswith(b"\xef\xbb\xbf") else self._buffer
        events = []
        while True:
            line, found = self._next_line()
            if not found:
                return events
            if not line:                       # a blank line dispatches the event, unless its data is empty
                data = "\n".join(self._data)
                if data:
                    events.append((self._event or "message", data))
                self._event, self._data = "", []
            elif not line.startswith(":"):
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    self._event = value
                elif field == "data":
                    self._data.append(value)

    def flush(self) -> List[Tuple[str, str]]:
        """At the end of the stream: the last event when the server omitted its closing blank line."""
        tail = self.feed(b"\n\n") if self._buffer or self._data else []
        return tail

    def _next_line(self) -> Tuple[str, bool]:
        ends = [i for i in (self._buffer.find(b"\n"), self._buffer.find(b"\r")) if i >= 0]
        if not ends:
            return "", False
        i = min(ends)
        if self._buffer[i] == 13 and i + 1 == len(self._buffer):
            return "", False                    # a CR at the very end may be half of a CRLF
        end = i + 2 if self._buffer[i] == 13 and self._buffer[i + 1] == 10 else i + 1
        line, self._buffer = self._buffer[:i], self._buffer[end:]
        return line.decode("utf-8", errors="replace"), True
