"""The adb wire protocol, adbd's side: messages on one TCP connection from the adb server (the CNXN/AUTH
handshake) and the streams multiplexed over it, each served by a service of the device.

References (AOSP packages/modules/adb): protocol.txt (messages and streams).
"""
from __future__ import annotations

import asyncio
import secrets
import struct


def _tag(name: bytes) -> int:
    return int.from_bytes(name, "little")


A_CNXN, A_AUTH, A_OPEN, A_OKAY, A_WRTE, A_CLSE = map(_tag, (b"CNXN", b"AUTH", b"OPEN", b"OKAY", b"WRTE", b"CLSE"))
A_VERSION_SKIP_CHECKSUM = 0x01000001  # from this version on, neither side checks data_check
A_VERSION = A_VERSION_SKIP_CHECKSUM
MAX_PAYLOAD = 1024 * 1024
MAX_PAYLOAD_V1 = 4096  # what a peer may send before the CNXN exchange says otherwise
AUTH_TOKEN, AUTH_SIGNATURE = 1, 2
HEADER = struct.Struct("<6I")  # command, arg0, arg1, data_length, data_check, magic


class Connection:
    """One TCP connection from the adb server: the CNXN/AUTH handshake and the streams multiplexed over it."""

    def __init__(self, device, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        # device: what the connection asks of the device (LoopbackDevice): its faults `silent` and
        # `auth_required`, its `banner()`, and `service(name)`, the coroutine function serving a stream or None
        self.device, self.reader, self.writer = device, reader, writer
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.version = A_VERSION
        self.max_payload = MAX_PAYLOAD_V1
        self.online = False

    async def run(self) -> None:
        try:
            while True:
                command, arg0, arg1, length, _, magic = HEADER.unpack(await self.reader.readexactly(HEADER.size))
                if magic != command ^ 0xFFFFFFFF:
                    break  # not an adb peer
                payload = await self.reader.readexactly(length) if length else b""
                if not self.device.silent:
                    self.handle(command, arg0, arg1, payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.close()

    def send(self, command: int, arg0: int, arg1: int, payload: bytes = b"") -> None:
        check = sum(payload) & 0xFFFFFFFF if self.version < A_VERSION_SKIP_CHECKSUM else 0
        self.writer.write(HEADER.pack(command, arg0, arg1, len(payload), check, command ^ 0xFFFFFFFF) + payload)

    def handle(self, command: int, arg0: int, arg1: int, payload: bytes) -> None:
        if command == A_CNXN:
            self.version = min(arg0, A_VERSION)
            self.max_payload = min(arg1, MAX_PAYLOAD)
            if self.device.auth_required:
                self.send(A_AUTH, AUTH_TOKEN, 0, secrets.token_bytes(20))
            else:
                self.online = True
                self.send(A_CNXN, self.version, MAX_PAYLOAD, self.device.banner().encode())
        elif command == A_AUTH and arg0 == AUTH_SIGNATURE:
            # Reject every signature; once the host runs out of keys it sends its public key and waits for the
            # user to tap "Allow" on the phone, which never happens.
            self.send(A_AUTH, AUTH_TOKEN, 0, secrets.token_bytes(20))
        elif command == A_OPEN and self.online:
            self.open(arg0, payload.rstrip(b"\0").decode("utf-8", "surrogateescape"))
        elif command == A_OKAY and (stream := self.streams.get(arg1)):
            stream.okay()
        elif command == A_WRTE and (stream := self.streams.get(arg1)):
            stream.received(payload)
            self.send(A_OKAY, stream.local_id, stream.remote_id)
        elif command == A_CLSE and (stream := self.streams.pop(arg1, None)):
            stream.closed_by_peer()

    def open(self, remote_id: int, name: str) -> None:
        serve = self.device.service(name)
        if serve is None:
            self.send(A_CLSE, 0, remote_id)  # refused
            return
        stream = Stream(self, self.next_id, remote_id)
        self.next_id += 1
        self.streams[stream.local_id] = stream
        self.send(A_OKAY, stream.local_id, remote_id)
        stream.task = asyncio.create_task(stream.serve(serve))

    def close(self) -> None:
        for stream in list(self.streams.values()):
            stream.abandon()
        self.streams.clear()
        self.writer.close()  # flushes what is queued (an OKAY just sent), then FIN


class Stream:
    """One adb stream: the service's side reads what the client WRTEs and writes one WRTE at a time."""

    def __init__(self, connection: Connection, local_id: int, remote_id: int):
        self.connection, self.local_id, self.remote_id = connection, local_id, remote_id
        self.task: asyncio.Task | None = None
        self.closed = False
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()  # None once closed
        self._buffer = bytearray()
        self._may_write = asyncio.Event()  # set while no WRTE of ours awaits its OKAY
        self._may_write.set()
        self._write_lock = asyncio.Lock()  # shell v2's stdout and stderr pumps share the stream

    @property
    def max_payload(self) -> int:
        return self.connection.max_payload

    async def serve(self, serve) -> None:
        try:
            await serve(self)
        except (EOFError, ConnectionError):
            pass  # the client closed the stream, or the device was lost
        finally:
            await self.close()

    # Called by the connection.
    def okay(self) -> None:
        self._may_write.set()

    def received(self, data: bytes) -> None:
        self._inbox.put_nowait(data)

    def closed_by_peer(self) -> None:
        self.abandon()
        self.connection.send(A_CLSE, self.local_id, self.remote_id)  # adbd answers a CLSE with a CLSE

    def abandon(self) -> None:
        self.closed = True
        self._may_write.set()
        self._inbox.put_nowait(None)
        if self.task is not None:
            self.task.cancel()  # kills the stream's command, if any

    # Called by the service.
    async def write(self, data: bytes) -> None:
        async with self._write_lock:
            for start in range(0, len(data), self.max_payload):
                await self._may_write.wait()
                if self.closed:
                    raise ConnectionResetError("stream closed")
                self._may_write.clear()
                self.connection.send(A_WRTE, self.local_id, self.remote_id, data[start:start + self.max_payload])
                await self.connection.writer.drain()

    async def read(self) -> bytes:
        """What the client sent next; EOFError once the stream is closed."""
        if not self._buffer:
            data = await self._inbox.get()
            if data is None:
                raise EOFError
            self._buffer += data
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    async def read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            data = await self._inbox.get()
            if data is None:
                raise EOFError
            self._buffer += data
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def close(self) -> None:
        if self.closed:
            return
        await self._may_write.wait()  # the client has the last WRTE before it sees the CLSE
        if self.closed:
            return
        self.closed = True
        self.connection.streams.pop(self.local_id, None)
        self.connection.send(A_CLSE, self.local_id, self.remote_id)
