"""A sweep through a Dask ``LocalCluster`` (``--scheduler ADDRESS``) gives the same record as the
local pool (issue 12, acceptance 5): the same runs, in the same order, with the same numbers — each
run computed single-threaded in a worker process as it is in the local pool."""
import pytest

from tests._compare import assert_tree_close
from validation.__main__ import main as cli
from validation.records import read_record

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as c:
        yield c


def test_sweep_on_a_local_cluster_gives_the_local_record(tmp_path, cluster):
    local, dask = tmp_path / "local.json", tmp_path / "dask.json"
    assert cli(["run", "memorization", "--small", "--device", "cpu", "--workers", "1", "--out", str(local),
                "--no-progress"]) == 0
    assert cli(["run", "memorization", "--small", "--device", "cpu", "--scheduler", cluster.scheduler_address,
                "--out", str(dask), "--no-progress"]) == 0
    a, b = read_record(local), read_record(dask)
    assert a["config"] == b["config"]
    assert [(r["lr"], r["batch_size"], r["seed"]) for r in b["raw"]["runs"]] == \
        [(r["lr"], r["batch_size"], r["seed"]) for r in a["raw"]["runs"]]
    # same CPU, same code path (one run at a time, one thread): the same numbers
    assert_tree_close(b["raw"], a["raw"], rtol=1e-9, atol=1e-12)
    assert_tree_close(b["metrics"], a["metrics"], rtol=1e-9, atol=1e-12)


def test_the_cluster_ran_the_runs(cluster):
    """The runs really went to the cluster's workers (not a silent local fallback)."""
    from distributed import Client

    from validation.experiments import map_runs, sweep_executor

    with sweep_executor(cluster.scheduler_address) as ex:
        got = map_runs(_pid_and_square, [(k,) for k in range(6)], dev="cpu", desc="pids", executor=ex)
    import os

    assert [sq for _, sq in got] == [k * k for k in range(6)]
    with Client(cluster.scheduler_address) as c:
        worker_pids = set(c.run(os.getpid).values())
    assert {pid for pid, _ in got} <= worker_pids and os.getpid() not in worker_pids


def _pid_and_square(k):
    import os

    return os.getpid(), k * k
