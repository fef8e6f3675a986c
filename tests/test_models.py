"""The parsed record follows the 2014 client's rules; records behave as promised."""

from __future__ import annotations

import datetime as dt
import json

import attrs
import cattrs
import pytest
from hypothesis import given

from p0f import BadSoftware, MatchQuality, P0fResponse, RawResponse, decode_response
from p0f.converters import make_json_converter, make_parsing_converter, make_raw_converter
from p0f.testing import sample_response

from .strategies import raw_responses

UTC = dt.timezone.utc
T = 1_700_000_000  # 2023-11-14 22:13:20 UTC
T_DT = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def parsed(**wire: int | str) -> P0fResponse:
    return P0fResponse.from_raw(sample_response(**wire))


# One case per rule of the seed README: (wire field and value, parsed name, parsed value).
SEED_RULES: list[tuple[str, int | str, str, object]] = [
    ("first_seen", T, "first_seen", T_DT),
    ("last_seen", T, "last_seen", T_DT),
    ("total_conn", 7, "total_conn", 7),
    ("uptime_min", 90, "uptime", dt.timedelta(minutes=90)),
    ("uptime_min", 90, "uptime_min", 90),
    ("uptime_min", 90, "uptime_sec", 5400),
    ("uptime_min", 0, "uptime", None),
    ("uptime_min", 0, "uptime_min", None),
    ("uptime_min", 0, "uptime_sec", None),
    ("up_mod_days", 49, "up_mod_days", dt.timedelta(days=49)),
    ("up_mod_days", 0, "up_mod_days", None),
    ("last_nat", T, "last_nat", T_DT),
    ("last_nat", 0, "last_nat", None),
    ("last_chg", T, "last_chg", T_DT),
    ("last_chg", 0, "last_chg", None),
    ("distance", 8, "distance", 8),
    ("distance", 0, "distance", 0),
    ("distance", -1, "distance", None),
    ("distance", 255, "distance", None),
    ("distance", 254, "distance", 254),
    ("bad_sw", 0, "bad_sw", BadSoftware.NONE),
    ("bad_sw", 1, "bad_sw", BadSoftware.OS_MISMATCH),
    ("bad_sw", 2, "bad_sw", BadSoftware.FAKE),
    ("os_match_q", 0, "os_match_q", MatchQuality.NORMAL),
    ("os_match_q", 1, "os_match_q", MatchQuality.FUZZY),
    ("os_match_q", 2, "os_match_q", MatchQuality.GENERIC),
    ("os_match_q", 3, "os_match_q", MatchQuality.FUZZY_GENERIC),
    ("os_name", "Windows", "os_name", "Windows"),
    ("os_name", "", "os_name", None),
    ("os_flavor", "", "os_flavor", None),
    ("http_name", "Firefox", "http_name", "Firefox"),
    ("http_name", "", "http_name", None),
    ("http_flavor", "", "http_flavor", None),
    ("link_type", "DSL", "link_type", "DSL"),
    ("link_type", "", "link_type", None),
    ("language", "German", "language", "German"),
    ("language", "", "language", None),
]


@pytest.mark.parametrize(("wire", "value", "name", "expected"), SEED_RULES)
def test_seed_parsing_rule(wire: str, value: int | str, name: str, expected: object) -> None:
    response = parsed(**{wire: value})
    assert response[name] == expected
    assert getattr(response, name) == expected
    if isinstance(expected, dt.datetime):
        assert response[name].tzinfo is UTC  # type: ignore[attr-defined]  # object from str key


def test_enum_types_and_truthiness() -> None:
    response = parsed(bad_sw=0, os_match_q=0)
    assert type(response.bad_sw) is BadSoftware
    assert type(response.os_match_q) is MatchQuality
    assert not response.bad_sw and not response.os_match_q
    assert parsed(bad_sw=2).bad_sw


@pytest.mark.parametrize(
    ("quality", "fuzzy", "generic"),
    [
        (MatchQuality.NORMAL, False, False),
        (MatchQuality.FUZZY, True, False),
        (MatchQuality.GENERIC, False, True),
        (MatchQuality.FUZZY_GENERIC, True, True),
    ],
)
def test_match_quality_helpers(quality: MatchQuality, fuzzy: bool, generic: bool) -> None:
    assert (quality.is_fuzzy, quality.is_generic) == (fuzzy, generic)


def test_records_are_frozen() -> None:
    raw = sample_response()
    response = P0fResponse.from_raw(raw)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        raw.os_name = "x"  # type: ignore[misc]  # frozen on purpose
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        response.os_name = "x"  # type: ignore[misc]  # frozen on purpose


def test_item_access_like_the_2014_dicts() -> None:
    raw = sample_response(os_name="Linux", total_conn=4)
    response = P0fResponse.from_raw(raw)
    assert raw["os_name"] == "Linux" and raw["total_conn"] == 4
    assert response["raw"] is raw
    for record in (raw, response):
        with pytest.raises(KeyError):
            record["no_such_field"]
        with pytest.raises(KeyError):
            record["__dict__"]


