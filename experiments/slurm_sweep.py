"""A sweep on a SLURM cluster: dask-jobqueue queues JOBS batch jobs of CORES single-threaded Dask workers each,
then `python -m sim sweep CONFIG` runs from this (login) node on those workers and writes the files a laptop
run of CONFIG writes. Options this script does not know (--out, --resume, --force, --quiet) go to `sim sweep`.
Needs the hpc extra (pip install -e '.[hpc]'); README, "On a cluster"; docs/experiments.md, "On a SLURM cluster".
"""

import argparse
import signal
import sys

from dask_jobqueue import SLURMCluster
from distributed import Client

from sim.cli import main
from sim.errors import UserError
from sim.experiments.config import load_experiment

# dask-jobqueue 0.9.0 replaces Ctrl-C's handler on import with a silent exit with status 0 (dask/dask-jobqueue#696);
# Python's own handler lets `sim sweep` stop with its one line and status 130, and the jobs be cancelled.
signal.signal(signal.SIGINT, signal.default_int_handler)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="other options go to `sim sweep`")
parser.add_argument("config", help="the sweep's TOML config, e.g. experiments/baseline.toml")
parser.add_argument("--queue", required=True, help="the SLURM partition the jobs go to")
parser.add_argument("--account", help="the SLURM account charged, where the site asks for one")
parser.add_argument("--jobs", type=int, default=4, help="batch jobs, one node each (default 4)")
parser.add_argument("--cores", type=int, default=16, help="cores per job, one worker each (default 16)")
parser.add_argument("--memory", default="32GB", help="memory per job (default 32GB)")
parser.add_argument("--walltime", default="01:00:00", help="each job's limit; rerun with --resume after it")
args, sweep_options = parser.parse_known_args()
try:
    load_experiment(args.config)  # a bad config is one line, before any job is queued
except UserError as exc:
    sys.stderr.write(f"error: {exc}\n")
    sys.exit(2)

try:
    with SLURMCluster(queue=args.queue, account=args.account, cores=args.cores, processes=args.cores,
                      memory=args.memory, walltime=args.walltime) as cluster, Client(cluster) as client:
        cluster.scale(jobs=args.jobs)
        client.wait_for_workers(args.jobs * args.cores)  # the sweep keeps 2 blocks in flight per worker it finds
        status = main(["sweep", args.config, "--scheduler", cluster.scheduler_address, *sweep_options])
except KeyboardInterrupt:
    sys.stderr.write("stopped before the sweep began; the jobs are cancelled\n")
    status = 130
sys.exit(status)
