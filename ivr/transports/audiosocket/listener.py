"""Where Asterisk's AudioSocket connections arrive: matched to the AGI session that asked for
each by the uuid of the first frame, under a cap like the FastAGI server's."""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import uuid

from ivr.transports.audiosocket.frames import KIND_UUID, AudioSocketFailure, read_frame

logger = logging.getLogger(__name__)

#: Connections allowed to be between accept and their uuid frame beyond the stream cap.
GREETING_SPARE = 8


class AudioSocketListener:
    """Accepts Asterisk's AudioSocket connections and hands each to the AGI session that asked
    for it, matched by the uuid in the first frame.  Unknown uuids are closed at once.

    Resources are bounded like the AGI server's calls: at most ``max_streams`` calls hold a
    stream (:meth:`expect` returns ``None`` beyond it, and the call stays on AGI), and at most
    ``max_streams`` + :data:`GREETING_SPARE` connections wait for their uuid frame (each in its
    own short-lived thread); a connection beyond that is closed at once.
    """

    def __init__(self, host: str, port: int, *, first_frame_timeout: float = 2.0,
                 max_streams: int = 200) -> None:
        if max_streams < 1:
            raise ValueError("max_streams must be at least 1")
        self._server = socket.create_server((host, port), reuse_port=False)
        self._server.settimeout(0.2)
        self.first_frame_timeout = first_frame_timeout
        self.max_streams = max_streams
        self.refused = 0
        self._waiting: dict[str, queue.Queue[socket.socket]] = {}
        self._streams: set[str] = set()  # uuids handed out and not released
        self._greeting = threading.BoundedSemaphore(max_streams + GREETING_SPARE)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name="audiosocket-listener")

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return host, port

    def start(self) -> AudioSocketListener:
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._server.close()

    def expect(self) -> str | None:
        """A fresh uuid to pass to ``AudioSocket()`` (:meth:`wait` then returns its socket),
        or ``None`` when ``max_streams`` calls already stream.  :meth:`release` it after."""
        call_uuid = str(uuid.uuid4())
        with self._lock:
            if len(self._streams) >= self.max_streams:
                self.refused += 1
                return None
            self._streams.add(call_uuid)
            self._waiting[call_uuid] = queue.Queue(maxsize=1)
        return call_uuid

    def release(self, call_uuid: str) -> None:
        """The call of ``call_uuid`` no longer streams: its place is free."""
        with self._lock:
            self._streams.discard(call_uuid)
            self._waiting.pop(call_uuid, None)

    def wait(self, call_uuid: str, timeout: float) -> socket.socket | None:
        """The connection that announced ``call_uuid``, or ``None`` after ``timeout``."""
        with self._lock:
            slot = self._waiting.get(call_uuid)
        if slot is None:
            return None
        try:
            return slot.get(timeout=timeout)
        except queue.Empty:
            return None
        finally:
            with self._lock:
                self._waiting.pop(call_uuid, None)
            # A connection that arrived just after the timeout is not left open.
            with contextlib.suppress(queue.Empty):
                slot.get_nowait().close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._greeting.acquire(blocking=False):
                self.refused += 1
                logger.warning("audiosocket: too many connections without a uuid; refused")
                conn.close()
                continue
            threading.Thread(target=self._greet, args=(conn,), daemon=True,
                             name="audiosocket-greet").start()

    def _greet(self, conn: socket.socket) -> None:
        try:
            self._hand_over(conn)
        finally:
            self._greeting.release()

    def _hand_over(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(self.first_frame_timeout)
            frame = read_frame(conn)
        except (OSError, AudioSocketFailure):
            frame = None
        if frame is None or frame[0] != KIND_UUID or len(frame[1]) != 16:
            logger.warning("audiosocket: a connection without a uuid frame; closed")
            conn.close()
            return
        call_uuid = str(uuid.UUID(bytes=frame[1]))
        with self._lock:
            slot = self._waiting.get(call_uuid)
            if slot is not None and slot.empty():
                conn.settimeout(None)
                slot.put_nowait(conn)
                return
        logger.warning("audiosocket: a connection for a call nobody expects (or a second one "
                       "for the same call); closed")
        conn.close()