def test_raw_is_kept_and_equal_to_the_inverse() -> None:
    raw = sample_response(distance=-1, uptime_min=61, up_mod_days=24, os_flavor="")
    response = P0fResponse.from_raw(raw)
    assert response.raw is raw
    assert response.to_raw() == raw


def test_parsed_record_built_by_hand_derives_raw() -> None:
    response = P0fResponse(
        first_seen=T_DT,
        last_seen=T_DT,
        total_conn=1,
        uptime=None,
        up_mod_days=None,
        last_nat=None,
        last_chg=None,
        distance=None,
        bad_sw=BadSoftware.NONE,
        os_match_q=MatchQuality.GENERIC,
        os_name="Linux",
        os_flavor=None,
        http_name=None,
        http_flavor=None,
        link_type=None,
        language=None,
    )
    assert response.raw.first_seen == T
    assert response.raw.distance == -1
    assert response.raw.os_match_q == 2
    assert P0fResponse.from_raw(response.raw) == response


@given(raw_responses())
def test_parse_then_unparse_is_identity(raw: RawResponse) -> None:
    # 255 is p0f's other spelling of "unknown distance"; -1 is the usual one.
    expected = attrs.evolve(raw, distance=-1) if raw.distance == 255 else raw
    assert P0fResponse.from_raw(raw).to_raw() == expected


@given(raw_responses())
def test_json_converter_round_trips_through_json_text(raw: RawResponse) -> None:
    converter = make_json_converter()
    response = P0fResponse.from_raw(raw)
    text = json.dumps(converter.unstructure(response))
    assert converter.structure(json.loads(text), P0fResponse) == response


def test_json_shape() -> None:
    converter = make_json_converter()
    data = converter.unstructure(
        parsed(
            first_seen=T,
            last_seen=T + 60,
            uptime_min=90,
            up_mod_days=49,
            last_nat=0,
            distance=-1,
            bad_sw=1,
            os_match_q=2,
            language="",
        )
    )
    assert data["first_seen"] == "2023-11-14T22:13:20Z"
    assert data["last_seen"] == "2023-11-14T22:14:20Z"
    assert data["uptime"] == 5400
    assert data["up_mod_days"] == 49 * 86400
    assert data["last_nat"] is None
    assert data["distance"] is None
    assert data["bad_sw"] == "OS_MISMATCH"
    assert data["os_match_q"] == "GENERIC"
    assert data["language"] is None
    assert "raw" not in data


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("bad_sw", "SOMETIMES"),
        ("bad_sw", 1),
        ("first_seen", "2023-11-14T22:13:20"),  # no offset: ambiguous
        ("uptime", 1.5),
        ("unexpected", 1),
    ],
)
def test_json_converter_rejects_bad_input(key: str, bad: object) -> None:
    converter = make_json_converter()
    data = converter.unstructure(parsed())
    data[key] = bad
    with pytest.raises(Exception) as info:
        converter.structure(data, P0fResponse)
    assert isinstance(info.value, (ValueError, TypeError, KeyError)) or hasattr(
        info.value, "exceptions"
    )


@given(raw_responses())
def test_raw_and_parsing_converters(raw: RawResponse) -> None:
    raw_conv = make_raw_converter()
    data = raw_conv.unstructure(raw)
    assert isinstance(data, dict) and data["os_name"] == raw.os_name
    assert raw_conv.structure(data, RawResponse) == raw
    parsing = make_parsing_converter()
    assert parsing.structure(raw, P0fResponse) == P0fResponse.from_raw(raw)
    assert parsing.structure(data, P0fResponse) == P0fResponse.from_raw(raw)


def test_converters_are_private_instances() -> None:
    assert make_json_converter() is not make_json_converter()
    import cattrs

    before = cattrs.global_converter.unstructure(T_DT)
    make_json_converter()
    assert cattrs.global_converter.unstructure(T_DT) == before


# -- decoded records are plain slotted attrs, like hand-built ones ------------


def decoded_and_built(**wire: int | str) -> tuple[RawResponse, RawResponse]:
    built = sample_response(**wire)
    return decode_response(built.to_bytes()), built


def test_decoded_raw_equals_built_in_every_way() -> None:
    decoded, built = decoded_and_built(os_name="Windows", distance=-1)
    assert decoded == built and built == decoded
    assert hash(decoded) == hash(built)
    assert repr(decoded) == repr(built)
    assert attrs.asdict(decoded) == attrs.asdict(built)
    assert attrs.astuple(decoded) == attrs.astuple(built)
    assert decoded["os_name"] == "Windows"
    with pytest.raises(AttributeError, match="no_such"):
        getattr(decoded, "no_such")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        decoded.os_name = "x"  # type: ignore[misc]  # frozen on purpose


