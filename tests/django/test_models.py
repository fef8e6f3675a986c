"""P0fRecord: built from an answer, stored and read back (SQLite, or
PostgreSQL when P0F_TEST_POSTGRES is set), its migrations and its admin."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings

from hypothesis import given

from p0f import BadSoftware, MatchQuality, P0fResponse
from p0f._rules import RULES
from p0f.django.models import P0fRecord
from p0f.testing import sample_response

from ..strategies import parsed_responses

UTC = dt.timezone.utc
LONGEST = "x" * 32  # p0f's string fields hold 32 bytes when not NUL-ended


def rich_response() -> P0fResponse:
    return P0fResponse.from_raw(
        sample_response(
            first_seen=1_700_000_000,
            last_seen=1_700_000_600,
            total_conn=4_000_000_000,  # beyond a 32-bit signed column
            uptime_min=4_000_000_000,
            up_mod_days=999_999_999,  # the largest the decoder lets through
            last_nat=1_700_000_100,
            last_chg=1_700_000_200,
            distance=-32768,
            bad_sw=2,
            os_match_q=3,
            os_name="Windows",
            os_flavor="7 or 8",
            http_name="Firefox",
            http_flavor="10.x or newer",
            link_type=LONGEST,
            language="German",
        )
    )


def sparse_response() -> P0fResponse:
    """An answer with every unknown it can have."""
    return P0fResponse.from_raw(
        sample_response(
            uptime_min=0,
            up_mod_days=0,
            last_nat=0,
            last_chg=0,
            distance=-1,
            os_name="",
            os_flavor="",
            link_type="",
        )
    )


def test_from_response_copies_every_field() -> None:
    record = P0fRecord.from_response("::ffff:192.0.2.1", rich_response())
    assert record._state.adding  # not saved
    assert record.address == "192.0.2.1"
    assert record.first_seen == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert record.total_conn == 4_000_000_000
    assert record.uptime == dt.timedelta(minutes=4_000_000_000)
    assert record.up_mod_days == 999_999_999
    assert record.distance == -32768
    assert record.bad_sw == BadSoftware.FAKE
    assert record.get_bad_sw_display() == "outright lie"
    assert record.get_os_match_q_display() == "fuzzy, generic signature"
    assert (record.os_name, record.http_name, record.link_type) == ("Windows", "Firefox", LONGEST)


def test_unknowns_become_null_or_empty() -> None:
    record = P0fRecord.from_response("2001:db8::1", sparse_response())
    assert record.address == "2001:db8::1"
    assert (record.uptime, record.up_mod_days, record.last_nat, record.last_chg) == (
        None,
        None,
        None,
        None,
    )
    assert record.distance is None
    assert (record.os_name, record.os_flavor, record.link_type) == ("", "", "")
    assert record.os_match_q == MatchQuality.NORMAL


@pytest.mark.django_db
@pytest.mark.parametrize("make", [rich_response, sparse_response])
def test_a_stored_record_gives_the_answer_back(make: Callable[[], P0fResponse]) -> None:
    response = make()
    P0fRecord.from_response("192.0.2.1", response).save()
    P0fRecord.from_response("2001:db8::1", response).save()
    for stored in P0fRecord.objects.all():
        stored.full_clean()
        assert stored.to_response() == response
    assert P0fRecord.objects.filter(address="2001:db8::1").count() == 1


@pytest.mark.django_db
@override_settings(USE_TZ=False, TIME_ZONE="Europe/Berlin")
def test_records_work_without_time_zone_support() -> None:
    response = rich_response()
    P0fRecord.from_response("192.0.2.1", response).save()
    stored = P0fRecord.objects.get()
    assert stored.first_seen == dt.datetime(2023, 11, 14, 23, 13, 20)  # Berlin, naive
    assert stored.to_response() == response


@pytest.mark.django_db
def test_records_are_listed_newest_first() -> None:
    older = P0fRecord.from_response("192.0.2.1", rich_response())
    newer = P0fRecord.from_response("192.0.2.2", sparse_response())
    older.save()
    newer.save()
    assert list(P0fRecord.objects.all()) == [newer, older]
    assert str(older) == "192.0.2.1: Windows 7 or 8"
    assert str(newer) == "192.0.2.2: unknown OS"


@pytest.mark.django_db
def test_the_migrations_match_the_model() -> None:
    out = io.StringIO()
    call_command("makemigrations", "p0f", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_the_database_is_the_one_asked_for() -> None:
    expected = "postgresql" if os.environ.get("P0F_TEST_POSTGRES") else "sqlite"
    assert connection.vendor == expected


@pytest.mark.django_db
def test_admin_lists_filters_and_searches(admin_client: Client) -> None:
    P0fRecord.from_response("192.0.2.1", rich_response()).save()
    P0fRecord.from_response("198.51.100.7", sparse_response()).save()
    url = "/admin/p0f/p0frecord/"

    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "192.0.2.1" in text and "198.51.100.7" in text
    for field in ("os_name", "http_name", "bad_sw"):
        assert f"?{field}" in text or f"&amp;{field}" in text, field

    for query in ({"q": "198.51"}, {"os_name": ""}, {"bad_sw__exact": "0"}):
        text = admin_client.get(url, query).content.decode()
        assert "198.51.100.7" in text and "192.0.2.1" not in text, query
    for query in ({"q": "192.0.2"}, {"os_name": "Windows"}, {"http_name": "Firefox"}):
        text = admin_client.get(url, query).content.decode()
        assert "192.0.2.1" in text and "198.51.100.7" not in text, query

    record = P0fRecord.objects.get(address="192.0.2.1")
    assert admin_client.get(f"{url}{record.pk}/change/").status_code == 200


@given(parsed_responses())
def test_every_answer_maps_to_a_record_and_back(response: P0fResponse) -> None:
    record = P0fRecord.from_response("192.0.2.1", response)
    assert record.to_response() == response
    # Each column holds its field's parsed value, or its wire value (the
    # rule's inverse) where the model keeps that; NULL only for unknowns.
    for rule in RULES:
        value = getattr(response, rule.name)
        column = getattr(record, rule.name)
        assert column in (value, rule.unparse(value)) or (column is None and value is None)
        if value is None:
            assert column in (None, "")


def test_columns_keep_wire_values_where_the_model_says() -> None:
    record = P0fRecord.from_response("192.0.2.1", rich_response())
    assert record.up_mod_days == 999_999_999 and type(record.up_mod_days) is int
    assert type(record.bad_sw) is int and type(record.os_match_q) is int
    assert record.uptime == dt.timedelta(minutes=4_000_000_000)
    assert record.last_nat == dt.datetime(2023, 11, 14, 22, 15, 0, tzinfo=UTC)


@pytest.mark.django_db
@given(parsed_responses())
def test_every_answer_is_stored_and_read_back(response: P0fResponse) -> None:
    record = P0fRecord.from_response("2001:db8::1", response)
    record.full_clean()
    record.save()
    assert P0fRecord.objects.get(pk=record.pk).to_response() == response
