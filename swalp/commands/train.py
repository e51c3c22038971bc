"""``swalp train``: one run, with a progress bar, a JSON record and per-epoch checkpoints."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from swalp.commands.method_options import add_method_option_arguments, method_options_from_args
from swalp.devices import DEVICES, resolve_device
from swalp.distributed import launch
from swalp.experiments import (
    RECORD_FILE,
    SCHEDULES,
    RunConfig,
    RunExistsError,
    run_data_parallel,
    run_experiment,
)
from swalp.methods import method_names
from swalp.protocols import PROTOCOLS
from swalp.report import summary_table
from swalp.roles import parse_role_assignments
from swalp.tasks import TASKS


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that define a :class:`~swalp.experiments.RunConfig` (None: task default)."""
    parser.add_argument("--task", default="digits-vgg", help=f"one of: {', '.join(sorted(TASKS))}")
    parser.add_argument("--method", default="swalp", help=f"one of: {', '.join(method_names())}")
    parser.add_argument("--formats", default="bfp8",
                        help="format for every role (any lpformats spelling) or per role: "
                             "W=bfp8,A=fp8_e4m3,...")
    parser.add_argument("--rounding", default="stochastic",
                        help="rounding for every role, or per role: W=nearest,...")
    parser.add_argument("--layout", default="auto",
                        help="block layout of whole-tensor BFP: auto, tensor, dim0, block:N (or per role)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="initial learning rate")
    parser.add_argument("--swa-lr", type=float, help="learning rate from --swa-start on")
    parser.add_argument("--swa-start", type=int,
                        help="epoch (0-based) from which the rate is --swa-lr; averaging starts with the "
                             "iterate at the end of the epoch before")
    parser.add_argument("--cycle", type=int, help="optimizer steps between averages (default: one epoch)")
    parser.add_argument("--cyclic-min", type=float,
                        help="cyclic SWA: rate falls from --swa-lr to this each cycle")
    parser.add_argument("--momentum", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--nesterov", action="store_true")
    parser.add_argument("--schedule", help=f"one of: {', '.join(SCHEDULES)}")
    parser.add_argument("--lr-policy", help="learning-rate policy spec replacing --schedule's rates, e.g. "
                                            "'epoch:COS(k0=0.001,k1=0.05,l=20)' (see swalp lr --list)")
    parser.add_argument("--accumulator", help="format of a weight accumulator (e.g. fp32); default none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="local data directory (CIFAR tasks; nothing is downloaded)")
    parser.add_argument("--train-size", type=int,
                        help="training examples of a task with generated data (mnist1d-*; default 4000)")
    parser.add_argument("--accelerator", default="tpu_v1", help="accel_model preset for the step cost")
    parser.add_argument("--protocol", choices=PROTOCOLS,
                        help="paper: each method as the paper's table got it (CIFAR tasks' default); "
                             "toolkit: the task's defaults for every method")
    parser.add_argument("--device", default="cpu", choices=DEVICES,
                        help="where to train (auto: cuda, else mps, else cpu); default cpu")
    parser.add_argument("--comm-format",
                        help="data-parallel runs: round each rank's gradient to this format "
                             "(stochastic) before the all-reduce; default fp32")
    add_method_option_arguments(parser)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The :class:`RunConfig` the parsed options describe."""
    return RunConfig(
        task=args.task, method=args.method, formats=parse_role_assignments(args.formats, "--formats"),
        rounding=parse_role_assignments(args.rounding, "--rounding"),
        layout=parse_role_assignments(args.layout, "--layout"), epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, swa_lr=args.swa_lr, swa_start=args.swa_start,
        cycle=args.cycle,
        cyclic_min=args.cyclic_min, lr_policy=args.lr_policy, momentum=args.momentum,
        weight_decay=args.weight_decay,
        nesterov=args.nesterov, schedule=args.schedule, accumulator=args.accumulator, seed=args.seed,
        data_dir=args.data_dir, train_size=args.train_size, accelerator=args.accelerator,
        protocol=args.protocol,
        device=args.device, comm_format=args.comm_format, method_options=method_options_from_args(args),
        log_every=args.log_every,
    )


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    run_args = (config, args.out, not args.no_checkpoint)
    options = dict(resume=args.resume, force=args.force, progress=True)
    try:
        if args.nproc == 1 and "WORLD_SIZE" not in os.environ:
            record = run_experiment(*run_args, **options)
        else:
            record = launch(run_data_parallel, (run_args, options), args.nproc,
                            resolve_device(config.device))
    except RunExistsError:
        raise RunExistsError(f"{Path(args.out) / RECORD_FILE} holds a finished run: --force overwrites it, "
                             "--resume prints its record") from None
    if record is None:  # a torchrun rank other than 0
        return 0
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(summary_table([record]))
        print(f"record: {args.out}/record.json  ({record['wall_time_s']:.1f} s of training)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train one model at given formats; JSON record with accuracy and accelerator cost",
        description="Train one task with one method; writes OUT/record.json and OUT/checkpoint.pt "
                    "each epoch.")
    add_run_arguments(parser)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/checkpoint.pt (a finished run: print its record)")
    parser.add_argument("--force", action="store_true", help="overwrite a finished run in OUT")
    parser.add_argument("--no-checkpoint", action="store_true", help="do not write checkpoints")
    parser.add_argument("--json", action="store_true", help="print the whole record as JSON")
    parser.add_argument("--nproc", type=int, default=1,
                        help="data-parallel processes (DDP; gloo on cpu, nccl on cuda: one per GPU); "
                             "the batch is split across them. Under torchrun: its processes")
    parser.set_defaults(func=run)