@pytest.mark.parametrize("record_type", [RawResponse, P0fResponse])
def test_records_are_slotted_with_no_instance_dict(record_type: type) -> None:
    decoded = decode_response(sample_response(last_nat=T).to_bytes())
    record = decoded if record_type is RawResponse else P0fResponse.from_raw(decoded)
    assert "__slots__" in vars(record_type)
    assert not hasattr(record, "__dict__")
    assert "__getattr__" not in vars(record_type)
    # Every field is set once built: nothing is left to compute on reading.
    for field in attrs.fields(record_type):
        assert field.name in dir(record)
        object.__getattribute__(record, field.name)


def test_parsed_record_holds_its_values_once_built() -> None:
    raw = sample_response(os_name="Windows", last_nat=T, uptime_min=5)
    decoded = P0fResponse.from_raw(decode_response(raw.to_bytes()))
    built = make_json_converter().structure(
        make_json_converter().unstructure(P0fResponse.from_raw(raw)), P0fResponse
    )
    assert decoded == built and hash(decoded) == hash(built)
    assert repr(decoded) == repr(built)
    assert decoded.uptime_sec == 300
    assert decoded.first_seen is decoded.first_seen
    with pytest.raises(AttributeError):
        getattr(decoded, "no_such")


def test_records_pickle_and_copy() -> None:
    import copy
    import pickle

    decoded, built = decoded_and_built(os_name="Linux")
    assert pickle.loads(pickle.dumps(decoded)) == built
    assert copy.copy(decoded) == built
    parsed_decoded = P0fResponse.from_raw(decoded)
    restored = pickle.loads(pickle.dumps(parsed_decoded))
    assert restored == P0fResponse.from_raw(built)
    assert restored.raw == decoded
    assert copy.deepcopy(parsed_decoded).os_name == "Linux"


def test_bad_enum_in_hand_built_raw_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="BadSoftware"):
        P0fResponse.from_raw(sample_response(bad_sw=7))
    with pytest.raises(ValueError, match="MatchQuality"):
        P0fResponse.from_raw(sample_response(os_match_q=4))


def test_evolve_derives_a_matching_raw() -> None:
    response = P0fResponse.from_raw(sample_response(os_name="Linux"))
    changed = attrs.evolve(response, os_name="Windows")
    assert changed.os_name == "Windows"
    assert changed.raw.os_name == "Windows"
    assert P0fResponse.from_raw(changed.raw) == changed


def test_from_bytes_of_a_subclass_gives_the_subclass() -> None:
    class Tagged(RawResponse):
        pass

    data = sample_response(os_name="Linux").to_bytes()
    tagged = Tagged.from_bytes(data)
    assert type(tagged) is Tagged and tagged.os_name == "Linux"
    assert type(RawResponse.from_bytes(data)) is RawResponse
    assert attrs.asdict(tagged) == attrs.asdict(RawResponse.from_bytes(data))


def test_decoded_records_are_exactly_the_public_classes_and_stay_frozen() -> None:
    # The decoders build through a private subclass that allows assignment,
    # then make the record its public class: nothing of that may show.
    data = sample_response(os_name="Linux", last_nat=T).to_bytes()
    raw = decode_response(data)
    parsed = P0fResponse.from_raw(raw)
    for record, public in ((raw, RawResponse), (parsed, P0fResponse)):
        assert type(record) is public and record.__class__ is public
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            record.os_name = "x"  # type: ignore[misc]  # frozen on purpose
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            del record.os_name
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(record, "no_such", 1)
    assert raw.os_name == "Linux" and parsed.os_name == "Linux"
    assert parsed.raw is raw
    # The classes they are built through are no subclasses of theirs.
    for public in (RawResponse, P0fResponse):
        assert not [c for c in public.__subclasses__() if c.__module__ == "p0f._models"]


def test_cattrs_include_subclasses_sees_only_the_users_subclasses() -> None:
    from cattrs.strategies import include_subclasses

    @attrs.frozen
    class Tagged(RawResponse):
        tag: str

    converter = cattrs.Converter()
    include_subclasses(RawResponse, converter)
    plain = decode_response(sample_response(os_name="Linux").to_bytes())
    tagged = Tagged(**attrs.asdict(plain), tag="t")
    for record in (plain, tagged):
        assert converter.structure(converter.unstructure(record), RawResponse) == record


def test_a_parse_that_fails_leaves_no_half_built_record() -> None:
    # The values are computed before the record is made: a traceback's
    # frames hold no instance of the private building class.
    raw = sample_response(bad_sw=7)
    with pytest.raises(ValueError, match="BadSoftware") as failure:
        P0fResponse.from_raw(raw)
    tb = failure.value.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            assert not type(value).__name__.startswith("_building_")
        tb = tb.tb_next


def test_from_raw_of_a_subclass_with_its_own_slots_gives_the_subclass() -> None:
    @attrs.frozen
    class Noted(P0fResponse):
        note: str = "none"

    raw = decode_response(sample_response(os_name="Windows").to_bytes())
    noted = Noted.from_raw(raw)
    assert type(noted) is Noted
    assert noted.os_name == "Windows" and noted.raw is raw and noted.note == "none"
    assert attrs.asdict(noted, recurse=False)["os_name"] == "Windows"
    assert type(P0fResponse.from_raw(raw)) is P0fResponse
