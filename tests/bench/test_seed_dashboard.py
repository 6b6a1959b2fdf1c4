"""`python -m bench.seed_dashboard`: the dashboard's made-up history, from the command line."""

from __future__ import annotations

import pytest

from bench.seed_dashboard import main
from livepeer_ai.gateway.models import Job
from livepeer_ai.payments.models import ReceivedTicket


@pytest.mark.django_db
def test_seeding_the_same_database_twice_with_the_same_seed_adds_to_it(capsys):
    main(["--jobs", "5", "--tickets", "30", "--nodes", "1", "--seed", "7"])
    main(["--jobs", "5", "--tickets", "30", "--nodes", "1", "--seed", "7"])
    assert Job.objects.count() == 10
    assert ReceivedTicket.objects.count() == 60
    assert capsys.readouterr().out.count("seeded 5 jobs") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nodes", "9"], "nodes must be between 1 and 4"),
        (["--jobs", "-1"], "argument --jobs: must be >= 0, got -1"),
        (["--days", "0"], "argument --days: must be >= 1, got 0"),
    ],
)
@pytest.mark.django_db
def test_bad_arguments_are_refused_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
