"""The command line's fault specs, retry schedules and time scale, parsed without a server."""

from __future__ import annotations

import pytest

from django_fastpix.testing import FakeFastPix
from django_fastpix.testing.__main__ import build_parser
from django_fastpix.testing.specs import (
    SpecError,
    describe_schedule,
    parse_duration,
    parse_fault,
    parse_schedule,
    parse_time_scale,
)
from django_fastpix.testing.webhooks import FASTPIX_RETRY_SCHEDULE


@pytest.mark.parametrize(
    ("spec", "route", "options"),
    [
        (
            "POST /on-demand:status=503,rate=0.2,seed=1",
            "POST /on-demand",
            {"status": 503, "rate": 0.2, "seed": 1},
        ),
        (
            "GET /on-demand:status=429,retry_after=30,times=1",
            "GET /on-demand",
            {"status": 429, "retry_after": 30.0, "times": 1},
        ),
        ("GET /on-demand:429,retry-after=2m", "GET /on-demand",
         {"status": 429, "retry_after": 120}),
        ("POST /on-demand:reset,nth=2", "POST /on-demand", {"reset": True, "nth": 2}),
        ("/live/*:hang", "/live/*", {"hang": True}),
        ("*:latency=200ms", "*", {"latency": 0.2}),
        ("GET /on-demand/{mediaId}:latency=1.5,503", "GET /on-demand/{mediaId}",
         {"latency": 1.5, "status": 503}),
        ("delete:reset=true, times = 2", "delete", {"reset": True, "times": 2}),
    ],
)  # fmt: skip
def test_good_specs(spec: str, route: str, options: dict[str, object]) -> None:
    parsed = parse_fault(spec)
    assert parsed.route == route
    assert parsed.options == options
    FakeFastPix().inject(parsed.route, **parsed.options)  # every parse is a valid inject


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("POST /on-demand", "expected ROUTE:OPTIONS"),
        (":status=503", "route before ':' is empty"),
        ("FETCH /on-demand:status=503", "unknown method 'FETCH'"),
        ("POST on-demand:status=503", "path 'on-demand' must start with '/'"),
        ("POST /on-demand:", "empty option"),
        ("POST /on-demand:status=503,,rate=0.5", "empty option"),
        ("POST /on-demand:stauts=503", "unknown option 'stauts'"),
        ("POST /on-demand:status=abc", "status='abc' is not an integer"),
        ("POST /on-demand:status=503,rate=lots", "rate='lots' is not a number"),
        ("POST /on-demand:status=503,rate=1.5", "between 0 and 1"),
        ("POST /on-demand:status=503,rate=0.5,nth=2", "nth and rate"),
        ("POST /on-demand:status=503,status=500", "'status' given twice"),
        ("POST /on-demand:status=99", "HTTP status"),
        ("POST /on-demand:status=503,reset", "one of status, reset and hang"),
        ("POST /on-demand:latency=soon", "latency 'soon' is not a duration"),
        ("POST /on-demand:retry_after=5", "retry_after needs a status"),
        ("POST /on-demand:rate=0.5", "needs status, latency, reset or hang"),
        ("POST /on-demand:status=503,nth=0", "nth counts from 1"),
        ("POST /on-demand:status=503,times=0", "times must be >= 1"),
        ("POST /on-demand:reset=maybe", "reset='maybe' is not true or false"),
        ("POST /on-demand:slow", "option 'slow' needs a value"),
    ],
)
def test_bad_specs_name_the_bad_part(spec: str, names: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_fault(spec)
    assert names in str(caught.value)
    assert repr(spec) in str(caught.value)  # which --fault, when several are given


def test_bad_fault_makes_argparse_exit_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--fault", "POST /on-demand:status=503,rte=0.2"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --fault" in err and "unknown option 'rte'" in err


def test_durations_and_schedules() -> None:
    assert parse_duration("500ms", "x") == 0.5
    assert parse_duration("2m", "x") == 120
    assert parse_duration("1h", "x") == 3600
    assert parse_duration(".25", "x") == 0.25
    assert parse_schedule("5,30,120,600,3600") == (5, 30, 120, 600, 3600)
    assert parse_schedule("5s, 30s, 2m, 1h") == (5, 30, 120, 3600)
    assert parse_schedule("none") == () and parse_schedule("") == ()
    with pytest.raises(SpecError, match="retry 2 '-1' is not a duration"):
        parse_schedule("5,-1")
    with pytest.raises(SpecError, match="retry 3 is empty"):
        parse_schedule("5,30,")
    assert parse_time_scale("0.001") == 0.001
    for bad in ("0", "-1", "fast", "nan", "inf"):
        with pytest.raises(SpecError, match="time scale"):
            parse_time_scale(bad)


def test_cli_defaults_imitate_a_day_of_retries() -> None:
    args = build_parser().parse_args([])
    assert args.webhook_retries == FASTPIX_RETRY_SCHEDULE and args.time_scale == 1.0
    assert args.fault == []
    assert 20 * 3600 < sum(FASTPIX_RETRY_SCHEDULE) < 25 * 3600
    assert list(FASTPIX_RETRY_SCHEDULE) == sorted(FASTPIX_RETRY_SCHEDULE)
    assert describe_schedule(FASTPIX_RETRY_SCHEDULE, 1.0) == (
        "5s, 30s, 2m, 10m, 30m, 1h, 2h, 4h, 8h, 8h (11 attempts over 23.7 h)"
    )
    assert "real span 85.4 s" in describe_schedule(FASTPIX_RETRY_SCHEDULE, 0.001)
    args = build_parser().parse_args(["--webhook-retries", "1,2", "--time-scale", "0.5"])
    assert args.webhook_retries == (1, 2) and args.time_scale == 0.5
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--webhook-retries", "5,soon"])
