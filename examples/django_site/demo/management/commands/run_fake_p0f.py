"""``python manage.py run_fake_p0f``: a fake p0f daemon on ``P0F_SOCKET``.

It answers for the loopback addresses (127.0.0.1 and ::1), so a browser on
this machine sees ``request.p0f`` filled in, with no real p0f and no root.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from p0f.django.conf import conf
from p0f.testing import FakeP0f, sample_response


class Command(BaseCommand):
    help = "Run a fake p0f daemon on P0F_SOCKET that knows the loopback addresses."
    requires_system_checks: list[str] = []  # p0f.W001 would only say it is not up yet

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        answer = sample_response(
            os_name="Linux",
            os_flavor="3.11 and newer",
            http_name="Firefox",
            http_flavor="10.x or newer",
            link_type="Ethernet or modem",
            language="English",
            distance=0,
        )
        socket_path = conf.P0F_SOCKET  # P0F_SOCKET, or the 2014 name P0FSOCKET
        if socket_path is None:
            raise CommandError("set P0F_SOCKET to the path the fake daemon should listen on")
        with FakeP0f(socket_path) as fake:
            for address in ("127.0.0.1", "::1"):
                fake.add_host(address, answer)
            self.stdout.write(f"fake p0f listening on {fake.socket_path}; Ctrl-C stops it")
            self.stdout.flush()
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
