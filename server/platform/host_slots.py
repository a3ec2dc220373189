"""A few slots shared by every process of one host: at most N of them do a costly thing at once.

Each slot is an exclusive `flock` on a file of `directory`. The kernel frees a slot when its
holder closes it or dies, so a worker killed in the middle of its work never leaks one. Within a
process the slots are handed to threads under a lock; a forked process opens its own files.
"""
import fcntl
import os
import threading


class HostSlots:
    def __init__(self, directory: str, count: int) -> None:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.count = count
        self._paths = [os.path.join(directory, f"slot-{index}") for index in range(count)]
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._free: list[int] = []

    def _descriptors(self) -> list[int]:
        """This process's free slot files (opened again after a fork: flock is per open file)."""
        if self._pid != os.getpid():
            for inherited in self._free:
                os.close(inherited)
            self._free = [os.open(path, os.O_RDWR | os.O_CREAT, 0o600) for path in self._paths]
            self._pid = os.getpid()
        return self._free

    def try_acquire(self) -> int | None:
        """A slot (pass it to `release`), or None at once when every slot of the host is taken."""
        with self._lock:
            free = self._descriptors()
            for slot in free:
                try:
                    fcntl.flock(slot, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                free.remove(slot)
                return slot
        return None

    def release(self, slot: int) -> None:
        fcntl.flock(slot, fcntl.LOCK_UN)
        with self._lock:
            if self._pid == os.getpid():
                self._free.append(slot)
            else:
                os.close(slot)
