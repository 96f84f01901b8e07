"""Measures whether native work releases the GIL: a Python thread ticks every millisecond meanwhile."""
import threading
import time


def ticks_while(work):
    """Runs `work()`; returns (ticks of the other thread during it, seconds it took)."""
    ticks, stop = [], threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=counter)
    t.start()
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    stop.set()
    t.join()
    return len([s for s in ticks if start <= s <= start + elapsed]), elapsed
