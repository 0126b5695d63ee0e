"""The ``raynas`` command line.

Subcommands live in :data:`SUBCOMMANDS` as ``name -> (help, add_arguments, handler)``; adding
one (``run``, ``resume``, ``report``, ``export``) is one entry and two functions. A handler
returns the exit code: 0 success, 1 the work failed (an infeasible measurement), 2 bad input.

Example:
    $ raynas measure model.onnx --provider CPUExecutionProvider --threads 1
    $ raynas measure --list-providers
    $ raynas measure model.onnx --provider OpenVINOExecutionProvider --device CPU
    $ python -m raynas measure model.onnx --batch 8 --runs 200 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from raynas._cli_search import COMMANDS as SEARCH_COMMANDS
from raynas.search_spaces.errors import RaynasError

AddArgs = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, but got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, but got {text!r}")
    return value


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        dims = ()
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas (e.g. 1,28,28), but got {text!r}"
        )
    return dims


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"must look like KEY=VALUE, but got {text!r}")
    return key, value


# -- measure ----------------------------------------------------------------------------------
def _add_measure_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="path of the ONNX model to measure")
    p.add_argument(
        "--list-providers",
        action="store_true",
        help="list the built-in providers, the plugin providers and their devices, and exit",
    )
    p.add_argument(
        "--provider",
        default="CPUExecutionProvider",
        help="onnxruntime execution provider, built in or plugin (default: %(default)s)",
    )
    p.add_argument(
        "--device",
        default=None,
        help="the provider's EP device, e.g. CPU, GPU, NPU (default: its first or usual one)",
    )
    p.add_argument(
        "--provider-library",
        default=None,
        metavar="PATH",
        help="shared library of a plugin provider raynas does not know",
    )
    p.add_argument(
        "--provider-option",
        action="append",
        type=_option,
        default=[],
        metavar="KEY=VALUE",
        help="provider option, repeatable (e.g. device_id=0)",
    )
    p.add_argument(
        "--threads", type=_positive_int, default=1, help="intra-op threads (default: %(default)s)"
    )
    p.add_argument(
        "--inter-threads",
        type=_positive_int,
        default=1,
        help="inter-op threads (default: %(default)s)",
    )
    p.add_argument(
        "--batch",
        type=_positive_int,
        default=None,
        help="batch size (default: the model's static batch, else 1)",
    )
    p.add_argument(
        "--input-shape",
        type=_shape,
        default=None,
        help="input shape without batch, for models with symbolic dims (e.g. 1,28,28)",
    )
    p.add_argument(
        "--runs", type=_positive_int, default=50, help="minimum timed runs (default: %(default)s)"
    )
    p.add_argument("--warmup", type=int, default=10, help="warm-up runs (default: %(default)s)")
    p.add_argument(
        "--min-seconds",
        type=float,
        default=1.0,
        help="minimum timed seconds (default: %(default)s)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds before a hung measurement is killed (default: %(default)s)",
    )
    p.add_argument(
        "--energy",
        choices=["auto", "rapl", "nvml", "off"],
        default="auto",
        help="energy meter (default: %(default)s)",
    )
    p.add_argument(
        "--allow-fallback",
        action="store_true",
        help="measure with onnxruntime's fallback provider if the provider is missing",
    )
    p.add_argument("--name", default="cli", help="target name shown in the table")
    p.add_argument("--json", action="store_true", help="print the measurement as JSON")


def _static_batch(path: str) -> int | None:
    try:
        import onnx

        model = onnx.load(path, load_external_data=False)
        dim = model.graph.input[0].type.tensor_type.shape.dim[0]
        return int(dim.dim_value) if dim.HasField("dim_value") and dim.dim_value > 0 else None
    except Exception:
        return None


def _list_providers(args: argparse.Namespace) -> int:
    from raynas.hardware._providers import list_providers, register
    from raynas.hardware.errors import TargetError

    if args.provider_library:
        try:
            register(args.provider, args.provider_library)
        except TargetError as exc:
            print(f"raynas measure: error: {exc}", file=sys.stderr)
            return 2
    rows = list_providers()
    table = [("provider", "kind", "devices", "package / library")]
    for r in rows:
        where = " ".join(x for x in (r.package, f"({r.library})" if r.library else None) if x)
        table.append((r.provider, r.kind, ", ".join(r.devices) or "-", where))
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[3])
    notes = [(r.provider, r.note) for r in rows if r.note]
    for provider, note in notes:
        print(f"{provider}: {note}")
    return 0


def _measure(args: argparse.Namespace) -> int:
    from raynas.hardware import HardwareTarget, measure
    from raynas.hardware.errors import TargetError

    if args.list_providers:
        return _list_providers(args)
    if args.model is None:
        print(
            "raynas measure: error: the `model` argument (an ONNX file) is required, unless "
            "--list-providers is given.",
            file=sys.stderr,
        )
        return 2
    batch = args.batch or _static_batch(args.model) or 1
    try:
        target = HardwareTarget(
            name=args.name,
            provider=args.provider,
            device=args.device,
            provider_library=args.provider_library,
            provider_options=dict(args.provider_option),
            intra_op_threads=args.threads,
            inter_op_threads=args.inter_threads,
            batch_size=batch,
            input_shape=args.input_shape,
            warmup_runs=args.warmup,
            min_runs=args.runs,
            min_seconds=args.min_seconds,
            timeout_s=args.timeout,
            energy=args.energy,
            allow_fallback=args.allow_fallback,
        )
        m = measure(args.model, target, route="local")
    except TargetError as exc:
        print(f"raynas measure: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(m.to_dict(), indent=2, default=str))
    else:
        print(m.table())
    return 0 if m.feasible else 1


SUBCOMMANDS: dict[str, tuple[str, AddArgs, Handler]] = {
    "measure": (
        "measure an ONNX model's latency (and energy) with an onnxruntime execution provider",
        _add_measure_args,
        _measure,
    ),
}
SUBCOMMANDS.update(SEARCH_COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-parser per entry of :data:`SUBCOMMANDS`."""
    from raynas import __version__

    parser = argparse.ArgumentParser(
        prog="raynas", description="Hardware-aware neural architecture search on Ray Tune."
    )
    parser.add_argument("--version", action="version", version=f"raynas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_text, add_args, handler) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
        p.set_defaults(_handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``raynas`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._handler(args))
    except RaynasError as exc:  # bad input: say what is wrong, no traceback
        print(f"raynas {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"\nraynas {args.command}: interrupted; `raynas resume <experiment folder>` continues "
            "a stopped search.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
