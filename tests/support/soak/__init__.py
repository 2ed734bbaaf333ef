"""The endurance soak of issue 22 (scripts/soak, tests/e2e/test_soak.py, docs/endurance.md).

cast.py     the people, their tokens and the long-lived documents (ORM, before the run)
traffic.py  everything the soak asks over HTTP: API calls, sign-ins, fresh documents,
            access changes, named versions; each answer tallied per window
probes.py   what it measures from outside: RSS and CPU of each process, Postgres
            connections, database size, Redis memory
verdict.py  the pass criteria, on the rows and samples alone
report.py   the JSON, the plot and the printed rows
run.py      the run itself: Redis, two servers, the Node load generator, the windows, the
            cold load at the end
"""
