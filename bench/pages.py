"""Benchmark: the worklist and customer pages over real HTTP; prints JSON.

    python bench/pages.py --customers 100000 --invoices 1000000 --db postgres

Imports a generated ledger, gives the customers to ``--collectors``
collectors (round robin), runs the daily policy for real, weekly for
``--weeks`` weeks up to today (``arrears run --as-of``: its call tasks and
escalations fill the worklists), starts ``arrears
serve`` and signs in as a manager. Then it requests, alternately, one
collector's ``/worklist/`` and a customer's ``/customers/<ref>/`` (customers
with tasks first: they have the richest pages), ``--requests`` times in all
after a short warm-up, timing each on the client side.

It also times ranking every open task for the worklists from scratch
(``rank_all_s``: what ``arrears run`` does after a run that opened them all)
and again with nothing changed (``rerank_s``: after a run that opened none).

Target (DESIGN.md §7): worklist page p95 ≤ 200 ms at 100,000 customers and
1,000,000 invoices on PostgreSQL.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import importlib.util
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path

from _common import ARREARS, ROOT, database_env, run_child

PASSWORD = "bench password, not secret"

# Collectors, a manager, customers shared round robin; prints the
# collectors' ids and the customers with open tasks (a sample).
SETUP = """
import json
from django.contrib.auth.models import Group, User
from django.db.models import F, Value
from django.db.models.functions import Mod
from arrears.ledger.models import Contact, Customer
from arrears.web.roles import COLLECTOR, MANAGER, roles_ensure

roles_ensure()
n = {collectors}
manager, _ = User.objects.get_or_create(username="bench-manager")
manager.set_password({password!r}); manager.save()
manager.groups.add(Group.objects.get(name=MANAGER))
ids = []
for k in range(n):
    u, _ = User.objects.get_or_create(username=f"bench-collector-{{k}}")
    u.groups.add(Group.objects.get(name=COLLECTOR))
    Customer.objects.alias(part=Mod(F("pk"), Value(n))).filter(part=k).update(collector=u)
    ids.append(u.pk)
# The generated contacts have e-mail only: a phone lets the policy plan its
# calls (inquiry and firm calls), which are what fills a worklist.
Contact.objects.update(phone="+12025550100")
print(json.dumps(ids))
"""

SAMPLE = """
import json
from arrears.comms.models import Task
from django.db.models import Count
refs = list(
    Task.objects.filter(status="open").values_list("customer__ref", flat=True).distinct()[:500]
)
per = list(
    Task.objects.filter(status="open").values("assigned_to").annotate(n=Count("id"))
    .values_list("n", flat=True)
)
print(json.dumps({{"refs": refs, "tasks": sum(per), "per_collector_max": max(per, default=0)}}))
"""

RANK = """
import json, time
from django.utils import timezone
from arrears.web.models import TaskRank
from arrears.web.ranking import tasks_rank
TaskRank.objects.all().delete()
started = time.perf_counter()
ranked = tasks_rank(as_of=timezone.localdate())
first = time.perf_counter() - started
started = time.perf_counter()
tasks_rank(as_of=timezone.localdate())
again = time.perf_counter() - started
print(json.dumps({"ranked": ranked, "rank_all_s": round(first, 2), "rerank_s": round(again, 2)}))
"""


def _generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "bench_import", Path(__file__).with_name("import.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*ARREARS, "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("arrears serve exited before listening") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("arrears serve did not start listening within 60 s")


class Browser:
    """Cookies and CSRF, as a browser would; one request at a time."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, float]:
        started = time.perf_counter()
        with self.opener.open(self.base + path, timeout=60) as response:
            response.read()
            status = response.status
        return status, (time.perf_counter() - started) * 1000

    def sign_in(self, username: str) -> None:
        self.get("/login/")
        token = next(c.value for c in self.jar if c.name == "csrftoken")
        data = urllib.parse.urlencode(
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            self.base + "/login/", data=data, headers={"Referer": self.base + "/login/"}
        )
        with self.opener.open(request, timeout=60) as response:
            response.read()
        if not any(c.name == "sessionid" for c in self.jar):
            raise SystemExit("could not sign in to the served app")


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--collectors", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="timed requests in all")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--weeks", type=int, default=4, help="weekly runs before today's")
    parser.add_argument(
        "--db-name", default="arrears_bench_pages", help="PostgreSQL database (dropped first)"
    )
    args = parser.parse_args()

    write_files = _generator().write_files  # type: ignore[attr-defined]
    env = database_env(args.db, args.db_name)
    with tempfile.TemporaryDirectory(prefix="arrears-bench-") as tmp:
        customer_file, invoice_file = write_files(Path(tmp), args.customers, args.invoices)
        run_child([*ARREARS, "migrate", "-v", "0"], env)
        run_child([*ARREARS, "import", "customers", str(customer_file), "--json"], env)
        run_child([*ARREARS, "import", "invoices", str(invoice_file), "--json"], env)
    setup = SETUP.format(collectors=args.collectors, password=PASSWORD)
    collector_ids = json.loads(
        run_child([*ARREARS, "shell", "-c", setup], env).stdout.splitlines()[-1]
    )
    # Weekly runs up to today: later policy steps (calls, escalations) need
    # the earlier touches as history, as after weeks of real use.
    today = date.today()
    run_s = 0.0
    for weeks in range(args.weeks, -1, -1):
        day = (today - timedelta(days=7 * weeks)).isoformat()
        run_s += run_child([*ARREARS, "run", "--as-of", day, "--json"], env).seconds
    sample = json.loads(
        run_child([*ARREARS, "shell", "-c", SAMPLE.format()], env).stdout.splitlines()[-1]
    )
    refs = sample["refs"] or [f"C{i:07d}" for i in range(min(args.customers, 500))]
    ranking = json.loads(run_child([*ARREARS, "shell", "-c", RANK], env).stdout.splitlines()[-1])

    port = _free_port()
    server = _serve(env, port)
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        browser.sign_in("bench-manager")
        rng = random.Random(args.seed)

        def worklist() -> str:
            return f"/worklist/?collector={rng.choice(collector_ids)}"

        def customer() -> str:
            return f"/customers/{urllib.parse.quote(rng.choice(refs))}/"

        for _ in range(5):  # warm-up: imports, template compilation, caches
            browser.get(worklist())
            browser.get(customer())
        timings: dict[str, list[float]] = {"worklist": [], "customer": []}
        for i in range(args.requests):
            page, path = ("worklist", worklist()) if i % 2 == 0 else ("customer", customer())
            status, ms = browser.get(path)
            if status != 200:
                raise SystemExit(f"{path} answered {status}")
            timings[page].append(ms)
    finally:
        server.terminate()
        server.wait(timeout=30)
    every = timings["worklist"] + timings["customer"]
    overall = _summary(every)
    print(
        json.dumps(
            {
                "db": args.db,
                "customers": args.customers,
                "invoices": args.invoices,
                "collectors": args.collectors,
                "open_tasks": sample["tasks"],
                "tasks_per_collector_max": sample["per_collector_max"],
                "runs": args.weeks + 1,
                "runs_s": round(run_s, 2),
                "rank_all_s": ranking["rank_all_s"],
                "rerank_s": ranking["rerank_s"],
                "requests": overall["n"],
                "p50_ms": overall["p50_ms"],
                "p95_ms": overall["p95_ms"],
                "worklist": _summary(timings["worklist"]),
                "customer": _summary(timings["customer"]),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
