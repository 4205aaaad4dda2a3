"""The flow's I/O tasks retry file-system errors, never bad input (a malformed file fails the same way
every time)."""

from bmsc_dge.errors import CountsError
from flows._tasks import gene_sets_task, io_failure, load_config_task, load_study_task, write_outputs_task


class _State:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def result(self, raise_on_failure: bool = True) -> BaseException:
        return self.exc


def test_only_os_errors_are_retried():
    assert io_failure(None, None, _State(OSError("stale NFS handle"))) is True
    assert io_failure(None, None, _State(TimeoutError("slow disk"))) is True  # an OSError subclass
    assert io_failure(None, None, _State(CountsError("non-integer count", file="counts.tsv"))) is False
    assert io_failure(None, None, _State(ValueError("bug"))) is False


def test_the_io_tasks_use_the_condition():
    for t in (load_config_task, load_study_task, gene_sets_task, write_outputs_task):
        assert t.retries == 2 and t.retry_condition_fn is io_failure, t.name
