"""A first schedule: a class service, a function service, three kinds of job.

Run it with:  python examples/hello_scheduler.py   (Ctrl-C to stop)
"""

from __future__ import annotations

import logging
from datetime import timedelta

import tickwork as tw

app = tw.App()


class Greet(tw.Service):
    """A class-based service: the job's extra arrives parsed as ``payload``."""

    name = "demo.greet"

    def handle(self) -> None:
        who = self.request.payload.get("who", "world")  # extra "who=Alice" -> {"who": "Alice"}
        job = self.request.job
        self.logger.info("hello %s (run %s of %s, cid %s)", who, job.run_number, job.name, self.cid)


app.add_service(Greet)


@app.service("demo.count")
def count(request: tw.Request) -> int:
    """A function service: it receives the Request; its return value is the response."""
    numbers = request.payload  # JSON extra -> a list
    total = sum(numbers)
    logging.getLogger("demo").info("sum of %s is %s", numbers, total)
    return total


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sched = tw.Scheduler(app, tz="Europe/London")  # triggers without a tz use London time
    now = sched.clock.now()
    sched.add_job("greet-once", "demo.greet", tw.OneTime(at=now + timedelta(seconds=2)),
                  extra="who=Alice")  # fmt: skip
    sched.add_job("greet-often", "demo.greet", tw.Interval(seconds=3, repeats=5), extra="who=Bob")
    sched.add_job("count", "demo.count", tw.Cron("*/5 * * * * *"), extra="[1, 2, 3]")
    sched.execute_now("count", extra="[10, 20]")  # by hand, with its own extra
    for job in sched.jobs():
        print(f"{job.name:12} {job.trigger.describe():35} next {job.next_fire_time}")
    sched.run_forever()  # SIGINT / SIGTERM stop it gracefully


if __name__ == "__main__":
    main()
