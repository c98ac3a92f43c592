"""A quiet console logger for headless runs: one line per finished step, no patient data."""

import logging
import time

from dagster import InitLoggerContext, logger

_SHOWN = {"STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "ASSET_CHECK_EVALUATION"}


class _ProgressHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        # Only step events: other records can carry stack traces, and the CLI prints the
        # innermost error of each failed step at the end of the run.
        if event is None or event.event_type_value not in _SHOWN:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            return
        if kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            evaluation = getattr(data, "asset_check_evaluation", data)
            if not getattr(evaluation, "passed", True):
                key = evaluation.asset_key.to_user_string()
                print(f"  x check {key}:{evaluation.check_name} FAILED", flush=True)
            return
        seconds = time.monotonic() - self.started.pop(step, time.monotonic())
        mark = "ok" if kind == "STEP_SUCCESS" else "FAILED"
        print(f"  {mark:>6}  {step.replace('__', '/')}  ({seconds:.1f}s)", flush=True)


@logger(description="One line per finished step; used by `popcare run`.")
def progress_logger(init_context: InitLoggerContext) -> logging.Logger:
    log = logging.Logger("popcare.progress", level=logging.DEBUG)
    log.addHandler(_ProgressHandler())
    return log
