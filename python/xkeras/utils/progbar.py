"""Keras-3.15-compatible text progress bar (keras.utils.Progbar)."""

import math
import os
import sys
import time

import numpy as np

_BOLD, _GREEN, _WHITE, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
_BAR_CHAR = "\u2501"


def _write(message):
    try:
        sys.stdout.write(message)
    except UnicodeEncodeError:
        # Non-UTF-8 stdout: degrade the bar character instead of crashing.
        encoding = sys.stdout.encoding or "utf-8"
        message = message.replace(_BAR_CHAR, "=")
        sys.stdout.write(message.encode(encoding, "ignore").decode(encoding))
    sys.stdout.flush()


def _dynamic_display():
    return (
        (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
        or "ipykernel" in sys.modules
        or "posix" in sys.modules
        or "PYCHARM_HOSTED" in os.environ
    )


def _format_eta(eta):
    if eta > 3600:
        return "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
    if eta > 60:
        return "%d:%02d" % (eta // 60, eta % 60)
    return "%ds" % eta


def _format_time(time_per_unit, unit_name):
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"


class Progbar:
    """Displays a progress bar.

    Metrics in `stateful_metrics` are shown as given; the others are averaged
    over steps. Alternatively `stateless_metrics` lists the averaged ones and
    everything else is shown as given (ProgbarLogger passes `set()`).
    `clock` is a zero-argument time function (defaults to `time.time`).
    """

    def __init__(
        self,
        target,
        width=20,
        verbose=1,
        interval=0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name="step",
        clock=None,
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` "
                "can be provided."
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set(stateful_metrics or ())
            self.stateless_metrics = None
        self._clock = clock
        self._dynamic_display = _dynamic_display()
        self._seen_so_far = 0
        self._values = {}
        self._values_order = []
        self._start = self._now()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _now(self):
        return self._clock() if self._clock is not None else time.time()

    def _is_stateless(self, k):
        if self.stateful_metrics is not None:
            return k not in self.stateful_metrics
        return k in self.stateless_metrics

    def _record(self, current, values, finalize):
        for k, v in values or []:
            if k not in self._values_order:
                self._values_order.append(k)
            if self._is_stateless(k) and not finalize:
                # Weight by the number of steps since the last update.
                base = max(current - self._seen_so_far, 1)
                if k not in self._values:
                    self._values[k] = [v * base, base]
                else:
                    self._values[k][0] += v * base
                    self._values[k][1] += base
            else:
                self._values[k] = [v, 1]
        self._seen_so_far = current

    def _average(self, k):
        total, count = self._values[k]
        if not isinstance(total, float):
            total = np.mean(total)
        return total / max(1, count)

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values, finalize)
        now = self._now()
        time_per_unit = self._estimate_step_duration(current, now)
        has_target = self.target is not None and self.target > 0

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            if self._dynamic_display:
                message = "\b" * self._prev_total_width + "\r"
            else:
                message = "\n"

            # `visible` counts printed columns, excluding ANSI escapes.
            if has_target:
                digits = int(math.log10(self.target)) + 1
                count = f"%{digits}d/%d" % (current, self.target)
                filled = int(self.width * (float(current) / self.target))
                bar = f"{_BOLD}{count}{_RESET} "
                visible = len(count) + 1
                if filled > 0:
                    bar += f"{_GREEN}{_BAR_CHAR * filled}{_RESET}"
                bar += f"{_WHITE}{_BAR_CHAR * (self.width - filled)}{_RESET}"
                visible += self.width
            else:
                bar = "%7d/Unknown" % current
                visible = len(bar)

            if has_target and not finalize:
                when = _format_eta(time_per_unit * (self.target - current))
            else:
                when = f"{now - self._start:.0f}s"
            info = f" {_BOLD}{when}{_RESET}"
            tail = _format_time(time_per_unit, self.unit_name)
            for k in self._values_order:
                avg = self._average(k)
                tail += f" - {k}: {avg:.4f}" if abs(avg) > 1e-3 else (
                    f" - {k}: {avg:.4e}"
                )
            info += tail
            visible += 1 + len(when) + len(tail)

            message += bar + info
            if self._prev_total_width > visible:
                message += " " * (self._prev_total_width - visible)
            if finalize:
                message += "\n"
            _write(message)
            self._prev_total_width = visible

        elif self.verbose == 2:
            if finalize and has_target:
                digits = int(math.log10(self.target)) + 1
                count = f"%{digits}d/%d" % (current, self.target)
                info = f"{count} - {now - self._start:.0f}s"
                info += f" -{_format_time(time_per_unit, self.unit_name)}"
                for k in self._values_order:
                    avg = self._average(k)
                    # No abs() here: negative values use the e-format.
                    info += f" - {k}: {avg:.4f}" if avg > 1e-3 else (
                        f" - {k}: {avg:.4e}"
                    )
                _write(info + "\n")

        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _estimate_step_duration(self, current, now):
        # The first step (compilation, warm-up) is left out once possible.
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_unit
