"""``p0f-broker``: the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine, Sequence

from ._server import Broker, BrokerConfig, BrokerError

log = logging.getLogger("p0f.broker")

DESCRIPTION = """\
Serve p0f's API on LISTEN_SOCKET to any number of clients over at most
--upstreams connections to p0f. Clients speak p0f's own protocol to it.
SIGTERM or SIGINT: stop accepting, wait for the answers p0f owes, exit.
"""


def _mode(text: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal mode: {text!r}") from None
    if not 0 <= value <= 0o777:
        raise argparse.ArgumentTypeError(f"mode out of range: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more: {text!r}")
    return value


def _metrics_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not [ADDRESS:]PORT: {text!r}") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"port out of range: {text!r}")
    return host.strip("[]") or "127.0.0.1", number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="p0f-broker", description=DESCRIPTION)
    parser.add_argument("-s", "--p0f-socket", required=True, metavar="P0F_SOCKET",
                        help="p0f's API socket (p0f's -s)")
    parser.add_argument("-l", "--listen", required=True, metavar="LISTEN_SOCKET",
                        help="the socket to serve clients on")
    parser.add_argument("-n", "--upstreams", type=int, default=1, metavar="N",
                        help="most connections to p0f (default 1)")
    parser.add_argument("-m", "--mode", type=_mode, default=0o666,
                        help="listening socket's permissions, octal (default 666, as p0f)")
    parser.add_argument("-g", "--group", default=None,
                        help="listening socket's group, name or number")
    parser.add_argument("--cache-ttl", type=_seconds, default=0.0, metavar="SECONDS",
                        help="reuse an answer for the same address this long (default 0: no cache)")
    parser.add_argument("--no-match-ttl", type=_seconds, default=1.0, metavar="SECONDS",
                        help="reuse a 'no match' answer at most this long (default 1)")
    parser.add_argument("--cache-size", type=int, default=65536, metavar="N",
                        help="most answers in the cache (default 65536)")
    parser.add_argument("--client-queue", type=int, default=1024, metavar="N",
                        help="answers one client may be owed before the broker "
                             "stops reading its queries (default 1024)")
    parser.add_argument("--hold", type=_seconds, default=0.4, metavar="SECONDS",
                        help="how long a query waits while p0f cannot be reached; then "
                             "the client's connection is closed (default 0.4)")
    parser.add_argument("--drain-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                        help="at shutdown, wait this long for answers p0f owes (default 10)")
    parser.add_argument("--reconnect-max", type=_seconds, default=2.0, metavar="SECONDS",
                        help="longest delay between attempts to reach p0f (default 2)")
    parser.add_argument("--metrics", type=_metrics_address, default=None,
                        metavar="[ADDRESS:]PORT",
                        help="serve Prometheus metrics over HTTP (address defaults to "
                             "127.0.0.1; needs the [broker] extra)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections too")
    return parser


def config_from(args: argparse.Namespace) -> BrokerConfig:
    return BrokerConfig(
        p0f_socket=args.p0f_socket, listen=args.listen, upstreams=args.upstreams,
        mode=args.mode, group=args.group, cache_ttl=args.cache_ttl,
        no_match_ttl=args.no_match_ttl, cache_size=args.cache_size,
        client_queue=args.client_queue, hold=args.hold, drain_timeout=args.drain_timeout,
        reconnect_max=max(args.reconnect_max, 0.05),
    )


async def _run(broker: Broker, metrics: tuple[str, int] | None) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, broker.request_stop)
    await broker.start()
    if metrics is not None:
        from ._metrics import serve_metrics

        try:
            serve_metrics(broker, *metrics)
        except BaseException:
            await broker.shutdown()
            raise
        log.info("metrics on http://%s:%d/metrics", *metrics)
    await broker.run_until_stopped()


def _event_loop_run(main: Coroutine[None, None, None]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="p0f-broker: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = config_from(args)
        broker = Broker(config)
        _event_loop_run(_run(broker, args.metrics))
    except BrokerError as exc:
        print(f"p0f-broker: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as exc:
        print(f"p0f-broker: {exc}", file=sys.stderr)
        return 1
    return 0
